/**
 * `deno task worker`: takes sweep jobs from the queue on the shared PostgreSQL and trains them
 * (lib/sweep/run_job.ts), `concurrency` at a time, until SIGINT or SIGTERM. A stop checkpoints
 * the jobs under way and hands them back to the queue, so other workers take them over at once.
 *
 * The backend is chosen once, when the worker starts: jobs that run side by side share the
 * process's tfjs backend, and "auto" timing a backend per job could switch it under another job.
 */
import type { Job } from "pg-boss";
import { type BackendChoice, initBackend } from "../backend.ts";
import { hostName } from "../db/lease.ts";
import { UserError } from "../errors.ts";
import { openSharedDb } from "./manage.ts";
import { openQueue, QUEUE, type QueueJobData, queueSchema } from "./queue.ts";
import { runSweepJob } from "./run_job.ts";

export interface WorkerOptions {
  /** postgres://... : the results database, whose server also holds the queue. */
  url: string;
  /** Jobs trained side by side in this process. */
  concurrency: number;
  backend: BackendChoice;
  /** This machine's path of the sweeps' shared folder, when it differs from theirs. */
  store?: string;
  /** Seconds between a job's progress writes (default 5). */
  progressSeconds?: number;
  /** How often this worker's queue supervisor looks for lost jobs (seconds, default 5). */
  superviseSeconds?: number;
  /** Seconds between polls of an empty queue (default 2). */
  pollSeconds?: number;
  log?: (line: string) => void;
  /** Aborting it stops the worker as SIGTERM does (tests; default: the process's signals). */
  stop?: AbortSignal;
}

/** SIGINT/SIGTERM as an AbortSignal; remove() takes the listeners away again. */
function signalsAsAbort(log: (line: string) => void): { signal: AbortSignal; remove(): void } {
  const ctrl = new AbortController();
  const handlers = (["SIGINT", "SIGTERM"] as const).map((sig) => {
    const h = () => {
      if (ctrl.signal.aborted) return;
      log(`${sig}: stopping; jobs under way checkpoint and go back to the queue`);
      ctrl.abort(sig);
    };
    Deno.addSignalListener(sig, h);
    return [sig, h] as const;
  });
  return {
    signal: ctrl.signal,
    remove: () => handlers.forEach(([sig, h]) => Deno.removeSignalListener(sig, h)),
  };
}

/** Runs the worker until it is stopped; returns how many jobs it ended (any outcome). */
export async function runWorker(opts: WorkerOptions): Promise<{ jobs: number }> {
  const log = opts.log ?? ((line: string) => console.log(line));
  if (!Number.isInteger(opts.concurrency) || opts.concurrency < 1) {
    throw new UserError(`--concurrency must be a positive integer (got ${opts.concurrency})`);
  }
  // One connection per job for its rows, one for the progress writes and status reads.
  const db = await openSharedDb(opts.url, opts.concurrency + 1);
  const signals = opts.stop ? null : signalsAsAbort(log);
  const shutdown = opts.stop ?? signals!.signal;
  let boss;
  try {
    const backend = await initBackend(opts.backend);
    boss = await openQueue(opts.url, {
      supervise: true,
      superviseSeconds: opts.superviseSeconds,
      warn: log,
    });
    const worker = `${hostName()}:${Deno.pid}`;
    log(
      `worker ${worker}: ${opts.concurrency} job(s) at a time on ${backend.backend} ` +
        `(${backend.adapter}); queue ${queueSchema(opts.url)}.${QUEUE} in ${db.location}`,
    );
    const ctx = {
      db,
      worker,
      backend: backend.backend,
      store: opts.store,
      progressSeconds: opts.progressSeconds ?? 5,
      shutdown,
      log,
    };
    let jobs = 0;
    await boss.work(
      QUEUE,
      {
        localConcurrency: opts.concurrency,
        batchSize: 1,
        perJobResults: true,
        pollingIntervalSeconds: opts.pollSeconds ?? 2,
      },
      async ([job]: Job<QueueJobData>[]) => {
        const outcome = await runSweepJob(ctx, job.data.jobId, job.signal, job);
        jobs++;
        return [{ id: job.id, status: outcome.status, output: outcome.output }];
      },
    );
    if (!shutdown.aborted) {
      await new Promise((resolve) => shutdown.addEventListener("abort", resolve, { once: true }));
    }
    // No new jobs; the ones under way see the same stop, checkpoint and return.
    await boss.offWork(QUEUE, { wait: true });
    log(`worker ${worker} stopped after ${jobs} job(s)`);
    return { jobs };
  } finally {
    signals?.remove();
    await boss?.stop({ graceful: true, timeout: 60_000 }).catch(() => {});
    await db.close().catch(() => {});
  }
}
