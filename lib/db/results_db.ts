/**
 * The results database's queries, written once over Kysely and run unchanged on SQLite and
 * PostgreSQL. Rows are mapped between the stored shape (snake_case, JSON text, NULL for NaN) and
 * the public records of types.ts here and nowhere else.
 */
import { storedName } from "../metric_names.ts";
import { failpoint } from "../failpoints.ts";
import type { Kysely, Selectable, Transaction } from "kysely";
import type { Database, EvaluationsTable, MetricsTable, RunsTable } from "./schema.ts";
import {
  type ArtifactRow,
  type DbKind,
  type EvaluationRow,
  type MetricRow,
  type NewRun,
  type ResultsDb,
  RUN_STATUSES,
  type RunBundle,
  type RunFilter,
  type RunLease,
  type RunRecord,
  type RunStatus,
} from "./types.ts";

/** Rows per INSERT statement: well under SQLite's and PostgreSQL's bound-parameter limits. */
const INSERT_CHUNK = 500;

/** SQLite cannot store NaN (it becomes NULL), so NULL means NaN in both engines. */
export function encodeValue(value: number): number | null {
  return Number.isNaN(value) ? null : value;
}

export function decodeValue(value: number | string | null): number {
  return value === null ? NaN : Number(value);
}

/** Integers may come back as strings from PostgreSQL's bigint; nullable ones stay null. */
function intOrNull(value: number | string | null): number | null {
  return value === null ? null : Number(value);
}

function jsonOrNull(value: unknown): string | null {
  return value === undefined ? null : JSON.stringify(value);
}

function parseJson(text: string | null): unknown {
  return text === null ? null : JSON.parse(text);
}

function defaultHost(): string | null {
  try {
    return Deno.hostname();
  } catch {
    return null; // no --allow-sys: the host is a nicety, not worth failing a run for
  }
}

function toRunRecord(row: Selectable<RunsTable>): RunRecord {
  return {
    id: Number(row.id),
    uid: row.uid,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    task: row.task,
    preset: row.preset,
    config: parseJson(row.config),
    gitCommit: row.git_commit,
    backend: row.backend,
    adapter: row.adapter,
    seed: Number(row.seed),
    status: row.status as RunStatus,
    message: row.message,
    dir: row.dir,
    host: row.host,
  };
}

function toMetricRow(row: Selectable<MetricsTable>): MetricRow {
  return {
    runId: Number(row.run_id),
    step: Number(row.step),
    level: intOrNull(row.level),
    name: storedName(row.name),
    value: decodeValue(row.value),
  };
}

function toEvaluationRow(row: Selectable<EvaluationsTable>): EvaluationRow & { createdAt: string } {
  return {
    runId: Number(row.run_id),
    name: storedName(row.name),
    value: decodeValue(row.value),
    n: intOrNull(row.n),
    features: row.features,
    details: parseJson(row.details),
    createdAt: row.created_at,
  };
}

function checkStatus(status: string): RunStatus {
  if (!(RUN_STATUSES as readonly string[]).includes(status)) {
    throw new Error(`unknown run status '${status}' (expected one of ${RUN_STATUSES.join(", ")})`);
  }
  return status as RunStatus;
}

async function insertMetrics(
  trx: Transaction<Database>,
  rows: readonly MetricRow[],
): Promise<void> {
  for (let start = 0; start < rows.length; start += INSERT_CHUNK) {
    await trx.insertInto("metrics").values(
      rows.slice(start, start + INSERT_CHUNK).map((r) => ({
        run_id: r.runId,
        step: r.step,
        level: r.level,
        name: r.name,
        value: encodeValue(r.value),
      })),
    ).execute();
    failpoint("db-transaction");
  }
}

function leaseRow(l: RunLease) {
  return {
    run_id: l.runId,
    token: l.token,
    pid: l.pid,
    host: l.host,
    acquired_at: l.acquiredAt,
    heartbeat_at: l.heartbeatAt,
  };
}

export class KyselyResultsDb implements ResultsDb {
  constructor(
    readonly db: Kysely<Database>,
    readonly kind: DbKind,
    readonly location: string,
  ) {}

