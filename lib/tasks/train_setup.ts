/**
 * Before a training run's first step: which run it is (new, resumed, or a checkpoint file
 * continued), its database row and folder, its starting state, data and worker processes. Any
 * failure once the row exists marks the run failed with the reason.
 */
import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import { BACKEND_CHOICES, type BackendInfo, type BackendName, type Probe } from "../backend.ts";
import type { TrainConfig } from "../config.ts";
import { type DataSource, dataSourceFor } from "../data/source.ts";
import type { ResultsDb, RunRecord } from "../db/mod.ts";
import { JOURNAL_FILE } from "../db/journal.ts";
import { type LeaseOptions, RunLeaseHolder } from "../db/lease.ts";
import { RunRecorder } from "../db/run_recorder.ts";
import { UserError } from "../errors.ts";
import { removeStaleTemporaries } from "../io/atomic.ts";
import { loadCheckpoint } from "../io/checkpoint.ts";
import { defaultThreads } from "../kernels/native.ts";
import { ShardPool } from "../parallel/shard_pool.ts";
import { Rng } from "../rng.ts";
import {
  checkCheckpointOwner,
  checkedRunDir,
  RUN_CONFIG_FILE,
  runCheckpointPath,
  runFolder,
} from "../run_files.ts";
import { makeTrainStep } from "../train_step.ts";
import {
  createTrainState,
  disposeTrainState,
  restoreTrainState,
  type TrainState,
} from "../train_state.ts";
import { exists } from "../io/exists.ts";

