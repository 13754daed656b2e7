/**
 * Versioned schema migrations, written once for both engines and applied automatically on open.
 *
 * Each migration runs at most once per database, recorded in `schema_migrations`. The whole check
 * and apply happens in one transaction holding the database's write lock (SQLite: BEGIN IMMEDIATE;
 * PostgreSQL: a transaction-scoped advisory lock), so several processes opening a fresh database at
 * once migrate it exactly once. Never edit a released migration: add a new one.
 */
import { type ColumnDefinitionBuilder, type Kysely, sql } from "kysely";
import { UserError } from "../errors.ts";
import type { Database } from "./schema.ts";
import type { DbKind } from "./types.ts";

// deno-lint-ignore no-explicit-any
type AnyDb = Kysely<any>;

export interface Migration {
  version: number;
  name: string;
  up(db: AnyDb, kind: DbKind): Promise<void>;
}

/** Arbitrary constant naming this schema's advisory lock in PostgreSQL. */
const PG_MIGRATION_LOCK_ID = 741_852_963;

/** An auto-numbered primary key in either engine. */
function idColumn(db: AnyDb, kind: DbKind, table: string) {
  const builder = db.schema.createTable(table).ifNotExists();
  return kind === "postgres"
    ? builder.addColumn("id", "serial", (c) => c.primaryKey())
    : builder.addColumn("id", "integer", (c) => c.primaryKey().autoIncrement());
}

/** A foreign key to runs.id that takes the child rows with it when a run is deleted. */
const runReference = (c: ColumnDefinitionBuilder) =>
  c.notNull().references("runs.id").onDelete("cascade");

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "initial schema: runs, metrics, evaluations, artifacts",
    async up(db, kind) {
      await idColumn(db, kind, "runs")
        .addColumn("uid", "text", (c) => c.notNull().unique())
        .addColumn("created_at", "text", (c) => c.notNull())
        .addColumn("updated_at", "text")
        .addColumn("task", "text", (c) => c.notNull())
        .addColumn("preset", "text", (c) => c.notNull())
        .addColumn("config", "text", (c) => c.notNull())
        .addColumn("git_commit", "text")
        .addColumn("backend", "text", (c) => c.notNull())
        .addColumn("adapter", "text", (c) => c.notNull())
        // Seeds are unsigned 32-bit, beyond PostgreSQL's 4-byte integer.
        .addColumn("seed", "bigint", (c) => c.notNull())
        .addColumn("status", "text", (c) => c.notNull())
        .addColumn("message", "text")
        .addColumn("dir", "text")
        .addColumn("host", "text")
        .addCheckConstraint(
          "runs_status_check",
          sql`status in ('running', 'completed', 'failed', 'stopped')`,
        )
        .execute();
      await db.schema.createIndex("runs_task_preset_idx").ifNotExists().on("runs")
        .columns(["task", "preset"]).execute();

      // "double precision" is an 8-byte float in PostgreSQL and has REAL affinity in SQLite.
      await idColumn(db, kind, "metrics")
        .addColumn("run_id", "integer", runReference)
        .addColumn("step", "integer", (c) => c.notNull())
        .addColumn("level", "integer")
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("value", "double precision")
        .execute();
      await db.schema.createIndex("metrics_run_name_step_idx").ifNotExists().on("metrics")
        .columns(["run_id", "name", "step"]).execute();

      await idColumn(db, kind, "evaluations")
        .addColumn("run_id", "integer", runReference)
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("value", "double precision")
        .addColumn("n", "integer")
        .addColumn("features", "text")
        .addColumn("details", "text")
        .addColumn("created_at", "text", (c) => c.notNull())
        .execute();
      await db.schema.createIndex("evaluations_run_idx").ifNotExists().on("evaluations")
        .column("run_id").execute();

      await idColumn(db, kind, "artifacts")
        .addColumn("run_id", "integer", runReference)
        .addColumn("kind", "text", (c) => c.notNull())
        .addColumn("path", "text", (c) => c.notNull())
        .addColumn("step", "integer")
        .addColumn("created_at", "text", (c) => c.notNull())
        .execute();
      await db.schema.createIndex("artifacts_run_idx").ifNotExists().on("artifacts")
        .column("run_id").execute();
    },
  },
  {
    version: 2,
    name: "run leases: one owner per training run",
    async up(db) {
      // One row per run being trained: who holds it (a random token per process and run, the
      // pid and host for the message), and when it last said it was alive.
      await db.schema.createTable("run_leases").ifNotExists()
        .addColumn(
          "run_id",
          "integer",
          (c) => c.primaryKey().references("runs.id").onDelete("cascade"),
        )
        .addColumn("token", "text", (c) => c.notNull())
        .addColumn("pid", "integer", (c) => c.notNull())
        .addColumn("host", "text", (c) => c.notNull())
        .addColumn("acquired_at", "text", (c) => c.notNull())
        .addColumn("heartbeat_at", "text", (c) => c.notNull())
        .execute();
    },
  },
  {
    version: 3,
    name: "sweeps: grids of training runs handed out by a job queue (lib/sweep)",
    async up(db, kind) {
      // One row per sweep: its spec as given, and the folder every worker keeps checkpoints in.
      await idColumn(db, kind, "sweeps")
        .addColumn("uid", "text", (c) => c.notNull().unique())
        .addColumn("created_at", "text", (c) => c.notNull())
        .addColumn("name", "text")
        .addColumn("preset", "text", (c) => c.notNull())
        .addColumn("spec", "text", (c) => c.notNull())
        .addColumn("store", "text", (c) => c.notNull())
        .addColumn("status", "text", (c) => c.notNull())
        .addCheckConstraint("sweeps_status_check", sql`status in ('active', 'cancelled')`)
        .execute();

      // One row per (setting, seed). run_uid is fixed when the sweep is made: the unique uid of
      // runs is what makes a job train at most one run, however often the queue hands it out.
      await idColumn(db, kind, "sweep_jobs")
        .addColumn(
          "sweep_id",
          "integer",
          (c) => c.notNull().references("sweeps.id").onDelete("cascade"),
        )
        .addColumn("idx", "integer", (c) => c.notNull())
        .addColumn("setting", "text", (c) => c.notNull())
        .addColumn("seed", "bigint", (c) => c.notNull())
        .addColumn("config", "text", (c) => c.notNull())
        .addColumn("run_uid", "text", (c) => c.notNull().unique())
        .addColumn("queue_job_id", "text")
        .addColumn("state", "text", (c) => c.notNull())
        .addColumn("worker", "text")
        .addColumn("attempts", "integer", (c) => c.notNull())
        .addColumn("step", "integer", (c) => c.notNull())
        .addColumn("message", "text")
        .addColumn("heartbeat_at", "text")
        .addColumn("finished_at", "text")
        .addUniqueConstraint("sweep_jobs_sweep_idx_unique", ["sweep_id", "idx"])
        .addCheckConstraint(
          "sweep_jobs_state_check",
          sql`state in ('queued', 'running', 'completed', 'failed', 'cancelled')`,
        )
        .execute();
    },
  },
];

