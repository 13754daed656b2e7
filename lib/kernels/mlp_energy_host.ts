/**
 * The 2D energy MLP's forward pass and input gradient as one routine on float32 arrays: the matrix
 * products on a caller's gemm (oneDNN's sgemm), the rest as loops or oneDNN calls (MlpMath). A
 * Langevin step needs f and df/dy; through tfjs that is about 200 kernels (forward, tape,
 * backward), each with its own dispatch cost, for a net whose arithmetic takes well under a
 * millisecond.
 *
 * The net (lib/nets/mlp.ts) with its time terms already evaluated for the chain's levels:
 *   h_0 = [y, sin(2^k pi y), cos(2^k pi y) for k < fourier],  z_l = h_{l-1} W_l + proj_l,  h_l = act(z_l),
 *   f = sum_j h_depth[j] head[j]
 * and backwards g_depth = head, gz_l = g_l * act'(z_l), g_{l-1} = gz_l W_l^T, df/dy from g_0.
 */

/**
 * C = op(A) op(B) (+ C with `accumulate`), row-major: op(A) [m, k], op(B) [k, n], C [m, n] (see
 * DnnlOps.sgemm).
 */
export type Gemm = (
  m: number,
  n: number,
  k: number,
  a: Float32Array,
  transA: boolean,
  b: Float32Array,
  transB: boolean,
  c: Float32Array,
  accumulate?: boolean,
) => void;

/** The leaky ReLU over whole arrays (oneDNN's eltwise): y = x > 0 ? x : alpha x. */
export interface LeakyReluOps {
  forward(alpha: number, x: Float32Array, y: Float32Array): void;
  /** dx = dy * (x > 0 ? 1 : alpha); dx may be dy. */
  backward(alpha: number, x: Float32Array, dy: Float32Array, dx: Float32Array): void;
}

/** Swish over whole arrays (oneDNN's eltwise): y = x / (1 + exp(-x)). */
export interface SwishOps {
  forward(x: Float32Array, y: Float32Array): void;
  /** dx = dy * swish'(x); dx may be dy. */
  backward(x: Float32Array, dy: Float32Array, dx: Float32Array): void;
}

/**
 * What the routines below compute with: the matrix products, and optionally vectorised leaky
 * ReLUs (else the loops of `activate` and `activationGrad`). A layer is its bias copied into z and
 * the product added to it (sgemm's C += AB: the same float32 sum as z + proj in a loop), then the
 * activation: oneDNN's eltwise gives the loops' results bit for bit (tests/kernels_mlp_test.ts),
 * several times faster (the loops took over half of a 2D Langevin step).
 */
export interface MlpMath {
  gemm: Gemm;
  leakyRelu?: LeakyReluOps;
  /**
   * oneDNN's swish: not bit-identical to the loop (its own vectorised exp; within 1e-6 relative,
   * tested), about ten times faster than Math.exp per value.
   */
  swish?: SwishOps;
}

export type MlpActivation = "lrelu" | "swish";

export interface MlpShape {
  batch: number;
  inputDim: number;
  width: number;
  depth: number;
  /** Fourier octaves of the input features (0: y alone). */
  fourier: number;
  activation: MlpActivation;
  /** The leaky ReLU's negative slope. */
  slope: number;
}

export interface MlpArrays {
  /** [B, D]. */
  y: Float32Array;
  /** W_l, [F, width] for l = 0 (F = D (1 + 2 fourier)), [width, width] after. */
  weights: Float32Array[];
  /** [B, depth * width]: each layer's time projection (its bias). */
  proj: Float32Array;
  /** [B, width]: the head's time vector. */
  head: Float32Array;
}

/** Working arrays, reused between calls of the same shape. */
class Scratch {
  readonly z: Float32Array[];
  readonly h: [Float32Array, Float32Array];
  readonly g: [Float32Array, Float32Array];
  readonly features: Float32Array;
  readonly featureGrad: Float32Array;

