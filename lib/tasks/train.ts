/**
 * A training run end to end: backend choice, the run's folder and database row, the loop with
 * per-level logs, checkpoints and the divergence guard, resume, and the final evaluation. A run
 * that dies is marked failed; one interrupted by a signal is checkpointed and marked stopped.
 */
import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import { type BackendChoice, type BackendInfo, initBackend, type Probe } from "../backend.ts";
import type { TrainConfig } from "../config.ts";
import { dataSourceFor } from "../data/source.ts";
import type { MetricRow, ResultsDb } from "../db/mod.ts";
import { openResultsDbOrFallback } from "../db/mod.ts";
import { JOURNAL_FILE } from "../db/journal.ts";
import { RunRecorder } from "../db/run_recorder.ts";
import { UserError } from "../errors.ts";
import { evaluateToy2dRun, evaluationRows } from "./toy2d_report.ts";
import { gitCommit } from "../git.ts";
import { loadCheckpoint } from "../io/checkpoint.ts";
import { createProgress } from "../io/progress.ts";
import { countParams } from "../nets/mod.ts";
import { Rng } from "../rng.ts";
import { divergence, LEVEL_METRICS, LevelStats, makeTrainStep } from "../train_step.ts";
import {
  createTrainState,
  disposeTrainState,
  restoreTrainState,
  saveTrainState,
  type TrainState,
} from "../train_state.ts";
import { writeImageSamples } from "./image_grids.ts";
import { copyFileAtomic, removeStaleTemporaries } from "../io/atomic.ts";
import { defaultThreads } from "../kernels/native.ts";
import { ShardPool } from "../parallel/shard_pool.ts";
import { RUN_CONFIG_FILE, runCheckpointPath, runFigurePath, runSamplesPath } from "../run_files.ts";

export interface TrainOptions {
  /** A new run's config (frozen). */
  config?: TrainConfig;
  /** Or the id of a run to continue from its last checkpoint. */
  resume?: number;
  /**
   * Or a training checkpoint file to continue as a new run of this database (e.g. one committed
   * with a shipped model, on a machine that never saw its run): same config, same state.
   */
  continueFrom?: string;
  /** On resume or continue: train up to this many iterations in total (default: the run's own). */
  iterations?: number;
  backend: BackendChoice;
  resultsDir: string;
  /** SQLite file (default <resultsDir>/results.db); DATABASE_URL selects PostgreSQL. */
  dbPath?: string;
  /** An open results database to use instead (the caller closes it). */
  db?: ResultsDb;
  /**
   * Worker processes for the shards of a step (config.train.shards > 1, host backends): default
   * one per core, at most one per shard; 0 computes the shards in turn here. The numbers are the
   * same either way.
   */
  workers?: number;
  log?: (line: string) => void;
}

export interface TrainSummary {
  runId: number;
  status: "completed" | "stopped";
  steps: number;
  secondsPerStep: number;
  backend: BackendInfo;
  evaluation: { name: string; value: number }[];
  figures: string[];
  checkpoint: string;
  /** The journal of writes the database did not take (it was lost mid-run), or null. */
  journal: string | null;
  runDir: string;
}

/** Fails early, with a clear message, when the results folder cannot be written. */
async function ensureWritable(dir: string): Promise<void> {
  try {
    await Deno.mkdir(dir, { recursive: true });
    const probe = join(dir, `.write-test-${Deno.pid}`);
    await Deno.writeTextFile(probe, "");
    await Deno.remove(probe);
  } catch (err) {
    throw new UserError(
      `cannot write to the results folder ${dir} (${(err as Error).name}); ` +
        `make it writable or pick another one with --results DIR`,
    );
  }
}

/** One short training step on a throwaway model: the workload the backend choice is timed on. */
function backendProbe(config: TrainConfig): Probe {
  const probeConfig: TrainConfig = {
    ...config,
    langevin: { ...config.langevin, steps: 1 },
    train: { ...config.train, batch: Math.min(config.train.batch, 16) },
  };
  const s = createTrainState(probeConfig);
  const step = makeTrainStep(probeConfig, s.net, s.st, s.adam, s.ema, new Rng(1));
  const n = probeConfig.train.batch;
  const shape = config.net.kind === "resnet"
    ? [n, config.net.imageSize, config.net.imageSize, config.net.channels]
    : [n, config.net.inputDim];
  return {
    run: async () => {
      const x = tf.zeros(shape);
      await step(x);
      x.dispose();
    },
    dispose: () => disposeTrainState(s),
  };
}

