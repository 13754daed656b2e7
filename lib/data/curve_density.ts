/**
 * The density of "a point on a curve plus isotropic Gaussian noise", evaluated by quadrature.
 *
 * A curve data set (two moons, swiss roll, rings) draws a curve c_k with probability w_k, a
 * parameter u ~ U(0, 1), and returns c_k(u) + std * eps. Its exact density is
 *   p(x) = sum_k w_k * integral_0^1 N(x; c_k(u), std^2 I) du,
 * which has no closed form on an arc. We integrate with composite 5-point Gauss-Legendre rules on
 * sub-intervals whose arc length is at most std / 2, so the Gaussian bump of the integrand (about
 * std wide along the curve) always spans several sub-intervals and the rule is accurate far beyond
 * the 1e-3 relative accuracy needed (tests compare against a 4x finer rule). The sum runs in log
 * space, so the log-density stays finite and accurate far from the curve too.
 */
import type { GaussianMixture } from "./toy2d.ts";

/** A curve point for a parameter u in [0, 1]. */
export type CurveFn = (u: number) => readonly [number, number];

export interface WeightedCurve {
  curve: CurveFn;
  /** Probability of drawing this curve; the weights of a data set sum to 1. */
  weight: number;
}

// Gauss-Legendre 5-point rule on [-1, 1] (Abramowitz & Stegun, Table 25.4).
const GL_NODES = [
  -0.906179845938664,
  -0.5384693101056831,
  0,
  0.5384693101056831,
  0.906179845938664,
];
const GL_WEIGHTS = [
  0.2369268850561891,
  0.4786286704993665,
  0.5688888888888889,
  0.4786286704993665,
  0.2369268850561891,
];

/** Terms whose exponent is this far below the largest one change the sum by < e^-40 each. */
const PRUNE_NATS = 40;

/**
 * Quadrature nodes grouped in chunks (one sub-interval each) with the bounding box of each chunk's
 * nodes: a point's distance to the box bounds its distance to every node of the chunk from below,
 * which lets logDensity skip chunks that cannot matter.
 */
export class CurveNoiseDensity {
  readonly std: number;
  readonly #nodeX: Float64Array;
  readonly #nodeY: Float64Array;
  readonly #logWeight: Float64Array;
  /** chunk k covers nodes [chunkStart[k], chunkStart[k + 1]). */
  readonly #chunkStart: Int32Array;
  readonly #box: Float64Array; // per chunk: xmin, xmax, ymin, ymax
  readonly #exponents: Float64Array;
  readonly #logNorm: number;

  /** maxArc: the longest sub-interval in arc length; default std / 2. */
  constructor(curves: readonly WeightedCurve[], std: number, maxArc = std / 2) {
    this.std = std;
    const xs: number[] = [], ys: number[] = [], logWs: number[] = [], starts: number[] = [];
    for (const { curve, weight } of curves) {
      for (const [a, b] of subIntervals(curve, maxArc)) {
        starts.push(xs.length);
        const half = (b - a) / 2, mid = (a + b) / 2;
        for (let i = 0; i < GL_NODES.length; i++) {
          const [x, y] = curve(mid + half * GL_NODES[i]);
          xs.push(x);
          ys.push(y);
          logWs.push(Math.log(weight * half * GL_WEIGHTS[i]));
        }
      }
    }
    starts.push(xs.length);
    this.#nodeX = Float64Array.from(xs);
    this.#nodeY = Float64Array.from(ys);
    this.#logWeight = Float64Array.from(logWs);
    this.#chunkStart = Int32Array.from(starts);
    const chunks = starts.length - 1;
    this.#box = new Float64Array(4 * chunks);
    for (let k = 0; k < chunks; k++) {
      let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
      for (let j = starts[k]; j < starts[k + 1]; j++) {
        x0 = Math.min(x0, xs[j]);
        x1 = Math.max(x1, xs[j]);
        y0 = Math.min(y0, ys[j]);
        y1 = Math.max(y1, ys[j]);
      }
      this.#box.set([x0, x1, y0, y1], 4 * k);
    }
    this.#exponents = new Float64Array(xs.length);
    this.#logNorm = -Math.log(2 * Math.PI * std * std);
  }

