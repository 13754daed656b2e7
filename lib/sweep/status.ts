/**
 * `deno task sweep status ID`: each job's state (as its worker last wrote it, and as the queue
 * sees it), worker, step, how long ago its worker was heard from, and its run's last metrics: the
 * latest logged mean loss and, once completed, the sweep's main evaluation metric.
 */
import type { PgBoss } from "pg-boss";
import type { ResultsDb } from "../db/mod.ts";
import { formatNumber } from "../report/format.ts";
import { queueStates } from "./queue.ts";
import { settingLabel } from "./spec.ts";
import { kyselyOf, requireSweep, sweepJobs, type SweepRecord } from "./store.ts";

export interface JobStatus {
  index: number;
  setting: string;
  seed: number;
  state: string;
  /** The queue's state of the job (created, active, retry, completed, failed, cancelled). */
  queueState: string | null;
  /** How often the queue handed the job out again. */
  retries: number | null;
  attempts: number;
  worker: string | null;
  step: number;
  steps: number;
  /** Seconds since the worker last wrote the job's row, while it runs. */
  heardSecondsAgo: number | null;
  runId: number | null;
  runStatus: string | null;
  /** The latest logged mean loss, and its step. */
  loss: { step: number; value: number } | null;
  /** The run's final evaluations (once completed). */
  evaluations: Record<string, number>;
  message: string | null;
}

export interface SweepStatusReport {
  sweep: SweepRecord;
  jobs: JobStatus[];
  /** Jobs per state. */
  counts: Record<string, number>;
}

/** Evaluation shown in the table: the first of these a job has. */
const MAIN_METRICS = ["fid", "energy_distance", "is", "kid"];

export async function sweepStatus(
  db: ResultsDb,
  boss: PgBoss | null,
  sweepId: number,
): Promise<SweepStatusReport> {
  const k = kyselyOf(db);
  const sweep = await requireSweep(k, sweepId, db.location);
  const queue = boss ? await queueStates(boss, sweepId) : new Map();
  const jobs: JobStatus[] = [];
  for (const j of await sweepJobs(k, sweepId)) {
    const run = await db.getRunByUid(j.runUid);
    const loss = run
      ? await k.selectFrom("metrics").select(["step", "value"]).where("run_id", "=", run.id)
        .where("name", "=", "loss").where("level", "is", null).orderBy("step", "desc")
        .limit(1).executeTakeFirst()
      : undefined;
    const evaluations: Record<string, number> = {};
    if (run) { for (const e of await db.evaluations(run.id)) evaluations[e.name] = e.value; }
    const q = j.queueJobId ? queue.get(j.queueJobId) : undefined;
    // A worker lost on the job's last try cannot say so: the queue, which gave up, can.
    const gaveUp = q?.state === "failed" && (j.state === "running" || j.state === "queued");
    jobs.push({
      index: j.index,
      setting: settingLabel(j.setting),
      seed: j.seed,
      state: gaveUp ? "failed" : j.state,
      queueState: q?.state ?? null,
      retries: q?.retryCount ?? null,
      attempts: j.attempts,
      worker: j.worker,
      step: j.step,
      steps: j.config.train.iterations,
      heardSecondsAgo: j.state === "running" && j.heartbeatAt
        ? Math.round((Date.now() - Date.parse(j.heartbeatAt)) / 1000)
        : null,
      runId: run?.id ?? null,
      runStatus: run?.status ?? null,
      loss: loss ? { step: Number(loss.step), value: Number(loss.value ?? NaN) } : null,
      evaluations,
      message: gaveUp
        ? `its worker was lost on the last of its ${(q?.retryCount ?? 0) + 1} tries`
        : j.message,
    });
  }
  const counts: Record<string, number> = {};
  for (const j of jobs) counts[j.state] = (counts[j.state] ?? 0) + 1;
  return { sweep, jobs, counts };
}

/** Left-aligned text columns, right-aligned numbers. */
function table(header: string[], rows: string[][], numeric: boolean[]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => numeric[i] ? c.padStart(widths[i]) : c.padEnd(widths[i])).join("  ")
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

export function formatStatus(r: SweepStatusReport): string {
  const s = r.sweep;
  const counts = Object.entries(r.counts).map(([k, n]) => `${n} ${k}`).join(", ");
  const main = MAIN_METRICS.find((m) => r.jobs.some((j) => m in j.evaluations));
  const header = [
    "job",
    "setting",
    "seed",
    "state",
    "queue",
    "tries",
    "worker",
    "step",
    "heard",
    "run",
    "loss",
    ...(main ? [main] : []),
  ];
  const rows = r.jobs.map((j) => [
    String(j.index),
    j.setting,
    String(j.seed),
    j.state,
    j.queueState ?? "",
    String(j.attempts),
    j.worker ?? "",
    `${j.step}/${j.steps}`,
    j.heardSecondsAgo === null ? "" : `${j.heardSecondsAgo}s ago`,
    j.runId === null ? "" : `${j.runId} ${j.runStatus}`,
    j.loss ? `${formatNumber(j.loss.value)} @${j.loss.step}` : "",
    ...(main ? [main in j.evaluations ? formatNumber(j.evaluations[main]) : ""] : []),
  ]);
  const numeric = header.map((h) => ["job", "seed", "tries", "step", "loss", main].includes(h));
  const messages = r.jobs.filter((j) => j.message && j.state !== "completed")
    .map((j) => `  job ${j.index}: ${j.message}`);
  return [
    `sweep ${s.id}${s.name ? ` "${s.name}"` : ""}: ${s.preset}, ${plural(r.jobs.length, "job")} ` +
    `(${counts}), ${s.status}; checkpoints in ${s.store}`,
    "",
    ...table(header, rows, numeric),
    ...(messages.length ? ["", ...messages] : []),
    "",
  ].join("\n");
}
