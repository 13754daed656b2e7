/**
 * The sweep tables of the results database (migration 3): a sweep, its jobs and what their
 * workers last said. The queue (lib/sweep/queue.ts) decides who runs a job; these rows say what
 * the job is (its config and the uid of its one run) and how far it got, for `sweep status`.
 * A worker writes here when it takes a job, every few seconds while it trains (step and
 * heartbeat: one UPDATE of one row), and when the job ends.
 */
import type { Kysely, Selectable } from "kysely";
import type { TrainConfig } from "../config.ts";
import type { ResultsDb } from "../db/mod.ts";
import { KyselyResultsDb } from "../db/results_db.ts";
import type { Database, SweepJobsTable, SweepsTable } from "../db/schema.ts";
import { UserError } from "../errors.ts";
import type { SweepJobPlan, SweepSpec } from "./spec.ts";

export type SweepStatus = "active" | "cancelled";
export type JobState = "queued" | "running" | "completed" | "failed" | "cancelled";

export interface SweepRecord {
  id: number;
  uid: string;
  createdAt: string;
  name: string | null;
  preset: string;
  spec: Required<SweepSpec>;
  store: string;
  status: SweepStatus;
}

export interface SweepJobRecord {
  id: number;
  sweepId: number;
  index: number;
  setting: Record<string, string>;
  seed: number;
  config: TrainConfig;
  runUid: string;
  queueJobId: string | null;
  state: JobState;
  worker: string | null;
  attempts: number;
  step: number;
  message: string | null;
  heartbeatAt: string | null;
  finishedAt: string | null;
}

/** The Kysely handle under a results database (sweeps need SQL the ResultsDb interface lacks). */
export function kyselyOf(db: ResultsDb): Kysely<Database> {
  if (!(db instanceof KyselyResultsDb)) throw new Error("sweeps need a Kysely results database");
  return db.db;
}

function toSweep(row: Selectable<SweepsTable>): SweepRecord {
  return {
    id: Number(row.id),
    uid: row.uid,
    createdAt: row.created_at,
    name: row.name,
    preset: row.preset,
    spec: JSON.parse(row.spec),
    store: row.store,
    status: row.status as SweepStatus,
  };
}

function toJob(row: Selectable<SweepJobsTable>): SweepJobRecord {
  return {
    id: Number(row.id),
    sweepId: Number(row.sweep_id),
    index: Number(row.idx),
    setting: JSON.parse(row.setting),
    seed: Number(row.seed),
    config: JSON.parse(row.config),
    runUid: row.run_uid,
    queueJobId: row.queue_job_id,
    state: row.state as JobState,
    worker: row.worker,
    attempts: Number(row.attempts),
    step: Number(row.step),
    message: row.message,
    heartbeatAt: row.heartbeat_at,
    finishedAt: row.finished_at,
  };
}

const now = () => new Date().toISOString();

/**
 * The sweep and its jobs, each with its run's uid and its id in the queue fixed now. Call it in a
 * transaction that also queues the jobs (lib/sweep/create.ts): a sweep is recorded whole or not.
 */
export async function insertSweep(
  trx: Kysely<Database>,
  spec: Required<SweepSpec>,
  jobs: readonly (SweepJobPlan & { queueJobId: string })[],
): Promise<{ sweep: SweepRecord; jobs: SweepJobRecord[] }> {
  const sweep = await trx.insertInto("sweeps").values({
    uid: crypto.randomUUID(),
    created_at: now(),
    name: spec.name || null,
    preset: spec.preset,
    spec: JSON.stringify(spec),
    store: spec.store,
    status: "active",
  }).returningAll().executeTakeFirstOrThrow();
  const rows = jobs.length === 0 ? [] : await trx.insertInto("sweep_jobs").values(
    jobs.map((j) => ({
      sweep_id: Number(sweep.id),
      idx: j.index,
      setting: JSON.stringify(j.setting),
      seed: j.seed,
      config: JSON.stringify(j.config),
      run_uid: crypto.randomUUID(),
      queue_job_id: j.queueJobId,
      state: "queued",
      worker: null,
      attempts: 0,
      step: 0,
      message: null,
      heartbeat_at: null,
      finished_at: null,
    })),
  ).returningAll().execute();
  return { sweep: toSweep(sweep), jobs: rows.map(toJob).sort((a, b) => a.index - b.index) };
}

export async function getSweep(k: Kysely<Database>, id: number): Promise<SweepRecord | null> {
  const row = await k.selectFrom("sweeps").selectAll().where("id", "=", id).executeTakeFirst();
  return row ? toSweep(row) : null;
}

/** The sweep, or a UserError naming the database when there is none. */
export async function requireSweep(
  k: Kysely<Database>,
  id: number,
  where: string,
): Promise<SweepRecord> {
  const sweep = await getSweep(k, id);
  if (!sweep) throw new UserError(`no sweep ${id} in ${where}`);
  return sweep;
}