  /** Number of quadrature nodes (for tests and cost estimates). */
  get nodeCount(): number {
    return this.#nodeX.length;
  }

  /**
   * The quadrature as a finite Gaussian mixture: node k at (x, y) = centres[2k], centres[2k + 1]
   * with log weight logWeights[k] and this std, whose density is the one logDensity returns.
   */
  mixture(): GaussianMixture {
    const centres = new Float64Array(2 * this.#nodeX.length);
    for (let j = 0; j < this.#nodeX.length; j++) {
      centres[2 * j] = this.#nodeX[j];
      centres[2 * j + 1] = this.#nodeY[j];
    }
    return { centres, logWeights: this.#logWeight.slice(), std: this.std };
  }

  /** log p(x, y) in nats. */
  logDensity(x: number, y: number): number {
    const box = this.#box, starts = this.#chunkStart;
    const chunks = starts.length - 1;
    const twoVar = 2 * this.std * this.std;
    // Lower bound of the squared distance to each chunk; the nearest box gives an upper bound of
    // the smallest squared node distance, which fixes which chunks can matter.
    let nearest = 0, nearestBound = Infinity;
    for (let k = 0; k < chunks; k++) {
      const bound = boxDistanceSq(box, k, x, y);
      if (bound < nearestBound) {
        nearestBound = bound;
        nearest = k;
      }
    }
    let upper = Infinity;
    for (let j = starts[nearest]; j < starts[nearest + 1]; j++) {
      upper = Math.min(upper, sq(x - this.#nodeX[j]) + sq(y - this.#nodeY[j]));
    }
    const cutoff = upper + twoVar * (PRUNE_NATS + 10); // + 10: room for unequal node weights
    let count = 0, maxExp = -Infinity;
    for (let k = 0; k < chunks; k++) {
      if (boxDistanceSq(box, k, x, y) > cutoff) continue;
      for (let j = starts[k]; j < starts[k + 1]; j++) {
        const e = this.#logWeight[j] - (sq(x - this.#nodeX[j]) + sq(y - this.#nodeY[j])) / twoVar;
        this.#exponents[count++] = e;
        if (e > maxExp) maxExp = e;
      }
    }
    let sum = 0;
    for (let i = 0; i < count; i++) sum += Math.exp(this.#exponents[i] - maxExp);
    return maxExp + Math.log(sum) + this.#logNorm;
  }
}

function sq(v: number): number {
  return v * v;
}

function boxDistanceSq(box: Float64Array, k: number, x: number, y: number): number {
  const dx = Math.max(box[4 * k] - x, 0, x - box[4 * k + 1]);
  const dy = Math.max(box[4 * k + 2] - y, 0, y - box[4 * k + 3]);
  return dx * dx + dy * dy;
}

/** Splits [0, 1] into sub-intervals of arc length <= maxArc, measured on a fine polyline. */
function subIntervals(curve: CurveFn, maxArc: number): [number, number][] {
  const steps = 20000;
  const out: [number, number][] = [];
  let start = 0, length = 0;
  let [px, py] = curve(0);
  for (let i = 1; i <= steps; i++) {
    const u = i / steps;
    const [x, y] = curve(u);
    const segment = Math.hypot(x - px, y - py);
    // The fine polyline step is far below maxArc for every curve here, so a sub-interval closes
    // just before it would exceed maxArc.
    if (length + segment > maxArc && u - 1 / steps > start) {
      out.push([start, u - 1 / steps]);
      start = u - 1 / steps;
      length = 0;
    }
    length += segment;
    px = x;
    py = y;
  }
  out.push([start, 1]);
  return out;
}
