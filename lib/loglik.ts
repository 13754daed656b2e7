/**
 * The data log-likelihood under DRL's chain of conditional EBMs, each conditional's normaliser
 * estimated by annealed importance sampling (lib/ais.ts). Gao et al. 2021 report 3.18 bits/dim on
 * CIFAR-10 with T = 1000 from AIS estimates of normalising constants; the official code has no
 * likelihood code (its README: the T = 1000 setting "will upload soon"), so the estimator the chain
 * defines is derived here in full.
 *
 * The model is what progressive sampling (Algorithm 3) draws from: the top level's unconditional
 * EBM p(x_{T-1}) = exp(f(x_{T-1}, T-1) / s_{T-1}^2) / Z_top, then for t = T-2..0 the conditionals
 * (Eq. 5, y = a_{t+1} x_t)
 *
 *   p(y_t | x_{t+1}) = exp(f(y_t, t) / s_t^2 - ||y_t - x_{t+1}||^2 / (2 sigma_{t+1}^2))
 *                      / Ztilde_t(x_{t+1}).
 *
 * (x_T only starts the top level's chain: the top conditional ignores it.) With the forward
 * diffusion q(x_{t+1} | x_t) = N(a_{t+1} x_t, sigma_{t+1}^2 I) as the proposal for x_1..x_{T-1}:
 *
 *   log p(x_0) >= E_q[ log p(x_{T-1}) + sum_{t<T-1} log p(x_t | x_{t+1}) - log q(x_{t+1} | x_t) ].
 *
 * In each recovery term the Gaussian factors cancel exactly (p's Gaussian term is q's density in
 * x_{t+1}, up to (2 pi sigma^2)^(d/2)), and the change of variables y = a x adds d log a:
 *
 *   log p(x_t | x_{t+1}) - log q(x_{t+1} | x_t)
 *     = d log a_{t+1} + f(y_t, t) / s_t^2 - log R_t(x_{t+1}),
 *   R_t(x) = E_{y ~ N(x, sigma_{t+1}^2 I)}[ exp(f(y, t) / s_t^2) ],
 *
 * and the top term is f(x_{T-1}, T-1) / s^2 - log Z_top with
 * Z_top = (2 pi)^(d/2) E_{y ~ N(0, I)}[ exp(f(y, T-1) / s^2 + ||y||^2 / 2) ]. R_t and Z_top are the
 * AIS targets, each annealed from the Gaussian it is anchored at, with f(y_t, t) as the weights'
 * reference (so f / s_t^2, huge under the official scaling, enters only as differences). One
 * forward trajectory per data point: each estimate is one draw of the bound's integrand.
 *
 * Two readings of the number:
 * - For the chain (the sampler's distribution) the integrand with exact normalisers is an evidence
 *   lower bound (DDPM's, Ho et al. 2020, Eq. 3, with EBM conditionals): its mean is <= log p(x_0).
 *   AIS's log R-hat is itself a stochastic lower bound of log R, which biases the estimate *upward*
 *   by about the AIS variance / 2 per level: the result is an estimate of the bound, not a bound
 *   (more AIS steps or particles shrink that part; `aisSe` measures it).
 * - For the marginal EBMs f(., t) / s_t^2 (the energies "meaning" densities): the conditional is by
 *   construction the Bayes posterior of level t's marginal EBM, so when level t's marginal diffused
 *   by q equals level t+1's, the identity
 *   p_t(x_t) q(x_{t+1} | x_t) = p_{t+1}(x_{t+1}) p(x_t | x_{t+1})
 *   (with the top level's EBM its true marginal) makes the same sum equal log p_0(x_0) for *every*
 *   trajectory, not only on average; with many levels (the paper's T = 1000) adjacent levels agree
 *   more closely. tests/loglik_test.ts checks this exactly on a chain of Gaussians and on the
 *   diffused marginals of a 2D Gaussian mixture (against the grid-normalised level 0, too).
 *
 * x_0 is the chain's level-0 variable, what progressive sampling outputs; training fed level 0 with
 * data plus sigmabar_0 noise (0.01 in the official schedule), this scores the data itself as x_0.
 */
import * as tf from "@tensorflow/tfjs";
import { annealedImportanceSampling } from "./ais.ts";
import type { EnergyNet, FixedLevelEnergy } from "./nets/types.ts";
import type { Rng } from "./rng.ts";
import type { ScheduleTensors } from "./schedule.ts";

