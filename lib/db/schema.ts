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
  schema_migrations: SchemaMigrationsTable;
}
