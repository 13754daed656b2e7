/**
 * Making and cancelling a sweep (`deno task sweep create|cancel`). A sweep lives in the shared
 * PostgreSQL database: its rows (lib/sweep/store.ts) and its jobs on the queue (lib/sweep/queue.ts)
 * are written in one transaction, so a sweep is never half-queued.
 */
import { openResultsDb, type ResultsDb } from "../db/mod.ts";
import { UserError } from "../errors.ts";
import {
  cancelQueued,
  enqueueInTransaction,
  jobOptions,
  openQueue,
  type QueueJobData,
} from "./queue.ts";
import { expandSpec, type SweepSpec } from "./spec.ts";
import {
  cancelSweepRows,
  insertSweep,
  kyselyOf,
  requireSweep,
  type SweepJobRecord,
  type SweepRecord,
} from "./store.ts";

/** The shared results database; sweeps refuse a SQLite file (the queue needs the server). */
export async function openSharedDb(url: string | undefined, connections = 2): Promise<ResultsDb> {
  if (url === undefined || !/^postgres(ql)?:\/\//i.test(url)) {
    throw new UserError(
      "sweeps need the shared PostgreSQL database: give --db postgres://user:password@host/db " +
        "(or set DATABASE_URL); the job queue lives there",
    );
  }
  return await openResultsDb({ url, maxConnections: connections });
}

/** Records the sweep and queues its jobs; returns them as recorded. */
export async function createSweep(
  url: string,
  spec: Required<SweepSpec>,
): Promise<{ sweep: SweepRecord; jobs: SweepJobRecord[] }> {
  // Every config is built and checked before anything is written.
  const plans = expandSpec(spec).map((p) => ({ ...p, queueJobId: crypto.randomUUID() }));
  const db = await openSharedDb(url);
  try {
    const boss = await openQueue(url);
    try {
      return await kyselyOf(db).transaction().execute(async (trx) => {
        const made = await insertSweep(trx, spec, plans);
        const options = jobOptions(spec);
        await enqueueInTransaction(
          boss,
          trx,
          made.jobs.map((j) => ({
            id: j.queueJobId!,
            data: { sweepId: made.sweep.id, jobId: j.id } satisfies QueueJobData,
            options,
          })),
        );
        return made;
      });
    } finally {
      await boss.stop({ graceful: false }).catch(() => {});
    }
  } finally {
    await db.close();
  }
}

/**
 * Cancels the sweep: its unfinished jobs are marked cancelled and taken off the queue; a job in
 * training stops at its worker's next queue heartbeat (checkpointed, run `stopped`).
 */
export async function cancelSweep(
  url: string,
  sweepId: number,
): Promise<{ sweep: SweepRecord; cancelled: SweepJobRecord[] }> {
  const db = await openSharedDb(url);
  try {
    const k = kyselyOf(db);
    const sweep = await requireSweep(k, sweepId, db.location);
    const { cancelled } = await cancelSweepRows(k, sweepId);
    const boss = await openQueue(url);
    try {
      await cancelQueued(boss, cancelled.flatMap((j) => j.queueJobId ?? []));
    } finally {
      await boss.stop({ graceful: false }).catch(() => {});
    }
    return { sweep, cancelled };
  } finally {
    await db.close();
  }
}