export async function sweepJobs(k: Kysely<Database>, sweepId: number): Promise<SweepJobRecord[]> {
  const rows = await k.selectFrom("sweep_jobs").selectAll().where("sweep_id", "=", sweepId)
    .orderBy("idx").execute();
  return rows.map(toJob);
}

export async function getJob(k: Kysely<Database>, jobId: number): Promise<SweepJobRecord | null> {
  const row = await k.selectFrom("sweep_jobs").selectAll().where("id", "=", jobId)
    .executeTakeFirst();
  return row ? toJob(row) : null;
}

/**
 * Marks the job taken by `worker` (one more attempt), unless it has ended (completed, failed,
 * cancelled) or its sweep was cancelled: then null, and the worker leaves it alone.
 */
export async function takeJob(
  k: Kysely<Database>,
  jobId: number,
  worker: string,
): Promise<SweepJobRecord | null> {
  return await k.transaction().execute(async (trx) => {
    const job = await trx.selectFrom("sweep_jobs").selectAll().where("id", "=", jobId)
      .executeTakeFirst();
    if (!job || !["queued", "running"].includes(job.state)) return null;
    const sweep = await trx.selectFrom("sweeps").select("status")
      .where("id", "=", job.sweep_id).executeTakeFirst();
    if (sweep?.status !== "active") return null;
    const row = await trx.updateTable("sweep_jobs").set({
      state: "running",
      worker,
      attempts: Number(job.attempts) + 1,
      heartbeat_at: now(),
      message: null,
    }).where("id", "=", jobId).returningAll().executeTakeFirstOrThrow();
    return toJob(row);
  });
}

/** The worker's heartbeat: the step reached, and that it is alive (only while it holds the job). */
export async function reportProgress(
  k: Kysely<Database>,
  jobId: number,
  worker: string,
  step: number,
): Promise<void> {
  await k.updateTable("sweep_jobs").set({ step, heartbeat_at: now() })
    .where("id", "=", jobId).where("worker", "=", worker).where("state", "=", "running")
    .execute();
}

/** The job's end (or, with "queued", its hand-back to the queue), written by its worker. */
export async function endJob(
  k: Kysely<Database>,
  jobId: number,
  worker: string,
  state: Exclude<JobState, "running">,
  fields: { step?: number; message?: string | null } = {},
): Promise<void> {
  await k.updateTable("sweep_jobs").set({
    state,
    step: fields.step,
    message: fields.message ?? null,
    heartbeat_at: now(),
    finished_at: state === "queued" ? null : now(),
  }).where("id", "=", jobId).where("worker", "=", worker)
    // A cancel that came first stays a cancel.
    .where("state", "in", ["queued", "running"])
    .execute();
}

/**
 * Marks the sweep cancelled and its unfinished jobs with it; returns those jobs as they were
 * before (the queue is told separately, lib/sweep/queue.ts).
 */
export async function cancelSweepRows(
  k: Kysely<Database>,
  sweepId: number,
): Promise<{ cancelled: SweepJobRecord[] }> {
  return await k.transaction().execute(async (trx) => {
    await trx.updateTable("sweeps").set({ status: "cancelled" }).where("id", "=", sweepId)
      .execute();
    const unfinished = await trx.selectFrom("sweep_jobs").selectAll()
      .where("sweep_id", "=", sweepId).where("state", "in", ["queued", "running"])
      // Locked, so a worker's endJob waits and then finds the job cancelled (PostgreSQL only,
      // as sweeps are).
      .orderBy("idx").forUpdate().execute();
    await trx.updateTable("sweep_jobs").set({
      state: "cancelled",
      finished_at: now(),
      message: "the sweep was cancelled",
    }).where("id", "in", unfinished.length ? unfinished.map((r) => r.id) : [-1])
      .where("state", "in", ["queued", "running"]).execute();
    return { cancelled: unfinished.map(toJob) };
  });
}

/**
 * Before a job's run goes on after its last worker vanished: removes what the end of a run writes
 * (evaluations, the end-of-run figure, grid and checkpoint artifacts, the evaluation chains' metric
 * rows), in case that worker died part-way through writing them, so they are written exactly once.
 * Training writes these only at its end, so a run that is not completed has none of its own yet
 * (an evaluation a user added by hand to a sweep's unfinished run would go too).
 */
export async function clearUnfinishedEnd(k: Kysely<Database>, runId: number): Promise<void> {
  await k.transaction().execute(async (trx) => {
    await trx.deleteFrom("evaluations").where("run_id", "=", runId).execute();
    await trx.deleteFrom("metrics").where("run_id", "=", runId)
      .where("name", "in", ["eval_acceptance", "eval_displacement"]).execute();
    await trx.deleteFrom("artifacts").where("run_id", "=", runId)
      .where((eb) =>
        eb.or([
          eb("kind", "=", "figure"),
          eb.and([eb("kind", "=", "grid"), eb("path", "like", "%/samples.png")]),
          eb.and([eb("kind", "=", "checkpoint"), eb("path", "like", "%/checkpoint.ckpt")]),
        ])
      ).execute();
  });
}
