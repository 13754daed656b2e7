/**
 * Spectral normalisation (Miyato et al. 2018, "Spectral Normalization for GANs", Algorithm 1).
 *
 * A weight W (dense [in, out] or conv [kh, kw, cin, cout]) is viewed as the matrix
 * W_mat = reshape(W, [in', out]) with in' = kh*kw*cin, the same view as the official DRL code
 * (Gao et al. 2021, nn.SN). Its largest singular value is estimated by power iteration:
 *   v <- normalize(W_mat u),  u <- normalize(W_mat^T v),  sigma = v^T W_mat u,
 * and the layer uses W / sigma. u and v are non-trainable variables (buffers, saved in checkpoints);
 * they enter sigma as constants, so the gradient of sigma with respect to W is v u^T as in the
 * paper. The power iteration runs in `powerIteration()`, once per training step, outside any
 * gradient computation; W changes slowly, so one iteration per step keeps the estimate tight.
 */
import * as tf from "@tensorflow/tfjs";
import type { Rng } from "../rng.ts";

/** Power iterations at creation, so sigma is accurate from the first step (as torch does). */
export const INITIAL_POWER_ITERATIONS = 15;
const NORM_EPS = 1e-12;

export interface SpectralNormedWeight {
  /** The layer's name: the weight is `${name}.w`, its vectors `${name}.sn_u` and `${name}.sn_v`. */
  readonly name: string;
  /** The trainable weight before normalisation. */
  readonly raw: tf.Variable;
  /** Left and right singular-vector estimates, [out, 1] and [in', 1]. */
  readonly u: tf.Variable;
  readonly v: tf.Variable;
  /** The normalised weight, same shape as `raw`; differentiable with respect to `raw`. */
  normalized(): tf.Tensor;
  /** sigma = v^T W_mat u, a [1, 1] tensor (u, v constant). */
  sigma(): tf.Tensor2D;
  /** One power-iteration step: updates u and v in place. */
  powerIteration(): void;
}

/** Another copy of a layer's weight and vectors (e.g. the EMA weights and their own u, v). */
export interface WeightCopy {
  weight: tf.Tensor;
  u: tf.Variable;
  v: tf.Variable;
}

/**
 * One power-iteration step on W viewed as [in', out]: v <- normalize(W u), u <- normalize(W^T v),
 * written into u and v.
 */
export function powerIterationStep(w: tf.Tensor, u: tf.Variable, v: tf.Variable): void {
  tf.tidy(() => {
    const outDim = w.shape[w.shape.length - 1];
    const m = tf.reshape(w, [w.size / outDim, outDim]) as tf.Tensor2D;
    const vNew = l2Normalize(tf.matMul(m, u as tf.Tensor2D));
    const uNew = l2Normalize(tf.matMul(m, vNew, true, false));
    v.assign(vNew);
    u.assign(uNew);
  });
}

function l2Normalize(x: tf.Tensor2D): tf.Tensor2D {
  return tf.div(x, tf.maximum(tf.norm(x), NORM_EPS));
}

/**
 * Wraps `raw` with spectral normalisation and registers its vectors in `buffers` as
 * `${name}.sn_u` and `${name}.sn_v`.
 *
 * With `bounded`, the weight is W * min(sigma, 1) / sigma: its spectral norm is capped at 1 but a
 * small weight stays small. The official code uses this for layers initialised near zero (the
 * second conv of each residual block), where plain W / sigma would blow the weight up to norm 1.
 */
export function spectralNormalize(
  name: string,
  raw: tf.Variable,
  buffers: Map<string, tf.Variable>,
  rng: Rng,
  bounded = false,
): SpectralNormedWeight {
  const outDim = raw.shape[raw.shape.length - 1];
  const inDim = raw.size / outDim;
  const matrix = () => tf.reshape(raw, [inDim, outDim]) as tf.Tensor2D;

  // The official initialiser: truncated normal, stddev 0.02 (only its direction matters).
  const u = tf.tidy(() =>
    tf.variable(tf.truncatedNormal([outDim, 1], 0, 0.02, "float32", rng.nextSeed()), false)
  );
  const v = tf.tidy(() => tf.variable(tf.zeros([inDim, 1]), false));
  buffers.set(`${name}.sn_u`, u);
  buffers.set(`${name}.sn_v`, v);

  const powerIteration = () => powerIterationStep(raw, u, v);

  const sigma = (): tf.Tensor2D =>
    tf.matMul(tf.matMul(v as tf.Tensor2D, matrix(), true, false), u as tf.Tensor2D);

  const normalized = () => {
    // [1, 1] broadcasts over the trailing axes of both weight layouts.
    if (!bounded) return tf.mul(raw, tf.div(1, sigma()));
    const s = tf.add(sigma(), 1e-6); // as the official code, against a zero weight
    const scale = tf.div(tf.minimum(s, 1), s);
    return tf.mul(raw, scale);
  };

  for (let i = 0; i < INITIAL_POWER_ITERATIONS; i++) powerIteration();
  return { name, raw, u, v, normalized, sigma, powerIteration };
}
