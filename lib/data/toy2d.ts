/**
 * 2D toy densities generated from a seed, each with its exact log-density (in nats).
 *
 * The data sets follow the usual EBM / flow benchmarks (FFJORD, Grathwohl et al. 2019; the 2D
 * experiments of the DRL follow-ups) but are rescaled to lie within about [-1, 1]^2, the unit scale
 * the noise schedules assume (DESIGN.md section 1: the smallest sigma is 0.01, the top one ~1).
 */
import { JsRandom, Rng } from "../rng.ts";
import { UserError } from "../errors.ts";
import { CurveNoiseDensity, type WeightedCurve } from "./curve_density.ts";

export const TOY2D_NAMES = [
  "8gaussians",
  "25gaussians",
  "checkerboard",
  "2moons",
  "swissroll",
  "rings",
] as const;
export type Toy2dName = typeof TOY2D_NAMES[number];

/** An equal-weight mixture of isotropic Gaussians: its mode centres, for mode coverage. */
export interface GaussianModes {
  /** k x 2, row-major. */
  centres: Float64Array;
  std: number;
}

/** A finite mixture sum_k exp(logWeights[k]) N(centres_k, std^2 I) in 2D. */
export interface GaussianMixture {
  /** k x 2, row-major. */
  centres: Float64Array;
  /** Sum to 1 after exp (a curve set's to its quadrature's accuracy). */
  logWeights: Float64Array;
  std: number;
}

/** An axis-aligned square [x0, x1) x [y0, y1). */
export interface Square {
  x0: number;
  x1: number;
  y0: number;
  y1: number;
}

export interface Toy2dDataset {
  readonly name: Toy2dName;
  readonly description: string;
  /** n points, row-major (x0, y0, x1, y1, ...). A Rng yields one JS stream per call. */
  sample(n: number, rng: Rng | JsRandom): Float32Array;
  /** Exact log-density in nats (-Infinity where the density is 0). */
  logDensity(x: number, y: number): number;
  /**
   * The exact log-density of a x + s eps (x from the data set, eps ~ N(0, I)): the diffusion's
   * marginal at a level with alphasCum a and sigmasCum s (lib/schedule.ts), in x_t's coordinates.
   * s > 0; built once per (a, s), so call it once per level and reuse the function.
   */
  diffused(a: number, s: number): (x: number, y: number) => number;
  /** Gaussian mixtures only: the modes. */
  readonly modes?: GaussianModes;
  /**
   * The density as a finite mixture of isotropic Gaussians, where it is one: a Gaussian mixture's
   * modes (equal weights); a curve set's quadrature nodes (lib/data/curve_density.ts, the density
   * logDensity returns to 1e-6 nats). Its diffused marginals are mixtures too: the exact chain
   * (lib/exact_chain.ts) of `deno task loglik --exact`.
   */
  mixture?(): GaussianMixture;
  /** Checkerboard only: the squares that hold the data. */
  readonly squares?: readonly Square[];
}

/** The log-density of each point of an (n x 2) row-major array. */
export function logDensities(
  dataset: Pick<Toy2dDataset, "logDensity">,
  points: Float32Array | Float64Array,
): Float64Array {
  const out = new Float64Array(points.length / 2);
  for (let i = 0; i < out.length; i++) {
    out[i] = dataset.logDensity(points[2 * i], points[2 * i + 1]);
  }
  return out;
}

function jsStream(rng: Rng | JsRandom): JsRandom {
  return rng instanceof Rng ? rng.js() : rng;
}

function checkCount(n: number): void {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`sample count must be a count, got ${n}`);
}

// ---------------------------------------------------------------------------------------------
// Gaussian mixtures

