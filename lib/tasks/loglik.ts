/**
 * `deno task loglik`: a trained model's data log-likelihood under its chain of conditional EBMs
 * (lib/loglik.ts), in nats and bits/dim: a run's checkpoint, written to the results database as
 * evaluations of the run, or a model file (a shipped model, any checkpoint), only reported. 2D
 * models score fresh draws of their data set (beside the true density's log-likelihood); image
 * models score the first n images of a split, uniformly dequantised
 * (lib/data/images/dequantize.ts).
 */
import * as tf from "@tensorflow/tfjs";
import type { TrainConfig } from "../config.ts";
import { getToy2d, TOY2D_NAMES } from "../data/toy2d.ts";
import { bitsPerDim, dequantize, PIXEL_BIN } from "../data/images/dequantize.ts";
import { openImageDataset } from "../data/images/mod.ts";
import type { ResultsDb, RunRecord } from "../db/mod.ts";
import { UserError } from "../errors.ts";
import {
  type ChainLogLik,
  chainLogLikelihood,
  defaultAisSteps,
  type LevelLogLik,
  type LogLikSummary,
  mergeLevelLogLik,
  summarizeLogLik,
} from "../loglik.ts";
import { trueAvgLogLik } from "../metrics/toy2d.ts";
import { mixtureChainNet } from "../exact_chain.ts";
import type { EnergyNet } from "../nets/types.ts";
import type { ScheduleTensors } from "../schedule.ts";
import { Rng } from "../rng.ts";
import { runCheckpoint } from "../run_files.ts";
import { loadForSampling } from "../train_state.ts";

/** What is scored: a run's checkpoint (the result is recorded), or a checkpoint file. */
export type LoglikSource =
  | {
    db: ResultsDb;
    runId: number;
    /** The checkpoint the run kept at this step (default: its latest). */
    step?: number;
  }
  | { checkpoint: string };

export interface LoglikOptions {
  source: LoglikSource;
  /** Data points scored. */
  n: number;
  /** AIS temperatures per level (default: defaultAisSteps(T) of lib/loglik.ts). */
  aisSteps?: number;
  /** AIS chains per level and data point. */
  particles: number;
  /** Multiplies the AIS transitions' first MALA step. Default 1. */
  stepScale?: number;
  /** Adapt the MALA step to the acceptance (default true; false: exactly unbiased weights). */
  adaptStep?: boolean;
  seed: number;
  /**
   * Data points per batch (memory: batch x particles rows at once); default 256 for 2D runs, 8 for
   * image runs (the ResNet's activations and their gradients for every row).
   */
  batch?: number;
  /** Image runs: the split scored (default "test"). */
  split?: string;
  /**
   * Gaussian-mixture 2D data sets: also score the same points, with the same trajectories and AIS
   * draws, under the data's exact chain (every level its true diffused marginal): the estimator's
   * own error at these settings, and per level where the model loses against the truth.
   */
  exact?: boolean;
  /** Levels done over all batches, of batches x T. */
  onProgress?: (done: number, total: number) => void;
}

export interface LoglikResult {
  /** The run scored, or null for a checkpoint file. */
  run: RunRecord | null;
  /** The checkpoint's training step. */
  step: number;
  dataset: string;
  /** Image runs: the split scored; null for 2D runs (fresh draws). */
  split: string | null;
  T: number;
  /** AIS temperatures per level used. */
  aisSteps: number;
  /** Values per data point. */
  dims: number;
  /** log p(x_0) in nats per data point. */
  summary: LogLikSummary;
  bitsPerDim: number;
  bitsPerDimSe: number;
  /** 2D runs: the true density's mean log-likelihood of the same points (nats). */
  trueLogLik: number | null;
  levels: LevelLogLik[];
  /** With `exact`: the exact chain's estimate on the same points and draws. */
  exact: { summary: LogLikSummary; levels: LevelLogLik[] } | null;
  seconds: number;
}

/**
 * The exact chain of a 2D data set whose density is a Gaussian mixture (lib/exact_chain.ts) on the
 * model's schedule; a UserError for any other data.
 */
function exactChain(config: TrainConfig, st: ScheduleTensors): EnergyNet {
  const mixture = config.task === "toy2d" ? getToy2d(config.dataset).mixture?.() : undefined;
  if (!mixture) {
    // Built only here: listing them constructs every 2D data set.
    const exactSets = TOY2D_NAMES.filter((d) => getToy2d(d).mixture).join(", ");
    throw new UserError(
      `--exact needs a 2D data set whose density is a Gaussian mixture (${exactSets}); ` +
        `${config.dataset} has no closed-form chain`,
    );
  }
  return mixtureChainNet(st.schedule, mixture.centres, mixture.std ** 2, mixture.logWeights);
}

