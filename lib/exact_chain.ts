/**
 * Energy nets whose levels are the exact diffused marginals of a known data density, so the chain
 * of conditionals is consistent and its log-likelihood is known in closed form
 * (tests/loglik_test.ts, and `deno task loglik --exact`, which scores a run's points under the
 * exact chain of its 2D data set, a Gaussian mixture or a curve set's quadrature, to measure the
 * estimator's own error and, level by level, the model's).
 *
 * Level t models y = aPrev_{t+1} x_t (aPrev = 1 at the top), and DRL reads f(y, t) / s_t^2 as the
 * log-density of y; so f(y, t) = s_t^2 log p_t(y) up to a constant, where x_t's marginal follows
 * the forward process: mean c_t mu, variance V_t with c_0 = 1, V_0 = v and
 * c_{t+1} = a_{t+1} c_t, V_{t+1} = a_{t+1}^2 V_t + sigma_{t+1}^2.
 */
import * as tf from "@tensorflow/tfjs";
import type { EnergyNet, MlpConfig } from "./nets/types.ts";
import type { Schedule } from "./schedule.ts";

/** Per level t: the scale of y (aPrev_{t+1}), and x_t's mean factor c_t and variance V_t. */
function marginals(schedule: Schedule, v: number): { a: number[]; c: number[]; V: number[] } {
  const T = schedule.T;
  const a = Array.from({ length: T }, (_, t) => (t === T - 1 ? 1 : schedule.alphas[t + 1]));
  const c = [1], V = [v];
  for (let t = 1; t < T; t++) {
    c.push(schedule.alphas[t] * c[t - 1]);
    V.push(schedule.alphas[t] ** 2 * V[t - 1] + schedule.sigmas[t] ** 2);
  }
  return { a, c, V };
}

function fakeConfig(dim: number): MlpConfig {
  return {
    kind: "mlp",
    inputDim: dim,
    width: 1,
    depth: 1,
    tembDim: 4,
    activation: "lrelu",
    spectralNorm: false,
  };
}

/**
 * Data N(mu 1, v I) in `dim` dimensions: every level Gaussian, f(y, t) = -s_t^2 ||y - a c_t mu||^2
 * / (2 a^2 V_t), so every conditional is Gaussian and log p(x_0) = log N(x_0; mu 1, v I).
 */
export function gaussianChainNet(
  schedule: Schedule,
  dim: number,
  mu: number,
  v: number,
): EnergyNet {
  const { a, c, V } = marginals(schedule, v);
  const T = schedule.T;
  const k = tf.tensor1d(
    Array.from({ length: T }, (_, t) => schedule.stepSizes[t] / (a[t] ** 2 * V[t])),
  );
  const centre = tf.tensor1d(Array.from({ length: T }, (_, t) => a[t] * c[t] * mu));
  return {
    config: fakeConfig(dim),
    params: new Map(),
    buffers: new Map(),
    energy: (y, t) =>
      tf.tidy(() => {
        const d = tf.sub(y, tf.reshape(tf.gather(centre, t), [-1, 1]));
        return tf.mul(tf.mul(tf.sum(tf.square(d), 1), tf.gather(k, t)), -0.5) as tf.Tensor1D;
      }),
    updateSpectralNorm: () => {},
    dispose: () => tf.dispose([k, centre]),
  };
}

/** log N(x; mu 1, v I) per row of an (n x dim) array. */
export function gaussianLogDensity(x: Float32Array, dim: number, mu: number, v: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < x.length / dim; i++) {
    let sq = 0;
    for (let j = 0; j < dim; j++) sq += (x[i * dim + j] - mu) ** 2;
    out.push(-sq / (2 * v) - (dim / 2) * Math.log(2 * Math.PI * v));
  }
  return out;
}

/**
 * Data: a 2D mixture sum_k w_k N(centre_k, v I) (equal weights unless logWeights are given). Level
 * t is the mixture of N(a c_t centre_k, a^2 V_t I) in y: f(y, t) = s_t^2 log sum_k w_k exp(-||y -
 * a c_t centre_k||^2 / (2 a^2 V_t)), multimodal conditionals with the exact marginal log p(x_0).
 */
export function mixtureChainNet(
  schedule: Schedule,
  centres: Float64Array,
  v: number,
  logWeights?: Float64Array,
): EnergyNet {
  const { a, c, V } = marginals(schedule, v);
  const T = schedule.T;
  const K = centres.length / 2;
  if (logWeights && logWeights.length !== K) {
    throw new RangeError(`${logWeights.length} log weights for ${K} centres`);
  }
  const means = tf.tensor3d(
    Array.from({ length: T }, (_, t) => Array.from(centres, (m) => a[t] * c[t] * m)).flat(),
    [T, K, 2],
  );
  const logW = tf.tensor2d(Float32Array.from(logWeights ?? new Float64Array(K)), [1, K]);
  const inv2var = tf.tensor1d(Array.from({ length: T }, (_, t) => 1 / (2 * a[t] ** 2 * V[t])));
  const s2 = tf.tensor1d(schedule.stepSizes);
  return {
    config: fakeConfig(2),
    params: new Map(),
    buffers: new Map(),
    energy: (y, t) =>
      tf.tidy(() => {
        const d = tf.sub(tf.expandDims(y, 1), tf.gather(means, t)); // [B, K, 2]
        const e = tf.mul(tf.sum(tf.square(d), 2), tf.reshape(tf.gather(inv2var, t), [-1, 1]));
        return tf.mul(tf.logSumExp(tf.sub(logW, e), 1), tf.gather(s2, t)) as tf.Tensor1D;
      }),
    updateSpectralNorm: () => {},
    dispose: () => tf.dispose([means, logW, inv2var, s2]),
  };
}