  constructor(readonly key: string, s: MlpShape, featureDim: number) {
    const n = s.batch * s.width;
    this.z = Array.from({ length: s.depth }, () => new Float32Array(n));
    this.h = [new Float32Array(n), new Float32Array(n)];
    this.g = [new Float32Array(n), new Float32Array(n)];
    this.features = new Float32Array(s.batch * featureDim);
    this.featureGrad = new Float32Array(s.batch * featureDim);
  }
}

let scratch: Scratch | null = null;

function scratchFor(s: MlpShape, featureDim: number): Scratch {
  const key = `${s.batch},${s.width},${s.depth},${featureDim}`;
  if (scratch?.key !== key) scratch = new Scratch(key, s, featureDim);
  return scratch;
}

function validate(s: MlpShape, a: MlpArrays, featureDim: number): void {
  const want = (what: string, got: number, n: number) => {
    if (got !== n) throw new RangeError(`mlp energy: ${what} has ${got} values, expected ${n}`);
  };
  want("y", a.y.length, s.batch * s.inputDim);
  want("proj", a.proj.length, s.batch * s.depth * s.width);
  want("head", a.head.length, s.batch * s.width);
  if (a.weights.length !== s.depth) {
    throw new RangeError(`mlp energy: ${a.weights.length} weights for depth ${s.depth}`);
  }
  a.weights.forEach((w, l) => want(`W_${l}`, w.length, (l === 0 ? featureDim : s.width) * s.width));
}

/** h_0: y, then sin and cos of 2^k pi y (column k D + d of each block, as tf.tile lays them). */
export function inputFeatures(
  s: MlpShape,
  y: Float32Array,
  out: Float32Array,
  featureDim: number,
): void {
  const { batch, inputDim: d, fourier } = s;
  for (let b = 0; b < batch; b++) {
    const row = b * featureDim;
    for (let i = 0; i < d; i++) out[row + i] = y[b * d + i];
    for (let k = 0; k < fourier; k++) {
      const freq = 2 ** k * Math.PI;
      for (let i = 0; i < d; i++) {
        const arg = freq * y[b * d + i];
        out[row + d + k * d + i] = Math.sin(arg);
        out[row + d + fourier * d + k * d + i] = Math.cos(arg);
      }
    }
  }
}

/** df/dy from df/dh_0. */
function inputGradient(
  s: MlpShape,
  y: Float32Array,
  featureGrad: Float32Array,
  out: Float32Array,
  featureDim: number,
): void {
  const { batch, inputDim: d, fourier } = s;
  for (let b = 0; b < batch; b++) {
    const row = b * featureDim;
    for (let i = 0; i < d; i++) {
      let g = featureGrad[row + i];
      for (let k = 0; k < fourier; k++) {
        const freq = 2 ** k * Math.PI;
        const arg = freq * y[b * d + i];
        g += freq * (featureGrad[row + d + k * d + i] * Math.cos(arg) -
          featureGrad[row + d + fourier * d + k * d + i] * Math.sin(arg));
      }
      out[b * d + i] = g;
    }
  }
}

/**
 * The leaky ReLU's factor by sign, indexed by +(z > 0): no branch, which the random signs of a
 * layer's pre-activations would mispredict half the time (3x slower measured). The slope is taken
 * in float32, as tfjs and oneDNN hold it.
 */
export function leakyFactors(slope: number): Float64Array {
  return Float64Array.of(Math.fround(slope), 1);
}

/** h = act(z) over z's length: oneDNN's eltwise where `math` has it (leaky ReLU), else a loop. */
export function activate(math: MlpMath, s: MlpShape, z: Float32Array, h: Float32Array): void {
  if (s.activation === "lrelu" && math.leakyRelu) {
    math.leakyRelu.forward(s.slope, z, h);
  } else if (s.activation === "swish" && math.swish) {
    math.swish.forward(z, h);
  } else if (s.activation === "swish") {
    for (let i = 0; i < z.length; i++) h[i] = z[i] / (1 + Math.exp(-z[i]));
  } else {
    const factor = leakyFactors(s.slope);
    for (let i = 0; i < z.length; i++) h[i] = z[i] * factor[+(z[i] > 0)];
  }
}