/** The data points scored: n rows of the model's shape, and how they were made. */
interface ScoredData {
  /** Row-major [n, ...shape]. */
  values: Float32Array;
  shape: number[];
  /** Bin width of the discretised data (PIXEL_BIN), or 1 for continuous data. */
  binWidth: number;
  trueLogLik: number | null;
  split: string | null;
}

async function scoredData(config: TrainConfig, opts: LoglikOptions, rng: Rng): Promise<ScoredData> {
  if (config.task === "toy2d") {
    const dataset = getToy2d(config.dataset);
    const values = dataset.sample(opts.n, rng);
    return {
      values,
      shape: [2],
      binWidth: 1,
      trueLogLik: trueAvgLogLik(dataset, values),
      split: null,
    };
  }
  const split = opts.split ?? "test";
  const ds = await openImageDataset(config.dataset, {
    split,
    data: config.data.path ?? undefined,
  });
  try {
    if (ds.count < opts.n) {
      throw new UserError(
        `${config.dataset} ${split} has ${ds.count} images, fewer than --n ${opts.n}`,
      );
    }
    const size = ds.height * ds.width * ds.channels;
    const values = new Float32Array(opts.n * size);
    const js = rng.js();
    for (let i = 0; i < opts.n; i++) dequantize(ds.get(i), js, values, i * size);
    return {
      values,
      shape: [ds.height, ds.width, ds.channels],
      binWidth: PIXEL_BIN,
      trueLogLik: null,
      split,
    };
  } finally {
    ds.close();
  }
}

/** The run and its checkpoint, checked to be a trained model's; one clear line otherwise. */
async function trainedRun(
  db: ResultsDb,
  runId: number,
  step?: number,
): Promise<{ run: RunRecord; path: string }> {
  const run = await db.getRun(runId);
  if (!run) {
    throw new UserError(`no run ${runId} in ${db.location}; list runs with: deno task compare`);
  }
  const task = (run.config as Partial<TrainConfig> | null)?.task;
  if (task !== "toy2d" && task !== "images") {
    throw new UserError(`run ${runId} is a '${run.task}' run, not a trained model`);
  }
  return await runCheckpoint(db, runId, step);
}

function check(name: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min) {
    throw new UserError(`--${name} needs an integer >= ${min} (got ${value})`);
  }
}

/** One chain's per-point estimates and per-level statistics, gathered batch by batch. */
class ChainScores {
  readonly perPoint: Float64Array;
  readonly aisSe: Float64Array;
  levels: LevelLogLik[] = [];

  constructor(n: number) {
    this.perPoint = new Float64Array(n);
    this.aisSe = new Float64Array(n);
  }

  /** A batch's estimates, its first point at `start`. */
  add(r: ChainLogLik, start: number): void {
    this.perPoint.set(r.perPoint, start);
    this.aisSe.set(r.aisSe, start);
    this.levels = mergeLevelLogLik(this.levels, r.levels);
  }

  summary(): LogLikSummary {
    return summarizeLogLik(this.perPoint, this.aisSe);
  }
}

