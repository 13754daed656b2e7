/**
 * The image-metrics pipeline of `deno task eval` (and of the sanity rows): samples from a run's
 * checkpoint by progressive sampling, features of the samples and of the data set's reference
 * split, and FID (Heusel et al. 2017), IS (Salimans et al. 2016) and KID (Binkowski et al. 2018)
 * written to the results database with their sample counts and feature extractor.
 *
 * Reference features are cached in one .npz per (data set, split, extractor weights, count): the
 * Gaussian fit (mu, sigma, as pytorch-fid/TTUR statistics files) plus up to KID_REFERENCE_ROWS
 * feature rows for KID, so a second evaluation only extracts the samples.
 */
import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import type { TrainConfig } from "../config.ts";
import type { ImageDataset } from "../data/images/mod.ts";
import type { EvaluationRow, ResultsDb, RunRecord } from "../db/mod.ts";
import { UserError } from "../errors.ts";
import { writeFileAtomic } from "../io/atomic.ts";
import { createProgress, type Progress } from "../io/progress.ts";
import type { EnergyNet } from "../nets/types.ts";
import type { ScheduleTensors } from "../schedule.ts";
import { Rng } from "../rng.ts";
import { drawSamples } from "../samplers/progressive.ts";
import { loadForSampling } from "../train_state.ts";
import { runCheckpoint as runCheckpointOf } from "../run_files.ts";
import { gitCommit } from "../git.ts";
import { loadFeatureExtractor } from "../metrics/extractors.ts";
import {
  extractFeatures,
  type FeatureExtractor,
  featureStats,
  type ImageSource,
} from "../metrics/features.ts";
import { loadFmnistFeatureExtractor } from "../metrics/fmnist_classifier.ts";
import { datasetImageSource } from "../metrics/image_sources.ts";
import { defaultInceptionPath } from "../metrics/inception/extractor.ts";
import type { FeatureRows, KidOptions } from "../metrics/kid.ts";
import {
  computeMetrics,
  IMAGE_METRICS,
  type ImageMetric,
  IS_SPLITS,
  type MetricValue,
  type ReferenceStats,
} from "../metrics/compute.ts";
import {
  decodeFidStats,
  encodeNpz,
  type FidStats,
  type NpyArray,
  parseNpz,
} from "../metrics/npz.ts";

/** Where reference statistics are cached by default. */
export const DEFAULT_CACHE_DIR = "results/cache";
/**
 * Reference rows kept for KID. KID's estimator is unbiased for any subset draw; 10,000 rows give
 * 100 subsets of 1,000 enough variety while keeping an Inception cache file at 80 MB.
 */
export const KID_REFERENCE_ROWS = 10_000;

/** Called as work advances; `phase` names what is being done ("reference", "samples"). */
export type ProgressFn = (phase: string, done: number, total: number) => void;

/** Parses `--metrics fid,is,kid`. */
export function parseMetrics(text: string): ImageMetric[] {
  const names = text.split(",").map((s) => s.trim()).filter(Boolean);
  if (names.length === 0) {
    throw new UserError(`--metrics needs at least one of ${IMAGE_METRICS.join(", ")}`);
  }
  for (const n of names) {
    if (!(IMAGE_METRICS as readonly string[]).includes(n)) {
      throw new UserError(
        `unknown metric '${n}'; use a comma-separated list of ${IMAGE_METRICS.join(", ")}`,
      );
    }
  }
  return [...new Set(names)] as ImageMetric[];
}

/** The default extractor for a data set: the project's classifier for Fashion-MNIST. */
export function defaultFeaturesFor(dataset: string): "fmnist" | "inception" {
  return dataset === "fashion-mnist" ? "fmnist" : "inception";
}

export interface OpenExtractorOptions {
  /** classify_image_graph_def.pb (default: the Inception loader's default location). */
  inceptionPath?: string;
  /** The Fashion-MNIST classifier checkpoint (default results/classifiers/fashion-mnist.ckpt). */
  classifierPath?: string;
}

