/**
 * The 2D energy MLP's f and the gradient of sum_b c_b f(y_b, t_b) with respect to every parameter,
 * as one routine (the training loss's backward pass; see lib/nets/mlp.ts for the net):
 *   temb = act(emb W_t + b_t),  proj = temb W_p + b_p,  head = temb W_h + b_h,
 *   z_l = h_{l-1} W_l + proj_l,  h_l = act(z_l),  f = <h_depth, head>
 * with emb the levels' sinusoidal embedding (computed by the caller). Through tfjs autodiff this
 * was some 250 kernels (forward with saved tensors, then backward) per training step.
 */
import {
  inputFeatures,
  layerBackward,
  layerForward,
  leakyFactors,
  type MlpMath,
  type MlpShape,
} from "./mlp_energy_host.ts";

/** The net's parameters (or their gradients), by role. */
export interface MlpParams {
  /** [E, E], [E]: the time embedding's dense layer. */
  tembW: Float32Array;
  tembB: Float32Array;
  /** [E, depth * width], [depth * width]: every layer's time projection. */
  projW: Float32Array;
  projB: Float32Array;
  /** W_l: [F, width] then [width, width]. */
  hidden: Float32Array[];
  /** [E, width], [width]: the head's time vector. */
  headW: Float32Array;
  headB: Float32Array;
}

export interface ParamGradShape extends MlpShape {
  tembDim: number;
}

/** out = x W + b (row-broadcast bias): b in every row, then the product added (sgemm's C += AB). */
function dense(
  math: MlpMath,
  rows: number,
  cols: number,
  inner: number,
  x: Float32Array,
  w: Float32Array,
  b: Float32Array,
  out: Float32Array,
): void {
  for (let r = 0; r < rows; r++) out.set(b.subarray(0, cols), r * cols);
  math.gemm(rows, cols, inner, x, false, w, false, out, true);
}

function activate(math: MlpMath, s: MlpShape, z: Float32Array, h: Float32Array): void {
  if (s.activation === "lrelu" && math.leakyRelu) {
    math.leakyRelu.forward(s.slope, z, h);
  } else if (s.activation === "swish") {
    for (let i = 0; i < z.length; i++) h[i] = z[i] / (1 + Math.exp(-z[i]));
  } else {
    const factor = leakyFactors(s.slope);
    for (let i = 0; i < z.length; i++) h[i] = z[i] * factor[+(z[i] > 0)];
  }
}

/** out[c] = sum over rows of x[r, c]. */
function columnSums(x: Float32Array, rows: number, cols: number, out: Float32Array): void {
  const acc = new Float64Array(cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) acc[c] += x[r * cols + c];
  out.set(acc);
}

/**
 * Writes f [N] to `energy` and the parameter gradients of sum_b cot_b f_b into `grads` (shaped as
 * the parameters). `emb` [N, E] is the levels' embedding, `y` [N, D] the points.
 */
export function mlpEnergyParamGrad(
  math: MlpMath,
  s: ParamGradShape,
  emb: Float32Array,
  y: Float32Array,
  cot: Float32Array,
  p: MlpParams,
  energy: Float32Array,
  grads: MlpParams,
): void {
  const { gemm } = math;
  const { batch: n, inputDim, width: w, depth, tembDim: e } = s;
  const featureDim = inputDim * (1 + 2 * s.fourier);
  const pw = depth * w;
  // Forward, keeping what the backward pass reads.
  const zt = new Float32Array(n * e), temb = new Float32Array(n * e);
  dense(math, n, e, e, emb, p.tembW, p.tembB, zt);
  activate(math, s, zt, temb);
  const proj = new Float32Array(n * pw), head = new Float32Array(n * w);
  dense(math, n, pw, e, temb, p.projW, p.projB, proj);
  dense(math, n, w, e, temb, p.headW, p.headB, head);
  let h0 = y;
  if (s.fourier > 0) {
    h0 = new Float32Array(n * featureDim);
    inputFeatures(s, y, h0, featureDim);
  }
  const zs: Float32Array[] = [], hs: Float32Array[] = [h0];
  for (let l = 0; l < depth; l++) {
    const z = new Float32Array(n * w), h = new Float32Array(n * w);
    layerForward(math, s, l, hs[l], l === 0 ? featureDim : w, p.hidden[l], proj, z, h);
    zs.push(z);
    hs.push(h);
  }
  const last = hs[depth];
  for (let b = 0; b < n; b++) {
    let sum = 0;
    for (let j = 0; j < w; j++) sum += last[b * w + j] * head[b * w + j];
    energy[b] = sum;
  }
  // Backward from d(sum_b cot_b f_b): df/dhead = h_depth, df/dh_depth = head.
  const dHead = new Float32Array(n * w), g = new Float32Array(n * w);
  for (let b = 0; b < n; b++) {
    for (let j = 0; j < w; j++) {
      dHead[b * w + j] = cot[b] * last[b * w + j];
      g[b * w + j] = cot[b] * head[b * w + j];
    }
  }
  gemm(e, w, n, temb, true, dHead, false, grads.headW);
  columnSums(dHead, n, w, grads.headB);
  const dProj = new Float32Array(n * pw), gPrev = new Float32Array(n * w);
  for (let l = depth - 1; l >= 0; l--) {
    layerBackward(math, s, zs[l], g);
    for (let b = 0; b < n; b++) dProj.set(g.subarray(b * w, (b + 1) * w), b * pw + l * w);
    gemm(l === 0 ? featureDim : w, w, n, hs[l], true, g, false, grads.hidden[l]);
    if (l > 0) {
      gemm(n, w, w, g, false, p.hidden[l], true, gPrev);
      g.set(gPrev);
    }
  }
  gemm(e, pw, n, temb, true, dProj, false, grads.projW);
  columnSums(dProj, n, pw, grads.projB);
  // d temb from both of its uses, then through the embedding layer.
  const dTemb = new Float32Array(n * e), fromHead = new Float32Array(n * e);
  gemm(n, e, pw, dProj, false, p.projW, true, dTemb);
  gemm(n, e, w, dHead, false, p.headW, true, fromHead);
  for (let i = 0; i < dTemb.length; i++) dTemb[i] = Math.fround(dTemb[i] + fromHead[i]);
  layerBackward(math, s, zt, dTemb, n * e);
  gemm(e, e, n, emb, true, dTemb, false, grads.tembW);
  columnSums(dTemb, n, e, grads.tembB);
}
