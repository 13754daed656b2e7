/**
 * Langevin sampling of a log-density (the unadjusted Langevin algorithm, and with a
 * Metropolis-Hastings correction MALA, Roberts & Tweedie 1996): a small function over
 * (log-density, start, step size, rng), as k-diffusion's samplers take a model. DRL's Algorithm 2
 * (lib/recovery.ts sampleRecovery) runs it on one level's conditional.
 */
import * as tf from "@tensorflow/tfjs";
import type { Rng } from "../rng.ts";
import { appendDims } from "../tensor_util.ts";

export type SamplerKind = "ula" | "mala";
export const SAMPLER_KINDS: readonly SamplerKind[] = ["ula", "mala"];

export interface LangevinOptions {
  /** Number of Langevin steps K. */
  steps: number;
  /** "ula": Algorithm 2 as published; "mala": each step accepted or rejected by Metropolis-Hastings. */
  sampler: SamplerKind;
  /**
   * Multiplies the injected noise: y <- y + (s^2 / 2) grad + noiseScale s eps. 1 in training;
   * the official evaluation samples with 0.99 (config.py noise_scale, model.py
   * p_sample_langevin). Default 1.
   */
  noiseScale?: number;
}

export interface ChainResult {
  /** y_K. */
  y: tf.Tensor;
  /**
   * [B] mean Metropolis-Hastings acceptance probability of the K proposals. For MALA it is the rate
   * at which moves are accepted; for ULA (which accepts all) it measures how far the discretisation
   * is from the exact chain: near 1 means the step size is small enough.
   */
  acceptance: tf.Tensor1D;
  /** [B] ||y_K - y_0||_2, how far the chain moved. */
  displacement: tf.Tensor1D;
}

/** A per-example log-density: [B, ...] -> [B]. */
export interface LogDensity {
  (y: tf.Tensor): tf.Tensor1D;
  /**
   * log p and its gradient in one call, where the caller has a faster way than tfjs's autodiff
   * (e.g. a net with a native forward-and-gradient kernel); absent: the function is differentiated.
   */
  withGrad?: (y: tf.Tensor) => { logp: tf.Tensor1D; grad: tf.Tensor };
}

interface ChainState {
  y: tf.Tensor;
  logp: tf.Tensor1D;
  grad: tf.Tensor;
}

/** log p and its gradient for each example (the examples are independent, so grad of the sum). */
function logpAndGrad(logDensity: LogDensity, y: tf.Tensor): ChainState {
  if (logDensity.withGrad) return { y, ...logDensity.withGrad(y) };
  let logp: tf.Tensor1D | null = null;
  const grad = tf.grad((v: tf.Tensor) => {
    logp = tf.keep(logDensity(v));
    return tf.sum(logp);
  })(y);
  return { y, logp: logp!, grad };
}

/** The options' noise scale (default 1), checked. */
export function noiseScaleOf(opts: LangevinOptions): number {
  const noiseScale = opts.noiseScale ?? 1;
  if (!(noiseScale > 0 && Number.isFinite(noiseScale))) {
    throw new RangeError(`noiseScale must be a positive number, got ${noiseScale}`);
  }
  return noiseScale;
}

function sumOver(x: tf.Tensor): tf.Tensor1D {
  return tf.sum(x, Array.from({ length: x.rank - 1 }, (_, i) => i + 1)) as tf.Tensor1D;
}

/** One finished Langevin step of a running chain (see langevinSteps). */
export interface LangevinStep {
  /** 1..K: how many steps the chain has made. */
  step: number;
  /**
   * The chain's state y_step, owned by the chain: valid until the generator resumes (clone it to
   * keep it).
   */
  y: tf.Tensor;
}

/** Runs a generator to its end and returns its return value (the sampler without observers). */
export function runToEnd<R>(steps: Generator<unknown, R, void>): R {
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/**
 * K steps of y <- y + (s^2 / 2) grad log p(y) + noiseScale s eps from y0; with MALA each move is
 * accepted with probability min(1, p(y') q(y | y') / p(y) q(y' | y)). `s2` is the squared step
 * size per example, [B, 1, ..., 1]. The caller keeps y0, s2 and disposes the result.
 */
export function sampleLangevin(
  logDensity: LogDensity,
  y0: tf.Tensor,
  s2: tf.Tensor,
  rng: Rng,
  opts: LangevinOptions,
): ChainResult {
  return runToEnd(langevinSteps(logDensity, y0, s2, rng, opts));
}

/**
 * sampleLangevin one step at a time: yields after every step (so a page can draw the chain as it
 * moves and let the browser paint between steps) and returns the same ChainResult, with the same
 * random draws in the same order. Ending the generator early (`return()`) disposes its tensors.
 */
export function* langevinSteps(
  logDensity: LogDensity,
  y0: tf.Tensor,
  s2: tf.Tensor,
  rng: Rng,
  opts: LangevinOptions,
): Generator<LangevinStep, ChainResult, void> {
  const rank = y0.rank;
  const batch = y0.shape[0];
  const noiseScale = noiseScaleOf(opts);
  // The proposal's standard deviation and variance: s * noiseScale.
  const [sd, variance] = tf.tidy(() => [
    tf.mul(tf.sqrt(s2), noiseScale),
    tf.mul(tf.reshape(s2, [-1]), noiseScale * noiseScale),
  ]);
  let state = logpAndGrad(logDensity, tf.clone(y0));
  let acceptSum: tf.Tensor1D = tf.zeros([batch]);
  try {
    for (let k = 0; k < opts.steps; k++) {
      const mean = tf.tidy(() => tf.add(state.y, tf.mul(tf.mul(s2, 0.5), state.grad)));
      const proposalY = tf.tidy(() => tf.add(mean, tf.mul(sd, rng.normal(y0.shape))));
      const proposal = logpAndGrad(logDensity, proposalY);
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
        const accept = tf.tidy(() => tf.less(rng.uniform([batch]), accProb));
        next = tf.tidy(() => {
          const mask = appendDims(accept, rank);
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
      yield { step: k + 1, y: state.y };
    }
    return tf.tidy(() => ({
      y: tf.clone(state.y),
      acceptance: tf.div(acceptSum, Math.max(opts.steps, 1)) as tf.Tensor1D,
      displacement: tf.sqrt(sumOver(tf.square(tf.sub(state.y, y0)))) as tf.Tensor1D,
    }));
  } finally {
    // Normal end and early return alike: the chain's own tensors go, the result stays.
    tf.dispose([state.y, state.logp, state.grad, acceptSum, sd, variance]);
  }
}
