/**
 * The 2D energy MLP's f and the gradient of sum_b c_b f(y_b, t_b) with respect to every parameter,
 * as one routine (the training loss's backward pass; see lib/nets/mlp.ts for the net):
 *   temb = act(emb W_t + b_t),  proj = temb W_p + b_p,  head = temb W_h + b_h,
 *   z_l = h_{l-1} W_l + proj_l,  h_l = act(z_l),  f = <h_depth, head>
 * with emb the levels' sinusoidal embedding (computed by the caller). Through tfjs autodiff this
 * was some 250 kernels (forward with saved tensors, then backward) per training step.
 */
import {
  activate,
  inputFeatures,
  layerBackward,
  layerForward,
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

/** out[c] = sum over rows of x[r, c]. */
function columnSums(x: Float32Array, rows: number, cols: number, out: Float32Array): void {
  const acc = new Float64Array(cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) acc[c] += x[r * cols + c];
  out.set(acc);
}

/** The distinct rows of x [n, cols] and, per row, the index of its distinct row. */
export function distinctRows(
  x: Float32Array,
  n: number,
  cols: number,
): { rows: Float32Array; count: number; index: Int32Array } {
  const index = new Int32Array(n);
  const firsts: number[] = [];
  for (let r = 0; r < n; r++) {
    const at = r * cols;
    let found = -1;
    for (let u = 0; u < firsts.length && found < 0; u++) {
      const from = firsts[u] * cols;
      let same = true;
      for (let c = 0; c < cols && same; c++) same = x[from + c] === x[at + c];
      if (same) found = u;
    }
    if (found < 0) {
      found = firsts.length;
      firsts.push(r);
    }
    index[r] = found;
  }
  const rows = new Float32Array(firsts.length * cols);
  firsts.forEach((r, u) => rows.set(x.subarray(r * cols, (r + 1) * cols), u * cols));
  return { rows, count: firsts.length, index };
}

/**
 * Writes f [N] to `energy` and the parameter gradients of sum_b cot_b f_b into `grads` (shaped as
 * the parameters). `emb` [N, E] is the levels' embedding, `y` [N, D] the points.
 *
 * The time terms (temb, proj, head) depend on a row's level only, and a batch holds few levels (T
 * = 6 for the default preset, at most T): they are computed, and their gradients summed, once per
 * distinct level instead of once per row. With 512 rows and 6 levels that removes about two
 * thirds of the arithmetic (the 384-wide projection's three products were the largest).
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
  const levels = distinctRows(emb, n, e);
  const u = levels.count, level = levels.index;
  // Forward, keeping what the backward pass reads; the time terms per level.
  const zt = new Float32Array(u * e), temb = new Float32Array(u * e);
  dense(math, u, e, e, levels.rows, p.tembW, p.tembB, zt);
  activate(math, s, zt, temb);
  const proj = new Float32Array(u * pw), head = new Float32Array(u * w);
  dense(math, u, pw, e, temb, p.projW, p.projB, proj);
  dense(math, u, w, e, temb, p.headW, p.headB, head);
  let h0 = y;
  if (s.fourier > 0) {
    h0 = new Float32Array(n * featureDim);
    inputFeatures(s, y, h0, featureDim);
  }
  const zs: Float32Array[] = [], hs: Float32Array[] = [h0];
  for (let l = 0; l < depth; l++) {
    const z = new Float32Array(n * w), h = new Float32Array(n * w);
    layerForward(math, s, l, hs[l], l === 0 ? featureDim : w, p.hidden[l], proj, z, h, level);
    zs.push(z);
    hs.push(h);
  }
  const last = hs[depth];
  for (let b = 0; b < n; b++) {
    let sum = 0;
    const hr = level[b] * w;
    for (let j = 0; j < w; j++) sum += last[b * w + j] * head[hr + j];
    energy[b] = sum;
  }
  // Backward from d(sum_b cot_b f_b): df/dhead = h_depth (summed per level), df/dh_depth = head.
  const dHeadSum = new Float64Array(u * w), g = new Float32Array(n * w);
  for (let b = 0; b < n; b++) {
    const hr = level[b] * w;
    for (let j = 0; j < w; j++) {
      dHeadSum[hr + j] += cot[b] * last[b * w + j];
      g[b * w + j] = cot[b] * head[hr + j];
    }
  }
  const dHead = Float32Array.from(dHeadSum);
  gemm(e, w, u, temb, true, dHead, false, grads.headW);
  columnSums(dHead, u, w, grads.headB);
  const dProjSum = new Float64Array(u * pw), gPrev = new Float32Array(n * w);
  for (let l = depth - 1; l >= 0; l--) {
    layerBackward(math, s, zs[l], g);
    for (let b = 0; b < n; b++) {
      const to = level[b] * pw + l * w;
      for (let j = 0; j < w; j++) dProjSum[to + j] += g[b * w + j];
    }
    gemm(l === 0 ? featureDim : w, w, n, hs[l], true, g, false, grads.hidden[l]);
    if (l > 0) {
      gemm(n, w, w, g, false, p.hidden[l], true, gPrev);
      g.set(gPrev);
    }
  }
  const dProj = Float32Array.from(dProjSum);
  gemm(e, pw, u, temb, true, dProj, false, grads.projW);
  columnSums(dProj, u, pw, grads.projB);
  // d temb from both of its uses, then through the embedding layer.
  const dTemb = new Float32Array(u * e);
  gemm(u, e, pw, dProj, false, p.projW, true, dTemb);
  gemm(u, e, w, dHead, false, p.headW, true, dTemb, true);
  layerBackward(math, s, zt, dTemb, u * e);
  gemm(e, e, u, levels.rows, true, dTemb, false, grads.tembW);
  columnSums(dTemb, u, e, grads.tembB);
}