/** The worker pool for a run's shards, or null where the shards are computed in turn here. */
async function shardPoolFor(
  config: TrainConfig,
  backend: string,
  workers: number | undefined,
  log: (line: string) => void,
): Promise<ShardPool | null> {
  const shards = config.train.shards ?? 1;
  // On WebGPU the device is the parallel part; the workers are for CPU cores.
  if (shards < 2 || (backend !== "wasm" && backend !== "cpu")) return null;
  const size = Math.min(shards, workers ?? defaultThreads());
  if (size < 2) return null;
  const pool = await ShardPool.create(config, size, backend);
  log(`${shards} shards a step on ${size} worker processes (one native thread each)`);
  return pool;
}

export async function train(opts: TrainOptions): Promise<TrainSummary> {
  const log = opts.log ?? ((line: string) => console.log(line));
  await ensureWritable(opts.resultsDir);
  if (opts.db) return await trainWithDb(opts, opts.db, log);
  const db = await openResultsDbOrFallback({
    path: opts.dbPath ?? join(opts.resultsDir, "results.db"),
    warn: log,
  });
  try {
    return await trainWithDb(opts, db, log);
  } finally {
    // A database lost mid-run may fail to close too; the run's rows are in its journal then.
    await db.close().catch((err) => log(`warning: closing the results database: ${err.message}`));
  }
}

