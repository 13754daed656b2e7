/**
 * Langevin sampling of one level's conditional EBM (Gao et al. 2021, Algorithm 2), with an optional
 * Metropolis-Hastings correction (MALA, Roberts & Tweedie 1996).
 */
import * as tf from "@tensorflow/tfjs";
import type { EnergyNet } from "../nets/types.ts";
import { conditionalLogProb, nextLevel, perExample, type ScheduleTensors } from "../recovery.ts";
import type { Rng } from "../rng.ts";

export type SamplerKind = "ula" | "mala";
export const SAMPLER_KINDS: readonly SamplerKind[] = ["ula", "mala"];

export interface LangevinOptions {
  /** Number of Langevin steps K. */
  steps: number;
  /** "ula": Algorithm 2 as published; "mala": each step accepted or rejected by Metropolis-Hastings. */
  sampler: SamplerKind;
  /** Where the chain starts, in y-space (default y_0 = x_{t+1}, as Algorithm 2); for long runs. */
  start?: tf.Tensor;
  /**
   * Multiplies the injected noise: y <- y + (s_t^2 / 2) grad + noiseScale s_t eps. 1 in training;
   * the official evaluation samples with 0.99 (config.py noise_scale, model.py
   * p_sample_langevin). Default 1.
   */
  noiseScale?: number;
}

export interface LangevinResult {
  /** x_t = y_K / a_{t+1}. */
  x: tf.Tensor;
  /**
   * [B] mean Metropolis-Hastings acceptance probability of the K proposals. For MALA it is the rate
   * at which moves are accepted; for ULA (which accepts all) it measures how far the discretisation
   * is from the exact chain: near 1 means the step size is small enough.
   */
  acceptance: tf.Tensor1D;
  /** [B] ||y_K - y_0||_2, how far the chain moved. */
  displacement: tf.Tensor1D;
}

interface ChainState {
  y: tf.Tensor;
  logp: tf.Tensor1D;
  grad: tf.Tensor;
}

/** log p and its gradient for each example (the examples are independent, so grad of the sum). */
function logpAndGrad(logProb: (y: tf.Tensor) => tf.Tensor1D, y: tf.Tensor): ChainState {
  let logp: tf.Tensor1D | null = null;
  const grad = tf.grad((v: tf.Tensor) => {
    logp = tf.keep(logProb(v));
    return tf.sum(logp);
  })(y);
  return { y, logp: logp!, grad };
}

function sumOver(x: tf.Tensor): tf.Tensor1D {
  return tf.sum(x, Array.from({ length: x.rank - 1 }, (_, i) => i + 1)) as tf.Tensor1D;
}

/**
 * K steps of y <- y + (s_t^2 / 2) grad log p(y | x_{t+1}) + s_t eps from y = x_{t+1}
 * (Algorithm 2); with MALA each move is accepted with probability min(1, p(y') q(y | y') / p(y) q(y' | y)).
 * `t` is [B] int32: every example may sit at its own level.
 */
export function sampleLangevin(
  net: EnergyNet,
  xNext: tf.Tensor,
  t: tf.Tensor,
  st: ScheduleTensors,
  rng: Rng,
  opts: LangevinOptions,
): LangevinResult {
  const rank = xNext.rank;
  const [s2, aPrev] = tf.tidy(() => [
    perExample(st.stepSizes, t, rank),
    perExample(st.aPrev, nextLevel(t), rank),
  ]);
  const logProb = (y: tf.Tensor) => conditionalLogProb(net, y, t, xNext, st);
  const noiseScale = opts.noiseScale ?? 1;
  if (!(noiseScale > 0 && Number.isFinite(noiseScale))) {
    throw new RangeError(`noiseScale must be a positive number, got ${noiseScale}`);
  }
  // The proposal's standard deviation and variance: s_t * noiseScale.
  const [sd, variance] = tf.tidy(() => [
    tf.mul(tf.sqrt(s2), noiseScale),
    tf.mul(tf.reshape(s2, [-1]), noiseScale * noiseScale),
  ]);
  const y0 = opts.start ?? xNext;
  let state = logpAndGrad(logProb, tf.clone(y0));
  let acceptSum: tf.Tensor1D = tf.zeros([xNext.shape[0]]);
  for (let k = 0; k < opts.steps; k++) {
    const mean = tf.tidy(() => tf.add(state.y, tf.mul(tf.mul(s2, 0.5), state.grad)));
    const proposalY = tf.tidy(() => tf.add(mean, tf.mul(sd, rng.normal(xNext.shape))));
    const proposal = logpAndGrad(logProb, proposalY);
    const accProb = tf.tidy(() => {
      // log q(y'|y) and log q(y|y') for the Gaussian proposal N(y + s^2/2 grad, (noiseScale s)^2 I).
      const twoS2 = tf.mul(variance, 2);
      const logqFwd = tf.neg(tf.div(sumOver(tf.square(tf.sub(proposal.y, mean))), twoS2));
      const meanBack = tf.add(proposal.y, tf.mul(tf.mul(s2, 0.5), proposal.grad));
      const logqBwd = tf.neg(tf.div(sumOver(tf.square(tf.sub(state.y, meanBack))), twoS2));
      const logAlpha = tf.add(tf.sub(proposal.logp, state.logp), tf.sub(logqBwd, logqFwd));
      return tf.minimum(tf.exp(logAlpha), 1) as tf.Tensor1D;
    });
    mean.dispose();
    let next: ChainState;
    let accepted: tf.Tensor1D;
    if (opts.sampler === "mala") {
      const accept = tf.tidy(() => tf.less(rng.uniform([xNext.shape[0]]), accProb));
      next = tf.tidy(() => {
        const mask = tf.reshape(accept, [-1, ...Array(rank - 1).fill(1)]);
        return {
          y: tf.where(mask, proposal.y, state.y),
          logp: tf.where(accept, proposal.logp, state.logp) as tf.Tensor1D,
          grad: tf.where(mask, proposal.grad, state.grad),
        };
      });
      accepted = tf.tidy(() => tf.cast(accept, "float32") as tf.Tensor1D);
      tf.dispose([accept, accProb, proposal.y, proposal.logp, proposal.grad]);
    } else {
      next = proposal;
      accepted = accProb;
    }
    const newSum = tf.add(acceptSum, accepted) as tf.Tensor1D;
    tf.dispose([acceptSum, accepted, state.y, state.logp, state.grad]);
    acceptSum = newSum;
    state = next;
  }
  const result = tf.tidy(() => ({
    x: tf.div(state.y, aPrev),
    acceptance: tf.div(acceptSum, Math.max(opts.steps, 1)) as tf.Tensor1D,
    displacement: tf.sqrt(sumOver(tf.square(tf.sub(state.y, y0)))) as tf.Tensor1D,
  }));
  tf.dispose([state.y, state.logp, state.grad, acceptSum, s2, aPrev, sd, variance]);
  return result;
}