export interface OpenedExtractor {
  extractor: FeatureExtractor;
  /** Identifies the exact weights, for cache keys (ReferenceOptions.extractorVersion). */
  version: string;
}

/** The extractor named on the command line (`--features inception|fmnist`). */
export async function openExtractor(
  choice: string,
  opts: OpenExtractorOptions = {},
): Promise<OpenedExtractor> {
  if (choice === "fmnist") {
    const extractor = await loadFmnistFeatureExtractor(opts.classifierPath);
    return { extractor, version: extractor.fingerprint };
  }
  const extractor = await loadFeatureExtractor(choice, { inceptionPath: opts.inceptionPath });
  // Loading succeeded, so the file exists: its size and date tell one graph file from another.
  const info = await Deno.stat(opts.inceptionPath ?? defaultInceptionPath());
  return { extractor, version: `${info.size}-${info.mtime?.getTime() ?? 0}` };
}

/**
 * A ProgressFn that shows one bar per phase on a terminal and, elsewhere (logs, pipes), a plain
 * line at most every `lineEverySeconds` and at the end of each phase.
 */
export function phaseProgress(
  log: (line: string) => void = console.log,
  lineEverySeconds = 10,
): ProgressFn & { stop(): void } {
  const tty = Deno.stdout.isTerminal();
  let phase = "";
  let bar: Progress | null = null;
  let t0 = 0;
  let lastLine = 0;
  const fn = (name: string, done: number, total: number) => {
    const now = performance.now();
    if (name !== phase) {
      bar?.stop();
      phase = name;
      t0 = lastLine = now;
      bar = tty ? createProgress(total, 0) : null;
    }
    const seconds = (now - t0) / 1000;
    const rate = `${(done / Math.max(seconds, 1e-9)).toFixed(1)} images/s`;
    if (bar) bar.update(done, `${name} ${rate}`);
    else if (done === total || now - lastLine >= 1000 * lineEverySeconds) {
      lastLine = now;
      log(`${name}: ${done}/${total} images in ${seconds.toFixed(1)} s (${rate})`);
    }
  };
  return Object.assign(fn, { stop: () => bar?.stop() });
}

// ---------------------------------------------------------------------------------------------
// Reference statistics, cached.

export interface ReferenceOptions {
  dataset: ImageDataset;
  extractor: FeatureExtractor;
  /**
   * Identifies the extractor's exact weights in the cache key (e.g. the classifier's weight hash,
   * or the Inception file's size and date); "" when the name alone identifies them.
   */
  extractorVersion?: string;
  /** Images of the split used, the first ones in file order (default: all). */
  count?: number;
  batchSize: number;
  /** Folder of the cache files; null disables the cache. */
  cacheDir: string | null;
  onProgress?: ProgressFn;
}

/** A reference split's statistics (up to KID_REFERENCE_ROWS rows for KID), and where from. */
export interface ReferenceFeatures extends ReferenceStats {
  /** The cache file read or written, or null without a cache. */
  cachePath: string | null;
  fromCache: boolean;
  /** Seconds spent extracting (0 from the cache). */
  seconds: number;
}

/** A file-name-safe piece of a cache key. */
function keyPart(s: string): string {
  return s.replace(/[^A-Za-z0-9._-]+/g, "_");
}

/** The cache file of a reference set: <dir>/<dataset>-<split>-<extractor>[-<version>]-n<count>.npz. */
export function referenceCachePath(
  dir: string,
  dataset: string,
  split: string,
  extractor: string,
  version: string,
  count: number,
): string {
  const ext = version ? `${extractor}-${version}` : extractor;
  return join(dir, `${[dataset, split, ext].map(keyPart).join("-")}-n${count}.npz`);
}

