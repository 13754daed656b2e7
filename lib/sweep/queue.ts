/**
 * The job queue of sweeps: pg-boss (npm, PostgreSQL's SKIP LOCKED) in the results database's
 * server, in a schema of its own. One queue, `drl-train`, holds every sweep's jobs; a job's data
 * names its sweep job row. pg-boss gives each job to one worker at a time, watches the worker's
 * heartbeat (every job carries `heartbeatSeconds`) and hands the job out again when the heartbeat
 * stops (a worker killed or cut off), up to the sweep's `retries`. Why pg-boss: docs/sweeps.md.
 */
import type { Kysely } from "kysely";
import { fromKysely, type JobInsert, PgBoss } from "pg-boss";
import type { Database } from "../db/schema.ts";
import { redactUrl } from "../db/open.ts";
import { UserError } from "../errors.ts";

export const QUEUE = "drl-train";

/** What a queued job carries: the row of lib/sweep/store.ts it stands for. */
export interface QueueJobData {
  sweepId: number;
  jobId: number;
}

/**
 * One attempt may run at most this long (pg-boss's bound, 24 hours); a longer training is handed
 * back at that point (checkpoint, retry) and goes on from its checkpoint, which uses one retry.
 */
export const ATTEMPT_SECONDS = 24 * 60 * 60;

/** Jobs never started are kept this long before pg-boss drops them (its default: 14 days). */
const RETENTION_SECONDS = 365 * 24 * 60 * 60;

/**
 * The queue's schema: `drl_queue`, or `<search_path>_queue` when the URL sets a search_path (the
 * tests give each database a schema of its own, and so each its own queue).
 */
export function queueSchema(url: string): string {
  const path = new URL(url).searchParams.get("search_path");
  const base = path ? `${path.split(",")[0].trim()}_queue` : "drl_queue";
  if (!/^[a-z_][a-z0-9_]*$/i.test(base)) {
    throw new UserError(
      `search_path '${path}' cannot name the queue's schema (letters, digits, _)`,
    );
  }
  return base;
}

/** The URL for pg-boss's own pool (node-postgres): without the search_path setting. */
function bossUrl(url: string): string {
  const u = new URL(url);
  u.searchParams.delete("search_path");
  return u.toString();
}

export interface QueueOptions {
  /**
   * Run pg-boss's supervisor here: it fails the jobs whose heartbeat stopped, so they are retried.
   * Workers do; commands that only send or read do not.
   */
  supervise?: boolean;
  /** How often the supervisor looks (seconds); a lost job is retried within heartbeat + this. */
  superviseSeconds?: number;
  /** Most connections pg-boss's pool opens. */
  maxConnections?: number;
  /** Where pg-boss's background errors go (they never stop a worker by themselves). */
  warn?: (line: string) => void;
}

/** Starts pg-boss on the results database's server (creating its schema and the queue once). */
export async function openQueue(url: string, opts: QueueOptions = {}): Promise<PgBoss> {
  const seconds = opts.superviseSeconds ?? 5;
  const boss = new PgBoss({
    connectionString: bossUrl(url),
    schema: queueSchema(url),
    application_name: "drl-sweep",
    max: opts.maxConnections ?? 2,
    supervise: opts.supervise ?? false,
    superviseIntervalSeconds: seconds,
    monitorIntervalSeconds: seconds,
    schedule: false,
    // The instance registry is a write every 30 s per process that nothing here reads.
    registerInstance: false,
  });
  const warn = opts.warn ?? ((line: string) => console.warn(line));
  boss.on("error", (err: Error) => warn(`warning: job queue: ${err.message.split("\n")[0]}`));
  try {
    await boss.start();
    await boss.createQueue(QUEUE);
  } catch (err) {
    await boss.stop({ graceful: false }).catch(() => {});
    throw new UserError(
      `cannot open the job queue in ${redactUrl(url)} (${(err as Error).message.split("\n")[0]})`,
    );
  }
  return boss;
}

/** The queue options of one sweep job. */
export function jobOptions(
  spec: { retries: number; heartbeatSeconds: number },
): Omit<JobInsert, "data"> {
  return {
    retryLimit: spec.retries,
    retryDelay: 0,
    heartbeatSeconds: spec.heartbeatSeconds,
    expireInSeconds: ATTEMPT_SECONDS,
    retentionSeconds: RETENTION_SECONDS,
  };
}

/**
 * Puts the jobs on the queue inside the caller's transaction of the results database (same
 * server): the sweep's rows and its queued jobs are committed together or not at all.
 */
export async function enqueueInTransaction(
  boss: PgBoss,
  trx: Kysely<Database>,
  jobs: { id: string; data: QueueJobData; options: Omit<JobInsert, "data"> }[],
): Promise<void> {
  if (jobs.length === 0) return;
  await boss.insert(
    QUEUE,
    jobs.map((j) => ({ ...j.options, id: j.id, data: j.data })),
    { db: fromKysely(trx) },
  );
}

/** The queue's view of a sweep's jobs: state and retries, by queue job id. */
export async function queueStates(
  boss: PgBoss,
  sweepId: number,
): Promise<Map<string, { state: string; retryCount: number }>> {
  const jobs = await boss.findJobs<QueueJobData>(QUEUE, { data: { sweepId }, limit: 100_000 });
  return new Map(jobs.map((j) => [j.id, { state: j.state, retryCount: j.retryCount }]));
}

/** Takes the jobs off the queue (queued ones are never handed out; running ones lose their claim). */
export async function cancelQueued(boss: PgBoss, ids: string[]): Promise<void> {
  if (ids.length > 0) await boss.cancel(QUEUE, ids);
}