function gaussianMixture(
  name: Toy2dName,
  description: string,
  centres: Float64Array,
  std: number,
): Toy2dDataset {
  return {
    name,
    description,
    modes: { centres, std },
    mixture: () => ({
      centres,
      logWeights: new Float64Array(centres.length / 2).fill(-Math.log(centres.length / 2)),
      std,
    }),
    sample(n, rng) {
      checkCount(n);
      const r = jsStream(rng);
      const out = new Float32Array(2 * n);
      for (let i = 0; i < n; i++) {
        const c = r.int(centres.length / 2);
        out[2 * i] = centres[2 * c] + std * r.normal();
        out[2 * i + 1] = centres[2 * c + 1] + std * r.normal();
      }
      return out;
    },
    logDensity: mixtureLogDensity(centres, std),
    // a x + s eps of a mixture is the mixture of the scaled centres with std sqrt(a^2 std^2 + s^2).
    diffused: (a, s) =>
      mixtureLogDensity(centres.map((c) => a * c), Math.sqrt(a * a * std * std + s * s)),
  };
}

/** log sum_c (1/k) N((x, y); mu_c, std^2 I), by log-sum-exp. */
function mixtureLogDensity(centres: Float64Array, std: number): (x: number, y: number) => number {
  const k = centres.length / 2;
  const logComponent = -Math.log(k) - Math.log(2 * Math.PI * std * std);
  const twoVar = 2 * std * std;
  const e = new Float64Array(k);
  return (x, y) => {
    let max = -Infinity;
    for (let c = 0; c < k; c++) {
      e[c] = -(sq(x - centres[2 * c]) + sq(y - centres[2 * c + 1])) / twoVar;
      if (e[c] > max) max = e[c];
    }
    let sum = 0;
    for (let c = 0; c < k; c++) sum += Math.exp(e[c] - max);
    return logComponent + max + Math.log(sum);
  };
}

function sq(v: number): number {
  return v * v;
}

/** Eight modes on a circle of radius 0.7, std 0.05: neighbours are ~10.7 std apart. */
function eightGaussians(): Toy2dDataset {
  const radius = 0.7;
  const centres = new Float64Array(16);
  for (let c = 0; c < 8; c++) {
    centres[2 * c] = radius * Math.cos((2 * Math.PI * c) / 8);
    centres[2 * c + 1] = radius * Math.sin((2 * Math.PI * c) / 8);
  }
  return gaussianMixture(
    "8gaussians",
    "8 Gaussians (std 0.05) evenly on a circle of radius 0.7",
    centres,
    0.05,
  );
}

/** A 5 x 5 grid of modes at -0.8, -0.4, 0, 0.4, 0.8 per axis, std 0.04 (10 std apart). */
function twentyFiveGaussians(): Toy2dDataset {
  const centres = new Float64Array(50);
  for (let i = 0; i < 5; i++) {
    for (let j = 0; j < 5; j++) {
      centres[2 * (5 * i + j)] = -0.8 + 0.4 * i;
      centres[2 * (5 * i + j) + 1] = -0.8 + 0.4 * j;
    }
  }
  return gaussianMixture(
    "25gaussians",
    "25 Gaussians (std 0.04) on a 5x5 grid with spacing 0.4",
    centres,
    0.04,
  );
}

// ---------------------------------------------------------------------------------------------
// Checkerboard

const CHECKER_SIDE = 0.5;

/**
 * The 4 x 4 board on [-1, 1)^2 with the data on squares whose column + row index is even (the
 * bottom-left square holds data): 8 squares of area 1/4, so the density is 1/2 on them.
 */
export const CHECKERBOARD_SQUARES: readonly Square[] = (() => {
  const squares: Square[] = [];
  for (let i = 0; i < 4; i++) {
    for (let j = 0; j < 4; j++) {
      if ((i + j) % 2 !== 0) continue;
      const x0 = -1 + CHECKER_SIDE * i, y0 = -1 + CHECKER_SIDE * j;
      squares.push({ x0, x1: x0 + CHECKER_SIDE, y0, y1: y0 + CHECKER_SIDE });
    }
  }
  return squares;
})();

/** Whether (x, y) lies on a data square of the checkerboard. */
export function onCheckerboardSquare(x: number, y: number): boolean {
  if (!(x >= -1 && x < 1 && y >= -1 && y < 1)) return false;
  const i = Math.floor((x + 1) / CHECKER_SIDE), j = Math.floor((y + 1) / CHECKER_SIDE);
  return (i + j) % 2 === 0;
}