async function trainWithDb(
  opts: TrainOptions,
  db: ResultsDb,
  log: (line: string) => void,
): Promise<TrainSummary> {
  // Resolve the run: a new one, or an existing one with its last checkpoint.
  let config: TrainConfig;
  let runId: number;
  let runDir: string;
  let resumeFrom: string | null = null;
  if (opts.resume !== undefined) {
    const run = await db.getRun(opts.resume);
    if (!run) {
      throw new UserError(
        `no run ${opts.resume} in ${db.location}; list runs with: deno task compare`,
      );
    }
    if (!run.dir) throw new UserError(`run ${opts.resume} has no folder to resume from`);
    resumeFrom = runCheckpointPath(run.dir);
    try {
      await Deno.stat(resumeFrom);
    } catch {
      throw new UserError(
        `run ${opts.resume} has no checkpoint at ${resumeFrom} (it died before its first one); ` +
          `start a new run instead`,
      );
    }
    config = run.config as TrainConfig;
    if (opts.iterations !== undefined) {
      config = { ...config, train: { ...config.train, iterations: opts.iterations } };
    }
    runId = run.id;
    runDir = run.dir;
  } else if (opts.continueFrom !== undefined) {
    resumeFrom = opts.continueFrom;
    const ckpt = await loadCheckpoint(resumeFrom);
    const stored = ckpt.meta.config as TrainConfig | undefined;
    if (!stored?.train || !ckpt.tensors.has("adam.m")) {
      throw new UserError(
        `${resumeFrom} is not a training checkpoint (a model file holds only EMA weights); ` +
          `continue from a run's checkpoint.ckpt`,
      );
    }
    config = stored;
    if (opts.iterations !== undefined) {
      config = { ...config, train: { ...config.train, iterations: opts.iterations } };
    }
    runId = -1;
    runDir = "";
  } else {
    if (!opts.config) throw new Error("train() needs a config or a run to resume");
    config = opts.config;
    runId = -1;
    runDir = "";
  }

  const backend = await initBackend(opts.backend, () => backendProbe(config));
  log(`backend: ${backend.backend} (${backend.adapter}); ${backend.reason}`);

  const commit = await gitCommit();
  if (runId < 0) {
    runId = await db.createRun({
      task: config.task,
      preset: config.preset,
      config,
      gitCommit: commit,
      backend: backend.backend,
      adapter: backend.adapter,
      seed: config.seed,
      dir: null,
    });
    runDir = join(opts.resultsDir, "runs", String(runId));
    await Deno.mkdir(runDir, { recursive: true });
    await db.setRunDir(runId, runDir);
    await Deno.writeTextFile(
      join(runDir, RUN_CONFIG_FILE),
      JSON.stringify(config, null, 2) + "\n",
    );
  }
  const ckptPath = runCheckpointPath(runDir);
  // From here the run has a row: a failure before the loop (a missing or broken data set, an
  // unreadable checkpoint) marks it failed with the reason instead of leaving it "running".
  let state: TrainState | undefined;
  let rec: RunRecorder;
  let source: Awaited<ReturnType<typeof dataSourceFor>>;
  // A resume that cannot start leaves the run's status as it was (its files did not change).
  let running = !resumeFrom || opts.continueFrom !== undefined;
  try {
    await removeStaleTemporaries(runDir);
    const runUid = (await db.getRun(runId))!.uid;
    rec = new RunRecorder(db, runId, runUid, join(runDir, JOURNAL_FILE), log);
    if (resumeFrom) {
      state = restoreTrainState(await loadCheckpoint(resumeFrom), resumeFrom, config);
      // Rows logged after the checkpoint belong to steps that will run again.
      await rec.deleteMetricsAfter(state.step);
      await rec.setRunStatus(
        "running",
        opts.continueFrom
          ? `continued from ${opts.continueFrom} at step ${state.step}`
          : `resumed at step ${state.step}`,
      );
      running = true;
      log(
        `${
          opts.continueFrom ? "continuing" : "resuming"
        } run ${runId} at step ${state.step} from ${resumeFrom}`,
      );
    } else {
      state = createTrainState(config);
    }
    source = await dataSourceFor(config, state.step);
  } catch (err) {
    if (state) disposeTrainState(state);
    if (running) {
      const why = (err as Error).message.split("\n")[0];
      await db.setRunStatus(runId, "failed", why).catch(() => {});
    }
    throw err;
  }
  log(
    `run ${runId}: ${config.preset} (${config.dataset}), ${countParams(state.net)} parameters, ` +
      `T=${config.schedule.T} (${config.schedule.kind}), K=${config.langevin.steps} ` +
      `${config.langevin.sampler}, folder ${runDir}`,
  );

  let stopSignal: string | null = null;
  const onSignal = (name: string) => () => {
    if (stopSignal) {
      // Exiting now could cut the last checkpoint in half: the stop is already under way.
      log(`${name} again: finishing the step and the last checkpoint, then stopping`);
      return;
    }
    stopSignal = name;
  };
  const handlers = (["SIGINT", "SIGTERM"] as const).map((sig) => {
    const h = onSignal(sig);
    Deno.addSignalListener(sig, h);
    return [sig, h] as const;
  });

  const pool = await shardPoolFor(config, backend.backend, opts.workers, log);
  const trainStep = makeTrainStep(config, state.net, state.st, state.adam, state.ema, state.rng, {
    pool: pool ?? undefined,
  });
  const stats = new LevelStats(config.schedule.T);
  const pending: MetricRow[] = [];
  const progress = createProgress(config.train.iterations, state.step, { write: log });
  const figures: string[] = [];
  const startStep = state.step;
  const t0 = performance.now();

  // Configs written before keepEvery existed have no such field: no kept copies.
  const keepEvery = config.train.keepEvery ?? 0;
  const checkpoint = async () => {
    // Rows first, then the checkpoint: a kill in between leaves rows past the checkpoint, which a
    // resume deletes and logs again, so the database always matches what training did.
    await rec.logMetrics(pending.splice(0));
    await saveTrainState(ckptPath, state, commit, { runId });
    if (keepEvery > 0 && state.step % keepEvery === 0) {
      const kept = runCheckpointPath(runDir, state.step);
      await copyFileAtomic(ckptPath, kept);
      await rec.addArtifact({ kind: "checkpoint", path: kept, step: state.step });
    }
  };

  const summary = (
    status: "completed" | "stopped",
    evaluation: { name: string; value: number }[],
    secondsPerStep: number,
  ): TrainSummary => {
    if (rec.lost) {
      log(
        `the results database was lost during run ${runId}; load its rows with: ${rec.replayHint()}`,
      );
    }
    return {
      runId,
      status,
      steps: state.step,
      secondsPerStep,
      backend,
      evaluation,
      figures,
      checkpoint: ckptPath,
      runDir,
      journal: rec.lost ? rec.journalPath : null,
    };
  };

  try {
    while (state.step < config.train.iterations) {
      // Signal listeners run as event-loop tasks, which a loop of resolved promises (the wasm
      // and cpu backends) never lets in: yield once per step so a stop is seen within a step.
      await new Promise((resolve) => setTimeout(resolve, 0));
      if (stopSignal) break;
      const x0 = await source.next(config.train.batch, state.rng);
      const r = await trainStep(x0);
      x0.dispose();
      const bad = divergence(r.meanLoss, config.train.lossLimit);
      if (bad) {
        await rec.logMetrics(pending.splice(0));
        const message = `training diverged at step ${state.step + 1}: ${bad}; the last good ` +
          `checkpoint is kept in ${ckptPath}; lower --b2 or --lr, or set --grad-clip`;
        await rec.setRunStatus("failed", message);
        throw new UserError(message);
      }
      state.step++;
      stats.add(r);
      const elapsed = (performance.now() - t0) / 1000;
      const perStep = elapsed / (state.step - startStep);
      progress.update(state.step, `loss ${r.meanLoss.toFixed(4)} | ${perStep.toFixed(3)} s/it`);
      if (state.step % config.train.logEvery === 0 || state.step === config.train.iterations) {
        const f = stats.flush();
        for (const l of f.perLevel) {
          for (const m of LEVEL_METRICS) {
            pending.push({ runId, step: state.step, level: l.level, name: m, value: l.values[m] });
          }
        }
        const meanLoss = f.perLevel.reduce((s, l) => s + l.values.loss, 0) / f.perLevel.length;
        pending.push(
          { runId, step: state.step, level: null, name: "loss", value: meanLoss },
          { runId, step: state.step, level: null, name: "grad_norm", value: f.gradNorm },
          { runId, step: state.step, level: null, name: "lr", value: state.adam.learningRate() },
          { runId, step: state.step, level: null, name: "seconds_per_step", value: perStep },
        );
        const levels = f.perLevel.map((l) =>
          `${l.level}:${l.values.loss.toFixed(3)}/${l.values.acceptance.toFixed(2)}`
        ).join(" ");
        progress.log(
          `step ${state.step}/${config.train.iterations} loss ${meanLoss.toFixed(4)} ` +
            `grad ${f.gradNorm.toFixed(2)} ${
              perStep.toFixed(3)
            } s/it | level:loss/accept ${levels}`,
        );
      }
      if (
        state.step % config.train.checkpointEvery === 0 ||
        (keepEvery > 0 && state.step % keepEvery === 0)
      ) await checkpoint();
      if (
        config.task === "images" && config.train.sampleEvery > 0 &&
        state.step % config.train.sampleEvery === 0
      ) {
        const path = runSamplesPath(runDir, state.step);
        await state.ema.withEmaWeights(() => writeImageSamples(config, state.net, state.st, path));
        await rec.addArtifact({ kind: "grid", path, step: state.step });
        figures.push(path);
      }
    }
    progress.stop();
    await checkpoint();
    await rec.addArtifact({ kind: "checkpoint", path: ckptPath, step: state.step });
    const perStep = state.step > startStep
      ? (performance.now() - t0) / 1000 / (state.step - startStep)
      : NaN;
    if (stopSignal) {
      await rec.setRunStatus("stopped", `stopped by ${stopSignal} at step ${state.step}`);
      log(`stopped by ${stopSignal} at step ${state.step}; resume with --resume ${runId}`);
      return summary("stopped", [], perStep);
    }

    log(`evaluating run ${runId} ...`);
    const evaluation: { name: string; value: number }[] = [];
    if (config.task === "toy2d") {
      const figurePath = runFigurePath(runDir);
      const report = await state.ema.withEmaWeights(() =>
        evaluateToy2dRun(config, state.net, state.st, figurePath)
      );
      for (const row of evaluationRows(report.evaluation)) {
        await rec.addEvaluation(row);
        evaluation.push({ name: row.name, value: row.value });
      }
      await rec.addArtifact({ kind: "figure", path: figurePath, step: state.step });
      figures.push(figurePath);
      await rec.logMetrics(report.levelStats.flatMap((l) => [
        { runId, step: state.step, level: l.level, name: "eval_acceptance", value: l.acceptance },
        {
          runId,
          step: state.step,
          level: l.level,
          name: "eval_displacement",
          value: l.displacement,
        },
      ]));
    } else {
      const path = runSamplesPath(runDir);
      await state.ema.withEmaWeights(() => writeImageSamples(config, state.net, state.st, path));
      await rec.addArtifact({ kind: "grid", path, step: state.step });
      figures.push(path);
    }
    await rec.setRunStatus("completed");
    return summary("completed", evaluation, perStep);
  } catch (err) {
    progress.stop();
    if (rec.status === "running") {
      await rec.logMetrics(pending.splice(0)).catch(() => {});
      await rec.setRunStatus("failed", (err as Error).message.split("\n")[0]).catch(() => {});
    }
    throw err;
  } finally {
    for (const [sig, h] of handlers) Deno.removeSignalListener(sig, h);
    pool?.close();
    source.close?.();
    disposeTrainState(state);
  }
}