function decodeReference(bytes: Uint8Array, path: string, d: number): ReferenceFeatures | null {
  try {
    const stats = decodeFidStats(bytes, path);
    const rows = parseNpz(bytes).get("kid_features");
    if (
      !rows || !(rows.data instanceof Float32Array) || rows.shape.length !== 2 ||
      rows.shape[1] !== d
    ) {
      return null;
    }
    if (stats.mu.length !== d || stats.n === undefined) return null;
    return {
      stats,
      kidRows: { pool: rows.data, n: rows.shape[0], featureDim: d },
      n: stats.n,
      cachePath: path,
      fromCache: true,
      seconds: 0,
    };
  } catch {
    return null; // an unreadable cache file is recomputed and overwritten
  }
}

function encodeReference(stats: FidStats, kidRows: FeatureRows): Uint8Array {
  const d = stats.mu.length;
  const arrays: Record<string, NpyArray> = {
    mu: { shape: [d], data: stats.mu },
    sigma: { shape: [d, d], data: stats.sigma },
    n: { shape: [], data: new BigInt64Array([BigInt(stats.n!)]) },
    features: { shape: [], data: [stats.features!] },
    kid_features: { shape: [kidRows.n, d], data: kidRows.pool },
  };
  return encodeNpz(arrays);
}

