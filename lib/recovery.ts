/**
 * Recovery likelihood (Gao et al. 2021, Sec. 3, Algorithm 1): noisy pairs, the conditional
 * log-density of level t and the loss. Levels are per example, so one batch mixes levels.
 */
import * as tf from "@tensorflow/tfjs";
import type { EnergyNet } from "./nets/types.ts";
import type { Rng } from "./rng.ts";
import type { Schedule } from "./schedule.ts";

/** The schedule as device tensors, built once per run (gathered by level inside the hot path). */
export interface ScheduleTensors {
  readonly schedule: Schedule;
  /** [T+1] a_t with the top level's a set to 1 (the unconditional top level is not rescaled). */
  readonly aPrev: tf.Tensor1D;
  /** [T+1] a_t, the forward process's per-step scale. */
  readonly alphas: tf.Tensor1D;
  /** [T+1] sigma_t. */
  readonly sigmas: tf.Tensor1D;
  /** [T+1] abar_t. */
  readonly alphasCum: tf.Tensor1D;
  /** [T+1] sigmabar_t. */
  readonly sigmasCum: tf.Tensor1D;
  /** [T+1] 1 where level t-1 is a recovery (conditional) model, 0 at t = T (unconditional top). */
  readonly isRecovery: tf.Tensor1D;
  /** [T] s_t^2. */
  readonly stepSizes: tf.Tensor1D;
  dispose(): void;
}

export function scheduleTensors(schedule: Schedule): ScheduleTensors {
  const T = schedule.T;
  const aPrev = schedule.alphas.map((a, t) => (t === T ? 1 : a));
  const isRecovery = schedule.alphas.map((_, t) => (t === T ? 0 : 1));
  const tensors = {
    aPrev: tf.tensor1d(aPrev),
    alphas: tf.tensor1d(schedule.alphas),
    sigmas: tf.tensor1d(schedule.sigmas),
    alphasCum: tf.tensor1d(schedule.alphasCum),
    sigmasCum: tf.tensor1d(schedule.sigmasCum),
    isRecovery: tf.tensor1d(isRecovery),
    stepSizes: tf.tensor1d(schedule.stepSizes),
  };
  return {
    schedule,
    ...tensors,
    dispose: () => Object.values(tensors).forEach((x) => x.dispose()),
  };
}

/** t + 1 for an int32 level tensor (a plain `tf.add(t, 1)` would turn it into float32). */
export function nextLevel(t: tf.Tensor): tf.Tensor {
  return tf.add(t, tf.scalar(1, "int32"));
}

/** coef[t] reshaped to broadcast against x: [B, 1, ..., 1]. */
export function perExample(coef: tf.Tensor1D, t: tf.Tensor, rank: number): tf.Tensor {
  const g = tf.gather(coef, t);
  return g.reshape([g.shape[0], ...Array(rank - 1).fill(1)]);
}

/**
 * Noisy pairs from clean data: x_t = abar_t x_0 + sigmabar_t eps and
 * x_{t+1} = a_{t+1} x_t + sigma_{t+1} eps' (Gao et al. 2021, Eq. 2 and Algorithm 1).
 */
export function qSamplePairs(
  x0: tf.Tensor,
  t: tf.Tensor,
  st: ScheduleTensors,
  rng: Rng,
): { xt: tf.Tensor; xNext: tf.Tensor } {
  return tf.tidy(() => {
    const r = x0.rank;
    const tNext = nextLevel(t);
    const xt = tf.add(
      tf.mul(perExample(st.alphasCum, t, r), x0),
      tf.mul(perExample(st.sigmasCum, t, r), rng.normal(x0.shape)),
    );
    const xNext = tf.add(
      tf.mul(perExample(st.alphas, tNext, r), xt),
      tf.mul(perExample(st.sigmas, tNext, r), rng.normal(x0.shape)),
    );
    return { xt, xNext };
  });
}

/**
 * ||d_b||^2 per example, with its gradient 2 d dy written out: tfjs's own Sum gradient multiplies
 * by a ones tensor of d's size built on the host, which on a GPU would upload an image batch at
 * every Langevin step. The same float operations as tf.sum(tf.square(d)) and its tfjs gradient.
 */
export const squaredNorms: (d: tf.Tensor) => tf.Tensor1D = tf.customGrad(
  ((d: tf.Tensor, save: (tensors: tf.Tensor[]) => void) => {
    save([d]);
    const axes = Array.from({ length: d.rank - 1 }, (_, i) => i + 1);
    return {
      value: tf.sum(tf.square(d), axes) as tf.Tensor1D,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [x] = saved;
        const perExample = tf.reshape(dy, [x.shape[0], ...Array(x.rank - 1).fill(1)]);
        return tf.mul(perExample, tf.mul(x, 2));
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0],
) as unknown as (d: tf.Tensor) => tf.Tensor1D;

/**
 * The log-density of level t on y = a_{t+1} x_t given x_{t+1} (Gao et al. 2021, Eq. 5, with the
 * official f / s_t^2 scaling): f(y, t) / s_t^2 - ||y - x_{t+1}||^2 / (2 sigma_{t+1}^2), the Gaussian
 * term off at the top level. Returns [B].
 */
export function conditionalLogProb(
  net: EnergyNet,
  y: tf.Tensor,
  t: tf.Tensor,
  xNext: tf.Tensor,
  st: ScheduleTensors,
): tf.Tensor1D {
  return tf.tidy(() => {
    const tNext = nextLevel(t);
    const f = tf.div(net.energy(y, t), tf.gather(st.stepSizes, t));
    const sq = squaredNorms(tf.sub(y, xNext));
    const sigma = tf.gather(st.sigmas, tNext);
    const gauss = tf.div(tf.mul(sq, tf.gather(st.isRecovery, tNext)), tf.mul(2, tf.square(sigma)));
    return tf.sub(f, gauss) as tf.Tensor1D;
  });
}

/**
 * Per-example recovery-likelihood loss (Algorithm 1): -(f(y_pos, t) - f(y_neg, t)) * sigma_1 / sigma_{t+1},
 * with y = a_{t+1} x. Also returns the two energies for logging. The mean over the batch is the loss.
 */
export function recoveryLoss(
  net: EnergyNet,
  xPos: tf.Tensor,
  xNeg: tf.Tensor,
  t: tf.Tensor,
  st: ScheduleTensors,
): { loss: tf.Tensor1D; fPos: tf.Tensor1D; fNeg: tf.Tensor1D } {
  return tf.tidy(() => {
    const a = perExample(st.aPrev, nextLevel(t), xPos.rank);
    const fPos = net.energy(tf.mul(a, xPos), t);
    const fNeg = net.energy(tf.mul(a, xNeg), t);
    const weight = tf.div(st.schedule.sigmas[1], tf.gather(st.sigmas, nextLevel(t)));
    const loss = tf.mul(tf.neg(tf.sub(fPos, fNeg)), weight) as tf.Tensor1D;
    return { loss, fPos, fNeg };
  });
}