/** Scores the run's EMA weights and records ais_loglik and ais_bits_per_dim. */
export async function runLoglik(opts: LoglikOptions): Promise<LoglikResult> {
  check("n", opts.n, 2);
  if (opts.aisSteps !== undefined) check("ais-steps", opts.aisSteps, 1);
  check("particles", opts.particles, 1);
  if (opts.batch !== undefined) check("batch", opts.batch, 1);
  const stepScale = opts.stepScale ?? 1;
  if (!(stepScale > 0 && Number.isFinite(stepScale))) {
    throw new UserError(`--step-scale must be a positive number (got ${stepScale})`);
  }
  const src = opts.source;
  const { run, path } = "checkpoint" in src
    ? { run: null, path: src.checkpoint }
    : await trainedRun(src.db, src.runId, src.step);
  // A file that holds no energy model is refused there, in one line.
  const model = await loadForSampling(path, "ema");
  const t0 = performance.now();
  let exactNet: EnergyNet | null = null;
  try {
    const { config, net, st } = model;
    const T = st.schedule.T;
    const aisSteps = opts.aisSteps ?? defaultAisSteps(T);
    exactNet = opts.exact ? exactChain(config, st) : null;
    const rng = new Rng(opts.seed);
    const data = await scoredData(config, opts, rng);
    // The exact chain replays the same draws: a copy of the stream after the points.
    const exactRng = exactNet ? Rng.fromState(rng.state()) : null;
    const scores = new ChainScores(opts.n);
    const exactScores = new ChainScores(opts.n);
    const passes = exactNet ? 2 : 1;
    const dims = data.shape.reduce((a, b) => a * b, 1);
    const batch = opts.batch ?? (config.task === "toy2d" ? 256 : 8);
    const batches = Math.ceil(opts.n / batch);
    for (let b = 0; b < batches; b++) {
      const start = b * batch;
      const size = Math.min(batch, opts.n - start);
      const x0 = tf.tensor(
        data.values.subarray(start * dims, (start + size) * dims),
        [size, ...data.shape],
      );
      try {
        const ais = { aisSteps, particles: opts.particles, stepScale, adaptStep: opts.adaptStep };
        const r = await chainLogLikelihood(net, st, x0, rng, {
          ...ais,
          onLevel: (done) => opts.onProgress?.(b * T * passes + done, batches * T * passes),
        });
        scores.add(r, start);
        if (exactNet && exactRng) {
          const e = await chainLogLikelihood(exactNet, st, x0, exactRng, {
            ...ais,
            onLevel: (done) => opts.onProgress?.(b * T * passes + T + done, batches * T * passes),
          });
          exactScores.add(e, start);
        }
      } finally {
        x0.dispose();
      }
    }
    const summary = scores.summary();
    const result: LoglikResult = {
      run,
      step: model.step,
      dataset: config.dataset,
      split: data.split,
      T,
      aisSteps,
      dims,
      summary,
      bitsPerDim: bitsPerDim(summary.mean, dims, data.binWidth),
      bitsPerDimSe: summary.se / (dims * Math.LN2),
      trueLogLik: data.trueLogLik,
      levels: scores.levels,
      exact: exactNet ? { summary: exactScores.summary(), levels: exactScores.levels } : null,
      seconds: (performance.now() - t0) / 1000,
    };
    if (run && "db" in src) await record(src.db, run, opts, result, stepScale);
    return result;
  } finally {
    exactNet?.dispose();
    model.net.dispose();
    model.st.dispose();
  }
}

/** Float64 values as JSON numbers (NaN, which JSON lacks, as null). */
function finite(x: number): number | null {
  return Number.isFinite(x) ? x : null;
}

async function record(
  db: ResultsDb,
  run: RunRecord,
  opts: LoglikOptions,
  r: LoglikResult,
  stepScale: number,
): Promise<void> {
  const common = {
    checkpoint_step: r.step,
    dataset: r.dataset,
    split: r.split,
    T: r.T,
    ais_steps: r.aisSteps,
    particles: opts.particles,
    step_scale: stepScale,
    adapt_step: opts.adaptStep ?? true,
    seed: opts.seed,
    dequantization: r.split === null ? null : "uniform, bins of 1/127.5 centred on p/127.5 - 1",
  };
  await db.addEvaluation({
    runId: run.id,
    name: "ais_loglik",
    value: r.summary.mean,
    n: r.summary.n,
    details: {
      ...common,
      se: finite(r.summary.se),
      ais_se: finite(r.summary.aisSe),
      true_loglik: r.trueLogLik,
      levels: {
        term: r.levels.map((l) => finite(l.term)),
        acceptance: r.levels.map((l) => finite(l.acceptance)),
        ais_variance: r.levels.map((l) => finite(l.aisVariance)),
        log_weight_sd: r.levels.map((l) => finite(l.logWeightSd)),
      },
      seconds: r.seconds,
    },
  });
  if (r.exact) {
    await db.addEvaluation({
      runId: run.id,
      name: "ais_loglik_exact_model",
      value: r.exact.summary.mean,
      n: r.exact.summary.n,
      details: {
        ...common,
        se: finite(r.exact.summary.se),
        ais_se: finite(r.exact.summary.aisSe),
        true_loglik: r.trueLogLik,
        levels: { term: r.exact.levels.map((l) => finite(l.term)) },
      },
    });
  }
  await db.addEvaluation({
    runId: run.id,
    name: "ais_bits_per_dim",
    value: r.bitsPerDim,
    n: r.summary.n,
    details: { ...common, se: finite(r.bitsPerDimSe) },
  });
}