export interface LogLikOptions {
  /** AIS temperatures per level and data point (S >= 1). */
  aisSteps: number;
  /** AIS chains per level and data point (M >= 1); M >= 2 also estimates the AIS error. */
  particles: number;
  /**
   * Multiplies the AIS transitions' first MALA step (malaStepSize; default 1). Any value keeps
   * AIS exact; the per-level acceptance says whether steps are too small (near 1) or too large.
   */
  stepScale?: number;
  /** Adapt the MALA step to the batch's acceptance (lib/ais.ts AisOptions.adapt). Default true. */
  adaptStep?: boolean;
  /** Called after each level with the number of levels done. */
  onLevel?: (done: number, total: number) => void;
}

export interface LevelLogLik {
  level: number;
  /** Number of data points averaged. */
  n: number;
  /** Mean over data points of the level's term (nats). */
  term: number;
  /** Mean MALA acceptance probability of the level's AIS transitions (NaN with one step). */
  acceptance: number;
  /** Mean over data points of the AIS variance of the level's term (NaN with one particle). */
  aisVariance: number;
  /**
   * Mean over data points of the standard deviation of the particles' log-weights (NaN with one
   * particle). The delta-method variance cannot exceed about 1 nat^2 however degenerate the
   * weights; this can: well beyond 1 nat, a few particles carry the estimate and log Z is likely
   * underestimated (more --ais-steps).
   */
  logWeightSd: number;
}

export interface ChainLogLik {
  /** [n] the estimate of log p(x_0) per data point, nats. */
  perPoint: Float64Array;
  /**
   * [n] the AIS part of each estimate's standard error: the delta-method variance of the log of
   * the particles' mean weight, summed over levels (NaN with one particle).
   */
  aisSe: Float64Array;
  levels: LevelLogLik[];
}

/** f and df/dy of `net` at levels t [B]: its one-pass kernel where it has one, else autodiff. */
export function levelEnergy(net: EnergyNet, t: tf.Tensor): FixedLevelEnergy {
  const fixed = net.atLevels?.(t) ?? null;
  if (fixed) return fixed;
  return {
    energyAndGrad: (y) => {
      let energy: tf.Tensor1D | null = null;
      const grad = tf.grad((v: tf.Tensor) => {
        energy = tf.keep(net.energy(v, t));
        return tf.sum(energy);
      })(y);
      return { energy: energy!, grad };
    },
    dispose: () => {},
  };
}

/** log of the mean of exp(values) and the delta-method variance of that log, in float64. */
export function logMeanExp(values: ArrayLike<number>): { value: number; variance: number } {
  const m = values.length;
  let max = -Infinity;
  for (let i = 0; i < m; i++) max = Math.max(max, values[i]);
  if (!Number.isFinite(max)) return { value: max, variance: NaN };
  let sum = 0;
  for (let i = 0; i < m; i++) sum += Math.exp(values[i] - max);
  const mean = sum / m;
  let ss = 0;
  for (let i = 0; i < m; i++) ss += (Math.exp(values[i] - max) - mean) ** 2;
  // Var(log w-bar) ~ Var(w) / (M w-bar^2), with the sample variance of the weights.
  const variance = m > 1 ? ss / (m - 1) / (m * mean * mean) : NaN;
  return { value: max + Math.log(mean), variance };
}

/**
 * The AIS transitions' first MALA step h = stepScale sigma^2 d^(-1/3): the base's scale (a
 * recovery conditional is rarely wider than its Gaussian term, sigma_{t+1}) times MALA's optimal
 * dimension scaling (Roberts & Rosenthal 1998); AisOptions.adapt then tunes it. Not the model's
 * own Langevin step s_t^2 = b^2 (sigmabar_t / sigmabar_0) sigma^2: with b^2 = 2e-4 it moves a chain
 * a few percent of sigma in S steps, leaving AIS little better than importance sampling from the
 * base.
 */
export function malaStepSize(sigma: number, shape: readonly number[], stepScale = 1): number {
  const d = shape.slice(1).reduce((a, b) => a * b, 1);
  return stepScale * sigma * sigma * Math.pow(d, -1 / 3);
}

/**
 * The default AIS temperatures per level: 6000 / T (at least 10), the same total annealing length
 * per data point whatever T. Few levels leave each conditional far from its Gaussian anchor (at
 * T = 6 a trained 2D model's level 0 needed about 1000 steps: with 100 its log normaliser came out
 * ~100 nats low), while at T = 1000 each conditional is close to it.
 */
export function defaultAisSteps(T: number): number {
  return Math.max(10, Math.round(6000 / T));
}

