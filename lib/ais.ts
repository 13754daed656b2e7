/**
 * Annealed importance sampling (Neal 2001, "Annealed importance sampling", Statistics and
 * Computing 11:125-139) of a normaliser anchored at a Gaussian: the building block of DRL's
 * log-likelihood estimate (lib/loglik.ts), one AIS chain per batch row.
 *
 * Target, per row: gamma(y) = exp(scale (f(y) - ref) - precision ||y - anchor||^2 / 2).
 * Base: N(anchor, baseStd^2 I), unnormalised b(y) = exp(-||y - anchor||^2 / (2 baseStd^2)), whose
 * normaliser Z_b = (2 pi baseStd^2)^(d/2) the caller adds back. Geometric path, beta_k = k / S:
 *
 *   log pi_beta(y) = beta scale (f(y) - ref) - P_beta ||y - anchor||^2 / 2,
 *   P_beta = beta precision + (1 - beta) / baseStd^2.
 *
 * At DRL's recovery levels precision = 1 / baseStd^2 = 1 / sigma_{t+1}^2: the Gaussian term stays
 * and only the energy is turned on. At the top level (precision 0, baseStd 1) the path runs from
 * N(0, I), where progressive sampling starts, to exp(f / s^2) alone.
 *
 * With y_0 ~ base and y_k drawn by a transition that leaves pi_{beta_k} invariant, the weight
 *
 *   log w = sum_{k=1..S} (beta_k - beta_{k-1}) g(y_{k-1}),   g = log gamma - log b,
 *
 * has E[w] = Z_gamma / Z_b exactly (Neal 2001, Sec. 2), whatever the transitions' mixing (which
 * only sets the variance). The transition is one MALA step (Roberts & Tweedie 1996): unlike ULA it
 * leaves pi_beta exactly invariant, so the estimate stays unbiased (AisOptions.adapt says how its
 * step is chosen). S = 1 is plain importance sampling from the base. log w is a stochastic lower
 * bound on log(Z_gamma / Z_b): E[log w] <= log E[w] (Jensen) and
 * P(log w > log(Z_gamma / Z_b) + k) <= e^-k (Markov).
 *
 * `ref` (a per-row energy offset, e.g. f at the data point) changes nothing but float32 accuracy:
 * scale * f can be huge (the official f / s_t^2 scaling), while the weights depend on differences.
 */
import * as tf from "@tensorflow/tfjs";
import { squaredNorms } from "./recovery.ts";
import type { Rng } from "./rng.ts";

/** One batch of AIS chains: f's per-row value and gradient, and the path's coefficients. */
export interface AisTarget {
  /** f(y) [B] and df/dy (shaped as y) for a batch of rows at one level. */
  energyAndGrad(y: tf.Tensor): { energy: tf.Tensor1D; grad: tf.Tensor };
  /** [B, ...] the Gaussian's centre. */
  anchor: tf.Tensor;
  /** [B] subtracted from f before scaling (see the module comment). */
  reference: tf.Tensor1D;
  /** Multiplies f - ref in the target (DRL: 1 / s_t^2). */
  scale: number;
  /** The target's Gaussian precision (DRL: 1 / sigma_{t+1}^2; 0 at the top level). */
  precision: number;
  /** The base's standard deviation (DRL: sigma_{t+1}; 1 at the top level). */
  baseStd: number;
}

/** MALA's optimal acceptance rate in high dimension (Roberts & Rosenthal 1998). */
export const MALA_TARGET_ACCEPTANCE = 0.574;

export interface AisOptions {
  /** Number of temperatures S >= 1 (S - 1 MALA transitions, S energy-and-gradient evaluations). */
  steps: number;
  /** The MALA proposal variance h: y' = y + (h / 2) grad log pi_beta(y) + sqrt(h) eps. */
  stepSize: number;
  /**
   * Adapt h between temperatures to the batch's mean acceptance a-bar:
   * h <- h exp(2 (a-bar - MALA_TARGET_ACCEPTANCE)) (x0.32 per step at a-bar = 0, x2.3 at 1), on the
   * device (no read-back). Adaptive SMC
   * (Schafer & Chopin 2013): each transition still leaves its pi_beta invariant, but h depends on
   * the whole batch, so a chain's weight is unbiased only up to its 1/B share in h; off, the
   * weights are exactly unbiased. Default true.
   */
  adapt?: boolean;
}

export interface AisResult {
  /** [B] log w per chain: exp(log w) is an unbiased estimate of Z_gamma / Z_b. */
  logWeight: tf.Tensor1D;
  /** [B] mean Metropolis-Hastings acceptance probability of the S - 1 transitions (NaN: S = 1). */
  acceptance: tf.Tensor1D;
}

/** A chain's position with everything the path's densities and gradients are built from. */
interface State {
  y: tf.Tensor;
  /** f(y) - ref, [B]. */
  e: tf.Tensor1D;
  /** df/dy. */
  df: tf.Tensor;
  /** y - anchor. */
  diff: tf.Tensor;
  /** ||y - anchor||^2, [B]. */
  sq: tf.Tensor1D;
}

function disposeState(s: State): void {
  tf.dispose([s.y, s.e, s.df, s.diff, s.sq]);
}

