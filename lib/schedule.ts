/**
 * Noise schedules as plain data, computed once from config (Gao et al. 2021, Sec. 3 and App. B).
 *
 * Levels t = 0..T. Forward step: x_{t+1} = alphas[t+1] x_t + sigmas[t+1] eps, with
 * alphas = sqrt(1 - sigmas^2). Marginal: x_t = alphasCum[t] x_0 + sigmasCum[t] eps.
 * Level t's Langevin step size: stepSizes[t] = b^2 (sigmasCum[t] / sigmasCum[0]) sigmas[t+1]^2
 * (the official rule), or b^2 sigmas[t+1]^2 with the "flat" step rule.
 */
import * as tf from "@tensorflow/tfjs";
import { UserError } from "./errors.ts";
import { appendDims } from "./tensor_util.ts";

export type ScheduleKind = "drl" | "cosine";
export const SCHEDULE_KINDS: readonly ScheduleKind[] = ["drl", "cosine"];

/**
 * How a level's Langevin step size follows the noise. "drl" (the official code): s_t^2 = b^2
 * (sigmabar_t / sigmabar_0) sigma_{t+1}^2, so the step's share of the conditional's variance grows
 * from b^2 at level 0 to about b^2 / sigmabar_0 at the top (T = 100 cosine: 1x to 100x b^2).
 * "flat": s_t^2 = b^2 sigma_{t+1}^2, the same share at every level, which a chain needs to explore
 * (mix over) each conditional; see README, "2D results".
 */
export type StepRule = "drl" | "flat";
export const STEP_RULES: readonly StepRule[] = ["drl", "flat"];

/**
 * How the loss weights the levels: "drl", the official sigma_1 / sigma_{t+1} (Algorithm 1); or
 * "likelihood", s_0^2 / s_t^2, the weight each level's recovery log-likelihood gradient has in
 * the sum over levels (the level's log-density is f / s_t^2 + ...), i.e. the log-likelihood that
 * `deno task loglik` estimates. With the flat step rule the two differ by sigma_1 / sigma_{t+1}:
 * "likelihood" puts far more of the weight on the finest levels (at T = 100: 40 times more on
 * level 0 than on level 99, relative to "drl").
 */
export type LossWeight = "drl" | "likelihood";
export const LOSS_WEIGHTS: readonly LossWeight[] = ["drl", "likelihood"];

/**
 * What the net outputs. "none" (the official code): the net's output is the energy f(y, t), and
 * level t's log-density is f / s_t^2 + ..., so at T = 100 with the flat step rule the net must
 * output values 1,700 times smaller at level 0 than at the top, where an error of 1e-4 in f is
 * 0.2 nats. "step": f(y, t) = s_t^2 g(y, t) with g the net's output, which is then level t's
 * log-density itself (in nats, up to a constant) at every level: the noise-scaled output of score
 * networks (Song and Ermon 2019 divide theirs by sigma) applied to DRL's energies.
 */
export type EnergyScale = "none" | "step";
export const ENERGY_SCALES: readonly EnergyScale[] = ["none", "step"];

export interface Schedule {
  kind: ScheduleKind;
  T: number;
  /** b^2, the Langevin step-size multiplier. */
  b2: number;
  stepRule: StepRule;
  /** Length T+1: per-step noise levels. */
  sigmas: number[];
  /** Length T+1: sqrt(1 - sigmas^2). */
  alphas: number[];
  /** Length T+1: cumulative products of alphas. */
  alphasCum: number[];
  /** Length T+1: sqrt(1 - alphasCum^2). */
  sigmasCum: number[];
  /** Length T: squared Langevin step size s_t^2 of level t. */
  stepSizes: number[];
  lossWeight: LossWeight;
  energyScale: EnergyScale;
}

export interface ScheduleConfig {
  kind: ScheduleKind;
  T: number;
  b2: number;
  /** Default "drl" (configs written before the option have none). */
  stepRule?: StepRule;
  /** Default "drl" (configs written before the option have none). */
  lossWeight?: LossWeight;
  /** Default "none" (configs written before the option have none). */
  energyScale?: EnergyScale;
}

/**
 * The official DRL schedule: DDPM's 1000 linear betas (1e-4 to 0.02) plus a final beta of 1; level
 * boundaries at i * (1000 // ((T-1)*2)) for i < T, then 999; each alpha is the product of
 * sqrt(1 - beta) between consecutive boundaries. Valid for 2 <= T <= 501 (the spacing is 0 beyond).
 */
export function drlAlphas(T: number): number[] {
  if (!Number.isInteger(T) || T < 2 || T > 501) {
    throw new UserError(
      `the drl schedule needs an integer T in [2, 501] (got ${T}); use the cosine schedule (train --schedule=cosine, schedule --kind cosine)`,
    );
  }
  const betas = Array.from({ length: 1000 }, (_, i) => 1e-4 + (0.02 - 1e-4) * i / 999);
  betas.push(1);
  const sqrtAlphas = betas.map((b) => Math.sqrt(1 - b));
  const spacing = Math.floor(1000 / ((T - 1) * 2));
  const idx = [...Array.from({ length: T }, (_, i) => i * spacing), 999];
  const prod = (from: number, to: number) => {
    let p = 1;
    for (let i = from; i < to; i++) p *= sqrtAlphas[i];
    return p;
  };
  return idx.map((end, i) => prod(i === 0 ? 0 : idx[i - 1] + 1, end + 1));
}