/** Features of the reference split: from the cache when present, else extracted and cached. */
export async function referenceFeatures(opts: ReferenceOptions): Promise<ReferenceFeatures> {
  const { dataset: ds, extractor } = opts;
  const count = Math.min(opts.count ?? ds.count, ds.count);
  if (count < 2) throw new UserError(`the reference set needs at least 2 images, got ${count}`);
  const path = opts.cacheDir === null ? null : referenceCachePath(
    opts.cacheDir,
    ds.name,
    ds.split,
    extractor.name,
    opts.extractorVersion ?? "",
    count,
  );
  if (path) {
    try {
      const cached = decodeReference(await Deno.readFile(path), path, extractor.featureDim);
      if (cached && cached.n === count && cached.stats.features === extractor.name) return cached;
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }
  const t0 = performance.now();
  const set = await extractFeatures(extractor, datasetImageSource(ds, count), {
    batchSize: opts.batchSize,
    onProgress: (done, total) => opts.onProgress?.("reference", done, total),
  });
  const seconds = (performance.now() - t0) / 1000;
  const stats = featureStats(set);
  const rows = Math.min(count, KID_REFERENCE_ROWS);
  const kidRows = {
    pool: set.pool.slice(0, rows * set.featureDim),
    n: rows,
    featureDim: set.featureDim,
  };
  if (path) {
    await Deno.mkdir(opts.cacheDir!, { recursive: true });
    await writeFileAtomic(path, encodeReference(stats, kidRows));
  }
  return { stats, kidRows, n: count, cachePath: path, fromCache: false, seconds };
}

// ---------------------------------------------------------------------------------------------
// Samples of a run.

export interface SamplingModel {
  config: TrainConfig;
  net: EnergyNet;
  st: ScheduleTensors;
  /** Training iterations of the checkpoint. */
  step: number;
}

/** A recorded image run and its checkpoint (the latest or the one kept at `step`), checked. */
export function runCheckpoint(
  db: ResultsDb,
  runId: number,
  step?: number,
): Promise<{ run: RunRecord; path: string }> {
  return runCheckpointOf(db, runId, step, { images: true });
}

/** Loads a checkpoint's EMA weights for sampling. */
export async function loadSamplingModel(path: string): Promise<SamplingModel> {
  const m = await loadForSampling(path, "ema");
  if (m.config.net.kind !== "resnet") throw new UserError(`${path} is not an image model`);
  return m;
}

/**
 * `count` images drawn by progressive sampling (Gao et al. 2021, Algorithm 3, `drawSamples`) in
 * batches of `batch`, x_0 clipped to the data range [-1, 1]. Batches must be read in order and at
 * that size (extractFeatures does): the same seed and batch size give the same images as
 * `deno task sample`.
 */
export function sampleSource(
  model: SamplingModel,
  count: number,
  seed: number,
  batch: number,
  noiseScale = 1,
): ImageSource {
  const net = model.config.net;
  if (net.kind !== "resnet") throw new UserError("sampling images needs an image model");
  const draws = drawSamples(
    model.net,
    [net.imageSize, net.imageSize, net.channels],
    count,
    batch,
    model.st,
    new Rng(seed),
    { ...model.config.langevin, noiseScale },
  );
  return {
    count,
    batch: async (start, end) => {
      const next = await draws.next();
      if (
        next.done || next.value.start !== start || next.value.levels[0].shape[0] !== end - start
      ) {
        if (!next.done) tf.dispose(next.value.levels);
        throw new Error(`sample batches must be read in order, ${batch} at a time (got ${start})`);
      }
      const x0 = tf.clipByValue(next.value.levels[0], -1, 1) as tf.Tensor4D;
      tf.dispose(next.value.levels);
      return x0;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The whole evaluation of a run.

/**
 * What is evaluated: a training run's latest checkpoint, the copy it kept at `step`, any
 * checkpoint file (e.g. a shipped model), or the first n images of a data split (the baseline a
 * model's numbers are read against); the last two are recorded as runs of task "eval".
 */
export type EvalTarget =
  | { runId: number; step?: number }
  | { checkpoint: string }
  | { data: string; split: string };

export interface EvaluateRunOptions {
  db: ResultsDb;
  target: EvalTarget;
  /** Langevin noise scale of the sampling (official evaluation: 0.99; default 1). */
  noiseScale?: number;
  /** Number of samples. */
  n: number;
  metrics: readonly ImageMetric[];
  extractor: FeatureExtractor;
  /** See ReferenceOptions.extractorVersion. */
  extractorVersion?: string;
  /** Opens the reference split of a data set (its --data path, if the model's config has one). */
  openReference: (dataset: string, path: string | null) => Promise<ImageDataset>;
  /** Opens a split of a data set for a `data` target. */
  openData?: (dataset: string, split: string) => Promise<ImageDataset>;
  /** Reference images (default: the whole split). */
  referenceCount?: number;
  seed: number;
  batchSize: number;
  cacheDir: string | null;
  kid?: KidOptions;
  onProgress?: ProgressFn;
}

export interface EvaluateRunResult {
  run: RunRecord;
  /** The checkpoint sampled (null for a data split). */
  checkpoint: string | null;
  step: number | null;
  values: MetricValue[];
  reference: ReferenceFeatures | null;
  sampleSeconds: number;
}

/** A run row of task "eval", for what is evaluated outside a training run. */
async function evalRun(
  db: ResultsDb,
  preset: string,
  config: Record<string, unknown>,
  seed: number,
): Promise<RunRecord> {
  const id = await db.createRun({
    task: "eval",
    preset,
    config,
    gitCommit: await gitCommit(),
    backend: tf.getBackend(),
    adapter: "",
    seed,
    dir: null,
  });
  return (await db.getRun(id))!;
}

/** What the images of an evaluation come from, with the facts recorded beside the metrics. */
interface Subject {
  run: RunRecord;
  source: ImageSource;
  /** The data set the reference split is taken from. */
  dataset: string;
  dataPath: string | null;
  step: number | null;
  checkpoint: string | null;
  details: Record<string, unknown>;
  dispose(): void;
}

async function openSubject(opts: EvaluateRunOptions): Promise<Subject> {
  const target = opts.target;
  if ("data" in target) {
    if (!opts.openData) throw new Error("evaluating a data split needs openData");
    const ds = await opts.openData(target.data, target.split);
    if (ds.count < opts.n) {
      ds.close();
      throw new UserError(`${target.data} ${target.split} has ${ds.count} images, fewer than --n`);
    }
    const run = await evalRun(opts.db, target.data, {
      dataset: target.data,
      split: target.split,
      n: opts.n,
    }, opts.seed);
    return {
      run,
      source: datasetImageSource(ds, opts.n),
      dataset: target.data,
      dataPath: null,
      step: null,
      checkpoint: null,
      details: { dataset: target.data, split: target.split },
      dispose: () => ds.close(),
    };
  }
  const noiseScale = opts.noiseScale ?? 1;
  const path = "checkpoint" in target
    ? target.checkpoint
    : (await runCheckpoint(opts.db, target.runId, target.step)).path;
  const model = await loadSamplingModel(path);
  const dispose = () => {
    model.net.dispose();
    model.st.dispose();
  };
  try {
    const run = "checkpoint" in target
      ? await evalRun(opts.db, model.config.preset, {
        dataset: model.config.dataset,
        checkpoint: path,
        checkpointStep: model.step,
        model: model.config,
      }, opts.seed)
      : (await opts.db.getRun(target.runId))!;
    return {
      run,
      source: sampleSource(model, opts.n, opts.seed, opts.batchSize, noiseScale),
      dataset: model.config.dataset,
      dataPath: model.config.data.path,
      step: model.step,
      checkpoint: path,
      details: {
        checkpoint_step: model.step,
        dataset: model.config.dataset,
        langevin: model.config.langevin,
        noise_scale: noiseScale,
        T: model.config.schedule.T,
        checkpoint: path,
      },
      dispose,
    };
  } catch (err) {
    dispose();
    throw err;
  }
}

/**
 * Samples the model's EMA weights (or reads a data split), computes the metrics and adds them to
 * the database.
 */
export async function evaluateRun(opts: EvaluateRunOptions): Promise<EvaluateRunResult> {
  if (!Number.isInteger(opts.n) || opts.n < 2) {
    throw new UserError(`--n must be at least 2 (got ${opts.n})`);
  }
  if (opts.metrics.includes("is") && opts.n < IS_SPLITS) {
    throw new UserError(`the Inception Score needs at least ${IS_SPLITS} samples (--n)`);
  }
  const subject = await openSubject(opts);
  const { run } = subject;
  try {
    let reference: ReferenceFeatures | null = null;
    let refSplit: string | null = null;
    if (opts.metrics.some((m) => m !== "is")) {
      const ds = await opts.openReference(subject.dataset, subject.dataPath);
      refSplit = ds.split;
      try {
        reference = await referenceFeatures({
          dataset: ds,
          extractor: opts.extractor,
          extractorVersion: opts.extractorVersion,
          count: opts.referenceCount,
          batchSize: opts.batchSize,
          cacheDir: opts.cacheDir,
          onProgress: opts.onProgress,
        });
      } finally {
        ds.close();
      }
    }
    const t0 = performance.now();
    const samples = await extractFeatures(opts.extractor, subject.source, {
      batchSize: opts.batchSize,
      onProgress: (done, total) => opts.onProgress?.("samples", done, total),
    });
    const sampleSeconds = (performance.now() - t0) / 1000;
    const values = await computeMetrics({
      metrics: opts.metrics,
      samples,
      reference: reference ?? undefined,
      seed: opts.seed,
      kid: opts.kid,
    });
    const common = {
      seed: opts.seed,
      ref_split: refSplit,
      extractor_version: opts.extractorVersion || null,
      ...subject.details,
    };
    for (const v of values) {
      const row: EvaluationRow = {
        runId: run.id,
        name: v.name,
        value: v.value,
        n: v.n,
        features: opts.extractor.name,
        details: { ...v.details, ...common },
      };
      await opts.db.addEvaluation(row);
    }
    if (run.task === "eval") await opts.db.setRunStatus(run.id, "completed");
    return {
      run,
      checkpoint: subject.checkpoint,
      step: subject.step,
      values,
      reference,
      sampleSeconds,
    };
  } finally {
    subject.dispose();
  }
}