function evaluate(target: AisTarget, y: tf.Tensor): State {
  const { energy, grad } = target.energyAndGrad(y);
  const rest = tf.tidy(() => {
    const diff = tf.sub(y, target.anchor);
    return {
      e: tf.sub(energy, target.reference) as tf.Tensor1D,
      diff,
      sq: squaredNorms(diff),
    };
  });
  energy.dispose();
  return { y, df: grad, ...rest };
}

/**
 * Runs one AIS chain per row from y0 (a draw from the base, N(anchor, baseStd^2 I)), drawing the
 * MALA noise and acceptance uniforms from `rng` (per transition: a normal shaped as y, then a
 * uniform [B]). Keeps y0; the caller disposes the result.
 */
export function annealedImportanceSampling(
  target: AisTarget,
  y0: tf.Tensor,
  rng: Rng,
  opts: AisOptions,
): AisResult {
  const S = opts.steps;
  if (!Number.isInteger(S) || S < 1) throw new RangeError(`AIS needs steps >= 1, got ${S}`);
  if (!(opts.stepSize > 0 && Number.isFinite(opts.stepSize))) {
    throw new RangeError(`AIS needs a step size > 0, got ${opts.stepSize}`);
  }
  const adapt = opts.adapt ?? true;
  const { scale, precision } = target;
  const basePrecision = 1 / (target.baseStd * target.baseStd);
  const batch = y0.shape[0];
  const rank = y0.rank;
  const wide = (v: tf.Tensor) => tf.reshape(v, [batch, ...Array(rank - 1).fill(1)]);

  // g = log gamma - log b = scale e - (precision - 1 / baseStd^2) sq / 2.
  const g = (s: State) =>
    tf.sub(tf.mul(s.e, scale), tf.mul(s.sq, (precision - basePrecision) / 2)) as tf.Tensor1D;
  const logPi = (s: State, beta: number, pb: number) =>
    tf.sub(tf.mul(s.e, beta * scale), tf.mul(s.sq, pb / 2)) as tf.Tensor1D;
  const gradLogPi = (s: State, beta: number, pb: number) =>
    tf.sub(tf.mul(s.df, beta * scale), tf.mul(s.diff, pb));

  let state = evaluate(target, tf.clone(y0));
  let logW: tf.Tensor1D = tf.zeros([batch]);
  let acceptSum: tf.Tensor1D = tf.zeros([batch]);
  // h as a scalar tensor: adapted on the device without reading it back.
  let h: tf.Scalar = tf.scalar(opts.stepSize);
  for (let k = 1; k <= S; k++) {
    const next = tf.tidy(() => tf.add(logW, tf.mul(g(state), 1 / S)) as tf.Tensor1D);
    logW.dispose();
    logW = next;
    if (k === S) break;
    // One MALA transition leaving pi_{beta_k} invariant.
    const beta = k / S;
    const pb = beta * precision + (1 - beta) * basePrecision;
    const mean = tf.tidy(() => tf.add(state.y, tf.mul(gradLogPi(state, beta, pb), tf.mul(h, 0.5))));
    const noise = rng.normal(y0.shape);
    const proposal = evaluate(
      target,
      tf.tidy(() => tf.add(mean, tf.mul(noise, tf.sqrt(h)))),
    );
    const uniform = rng.uniform([batch]);
    const { accept, prob } = tf.tidy(() => {
      // log q(y'|y) = -||sqrt(h) eps||^2 / (2h) = -||eps||^2 / 2; log q(y|y') from y' 's drift.
      const logqFwd = tf.mul(squaredNorms(noise), -0.5);
      const meanBack = tf.add(proposal.y, tf.mul(gradLogPi(proposal, beta, pb), tf.mul(h, 0.5)));
      const logqBwd = tf.div(squaredNorms(tf.sub(state.y, meanBack)), tf.mul(h, -2));
      const logAlpha = tf.add(
        tf.sub(logPi(proposal, beta, pb), logPi(state, beta, pb)),
        tf.sub(logqBwd, logqFwd),
      );
      // A proposal whose energy is not finite is rejected (probability 0, not NaN).
      const p = tf.minimum(tf.exp(logAlpha), 1);
      const prob = tf.where(tf.isNaN(p), tf.zerosLike(p), p) as tf.Tensor1D;
      return { accept: tf.less(uniform, prob), prob };
    });
    const moved = tf.tidy(() => {
      const mask = wide(accept);
      return {
        y: tf.where(mask, proposal.y, state.y),
        e: tf.where(accept, proposal.e, state.e) as tf.Tensor1D,
        df: tf.where(mask, proposal.df, state.df),
        diff: tf.where(mask, proposal.diff, state.diff),
        sq: tf.where(accept, proposal.sq, state.sq) as tf.Tensor1D,
      };
    });
    const sum = tf.add(acceptSum, prob) as tf.Tensor1D;
    if (adapt) {
      const nextH = tf.tidy(() =>
        tf.mul(h, tf.exp(tf.mul(tf.sub(tf.mean(prob), MALA_TARGET_ACCEPTANCE), 2))) as tf.Scalar
      );
      h.dispose();
      h = nextH;
    }
    tf.dispose([mean, noise, uniform, accept, prob, acceptSum]);
    disposeState(proposal);
    disposeState(state);
    state = moved;
    acceptSum = sum;
  }
  disposeState(state);
  h.dispose();
  const acceptance = tf.tidy(() => tf.div(acceptSum, S > 1 ? S - 1 : NaN) as tf.Tensor1D);
  acceptSum.dispose();
  return { logWeight: logW, acceptance };
}
