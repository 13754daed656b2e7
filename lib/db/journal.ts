/**
 * A run's database writes that could not reach its database (e.g. a PostgreSQL server that went
 * away mid-run), kept in a JSON file in the run folder and replayed into the database once it is
 * back (`deno task db replay FILE`). The file is rewritten atomically after every entry, so a kill
 * loses nothing that was journaled. Metric values use the export file's encoding of NaN and
 * infinities.
 */
import { storedName } from "../metric_names.ts";
import { UserError } from "../errors.ts";
import { writeFileAtomic } from "../io/atomic.ts";
import { decodeNumber, encodeNumber, isObject } from "./bundle_file.ts";
import {
  type ArtifactRow,
  type EvaluationRow,
  type MetricRow,
  type ResultsDb,
  RUN_STATUSES,
  type RunStatus,
} from "./types.ts";

export const JOURNAL_FORMAT = "drl-run-journal";
export const JOURNAL_VERSION = 1;
export const JOURNAL_FILE = "db_journal.json";

export type JournalEntry =
  | { op: "logMetrics"; rows: Omit<MetricRow, "runId">[] }
  | { op: "addEvaluation"; row: Omit<EvaluationRow, "runId"> }
  | { op: "addArtifact"; row: Omit<ArtifactRow, "runId"> }
  | { op: "setRunStatus"; status: RunStatus; message?: string }
  | { op: "deleteMetricsAfter"; step: number };

export interface Journal {
  /** The run's uid (its key in any database). */
  runUid: string;
  /** The database the writes were meant for (location, no password). */
  database: string;
  /** When and why the database was lost. */
  since: string;
  reason: string;
  entries: JournalEntry[];
}

export function encodeJournal(j: Journal): string {
  const entries = j.entries.map((e) =>
    e.op === "logMetrics"
      ? { ...e, rows: e.rows.map((r) => ({ ...r, value: encodeNumber(r.value) })) }
      : e.op === "addEvaluation"
      ? { ...e, row: { ...e.row, value: encodeNumber(e.row.value) } }
      : e
  );
  return JSON.stringify(
    { format: JOURNAL_FORMAT, version: JOURNAL_VERSION, ...j, entries },
    null,
    1,
  ) +
    "\n";
}

function decodeEntry(raw: unknown, where: string): JournalEntry {
  const bad = (what: string) => new UserError(`${where}: ${what}`);
  if (!isObject(raw)) throw bad("not an object");
  const int = (v: unknown, what: string) => {
    if (!Number.isInteger(v)) throw bad(`${what} must be an integer`);
    return v as number;
  };
  const intOrNull = (
    v: unknown,
    what: string,
  ) => (v === null || v === undefined ? null : int(v, what));
  const str = (v: unknown, what: string) => {
    if (typeof v !== "string") throw bad(`${what} must be a string`);
    return v;
  };
  switch (raw.op) {
    case "logMetrics":
      if (!Array.isArray(raw.rows)) throw bad("rows must be a list");
      return {
        op: "logMetrics",
        rows: raw.rows.map((r, i) => {
          if (!isObject(r)) throw bad(`rows[${i}] is not an object`);
          return {
            step: int(r.step, `rows[${i}].step`),
            level: intOrNull(r.level, `rows[${i}].level`),
            name: storedName(str(r.name, `rows[${i}].name`)),
            value: decodeNumber(r.value, `${where}: rows[${i}].value`),
          };
        }),
      };
    case "addEvaluation": {
      if (!isObject(raw.row)) throw bad("row must be an object");
      const r = raw.row;
      return {
        op: "addEvaluation",
        row: {
          name: storedName(str(r.name, "row.name")),
          value: decodeNumber(r.value, `${where}: row.value`),
          n: intOrNull(r.n, "row.n"),
          features: r.features === null || r.features === undefined
            ? null
            : str(r.features, "row.features"),
          details: r.details ?? null,
        },
      };
    }
    case "addArtifact": {
      if (!isObject(raw.row)) throw bad("row must be an object");
      const r = raw.row;
      return {
        op: "addArtifact",
        row: {
          kind: str(r.kind, "row.kind"),
          path: str(r.path, "row.path"),
          step: intOrNull(r.step, "row.step"),
        },
      };
    }
    case "setRunStatus": {
      const status = str(raw.status, "status");
      if (!(RUN_STATUSES as readonly string[]).includes(status)) {
        throw bad(`unknown status '${status}'`);
      }
      const message = raw.message === undefined ? undefined : str(raw.message, "message");
      return { op: "setRunStatus", status: status as RunStatus, message };
    }
    case "deleteMetricsAfter":
      return { op: "deleteMetricsAfter", step: int(raw.step, "step") };
    default:
      throw bad(`unknown op ${JSON.stringify(raw.op)}`);
  }
}