/**
 * The levels a figure or a log line shows: all T when T <= most, else `most` levels spread evenly
 * from 0 to T - 1 (both ends included).
 */
export function spreadLevels(T: number, most: number): number[] {
  if (T <= most) return Array.from({ length: T }, (_, t) => t);
  const picked = Array.from({ length: most }, (_, i) => Math.round((i * (T - 1)) / (most - 1)));
  return [...new Set(picked)];
}

/**
 * The levels a 2D figure draws, the CLI's (lib/tasks/toy2d_report.ts) and the page's panels: all
 * of a T = 6 model's, and six spread from 0 to T - 1 beyond (0, 20, 40, 59, 79, 99 at T = 100).
 */
export function figureLevels(T: number): number[] {
  return spreadLevels(T, 6);
}

/** logSNR bounds of the cosine schedule: sigmasCum from 0.01 (as DRL's level 0) to about 0.9999. */
const COSINE_LOGSNR_MAX = Math.log((1 - 1e-4) / 1e-4);
const COSINE_LOGSNR_MIN = -Math.log((1 - 1e-4) / 1e-4) - 1;

/**
 * Cosine log-SNR schedule (Nichol & Dhariwal 2021; Kingma et al. 2021): logSNR(u) = -2 log tan(a u + b),
 * sampled at u = t / T. Valid for every T >= 1. Near u = 0, sigmasCum^2 ~ (a u + b)^2, so the first step
 * adds variance ~ 2ab/T; it exceeds level 0's b^2 only while b < a / ((sqrt(2) - 1) T). Level 0's noise
 * is therefore 0.01 (as DRL's) up to T of about 300 and shrinks as 3/T beyond, keeping sigmas increasing.
 */
export function cosineAlphas(T: number): number[] {
  if (!Number.isInteger(T) || T < 1 || T > 100000) {
    throw new UserError(`the cosine schedule needs an integer T >= 1 (got ${T})`);
  }
  const b = Math.min(Math.atan(Math.exp(-COSINE_LOGSNR_MAX / 2)), 3 / T);
  const a = Math.atan(Math.exp(-COSINE_LOGSNR_MIN / 2)) - b;
  const alphaCum = (u: number) => {
    const logsnr = -2 * Math.log(Math.tan(a * u + b));
    return Math.sqrt(1 / (1 + Math.exp(-logsnr)));
  };
  const cum = Array.from({ length: T + 1 }, (_, t) => alphaCum(t / T));
  return cum.map((c, t) => (t === 0 ? c : c / cum[t - 1]));
}

/** `value` if it is one of `choices`; else a UserError naming what it is and the choices. */
function oneOf<T extends string>(what: string, value: T, choices: readonly T[]): T {
  if (!choices.includes(value)) {
    throw new UserError(`unknown ${what} '${value}'; use one of ${choices.join(", ")}`);
  }
  return value;
}

/** The schedule for a config; the same config always gives the same numbers. */
export function makeSchedule(config: ScheduleConfig): Schedule {
  const { kind, T, b2 } = config;
  const stepRule = oneOf("step rule", config.stepRule ?? "drl", STEP_RULES);
  const lossWeight = oneOf("loss weight", config.lossWeight ?? "drl", LOSS_WEIGHTS);
  const energyScale = oneOf("energy scale", config.energyScale ?? "none", ENERGY_SCALES);
  if (!(b2 > 0) || !Number.isFinite(b2)) {
    throw new UserError(`b2 must be a positive number (got ${b2})`);
  }
  const alphas = oneOf("schedule kind", kind, SCHEDULE_KINDS) === "drl"
    ? drlAlphas(T)
    : cosineAlphas(T);
  const sigmas = alphas.map((a) => Math.sqrt(1 - a * a));
  const alphasCum: number[] = [];
  alphas.forEach((a, t) => alphasCum.push(t === 0 ? a : alphasCum[t - 1] * a));
  const sigmasCum = alphasCum.map((a) => Math.sqrt(1 - a * a));
  const stepSizes = Array.from(
    { length: T },
    (_, t) => b2 * (stepRule === "drl" ? sigmasCum[t] / sigmasCum[0] : 1) * sigmas[t + 1] ** 2,
  );
  return {
    kind,
    T,
    b2,
    stepRule,
    sigmas,
    alphas,
    alphasCum,
    sigmasCum,
    stepSizes,
    lossWeight,
    energyScale,
  };
}

/** The factor c_t of f(y, t) = c_t g(y, t) per level (schedule.energyScale), or null for none. */
export function energyLevelScale(schedule: Schedule): number[] | null {
  return schedule.energyScale === "step" ? schedule.stepSizes : null;
}

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
  /** [T] the loss's weight of level t (schedule.lossWeight). */
  readonly lossWeights: tf.Tensor1D;
  dispose(): void;
}

/**
 * The loss weight of each level, in float32 as the loss has always computed the official one
 * (sigma_1 divided on the device by sigma_{t+1}): "drl" runs keep their numbers to the bit.
 */
function lossWeights(s: Schedule): tf.Tensor1D {
  return tf.tidy(() => {
    if (s.lossWeight === "drl") return tf.div(s.sigmas[1], tf.tensor1d(s.sigmas.slice(1)));
    return tf.div(s.stepSizes[0], tf.tensor1d(s.stepSizes));
  });
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
    lossWeights: lossWeights(schedule),
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
  return appendDims(tf.gather(coef, t), rank);
}