/** g *= act'(z), in place, over the first n values (default: a hidden layer's). */
export function activationGrad(
  s: MlpShape,
  z: Float32Array,
  g: Float32Array,
  n = s.batch * s.width,
): void {
  if (s.activation === "swish") {
    for (let i = 0; i < n; i++) {
      const sig = 1 / (1 + Math.exp(-z[i]));
      g[i] *= sig * (1 + z[i] * (1 - sig));
    }
  } else {
    const factor = leakyFactors(s.slope);
    for (let i = 0; i < n; i++) g[i] *= factor[+(z[i] > 0)];
  }
}

/**
 * z_l = input W_l + proj_l, h_l = act(z_l) for layer l (input [B, k]), by the fastest means `math`
 * has (see MlpMath). Row b takes its time projection from proj's row `projRows[b]` (default b).
 */
export function layerForward(
  math: MlpMath,
  s: MlpShape,
  l: number,
  input: Float32Array,
  k: number,
  weight: Float32Array,
  proj: Float32Array,
  z: Float32Array,
  h: Float32Array,
  projRows?: Int32Array,
): void {
  const { batch, width, depth } = s;
  for (let b = 0; b < batch; b++) {
    const from = ((projRows ? projRows[b] : b) * depth + l) * width;
    z.set(proj.subarray(from, from + width), b * width);
  }
  math.gemm(batch, width, k, input, false, weight, false, z, true);
  activate(math, s, z.subarray(0, batch * width), h.subarray(0, batch * width));
}

/** g *= act'(z) over the first n values (default: a hidden layer's), by `math`'s fastest means. */
export function layerBackward(
  math: MlpMath,
  s: MlpShape,
  z: Float32Array,
  g: Float32Array,
  n = s.batch * s.width,
): void {
  const gn = g.subarray(0, n);
  if (s.activation === "lrelu" && math.leakyRelu) {
    math.leakyRelu.backward(s.slope, z.subarray(0, n), gn, gn);
  } else if (s.activation === "swish" && math.swish) {
    math.swish.backward(z.subarray(0, n), gn, gn);
  } else {
    activationGrad(s, z, g, n);
  }
}

/** Writes f(y) [B] to `energy` and df/dy [B, D] to `grad`. */
export function mlpEnergyGrad(
  math: MlpMath,
  s: MlpShape,
  a: MlpArrays,
  energy: Float32Array,
  grad: Float32Array,
): void {
  const { batch, inputDim, width, depth } = s;
  const featureDim = inputDim * (1 + 2 * s.fourier);
  validate(s, a, featureDim);
  const w = scratchFor(s, featureDim);
  let input = a.y;
  if (s.fourier > 0) {
    inputFeatures(s, a.y, w.features, featureDim);
    input = w.features;
  }
  for (let l = 0; l < depth; l++) {
    const k = l === 0 ? featureDim : width;
    const h = w.h[l % 2];
    layerForward(math, s, l, input, k, a.weights[l], a.proj, w.z[l], h);
    input = h;
  }
  for (let b = 0; b < batch; b++) {
    let sum = 0;
    for (let j = 0; j < width; j++) sum += input[b * width + j] * a.head[b * width + j];
    energy[b] = sum;
  }
  let g = w.g[0];
  g.set(a.head);
  for (let l = depth - 1; l >= 0; l--) {
    layerBackward(math, s, w.z[l], g);
    const k = l === 0 ? featureDim : width;
    const next = l === 0 ? (s.fourier > 0 ? w.featureGrad : grad) : w.g[(depth - l) % 2];
    math.gemm(batch, k, width, g, false, a.weights[l], true, next);
    g = next;
  }
  if (s.fourier > 0) inputGradient(s, a.y, w.featureGrad, grad, featureDim);
}