export function decodeJournal(text: string, source: string): Journal {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new UserError(`${source} is not valid JSON (${(err as Error).message})`);
  }
  if (!isObject(data) || data.format !== JOURNAL_FORMAT) {
    throw new UserError(
      `${source} is not a run journal (no "format": "${JOURNAL_FORMAT}"); ` +
        `a training run writes ${JOURNAL_FILE} into its folder when it loses its database`,
    );
  }
  if (typeof data.version !== "number" || data.version > JOURNAL_VERSION) {
    throw new UserError(
      `${source} has journal version ${data.version}; this code reads up to ${JOURNAL_VERSION}: ` +
        `update the code`,
    );
  }
  for (const k of ["runUid", "database", "since", "reason"]) {
    if (typeof data[k] !== "string") throw new UserError(`${source}: "${k}" must be a string`);
  }
  if (!Array.isArray(data.entries)) throw new UserError(`${source}: "entries" must be a list`);
  return {
    runUid: data.runUid as string,
    database: data.database as string,
    since: data.since as string,
    reason: data.reason as string,
    entries: data.entries.map((e, i) => decodeEntry(e, `${source}: entries[${i}]`)),
  };
}

export async function writeJournal(path: string, j: Journal): Promise<void> {
  await writeFileAtomic(path, encodeJournal(j));
}

export interface ReplaySummary {
  runId: number;
  metrics: number;
  evaluations: number;
  artifacts: number;
  status: RunStatus | null;
}

/**
 * Applies a journal to the run with its uid, in order. Idempotent: a metric row whose (step, level,
 * name) the run already has is not written again (the write that failed may have committed), nor
 * is an evaluation or artifact the run already has.
 */
export async function replayJournal(db: ResultsDb, j: Journal): Promise<ReplaySummary> {
  const run = await db.getRunByUid(j.runUid);
  if (!run) {
    throw new UserError(
      `run ${j.runUid} is not in ${db.location}: replay into the database the run was created in ` +
        `(the journal names ${j.database}), or import the run there first`,
    );
  }
  const runId = run.id;
  const summary: ReplaySummary = { runId, metrics: 0, evaluations: 0, artifacts: 0, status: null };
  const key = (m: { step: number; level: number | null; name: string }) =>
    `${m.step}/${m.level ?? ""}/${m.name}`;
  const have = new Map((await db.metrics(runId)).map((m) => [key(m), m.step]));
  const evaluations = await db.evaluations(runId);
  const artifacts = await db.artifacts(runId);
  for (const e of j.entries) {
    if (e.op === "logMetrics") {
      const rows = e.rows.filter((r) => !have.has(key(r)));
      await db.logMetrics(rows.map((r) => ({ ...r, runId })));
      for (const r of rows) have.set(key(r), r.step);
      summary.metrics += rows.length;
    } else if (e.op === "addEvaluation") {
      const same = evaluations.some((x) =>
        x.name === e.row.name && (x.features ?? null) === (e.row.features ?? null) &&
        (x.n ?? null) === (e.row.n ?? null) && Object.is(x.value, e.row.value)
      );
      if (!same) {
        await db.addEvaluation({ ...e.row, runId });
        evaluations.push({ ...e.row, runId });
        summary.evaluations++;
      }
    } else if (e.op === "addArtifact") {
      const same = artifacts.some((x) =>
        x.kind === e.row.kind && x.path === e.row.path && (x.step ?? null) === (e.row.step ?? null)
      );
      if (!same) {
        await db.addArtifact({ ...e.row, runId });
        artifacts.push({ ...e.row, runId });
        summary.artifacts++;
      }
    } else if (e.op === "setRunStatus") {
      await db.setRunStatus(runId, e.status, e.message);
      summary.status = e.status;
    } else {
      await db.deleteMetricsAfter(runId, e.step);
      for (const [k, step] of have) if (step > e.step) have.delete(k);
    }
  }
  return summary;
}