  async createRun(run: NewRun): Promise<number> {
    const row = await this.db.insertInto("runs").values({
      uid: run.uid ?? crypto.randomUUID(),
      created_at: new Date().toISOString(),
      updated_at: null,
      task: run.task,
      preset: run.preset,
      config: JSON.stringify(run.config ?? null),
      git_commit: run.gitCommit,
      backend: run.backend,
      adapter: run.adapter,
      seed: run.seed,
      status: "running",
      message: null,
      dir: run.dir,
      host: run.host === undefined ? defaultHost() : run.host,
    }).returning("id").executeTakeFirstOrThrow();
    return Number(row.id);
  }

  async setRunStatus(runId: number, status: RunStatus, message?: string): Promise<void> {
    const result = await this.db.updateTable("runs").set({
      status: checkStatus(status),
      message: message ?? null,
      updated_at: new Date().toISOString(),
    }).where("id", "=", runId).executeTakeFirst();
    if (Number(result.numUpdatedRows) === 0) throw new Error(`no run with id ${runId}`);
  }

  async setRunDir(runId: number, dir: string): Promise<void> {
    const result = await this.db.updateTable("runs").set({ dir }).where("id", "=", runId)
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) === 0) throw new Error(`no run with id ${runId}`);
  }

  async deleteMetricsAfter(runId: number, step: number): Promise<void> {
    await this.db.deleteFrom("metrics").where("run_id", "=", runId).where("step", ">", step)
      .execute();
  }

  async logMetrics(rows: MetricRow[]): Promise<void> {
    if (rows.length === 0) return;
    await this.db.transaction().execute((trx) => insertMetrics(trx, rows));
  }

  async addEvaluation(row: EvaluationRow): Promise<void> {
    await this.db.insertInto("evaluations").values({
      run_id: row.runId,
      name: row.name,
      value: encodeValue(row.value),
      n: row.n ?? null,
      features: row.features ?? null,
      details: jsonOrNull(row.details),
      created_at: new Date().toISOString(),
    }).execute();
  }

  async addArtifact(row: ArtifactRow): Promise<void> {
    await this.db.insertInto("artifacts").values({
      run_id: row.runId,
      kind: row.kind,
      path: row.path,
      step: row.step ?? null,
      created_at: new Date().toISOString(),
    }).execute();
  }

  async getRun(runId: number): Promise<RunRecord | null> {
    const row = await this.db.selectFrom("runs").selectAll().where("id", "=", runId)
      .executeTakeFirst();
    return row ? toRunRecord(row) : null;
  }

  async getLease(runId: number): Promise<RunLease | null> {
    const r = await this.db.selectFrom("run_leases").selectAll().where("run_id", "=", runId)
      .executeTakeFirst();
    return r
      ? {
        runId: Number(r.run_id),
        token: r.token,
        pid: Number(r.pid),
        host: r.host,
        acquiredAt: r.acquired_at,
        heartbeatAt: r.heartbeat_at,
      }
      : null;
  }

  async insertLease(l: RunLease): Promise<boolean> {
    // "On conflict do nothing" exists in both engines: an existing lease is left as it is.
    const r = await this.db.insertInto("run_leases").values(leaseRow(l))
      .onConflict((oc) => oc.column("run_id").doNothing()).executeTakeFirst();
    return Number(r.numInsertedOrUpdatedRows ?? 0) === 1;
  }

  async swapLease(runId: number, expectedToken: string, next: RunLease | null): Promise<boolean> {
    const r = next === null
      ? await this.db.deleteFrom("run_leases").where("run_id", "=", runId)
        .where("token", "=", expectedToken).executeTakeFirst()
      : await this.db.updateTable("run_leases").set(leaseRow(next)).where("run_id", "=", runId)
        .where("token", "=", expectedToken).executeTakeFirst();
    const n = "numDeletedRows" in r ? r.numDeletedRows : r.numUpdatedRows;
    return Number(n) === 1;
  }

  async getRunByUid(uid: string): Promise<RunRecord | null> {
    const row = await this.db.selectFrom("runs").selectAll().where("uid", "=", uid)
      .executeTakeFirst();
    return row ? toRunRecord(row) : null;
  }

  async listRuns(filter: RunFilter = {}): Promise<RunRecord[]> {
    let query = this.db.selectFrom("runs").selectAll();
    if (filter.task !== undefined) query = query.where("task", "=", filter.task);
    if (filter.preset !== undefined) query = query.where("preset", "=", filter.preset);
    return (await query.orderBy("id").execute()).map(toRunRecord);
  }

  async metrics(runId: number, name?: string): Promise<MetricRow[]> {
    let query = this.db.selectFrom("metrics").selectAll().where("run_id", "=", runId);
    if (name !== undefined) query = query.where("name", "=", name);
    const rows = await query
      .orderBy("step")
      // PostgreSQL sorts NULL last and SQLite first unless told: say it, so both agree.
      .orderBy("level", (ob) => ob.asc().nullsFirst())
      .orderBy("name")
      .orderBy("id")
      .execute();
    return rows.map(toMetricRow);
  }

  async evaluations(runId: number): Promise<EvaluationRow[]> {
    const rows = await this.db.selectFrom("evaluations").selectAll().where("run_id", "=", runId)
      .orderBy("id").execute();
    return rows.map((r) => {
      const { createdAt: _createdAt, ...row } = toEvaluationRow(r);
      return row;
    });
  }

  async artifacts(runId: number): Promise<ArtifactRow[]> {
    const rows = await this.db.selectFrom("artifacts").selectAll().where("run_id", "=", runId)
      .orderBy("id").execute();
    return rows.map((r) => ({
      runId: Number(r.run_id),
      kind: r.kind,
      path: r.path,
      step: intOrNull(r.step),
    }));
  }

  async exportRun(runId: number): Promise<RunBundle | null> {
    const run = await this.getRun(runId);
    if (run === null) return null;
    const { id: _id, ...runFields } = run;
    const evaluationRows = await this.db.selectFrom("evaluations").selectAll()
      .where("run_id", "=", runId).orderBy("id").execute();
    const artifactRows = await this.db.selectFrom("artifacts").selectAll()
      .where("run_id", "=", runId).orderBy("id").execute();
    return {
      run: runFields,
      metrics: (await this.metrics(runId)).map(({ runId: _r, ...m }) => m),
      evaluations: evaluationRows.map((r) => {
        const { runId: _r, ...row } = toEvaluationRow(r);
        return row;
      }),
      artifacts: artifactRows.map((r) => ({
        kind: r.kind,
        path: r.path,
        step: intOrNull(r.step),
        createdAt: r.created_at,
      })),
    };
  }

  async importRun(bundle: RunBundle): Promise<{ id: number; created: boolean }> {
    const existing = await this.getRunByUid(bundle.run.uid);
    if (existing) return { id: existing.id, created: false };
    try {
      const id = await this.db.transaction().execute(async (trx) => {
        const r = bundle.run;
        const { id } = await trx.insertInto("runs").values({
          uid: r.uid,
          created_at: r.createdAt,
          updated_at: r.updatedAt,
          task: r.task,
          preset: r.preset,
          config: JSON.stringify(r.config ?? null),
          git_commit: r.gitCommit,
          backend: r.backend,
          adapter: r.adapter,
          seed: r.seed,
          status: checkStatus(r.status),
          message: r.message,
          dir: r.dir,
          host: r.host,
        }).returning("id").executeTakeFirstOrThrow();
        const runId = Number(id);
        await insertMetrics(trx, bundle.metrics.map((m) => ({ ...m, runId })));
        for (const e of bundle.evaluations) {
          await trx.insertInto("evaluations").values({
            run_id: runId,
            name: e.name,
            value: encodeValue(e.value),
            n: e.n ?? null,
            features: e.features ?? null,
            details: jsonOrNull(e.details),
            created_at: e.createdAt ?? r.createdAt,
          }).execute();
        }
        for (const a of bundle.artifacts) {
          await trx.insertInto("artifacts").values({
            run_id: runId,
            kind: a.kind,
            path: a.path,
            step: a.step ?? null,
            created_at: a.createdAt ?? r.createdAt,
          }).execute();
        }
        return runId;
      });
      return { id, created: true };
    } catch (err) {
      // Another process imported the same run meanwhile: the unique uid refused ours.
      const raced = await this.getRunByUid(bundle.run.uid);
      if (raced) return { id: raced.id, created: false };
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }
}
