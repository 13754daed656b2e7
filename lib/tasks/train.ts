/**
 * A training run end to end (`deno task train`): which run (train_setup.ts), the backend, the
 * run's row and folder, its state and data, the loop (train_loop.ts) and the end-of-run
 * evaluation (train_finish.ts). A run that dies is marked failed; one interrupted by a signal is
 * checkpointed and marked stopped.
 */
import { join } from "node:path";
import { type BackendChoice, type BackendInfo, initBackend } from "../backend.ts";
import type { TrainConfig } from "../config.ts";
import type { ResultsDb } from "../db/mod.ts";
import { dbOptionsFor, openResultsDbOrFallback } from "../db/mod.ts";
import type { LeaseOptions } from "../db/lease.ts";
import { DB_WRITE_TIMEOUT_MS, withTimeout } from "../db/run_recorder.ts";
import { gitCommit } from "../git.ts";
import { countParams } from "../nets/mod.ts";
import { runCheckpointPath } from "../run_files.ts";
import { finishRun } from "./train_finish.ts";
import { runTrainingLoop } from "./train_loop.ts";
import { backendProbe, ensureWritable, openRun, openRunRow, planRun } from "./train_setup.ts";

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
  /**
   * A run whose uid is fixed in advance (a sweep's job, lib/sweep): created with this uid and
   * `config` when no run has it yet; otherwise that run goes on from its last checkpoint in
   * <resultsDir>/runs/<uid>, or from step 0 when it died before its first one.
   */
  runUid?: string;
  /** On resume or continue: train up to this many iterations in total (default: the run's own). */
  iterations?: number;
  /** Default: the run's own backend on resume, else "auto". */
  backend?: BackendChoice;
  resultsDir: string;
  /**
   * The results database: a SQLite path or a URL (postgres://..., sqlite:PATH); default
   * DATABASE_URL, else <resultsDir>/results.db.
   */
  dbPath?: string;
  /** An open results database to use instead (the caller closes it). */
  db?: ResultsDb;
  /**
   * Worker processes for the shards of a step (config.train.shards > 1, host backends): default
   * one per core, at most one per shard; 0 computes the shards in turn here. The numbers are the
   * same either way.
   */
  workers?: number;
  /**
   * Stops training as SIGTERM does (within the step, checkpoint, status `stopped`); the reason,
   * when a string, names the stop (a sweep's worker: "cancel", "lost the queue").
   */
  signal?: AbortSignal;
  /** Called after every step with the step reached (cheap: a sweep's worker throttles its writes). */
  onStep?: (step: number) => void;
  /** How the run's lease (lib/db/lease.ts) judges and waits for a previous holder. */
  lease?: LeaseOptions;
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

/**
 * Trains a run to its last step (or a signal), with checkpoints, database rows and the end-of-run
 * evaluation.
 *
 * @example
 * ```ts
 * const summary = await train({
 *   config: buildConfig("checkerboard", { iterations: "2000" }),
 *   backend: "auto",
 *   resultsDir: "results",
 * });
 * console.log(summary.evaluation, summary.figures);
 * ```
 */
export async function train(opts: TrainOptions): Promise<TrainSummary> {
  const log = opts.log ?? ((line: string) => console.log(line));
  await ensureWritable(opts.resultsDir);
  if (opts.db) return await trainWithDb(opts, opts.db, log);
  // --db takes a SQLite path or a URL (postgres://..., sqlite:PATH), as every other task's.
  const db = await openResultsDbOrFallback({
    path: join(opts.resultsDir, "results.db"),
    ...dbOptionsFor(opts.dbPath),
    warn: log,
  });
  try {
    return await trainWithDb(opts, db, log);
  } finally {
    // A database lost mid-run may fail to close, or never answer; its rows are in the journal.
    await withTimeout(db.close(), DB_WRITE_TIMEOUT_MS, "the database did not close")
      .catch((err) => log(`warning: closing the results database: ${err.message}`));
  }
}

/** Plan, backend, row, state, loop, end: each part in its own function (train_*.ts). */
async function trainWithDb(
  opts: TrainOptions,
  db: ResultsDb,
  log: (line: string) => void,
): Promise<TrainSummary> {
  const plan = await planRun(opts, db, opts.resultsDir);
  const { config } = plan;
  // A resumed run continues on its own backend unless told otherwise: backends differ in their
  // last bits, and "auto" could time another one faster today.
  const choice = opts.backend ?? plan.backend ?? "auto";
  const backend = await initBackend(choice, () => backendProbe(config));
  const why = opts.backend === undefined && plan.backend
    ? "the run's own backend (--backend to change it)"
    : backend.reason;
  log(`backend: ${backend.backend} (${backend.adapter}); ${why}`);
  const commit = await gitCommit();
  const { runId, runDir } = await openRunRow(plan, db, opts.resultsDir, backend, commit);
  const run = await openRun(plan, runId, runDir, db, backend.backend, {
    workers: opts.workers,
    lease: opts.lease,
    log,
  });
  const { state, rec } = run;
  log(
    `run ${runId}: ${config.preset} (${config.dataset}), ${countParams(state.net)} parameters, ` +
      `T=${config.schedule.T} (${config.schedule.kind}), K=${config.langevin.steps} ` +
      `${config.langevin.sampler}, folder ${runDir}`,
  );
  const summary = (
    status: "completed" | "stopped",
    evaluation: { name: string; value: number }[],
    secondsPerStep: number,
    figures: string[],
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
      checkpoint: runCheckpointPath(runDir),
      runDir,
      journal: rec.lost ? rec.journalPath : null,
    };
  };
  try {
    const runUid = (await db.getRun(runId))!.uid;
    const loop = await runTrainingLoop({
      config,
      runId,
      runUid,
      runDir,
      run,
      commit,
      log,
      signal: opts.signal,
      onStep: opts.onStep,
    });
    if (loop.stoppedBy) {
      await rec.setRunStatus("stopped", `stopped by ${loop.stoppedBy} at step ${state.step}`);
      log(`stopped by ${loop.stoppedBy} at step ${state.step}; resume with --resume ${runId}`);
      return summary("stopped", [], loop.secondsPerStep, loop.figures);
    }
    log(`evaluating run ${runId} ...`);
    const end = await finishRun(config, state, rec, runId, runDir);
    await rec.setRunStatus("completed");
    return summary("completed", end.evaluation, loop.secondsPerStep, [
      ...loop.figures,
      ...end.figures,
    ]);
  } catch (err) {
    if (rec.status === "running") {
      await rec.setRunStatus("failed", (err as Error).message.split("\n")[0]).catch(() => {});
    }
    throw err;
  } finally {
    await run.close();
  }
}
