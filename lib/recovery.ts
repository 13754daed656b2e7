/**
 * Recovery likelihood (Gao et al. 2021, Sec. 3): noisy pairs (Algorithm 1), the conditional
 * log-density of level t (Eq. 5), its Langevin sampler (Algorithm 2) and the loss (Algorithm 1).
 * Levels are per example, so one batch mixes levels.
 */
import * as tf from "@tensorflow/tfjs";
import type { EnergyNet } from "./nets/types.ts";
import type { Rng } from "./rng.ts";
import {
  type ChainResult,
  type LangevinOptions,
  type LangevinStep,
  langevinSteps,
  type LogDensity,
  noiseScaleOf,
  runToEnd,
} from "./samplers/langevin.ts";
import { nextLevel, perExample, type ScheduleTensors } from "./schedule.ts";
import { appendDims } from "./tensor_util.ts";

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
        return tf.mul(appendDims(dy, x.rank), tf.mul(x, 2));
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
 * The recovery conditional's two per-example coefficients, [B] each: the energy's scale 1 / s_t^2
 * and the Gaussian term's precision isRecovery / sigma_{t+1}^2 (0 at the top level).
 */
function recoveryCoefficients(t: tf.Tensor, st: ScheduleTensors): [tf.Tensor1D, tf.Tensor1D] {
  return tf.tidy(() => {
    const tNext = nextLevel(t);
    return [
      tf.reciprocal(tf.gather(st.stepSizes, t)) as tf.Tensor1D,
      tf.div(
        tf.gather(st.isRecovery, tNext),
        tf.square(tf.gather(st.sigmas, tNext)),
      ) as tf.Tensor1D,
    ];
  });
}

/** Level t's conditional log-density as a Langevin chain uses it (see recoveryLogDensity). */
export interface RecoveryDensity {
  logDensity: LogDensity;
  /** The whole chain in one native call, where the net has one (EnergyNet.atLevels). */
  chain?: (y0: tf.Tensor, s2: tf.Tensor, rng: Rng, opts: LangevinOptions) => ChainResult;
  dispose(): void;
}

/**
 * Level t's conditional log-density given x_{t+1} as a Langevin chain uses it: with the net's
 * one-pass f-and-gradient (and whole-chain kernel) where it has them, differentiated by tfjs
 * otherwise. With the fast path, grad = df/dy / s_t^2 - (y - x_{t+1}) / sigma_{t+1}^2. Dispose
 * after the chain.
 */
export function recoveryLogDensity(
  net: EnergyNet,
  t: tf.Tensor,
  xNext: tf.Tensor,
  st: ScheduleTensors,
): RecoveryDensity {
  const logDensity: LogDensity = (y: tf.Tensor) => conditionalLogProb(net, y, t, xNext, st);
  const fixed = net.atLevels?.(t) ?? null;
  if (!fixed) return { logDensity, dispose: () => {} };
  const [scale, precision] = recoveryCoefficients(t, st);
  const [scaleWide, precisionWide] = tf.tidy(() => [
    appendDims(scale, xNext.rank),
    appendDims(precision, xNext.rank),
  ]);
  logDensity.withGrad = (y) =>
    tf.tidy(() => {
      const { energy, grad } = fixed.energyAndGrad(y);
      const diff = tf.sub(y, xNext);
      const gauss = tf.mul(tf.mul(squaredNorms(diff), precision), 0.5);
      return {
        logp: tf.sub(tf.mul(energy, scale), gauss) as tf.Tensor1D,
        grad: tf.sub(tf.mul(grad, scaleWide), tf.mul(diff, precisionWide)),
      };
    });
  const langevin = fixed.langevin?.bind(fixed);
  return {
    logDensity,
    chain: langevin &&
      ((y0, s2, rng, opts) => {
        noiseScaleOf(opts);
        return langevin({ y0, anchor: xNext, scale, precision, s2, rng, opts });
      }),
    dispose: () => {
      tf.dispose([scale, precision, scaleWide, precisionWide]);
      fixed.dispose();
    },
  };
}

export interface RecoveryChainOptions extends LangevinOptions {
  /** Where the chain starts, in y-space (default y_0 = x_{t+1}, as Algorithm 2); for long runs. */
  start?: tf.Tensor;
}

export interface RecoveryChainResult {
  /** x_t = y_K / a_{t+1}. */
  x: tf.Tensor;
  /** [B] mean acceptance probability of the K proposals (see ChainResult). */
  acceptance: tf.Tensor1D;
  /** [B] ||y_K - y_0||_2. */
  displacement: tf.Tensor1D;
}

