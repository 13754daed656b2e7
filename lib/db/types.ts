import type { MetricName } from "../metric_names.ts";

/** The results database's public records: what a run, its metrics, evaluations and artifacts are. */

export type RunStatus = "running" | "completed" | "failed" | "stopped";

export const RUN_STATUSES: readonly RunStatus[] = ["running", "completed", "failed", "stopped"];

export interface NewRun {
  task: string;
  preset: string;
  /** The full, frozen run config; stored as JSON text. */
  config: unknown;
  gitCommit: string | null;
  backend: string;
  adapter: string;
  seed: number;
  /** The run's folder (checkpoints, pictures), or null when it has none. */
  dir: string | null;
  /** The machine the run ran on; defaults to this machine's hostname. */
  host?: string | null;
  /**
   * The run's uid when it is fixed in advance (a sweep's job: its one run, whichever worker makes
   * it); default a fresh random one. The uid is unique, so a second run with it is refused.
   */
  uid?: string;
}

export interface MetricRow {
  runId: number;
  step: number;
  /** The noise level the value belongs to, or null for a run-wide value (e.g. the mean loss). */
  level: number | null;
  /** From the one table of names (lib/metric_names.ts); rows read back keep what was stored. */
  name: MetricName;
  /** May be NaN or +-Infinity (a diverged loss is worth keeping); stored as NULL / Infinity. */
  value: number;
}

export interface EvaluationRow {
  runId: number;
  /** "fid", "is", "kid", "energy_distance", ... (lib/metric_names.ts) */
  name: MetricName;
  value: number;
  /** How many samples the value was computed from. */
  n?: number | null;
  /** The feature extractor used (e.g. "inception-v3-pool3"), when the metric has one. */
  features?: string | null;
  /** Anything else worth keeping (per-mode shares, standard errors, ...); stored as JSON. */
  details?: unknown;
}

export interface ArtifactRow {
  runId: number;
  /** "grid", "samples", "checkpoint", "density", ... */
  kind: string;
  path: string;
  step?: number | null;
}

export interface RunRecord {
  id: number;
  /** Stable unique key of the run across databases (export, import and sync use it). */
  uid: string;
  createdAt: string;
  /** When the status last changed, or null while it never did. */
  updatedAt: string | null;
  task: string;
  preset: string;
  config: unknown;
  gitCommit: string | null;
  backend: string;
  adapter: string;
  seed: number;
  status: RunStatus;
  message: string | null;
  dir: string | null;
  host: string | null;
}

/** A run with everything recorded about it: the unit that export, import and sync move. */
export interface RunBundle {
  run: Omit<RunRecord, "id">;
  metrics: Omit<MetricRow, "runId">[];
  evaluations: (Omit<EvaluationRow, "runId"> & { createdAt?: string })[];
  artifacts: (Omit<ArtifactRow, "runId"> & { createdAt?: string })[];
}

export interface RunFilter {
  task?: string;
  preset?: string;
}

export type DbKind = "sqlite" | "postgres";

/** Who trains a run: one process at a time (see lib/db/lease.ts). */
export interface RunLease {
  runId: number;
  /** Random, per process and run: only its holder renews or releases a lease. */
  token: string;
  pid: number;
  host: string;
  acquiredAt: string;
  heartbeatAt: string;
}

export interface ResultsDb {
  /** Which engine this database runs on. */
  readonly kind: DbKind;
  /** Where it is: the SQLite file path, or the PostgreSQL URL without its password. */
  readonly location: string;
  createRun(run: NewRun): Promise<number>;
  setRunStatus(runId: number, status: RunStatus, message?: string): Promise<void>;
  /** Sets the run's folder (known only once the run has its id). */
  setRunDir(runId: number, dir: string): Promise<void>;
  /** Deletes a run's metric rows past `step` (a resumed run logs those steps again). */
  deleteMetricsAfter(runId: number, step: number): Promise<void>;
  /** Batched insert in one transaction. */
  logMetrics(rows: MetricRow[]): Promise<void>;
  addEvaluation(row: EvaluationRow): Promise<void>;
  addArtifact(row: ArtifactRow): Promise<void>;
  getRun(runId: number): Promise<RunRecord | null>;
  /** The run's lease, or null when no process holds it. */
  getLease(runId: number): Promise<RunLease | null>;
  /** Inserts the lease; false when the run already has one. */
  insertLease(lease: RunLease): Promise<boolean>;
  /**
   * Replaces the lease held with `expectedToken` (a compare-and-swap: false when another process
   * changed it first), or with `next === null` deletes it.
   */
  swapLease(runId: number, expectedToken: string, next: RunLease | null): Promise<boolean>;
  getRunByUid(uid: string): Promise<RunRecord | null>;
  /** Runs in creation order (oldest first). */
  listRuns(filter?: RunFilter): Promise<RunRecord[]>;
  /** A run's metrics ordered by step, then level (null first), then name. */
  metrics(runId: number, name?: string): Promise<MetricRow[]>;
  evaluations(runId: number): Promise<EvaluationRow[]>;
  artifacts(runId: number): Promise<ArtifactRow[]>;
  /** Everything about one run, or null when there is no such run. */
  exportRun(runId: number): Promise<RunBundle | null>;
  /**
   * Inserts a run with all its rows in one transaction, unless a run with the same uid is already
   * there (then nothing changes): import and sync are idempotent.
   */
  importRun(bundle: RunBundle): Promise<{ id: number; created: boolean }>;
  close(): Promise<void>;
}