/** Fails early, with a clear message, when the results folder cannot be written. */
export async function ensureWritable(dir: string): Promise<void> {
  try {
    await Deno.mkdir(dir, { recursive: true });
    // Unique per call: a sweep's worker starts several runs in one process side by side.
    const probe = join(dir, `.write-test-${Deno.pid}-${crypto.randomUUID()}`);
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
export function backendProbe(config: TrainConfig): Probe {
  const probeConfig: TrainConfig = {
    ...config,
    langevin: { ...config.langevin, steps: 1 },
    train: { ...config.train, batch: Math.min(config.train.batch, 16), shards: 1 },
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

/** Which run this is, before any row or file exists. */
export interface RunPlan {
  config: TrainConfig;
  /** The backend the run trained on so far (resume), to continue on unless told otherwise. */
  backend: BackendName | null;
  /** An existing run (resume), or null for a new row. */
  existing: { id: number; dir: string } | null;
  /** The checkpoint the state comes from (resume or continue), or null for a fresh state. */
  startFrom: string | null;
  /** A checkpoint file continued as a new run. */
  continued: boolean;
  /** A new run's uid when it is fixed in advance (TrainOptions.runUid). */
  uid?: string;
}

export interface PlanOptions {
  config?: TrainConfig;
  resume?: number;
  continueFrom?: string;
  runUid?: string;
  iterations?: number;
}

/**
 * The run of a uid fixed in advance: new, or the existing one from its last checkpoint, or from
 * step 0 when it has none (it died before its first). The folder comes from the uid under this
 * machine's results folder, not from the row: a shared folder may be mounted elsewhere here.
 */
async function planRunByUid(
  uid: string,
  opts: PlanOptions,
  db: ResultsDb,
  resultsDir: string,
): Promise<RunPlan> {
  const run = await db.getRunByUid(uid);
  if (!run) {
    if (!opts.config) throw new Error("train() needs a config for a new run");
    return {
      config: opts.config,
      backend: null,
      existing: null,
      startFrom: null,
      continued: false,
      uid,
    };
  }
  if (run.status === "completed") {
    throw new UserError(`run ${run.id} (${uid}) is already completed; it is not trained again`);
  }
  const dir = await checkedRunDir({ ...run, dir: runFolder(resultsDir, uid) }, resultsDir);
  const checkpoint = runCheckpointPath(dir);
  const startFrom = (await exists(checkpoint)) ? checkpoint : null;
  if (startFrom) await checkCheckpointOwner(startFrom, run);
  return existingRunPlan(run, dir, startFrom, opts);
}

/** The plan that continues an existing run in its folder, on its own backend. */
function existingRunPlan(
  run: RunRecord,
  dir: string,
  startFrom: string | null,
  opts: PlanOptions,
): RunPlan {
  return {
    config: withIterations(run.config as TrainConfig, opts.iterations),
    backend: (BACKEND_CHOICES as readonly string[]).includes(run.backend)
      ? run.backend as BackendName
      : null,
    existing: { id: run.id, dir },
    startFrom,
    continued: false,
  };
}

function withIterations(config: TrainConfig, iterations: number | undefined): TrainConfig {
  return iterations === undefined ? config : { ...config, train: { ...config.train, iterations } };
}

/** A new run, an existing one with its last checkpoint, or a checkpoint file continued. */
export async function planRun(
  opts: PlanOptions,
  db: ResultsDb,
  resultsDir: string,
): Promise<RunPlan> {
  if (opts.runUid !== undefined) return await planRunByUid(opts.runUid, opts, db, resultsDir);
  if (opts.resume !== undefined) {
    const run = await db.getRun(opts.resume);
    if (!run) {
      throw new UserError(
        `no run ${opts.resume} in ${db.location}; list runs with: deno task compare`,
      );
    }
    if (!run.dir) throw new UserError(`run ${opts.resume} has no folder to resume from`);
    // Training writes into the folder: it must be a real folder inside the results folder.
    const dir = await checkedRunDir(run, resultsDir);
    const startFrom = runCheckpointPath(dir);
    try {
      await Deno.stat(startFrom);
    } catch {
      throw new UserError(
        `run ${opts.resume} has no checkpoint at ${startFrom} (it died before its first one); ` +
          `start a new run instead`,
      );
    }
    // The checkpoint must be this run's own, not one of a run of another database.
    await checkCheckpointOwner(startFrom, run);
    return existingRunPlan(run, dir, startFrom, opts);
  }
  if (opts.continueFrom !== undefined) {
    const ckpt = await loadCheckpoint(opts.continueFrom);
    const stored = ckpt.meta.config as TrainConfig | undefined;
    if (!stored?.train || !ckpt.tensors.has("adam.m")) {
      throw new UserError(
        `${opts.continueFrom} is not a training checkpoint (a model file holds only EMA ` +
          `weights); continue from a run's checkpoint.ckpt`,
      );
    }
    return {
      config: withIterations(stored, opts.iterations),
      backend: null,
      existing: null,
      startFrom: opts.continueFrom,
      continued: true,
    };
  }
  if (!opts.config) throw new Error("train() needs a config or a run to resume");
  return { config: opts.config, backend: null, existing: null, startFrom: null, continued: false };
}

/** The run's row and folder: the existing ones, or new ones with the config written beside. */
export async function openRunRow(
  plan: RunPlan,
  db: ResultsDb,
  resultsDir: string,
  backend: BackendInfo,
  commit: string | null,
): Promise<{ runId: number; runDir: string }> {
  if (plan.existing) return { runId: plan.existing.id, runDir: plan.existing.dir };
  const { config } = plan;
  const runId = await db.createRun({
    task: config.task,
    preset: config.preset,
    config,
    gitCommit: commit,
    backend: backend.backend,
    adapter: backend.adapter,
    seed: config.seed,
    dir: null,
    uid: plan.uid,
  });
  const runDir = runFolder(resultsDir, (await db.getRun(runId))!.uid);
  await Deno.mkdir(runDir, { recursive: true });
  await db.setRunDir(runId, runDir);
  await Deno.writeTextFile(join(runDir, RUN_CONFIG_FILE), JSON.stringify(config, null, 2) + "\n");
  return { runId, runDir };
}

/** The run's worker processes for its shards, or null where the shards are computed here. */
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

/** What the loop works with. */
export interface OpenRun {
  state: TrainState;
  rec: RunRecorder;
  source: DataSource;
  pool: ShardPool | null;
  /** This process's lease on the run: one trainer per run (lib/db/lease.ts). */
  lease: RunLeaseHolder;
  /** Releases the lease and everything else. */
  close(): Promise<void>;
}

/**
 * The starting state (fresh, or restored with the rows past its checkpoint deleted), the recorder,
 * the data stream and the worker processes. Temporary files of writes a kill cut short go first.
 */
export async function openRun(
  plan: RunPlan,
  runId: number,
  runDir: string,
  db: ResultsDb,
  backend: string,
  opts: { workers?: number; lease?: LeaseOptions; log: (line: string) => void },
): Promise<OpenRun> {
  const { config, startFrom } = plan;
  let state: TrainState | undefined;
  let source: DataSource | undefined;
  // One trainer per run: a second process resuming it is refused here, before it touches a file.
  const lease = await RunLeaseHolder.acquire(db, runId, opts.lease);
  if (lease.tookOver) opts.log(`run ${runId}: ${lease.tookOver}`);
  // A resume that cannot start leaves the run's status as it was (its files did not change).
  let running = !plan.existing;
  try {
    await removeStaleTemporaries(runDir);
    const runUid = (await db.getRun(runId))!.uid;
    const rec = new RunRecorder(db, runId, runUid, join(runDir, JOURNAL_FILE), opts.log);
    if (startFrom) {
      state = restoreTrainState(await loadCheckpoint(startFrom), startFrom, config);
      // Rows logged after the checkpoint belong to steps that will run again.
      await rec.deleteMetricsAfter(state.step);
      const how = plan.continued ? "continued from" : "resumed from";
      await rec.setRunStatus("running", `${how} ${startFrom} at step ${state.step}`);
      running = true;
      opts.log(`run ${runId} ${how} ${startFrom} at step ${state.step}`);
    } else {
      state = createTrainState(config);
      if (plan.existing) {
        // A run with a fixed uid that died before its first checkpoint starts again from step 0;
        // rows its first attempt flushed (just before that checkpoint) belong to steps run again.
        await rec.deleteMetricsAfter(0);
        await rec.setRunStatus("running", "started again from step 0 (it had no checkpoint)");
        running = true;
        opts.log(`run ${runId} started again from step 0: it died before its first checkpoint`);
      }
    }
    source = await dataSourceFor(config, state.step);
    const pool = await shardPoolFor(config, backend, opts.workers, opts.log);
    const opened = { state, source };
    return {
      state,
      rec,
      source,
      pool,
      lease,
      close: async () => {
        pool?.close();
        opened.source.close?.();
        disposeTrainState(opened.state);
        // A database lost mid-run cannot take the release; its lease goes stale instead.
        if (!rec.lost) await lease.release().catch(() => {});
      },
    };
  } catch (err) {
    source?.close?.();
    if (state) disposeTrainState(state);
    await lease.release().catch(() => {});
    if (running) {
      const why = (err as Error).message.split("\n")[0];
      await db.setRunStatus(runId, "failed", why).catch(() => {});
    }
    throw err;
  }
}