/**
 * Algorithm 2: K Langevin steps on level t's conditional log-density from y_0 = x_{t+1} with the
 * step size s_t^2, then x_t = y_K / a_{t+1}. `t` is [B] int32: every example may sit at its own
 * level.
 *
 * @example One denoising step of progressive sampling, at level 2 for a whole batch
 * ```ts
 * const t = tf.fill([xNext.shape[0]], 2, "int32");
 * const { x, acceptance } = sampleRecovery(net, xNext, t, st, rng, { steps: 30, sampler: "ula" });
 * ```
 */
export function sampleRecovery(
  net: EnergyNet,
  xNext: tf.Tensor,
  t: tf.Tensor,
  st: ScheduleTensors,
  rng: Rng,
  opts: RecoveryChainOptions,
): RecoveryChainResult {
  return runToEnd(recoverySteps(net, xNext, t, st, rng, opts));
}

/**
 * sampleRecovery one Langevin step at a time (see langevinSteps): yields y_k = a_{t+1} x after
 * every step, then returns the same result. A net with a whole-chain kernel (EnergyNet.atLevels)
 * runs its chain in one call and yields nothing. Ending it early disposes its tensors.
 */
export function* recoverySteps(
  net: EnergyNet,
  xNext: tf.Tensor,
  t: tf.Tensor,
  st: ScheduleTensors,
  rng: Rng,
  opts: RecoveryChainOptions,
): Generator<LangevinStep, RecoveryChainResult, void> {
  const rank = xNext.rank;
  const [s2, aPrev] = tf.tidy(() => [
    perExample(st.stepSizes, t, rank),
    perExample(st.aPrev, nextLevel(t), rank),
  ]);
  const density = recoveryLogDensity(net, t, xNext, st);
  try {
    const start = opts.start ?? xNext;
    const chain = density.chain
      ? density.chain(start, s2, rng, opts)
      : yield* langevinSteps(density.logDensity, start, s2, rng, opts);
    const x = tf.tidy(() => tf.div(chain.y, aPrev));
    chain.y.dispose();
    return { x, acceptance: chain.acceptance, displacement: chain.displacement };
  } finally {
    tf.dispose([s2, aPrev]);
    density.dispose();
  }
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
    const weight = tf.gather(st.lossWeights, t);
    const loss = tf.mul(tf.neg(tf.sub(fPos, fNeg)), weight) as tf.Tensor1D;
    return { loss, fPos, fNeg };
  });
}

/**
 * recoveryLoss with its parameter gradient of sum(loss) / `batch` from the net's one-pass
 * f-and-parameter-gradient (EnergyNet.energyParamGrad); null where the net has none (the caller
 * then differentiates recoveryLoss with tfjs). Gradients by parameter name.
 */
export function recoveryLossAndGrad(
  net: EnergyNet,
  xPos: tf.Tensor,
  xNeg: tf.Tensor,
  t: tf.Tensor1D,
  st: ScheduleTensors,
  batch: number,
):
  | { loss: tf.Tensor1D; fPos: tf.Tensor1D; fNeg: tf.Tensor1D; grads: Map<string, tf.Tensor> }
  | null {
  if (!net.energyParamGrad) return null;
  const n = xPos.shape[0];
  // Positives and negatives in one batch; d(loss_b)/d(fPos_b) = -w_b, d(loss_b)/d(fNeg_b) = w_b.
  const [y, levels, cot, weight] = tf.tidy(() => {
    const a = perExample(st.aPrev, nextLevel(t), xPos.rank);
    const w = tf.gather(st.lossWeights, t) as tf.Tensor1D;
    const c = tf.div(w, batch);
    return [
      tf.concat([tf.mul(a, xPos), tf.mul(a, xNeg)]),
      tf.concat([t, t]),
      tf.concat([tf.neg(c), c]) as tf.Tensor1D,
      w,
    ];
  });
  const out = net.energyParamGrad(y, levels, cot as tf.Tensor1D);
  tf.dispose([y, levels, cot]);
  if (!out) {
    weight.dispose();
    return null;
  }
  const parts = tf.tidy(() => {
    const fPos = tf.slice(out.energy, 0, n) as tf.Tensor1D;
    const fNeg = tf.slice(out.energy, n, n) as tf.Tensor1D;
    return { loss: tf.mul(tf.neg(tf.sub(fPos, fNeg)), weight) as tf.Tensor1D, fPos, fNeg };
  });
  tf.dispose([out.energy, weight]);
  return { ...parts, grads: out.grads };
}