/** Rows of x repeated M times: row m * n + i is x's row i. */
function tileRows(x: tf.Tensor, m: number): tf.Tensor {
  return m === 1 ? tf.clone(x) : tf.tile(x, [m, ...Array(x.rank - 1).fill(1)]);
}

/** One level's AIS over a batch: per data point the log-ratio estimate and its variance. */
interface LevelAis {
  /** [n] log of the particles' mean weight: log (Z_gamma-hat / Z_base), see lib/ais.ts. */
  logRatio: Float64Array;
  /** [n] its delta-method variance (NaN with one particle). */
  variance: Float64Array;
  /** Mean MALA acceptance over all chains (NaN with one step). */
  acceptance: number;
  /** Mean over rows of the particles' log-weight standard deviation (NaN with one particle). */
  logWeightSd: number;
}

/**
 * M AIS chains per row for level t's normaliser: anchored at xNext [n, ...] with the Gaussian term
 * (a recovery level), or at 0 from N(0, I) without it (xNext null: the top level). With `reference`
 * [n, ...] (points y), f(y, t) is subtracted inside the weights (lib/ais.ts `ref`).
 */
async function levelAis(
  net: EnergyNet,
  st: ScheduleTensors,
  t: number,
  xNext: tf.Tensor | null,
  reference: tf.Tensor | null,
  shape: number[],
  rng: Rng,
  opts: LogLikOptions,
): Promise<LevelAis> {
  const M = opts.particles;
  if (!Number.isInteger(M) || M < 1) throw new RangeError(`particles must be >= 1, got ${M}`);
  const n = shape[0];
  const rows = n * M;
  const rowShape = [rows, ...shape.slice(1)];
  const sigma = xNext ? st.schedule.sigmas[t + 1] : 1;
  const s2 = st.schedule.stepSizes[t];
  const tt = tf.fill([rows], t, "int32");
  const energy = levelEnergy(net, tt);
  const anchor = xNext ? tileRows(xNext, M) : tf.zeros(rowShape);
  let ref: tf.Tensor1D;
  if (reference) {
    const yRows = tileRows(reference, M);
    const r = energy.energyAndGrad(yRows);
    tf.dispose([yRows, r.grad]);
    ref = r.energy;
  } else {
    ref = tf.zeros([rows]);
  }
  const y0 = tf.tidy(() => tf.add(anchor, tf.mul(rng.normal(rowShape), sigma)));
  const ais = annealedImportanceSampling(
    {
      energyAndGrad: (v) => energy.energyAndGrad(v),
      anchor,
      reference: ref,
      scale: 1 / s2,
      precision: xNext ? 1 / (sigma * sigma) : 0,
      baseStd: sigma,
    },
    y0,
    rng,
    {
      steps: opts.aisSteps,
      stepSize: malaStepSize(sigma, shape, opts.stepScale),
      adapt: opts.adaptStep ?? true,
    },
  );
  const logW = await ais.logWeight.data();
  const acc = await ais.acceptance.data();
  tf.dispose([tt, anchor, ref, y0, ais.logWeight, ais.acceptance]);
  energy.dispose();
  const logRatio = new Float64Array(n);
  const variance = new Float64Array(n);
  const w = new Float64Array(M);
  let sdSum = 0;
  for (let i = 0; i < n; i++) {
    for (let m = 0; m < M; m++) w[m] = logW[m * n + i];
    const lme = logMeanExp(w);
    logRatio[i] = lme.value;
    variance[i] = lme.variance;
    const mean = w.reduce((a, b) => a + b, 0) / M;
    sdSum += M > 1 ? Math.sqrt(w.reduce((a, b) => a + (b - mean) ** 2, 0) / (M - 1)) : NaN;
  }
  let accSum = 0;
  for (let r = 0; r < rows; r++) accSum += acc[r];
  return { logRatio, variance, acceptance: accSum / rows, logWeightSd: sdSum / n };
}

/**
 * AIS estimates of level t's normaliser in y-space, per row: for a recovery level (xNext given)
 * log Ztilde_t(x_{t+1}) = log int exp(f(y, t) / s_t^2 - ||y - x_{t+1}||^2 / (2 sigma_{t+1}^2)) dy,
 * for the top level (xNext null) log Z_top = log int exp(f(y, T-1) / s^2) dy; with each estimate's
 * AIS standard error (NaN with one particle).
 */
