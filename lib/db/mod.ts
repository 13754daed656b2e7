/**
 * The results database (one schema, SQLite or PostgreSQL): runs, per-step metrics, evaluations
 * and artifacts. Open it with openResultsDb (or openResultsDbOrFallback in a training run).
 */
export type {
  ArtifactRow,
  DbKind,
  EvaluationRow,
  MetricRow,
  NewRun,
  ResultsDb,
  RunBundle,
  RunFilter,
  RunLease,
  RunRecord,
  RunStatus,
} from "./types.ts";
export { RUN_STATUSES } from "./types.ts";
export {
  DatabaseUnavailableError,
  dbOptionsFor,
  type DbTarget,
  DEFAULT_DB_PATH,
  type OpenOptions,
  openResultsDb,
  openResultsDbOrFallback,
  redactUrl,
  resolveDbTarget,
} from "./open.ts";
export { SCHEMA_VERSION } from "./migrations.ts";
export { decodeExportFile, encodeExportFile } from "./bundle_file.ts";
export {
  decodeJournal,
  type Journal,
  JOURNAL_FILE,
  replayJournal,
  type ReplaySummary,
} from "./journal.ts";
export { RunRecorder } from "./run_recorder.ts";
export {
  exportRuns,
  importBundles,
  type ImportSummary,
  syncRuns,
  type SyncSummary,
} from "./transfer.ts";