/** Rounds to float32 but stays below `upper` (float32 rounding could land on the square's edge). */
function float32Below(v: number, upper: number): number {
  const f = Math.fround(v);
  // upper is a multiple of 0.5 in [-0.5, 1], so upper - 2^-23 is a float32.
  return f < upper ? f : upper - 2 ** -23;
}

function checkerboard(): Toy2dDataset {
  const logInside = -Math.log(CHECKERBOARD_SQUARES.length * CHECKER_SIDE * CHECKER_SIDE);
  return {
    name: "checkerboard",
    description: "uniform on 8 alternate squares of a 4x4 board on [-1, 1]^2",
    squares: CHECKERBOARD_SQUARES,
    sample(n, rng) {
      checkCount(n);
      const r = jsStream(rng);
      const out = new Float32Array(2 * n);
      for (let i = 0; i < n; i++) {
        const s = CHECKERBOARD_SQUARES[r.int(CHECKERBOARD_SQUARES.length)];
        out[2 * i] = float32Below(s.x0 + CHECKER_SIDE * r.float(), s.x1);
        out[2 * i + 1] = float32Below(s.y0 + CHECKER_SIDE * r.float(), s.y1);
      }
      return out;
    },
    logDensity: (x, y) => (onCheckerboardSquare(x, y) ? logInside : -Infinity),
    diffused: (a, s) => diffusedSquares(CHECKERBOARD_SQUARES, a, s),
  };
}

/**
 * a x + s eps for x uniform on equal-area squares: the density of a x is 1 / (m a^2 area) on the
 * scaled squares, and the Gaussian's convolution with a box factorises per axis into differences of
 * the normal CDF.
 */
function diffusedSquares(
  squares: readonly Square[],
  a: number,
  s: number,
): (x: number, y: number) => number {
  const area = (squares[0].x1 - squares[0].x0) * (squares[0].y1 - squares[0].y0);
  const logNorm = -Math.log(squares.length * a * a * area);
  return (x, y) => {
    let sum = 0;
    for (const q of squares) {
      sum += normalMass((a * q.x0 - x) / s, (a * q.x1 - x) / s) *
        normalMass((a * q.y0 - y) / s, (a * q.y1 - y) / s);
    }
    return logNorm + Math.log(sum);
  };
}

/** P(lo < Z < hi) for Z ~ N(0, 1), lo <= hi, from the tail on the side where it is small. */
function normalMass(lo: number, hi: number): number {
  if (lo >= 0) return normalTail(lo) - normalTail(hi);
  if (hi <= 0) return normalTail(-hi) - normalTail(-lo);
  return 1 - normalTail(-lo) - normalTail(hi);
}

/** P(Z > z) = erfc(z / sqrt 2) / 2. */
function normalTail(z: number): number {
  return erfc(z / Math.SQRT2) / 2;
}

/**
 * erfc with relative error below 1.2e-7 everywhere (Numerical Recipes' Chebyshev fit, Press et
 * al. 2007, Sec. 6.2), so the tails' log-densities stay accurate far from the squares.
 */
