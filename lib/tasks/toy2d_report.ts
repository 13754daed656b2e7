/**
 * End-of-run evaluation of a 2D model: samples by progressive sampling with the EMA weights, the
 * 2D metrics beside their data baselines, the level-0 energy normalised on a grid (held-out
 * log-likelihood in nats), and a figure with data and samples, then for each drawn level its
 * learned marginal above the true one (the data diffused to that level), with their KL.
 */
import type { MetricName } from "../metric_names.ts";
import * as tf from "@tensorflow/tfjs";
import type { TrainConfig } from "../config.ts";
import { getToy2d, logDensities } from "../data/toy2d.ts";
import { type LevelDensity, writeToy2dFigure } from "../io/plot2d.ts";
import {
  evaluateToy2d,
  gridKl,
  gridLogLikelihood,
  gridPoints,
  type Toy2dEvaluation,
} from "../metrics/toy2d.ts";
import type { EnergyNet } from "../nets/types.ts";
import { figureLevels, type ScheduleTensors } from "../schedule.ts";
import { Rng } from "../rng.ts";
import { drawSamples } from "../samplers/progressive.ts";
import { levelInputScale, levelLogDensity, TOY_BOX } from "../level_density.ts";

export interface Toy2dReport {
  evaluation: Toy2dEvaluation;
  /** Per-level chain statistics of the evaluation sampling. */
  levelStats: { level: number; acceptance: number; displacement: number }[];
  /** The drawn levels' KL(true || learned) in nats, marginals normalised on the figure's grid. */
  marginalKl: { level: number; kl: number }[];
  figurePath: string;
}

/** Runs the evaluation with the weights currently in `net` (swap in EMA weights before). */
export async function evaluateToy2dRun(
  config: TrainConfig,
  net: EnergyNet,
  st: ScheduleTensors,
  figurePath: string,
): Promise<Toy2dReport> {
  const dataset = getToy2d(config.dataset);
  // A separate stream from training's, so evaluation never shifts the training sequence.
  const rng = new Rng((config.seed + 0x5eed) >>> 0);
  const n = config.eval.samples;
  const [result] = await Array.fromAsync(drawSamples(net, [2], n, n, st, rng, config.langevin));
  const samples = Float32Array.from(await result.levels[0].data());
  tf.dispose(result.levels);
  const heldOut = dataset.sample(n, rng);
  const grid = { ...TOY_BOX, n: config.eval.gridSize };
  const evaluation = await evaluateToy2d({
    dataset,
    samples,
    heldOut,
    rng,
    logUnnormalised: levelLogDensity(net, st, 0),
    grid: { ...grid, scale: st.schedule.alphas[1] },
  });
  const levels = figureLevels(config.schedule.T);
  const learnedRow: LevelDensity[] = [], trueRow: LevelDensity[] = [];
  const marginalKl: { level: number; kl: number }[] = [];
  const cells = gridPoints(grid.lo, grid.hi, grid.n);
  for (const t of levels) {
    const learned = await gridLogLikelihood(levelLogDensity(net, st, t), heldOut.subarray(0, 2), {
      ...grid,
      // The net's input scale of level t as sampling uses it: 1 at the (unconditional) top level,
      // whose samples are not rescaled (alphas[T] would squeeze the whole box into one cell).
      scale: levelInputScale(st, t),
    });
    // The level's true marginal: x_t = alphasCum[t] x_0 + sigmasCum[t] eps (lib/schedule.ts).
    const diffused = dataset.diffused(st.schedule.alphasCum[t], st.schedule.sigmasCum[t]);
    const truth = Float32Array.from(logDensities({ logDensity: diffused }, cells));
    const kl = gridKl(truth, learned.gridValues);
    marginalKl.push({ level: t, kl });
    learnedRow.push({
      label: `${t} learned KL ${kl.toFixed(2)}`,
      grid: learned.gridValues,
      n: grid.n,
    });
    trueRow.push({ label: `${t} true`, grid: truth, n: grid.n });
  }
  // Row 1: data, samples and the data density; then the learned marginals, the true ones below.
  const columns = Math.max(levels.length, 3);
  const firstRow: (LevelDensity | null)[] = evaluation.logLik
    ? [{ label: "true density", grid: evaluation.logLik.trueGridValues, n: grid.n }]
    : [];
  while (firstRow.length < columns - 2) firstRow.push(null);
  const pad = (row: LevelDensity[]) => [
    ...row,
    ...Array<null>(columns - row.length).fill(null),
  ];
  await writeToy2dFigure(figurePath, {
    data: heldOut,
    samples,
    levelDensities: [...firstRow, ...pad(learnedRow), ...pad(trueRow)],
    columns,
    ...TOY_BOX,
    title: `${config.preset}: data, samples, level marginals learned (middle) and true (bottom)`,
  });
  return { evaluation, levelStats: result.stats, marginalKl, figurePath };
}

/** The evaluation as named scalar rows for the results database. */
export function evaluationRows(
  e: Toy2dEvaluation,
  marginalKl: { level: number; kl: number }[] = [],
): { name: MetricName; value: number; n: number; details?: unknown }[] {
  const rows: { name: MetricName; value: number; n: number; details?: unknown }[] = [
    { name: "energy_distance", value: e.energyDistance, n: e.sampleCount },
    { name: "energy_distance_data_baseline", value: e.energyDistanceBaseline, n: e.sampleCount },
    {
      name: "energy_distance_data_baseline_mean",
      value: e.energyDistanceBaselineDraws.mean,
      n: e.sampleCount,
      details: e.energyDistanceBaselineDraws,
    },
    { name: "non_finite_share", value: e.nonFiniteShare, n: e.sampleCount },
  ];
  if (e.modeCoverage) {
    const { perMode, offMode, radius } = e.modeCoverage;
    rows.push({
      name: "min_mode_share",
      value: e.modeCoverage.minShare,
      n: e.sampleCount,
      details: { perMode, offMode, radius },
    });
    rows.push({ name: "max_mode_share", value: e.modeCoverage.maxShare, n: e.sampleCount });
    rows.push({ name: "off_mode_share", value: e.modeCoverage.offMode, n: e.sampleCount });
  }
  if (e.checkerboardShare !== undefined) {
    rows.push({ name: "checkerboard_share", value: e.checkerboardShare, n: e.sampleCount });
    rows.push({
      name: "checkerboard_share_uniform_baseline",
      value: e.checkerboardShareBaseline!,
      n: e.sampleCount,
    });
  }
  if (e.logLik) {
    rows.push({
      name: "heldout_loglik",
      value: e.logLik.model,
      n: e.heldOutCount,
      details: { logZ: e.logLik.modelLogZ, grid: e.logLik.grid, outside: e.logLik.heldOutOutside },
    });
    rows.push({ name: "heldout_loglik_true", value: e.logLik.trueExact, n: e.heldOutCount });
    rows.push({
      name: "heldout_loglik_true_on_grid",
      value: e.logLik.trueOnGrid,
      n: e.heldOutCount,
    });
  }
  if (marginalKl.length > 0) {
    rows.push({
      name: "marginal_kl",
      value: marginalKl.reduce((sum, l) => sum + l.kl, 0) / marginalKl.length,
      n: marginalKl.length,
      details: { perLevel: marginalKl },
    });
  }
  return rows;
}
