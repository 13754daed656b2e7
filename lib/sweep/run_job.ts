/**
 * One sweep job on a worker: the training of `deno task train` (lib/tasks/train.ts) for the job's
 * config, as the run whose uid the job fixed when the sweep was made. A job the queue hands out
 * again (its worker was killed or cut off) therefore continues that same run from its last
 * checkpoint in the sweep's shared folder; a run that already completed is not trained twice.
 *
 * What the queue is told: `completed`; `failed` (handed back: the worker stops, lost its claim or
 * its database, or the training hit an error another machine may not have, such as missing data;
 * the queue retries it, each hand-back using one of the sweep's retries); or `deadletter` (the
 * training diverged: from the same checkpoint it would again, so it is not retried).
 */
import type { JobResultStatus } from "pg-boss";
import type { BackendName } from "../backend.ts";
import type { ResultsDb } from "../db/mod.ts";
import { DB_WRITE_TIMEOUT_MS, withTimeout } from "../db/run_recorder.ts";
import { train } from "../tasks/train.ts";
import { TrainingDivergedError } from "../tasks/train_loop.ts";
import { settingLabel } from "./spec.ts";
import {
  clearUnfinishedEnd,
  endJob,
  getJob,
  getSweep,
  kyselyOf,
  reportProgress,
  takeJob,
} from "./store.ts";

/** A previous holder of the run's lease (a vanished worker) counts as gone after this long. */
export const SWEEP_LEASE_STALE_MS = 3 * 60_000;

export interface JobContext {
  db: ResultsDb;
  /** host:pid, written into the job's row. */
  worker: string;
  backend: BackendName;
  /** This machine's path of the shared folder, when it differs from the sweep's. */
  store?: string;
  /** Seconds between the job's progress writes (step, heartbeat). */
  progressSeconds: number;
  /** Aborted when the worker stops (SIGINT/SIGTERM). */
  shutdown: AbortSignal;
  log: (line: string) => void;
}

export interface JobOutcome {
  status: JobResultStatus;
  output: { state: string; step?: number; runId?: number; message?: string };
}

/** The outcome of a job the worker hands back to the queue (it will be retried). */
function handBack(message: string, step?: number): JobOutcome {
  return { status: "failed", output: { state: "queued", step, message } };
}

/** Which attempt the queue's claim is: pg-boss's retry count of the job. */
export interface Attempt {
  retryCount: number;
}

/**
 * Runs the sweep job `jobId` to its end, or until the worker stops, the queue takes the job back
 * (`claim` aborted: cancelled, or given to another worker) or the database stops answering for
 * `heartbeatSeconds`.
 */
export async function runSweepJob(
  ctx: JobContext,
  jobId: number,
  claim: AbortSignal,
  attempt: Attempt,
): Promise<JobOutcome> {
  const k = kyselyOf(ctx.db);
  if (ctx.shutdown.aborted) return handBack("the worker was stopping when it got the job");
  const job = await takeJob(k, jobId, ctx.worker);
  if (!job) {
    // Ended already (completed, failed, cancelled) or its sweep was cancelled: nothing to run.
    const state = (await getJob(k, jobId))?.state ?? "missing";
    ctx.log(`job ${jobId}: ${state}, nothing to do`);
    return { status: "completed", output: { state } };
  }
  const sweep = (await getSweep(k, job.sweepId))!;
  const tag = `[sweep ${sweep.id} job ${job.index}]`;
  const log = (line: string) => ctx.log(`${tag} ${line}`);
  // On its last try a job handed back is not handed out again: it ends failed.
  const lastTry = attempt.retryCount >= sweep.spec.retries;
  const giveBack = async (message: string, step: number): Promise<JobOutcome> => {
    const state = lastTry ? "failed" : "queued";
    const text = lastTry ? `${message}; no retries left` : message;
    // A cancelled sweep's job stays cancelled (endJob leaves a cancel as it is).
    await endJob(k, job.id, ctx.worker, state, { step, message: text }).catch(() => {});
    log(text);
    return handBack(text, step);
  };
  log(
    `${settingLabel(job.setting)} seed ${job.seed}, attempt ${job.attempts}, run ${job.runUid}`,
  );

  const existing = await ctx.db.getRunByUid(job.runUid);
  if (existing?.status === "completed") {
    // Its worker finished training but vanished before saying so: the run is done, exactly once.
    await endJob(k, job.id, ctx.worker, "completed", { step: job.config.train.iterations });
    log(`run ${existing.id} had already completed`);
    return { status: "completed", output: { state: "completed", runId: existing.id } };
  }
  if (existing) await clearUnfinishedEnd(k, existing.id);

  const stop = new AbortController();
  // Reasons read as "stopped by <reason>" in the run's status message.
  const onClaimLost = () => stop.abort("the queue (the job was cancelled or handed out again)");
  const onShutdown = () => stop.abort("the worker's stop");
  claim.addEventListener("abort", onClaimLost, { once: true });
  ctx.shutdown.addEventListener("abort", onShutdown, { once: true });
  const heartbeatMs = sweep.spec.heartbeatSeconds * 1000;
  let step = job.step;
  let lastContact = Date.now();
  // The worker's own heartbeat, by time and not by step: the database sees one small UPDATE every
  // progressSeconds per job however fast training steps. Without an answer for heartbeatSeconds
  // the queue will hand the job to someone else, so this worker stops training it.
  const timer = setInterval(() => {
    withTimeout(reportProgress(k, job.id, ctx.worker, step), DB_WRITE_TIMEOUT_MS, "no answer")
      .then(() => {
        lastContact = Date.now();
      })
      .catch(() => {
        if (Date.now() - lastContact > heartbeatMs) {
          stop.abort(`a lost database (no answer for ${sweep.spec.heartbeatSeconds} s)`);
        }
      });
  }, ctx.progressSeconds * 1000);
  try {
    const summary = await train({
      config: job.config,
      runUid: job.runUid,
      resultsDir: ctx.store ?? sweep.store,
      db: ctx.db,
      backend: ctx.backend,
      signal: stop.signal,
      onStep: (s) => step = s,
      lease: { staleAfterMs: SWEEP_LEASE_STALE_MS, waitMs: SWEEP_LEASE_STALE_MS + 60_000 },
      log,
    });
    if (summary.status === "completed") {
      await endJob(k, job.id, ctx.worker, "completed", { step: summary.steps });
      log(`completed: run ${summary.runId}, ${summary.steps} steps`);
      return {
        status: "completed",
        output: { state: "completed", step: summary.steps, runId: summary.runId },
      };
    }
    const why = String(stop.signal.reason ?? "a signal");
    return await giveBack(
      `handed back at step ${summary.steps} (stopped by ${why})`,
      summary.steps,
    );
  } catch (err) {
    const message = (err as Error).message.split("\n")[0];
    if (err instanceof TrainingDivergedError) {
      await endJob(k, job.id, ctx.worker, "failed", { step, message }).catch(() => {});
      log(`failed: ${message}`);
      return { status: "deadletter", output: { state: "failed", step, message } };
    }
    return await giveBack(`handed back: ${message}`, step);
  } finally {
    clearInterval(timer);
    claim.removeEventListener("abort", onClaimLost);
    ctx.shutdown.removeEventListener("abort", onShutdown);
  }
}
