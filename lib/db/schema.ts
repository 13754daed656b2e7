/** Kysely's view of the tables (column names as stored; see migrations.ts for the DDL). */
import type { Generated } from "kysely";

export interface RunsTable {
  id: Generated<number>;
  uid: string;
  created_at: string;
  updated_at: string | null;
  task: string;
  preset: string;
  /** JSON text. */
  config: string;
  git_commit: string | null;
  backend: string;
  adapter: string;
  /** bigint in PostgreSQL (seeds are unsigned 32-bit); the driver may hand back a string. */
  seed: number | string;
  status: string;
  message: string | null;
  dir: string | null;
  host: string | null;
}

export interface MetricsTable {
  id: Generated<number>;
  run_id: number;
  step: number;
  level: number | null;
  name: string;
  /** NULL stands for NaN (SQLite cannot store NaN). */
  value: number | null;
}

export interface EvaluationsTable {
  id: Generated<number>;
  run_id: number;
  name: string;
  value: number | null;
  n: number | null;
  features: string | null;
  /** JSON text. */
  details: string | null;
  created_at: string;
}

export interface ArtifactsTable {
  id: Generated<number>;
  run_id: number;
  kind: string;
  path: string;
  step: number | null;
  created_at: string;
}

export interface RunLeasesTable {
  run_id: number;
  token: string;
  pid: number;
  host: string;
  /** ISO times. */
  acquired_at: string;
  heartbeat_at: string;
}

export interface SweepsTable {
  id: Generated<number>;
  uid: string;
  created_at: string;
  name: string | null;
  preset: string;
  /** JSON text: the spec as given (lib/sweep/spec.ts). */
  spec: string;
  /** The folder every worker keeps this sweep's run folders in (shared between machines). */
  store: string;
  status: string;
}

export interface SweepJobsTable {
  id: Generated<number>;
  sweep_id: number;
  /** The job's place in the sweep, from 0. */
  idx: number;
  /** JSON text: the grid's overrides of this job (without the seed). */
  setting: string;
  seed: number | string;
  /** JSON text: the full, frozen training config. */
  config: string;
  /** The uid of the job's run (runs.uid), fixed when the sweep is made. */
  run_uid: string;
  /** The job's id in the queue (pg-boss). */
  queue_job_id: string | null;
  state: string;
  /** host:pid of the worker that last took the job. */
  worker: string | null;
  attempts: number;
  step: number;
  message: string | null;
  /** ISO times. */
  heartbeat_at: string | null;
  finished_at: string | null;
}

export interface SchemaMigrationsTable {
  version: number;
  name: string;
  applied_at: string;
}

export interface Database {
  runs: RunsTable;
  metrics: MetricsTable;
  evaluations: EvaluationsTable;
  artifacts: ArtifactsTable;
  run_leases: RunLeasesTable;
  sweeps: SweepsTable;
  sweep_jobs: SweepJobsTable;
  schema_migrations: SchemaMigrationsTable;
}