/** The newest schema version this code knows. */
export const SCHEMA_VERSION = Math.max(...MIGRATIONS.map((m) => m.version));

/**
 * Brings the database up to SCHEMA_VERSION; returns the versions applied now (empty when it was
 * already current). Refuses a database written by a newer version of this code.
 */
export async function migrate(
  db: Kysely<Database>,
  kind: DbKind,
  migrations: readonly Migration[] = MIGRATIONS,
): Promise<number[]> {
  return await db.transaction().execute(async (trx) => {
    if (kind === "postgres") {
      await sql`select pg_advisory_xact_lock(${PG_MIGRATION_LOCK_ID})`.execute(trx);
    }
    await trx.schema.createTable("schema_migrations").ifNotExists()
      .addColumn("version", "integer", (c) => c.primaryKey())
      .addColumn("name", "text", (c) => c.notNull())
      .addColumn("applied_at", "text", (c) => c.notNull())
      .execute();
    const done = new Set(
      (await trx.selectFrom("schema_migrations").select("version").execute())
        .map((r) => Number(r.version)),
    );
    const known = Math.max(...migrations.map((m) => m.version));
    const newest = Math.max(0, ...done);
    if (newest > known) {
      throw new UserError(
        `the results database has schema version ${newest}, newer than this code knows ` +
          `(${known}): update the code (git pull) before writing to it`,
      );
    }
    const applied: number[] = [];
    for (const migration of [...migrations].sort((a, b) => a.version - b.version)) {
      if (done.has(migration.version)) continue;
      await migration.up(trx, kind);
      await trx.insertInto("schema_migrations").values({
        version: migration.version,
        name: migration.name,
        applied_at: new Date().toISOString(),
      }).execute();
      applied.push(migration.version);
    }
    return applied;
  });
}