export function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r = t * Math.exp(
    -z * z - 1.26551223 +
      t * (1.00002368 +
          t * (0.37409196 +
              t * (0.09678418 +
                  t * (-0.18628806 +
                      t * (0.27886807 +
                          t *
                            (-1.13520398 +
                              t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
  );
  return x >= 0 ? r : 2 - r;
}

// ---------------------------------------------------------------------------------------------
// Curves with Gaussian noise

function curveDataset(
  name: Toy2dName,
  description: string,
  curves: readonly WeightedCurve[],
  std: number,
): Toy2dDataset {
  let density: CurveNoiseDensity | undefined; // built on first use: sampling does not need it
  const cumulative = curves.map((_, i) => curves.slice(0, i + 1).reduce((a, c) => a + c.weight, 0));
  return {
    name,
    description,
    sample(n, rng) {
      checkCount(n);
      const r = jsStream(rng);
      const out = new Float32Array(2 * n);
      for (let i = 0; i < n; i++) {
        const pick = r.float() * cumulative[cumulative.length - 1];
        let k = 0;
        while (k < curves.length - 1 && pick >= cumulative[k]) k++;
        const [x, y] = curves[k].curve(r.float());
        out[2 * i] = x + std * r.normal();
        out[2 * i + 1] = y + std * r.normal();
      }
      return out;
    },
    logDensity(x, y) {
      density ??= new CurveNoiseDensity(curves, std);
      return density.logDensity(x, y);
    },
    // Sub-intervals of 2 std: a quarter of logDensity's nodes, 1e-6 nats from its rule on the
    // swiss roll (measured), so the exact chain costs a quarter.
    mixture: () => new CurveNoiseDensity(curves, std, 2 * std).mixture(),
    // a x + s eps: points on the scaled curves with noise std sqrt(a^2 std^2 + s^2).
    diffused(a, s) {
      const scaled = curves.map(({ curve, weight }) => ({
        curve: (u: number) => {
          const [x, y] = curve(u);
          return [a * x, a * y] as const;
        },
        weight,
      }));
      const d = new CurveNoiseDensity(scaled, Math.sqrt(a * a * std * std + s * s));
      return (x, y) => d.logDensity(x, y);
    },
  };
}

/**
 * Two interleaved half circles (scikit-learn's make_moons: outer (cos t, sin t), inner
 * (1 - cos t, 1/2 - sin t), t in [0, pi]), centred and scaled by 0.6, noise std 0.05.
 */
function twoMoons(): Toy2dDataset {
  const scale = 0.6, cx = 0.5, cy = 0.25;
  const outer = (u: number) =>
    [scale * (Math.cos(Math.PI * u) - cx), scale * (Math.sin(Math.PI * u) - cy)] as const;
  const inner = (u: number) =>
    [scale * (1 - Math.cos(Math.PI * u) - cx), scale * (0.5 - Math.sin(Math.PI * u) - cy)] as const;
  return curveDataset(
    "2moons",
    "two moons: half circles of radius 0.6 with Gaussian noise std 0.05",
    [{ curve: outer, weight: 0.5 }, { curve: inner, weight: 0.5 }],
    0.05,
  );
}

/**
 * The 2D swiss roll (scikit-learn's make_swiss_roll projected on (x, z)): t cos t, t sin t with
 * t = 1.5 pi (1 + 2u) uniform in [1.5 pi, 4.5 pi], scaled so the outer end is at radius 0.9;
 * arms are 2 pi * scale = 0.4 apart, noise std 0.04.
 */
function swissRoll(): Toy2dDataset {
  const scale = 0.9 / (4.5 * Math.PI);
  const curve = (u: number) => {
    const t = 1.5 * Math.PI * (1 + 2 * u);
    return [scale * t * Math.cos(t), scale * t * Math.sin(t)] as const;
  };
  return curveDataset(
    "swissroll",
    "swiss roll: spiral t(cos t, sin t), t in [1.5pi, 4.5pi], outer radius 0.9, noise std 0.04",
    [{ curve, weight: 1 }],
    0.04,
  );
}

/** Three concentric circles of radius 0.3, 0.6, 0.9, uniform along their total length, std 0.04. */
function rings(): Toy2dDataset {
  const radii = [0.3, 0.6, 0.9];
  const total = radii.reduce((a, r) => a + r, 0);
  const curves = radii.map((r) => ({
    curve: (u: number) => [r * Math.cos(2 * Math.PI * u), r * Math.sin(2 * Math.PI * u)] as const,
    weight: r / total,
  }));
  return curveDataset(
    "rings",
    "three circles of radius 0.3, 0.6, 0.9 with Gaussian noise std 0.04",
    curves,
    0.04,
  );
}

const FACTORIES: Record<Toy2dName, () => Toy2dDataset> = {
  "8gaussians": eightGaussians,
  "25gaussians": twentyFiveGaussians,
  checkerboard,
  "2moons": twoMoons,
  swissroll: swissRoll,
  rings,
};

export function isToy2dName(name: string): name is Toy2dName {
  return (TOY2D_NAMES as readonly string[]).includes(name);
}

/** The named data set; an unknown name is a UserError listing the valid ones. */
export function getToy2d(name: string): Toy2dDataset {
  if (!isToy2dName(name)) {
    throw new UserError(`unknown 2D data set "${name}"; choose one of: ${TOY2D_NAMES.join(", ")}`);
  }
  return FACTORIES[name]();
}