export async function levelLogNormaliser(
  net: EnergyNet,
  st: ScheduleTensors,
  t: number,
  xNext: tf.Tensor | null,
  shape: number[],
  rng: Rng,
  opts: LogLikOptions,
): Promise<{ logZ: Float64Array; se: Float64Array; acceptance: number }> {
  const r = await levelAis(net, st, t, xNext, null, shape, rng, opts);
  const d = shape.slice(1).reduce((a, b) => a * b, 1);
  const sigma = xNext ? st.schedule.sigmas[t + 1] : 1;
  const logZb = (d / 2) * Math.log(2 * Math.PI * sigma * sigma);
  return {
    logZ: r.logRatio.map((v) => v + logZb),
    se: r.variance.map(Math.sqrt),
    acceptance: r.acceptance,
  };
}

/**
 * The estimate of log p(x_0) (see the module comment) for each row of x0 [n, ...]: draws one
 * forward trajectory per row, then runs M AIS chains of S steps for each level's normaliser. All
 * draws come from `rng`, in a fixed order: the same seed gives the same numbers.
 */
export async function chainLogLikelihood(
  net: EnergyNet,
  st: ScheduleTensors,
  x0: tf.Tensor,
  rng: Rng,
  opts: LogLikOptions,
): Promise<ChainLogLik> {
  const { T, alphas, sigmas } = st.schedule;
  const n = x0.shape[0];
  const d = x0.size / n;
  const perPoint = new Float64Array(n);
  const aisVar = new Float64Array(n);
  const levels: LevelLogLik[] = [];
  let xt: tf.Tensor = tf.clone(x0);
  for (let t = 0; t < T; t++) {
    const top = t === T - 1;
    // The top level is not rescaled (aPrev = 1) and has no Gaussian term.
    const a = top ? 1 : alphas[t + 1];
    const y = tf.tidy(() => tf.mul(xt, a));
    const xNext = top
      ? null
      : tf.tidy(() => tf.add(y, tf.mul(rng.normal(x0.shape), sigmas[t + 1])));
    let r: LevelAis;
    try {
      r = await levelAis(net, st, t, xNext, y, x0.shape, rng, opts);
    } finally {
      tf.dispose([y, xt]);
    }
    // Recovery: d log a - log R_t; top: -(d/2) log 2 pi - log(Z_top / (2 pi)^(d/2)); both with
    // f(y_t) / s_t^2 already inside the log-ratio (the AIS reference).
    const offset = top ? -(d / 2) * Math.log(2 * Math.PI) : d * Math.log(a);
    let termSum = 0, varSum = 0;
    for (let i = 0; i < n; i++) {
      const term = offset - r.logRatio[i];
      perPoint[i] += term;
      aisVar[i] += r.variance[i];
      termSum += term;
      varSum += r.variance[i];
    }
    levels.push({
      level: t,
      n,
      term: termSum / n,
      acceptance: r.acceptance,
      aisVariance: varSum / n,
      logWeightSd: r.logWeightSd,
    });
    opts.onLevel?.(t + 1, T);
    if (!xNext) break;
    xt = xNext;
  }
  return { perPoint, aisSe: aisVar.map(Math.sqrt), levels };
}

export interface LogLikSummary {
  n: number;
  /** Mean estimate over the data points, nats. */
  mean: number;
  /** Its standard error over data points (data, trajectory and AIS randomness together). */
  se: number;
  /** The AIS part of that standard error (NaN with one particle). */
  aisSe: number;
}

/** Mean and standard errors of per-point estimates. */
export function summarizeLogLik(
  perPoint: ArrayLike<number>,
  aisSe: ArrayLike<number>,
): LogLikSummary {
  const n = perPoint.length;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += perPoint[i];
  const mean = sum / n;
  let ss = 0, ais = 0;
  for (let i = 0; i < n; i++) {
    ss += (perPoint[i] - mean) ** 2;
    ais += aisSe[i] ** 2;
  }
  return {
    n,
    mean,
    se: n > 1 ? Math.sqrt(ss / (n - 1) / n) : NaN,
    aisSe: Math.sqrt(ais) / n,
  };
}

/** Per-level statistics of several batches, weighted by their data points. */
export function mergeLevelLogLik(a: LevelLogLik[], b: LevelLogLik[]): LevelLogLik[] {
  if (a.length === 0) return b;
  return a.map((x, i) => {
    const y = b[i];
    const n = x.n + y.n;
    const mix = (u: number, v: number) => (u * x.n + v * y.n) / n;
    return {
      level: x.level,
      n,
      term: mix(x.term, y.term),
      acceptance: mix(x.acceptance, y.acceptance),
      aisVariance: mix(x.aisVariance, y.aisVariance),
      logWeightSd: mix(x.logWeightSd, y.logWeightSd),
    };
  });
}
