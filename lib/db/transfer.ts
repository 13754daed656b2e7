/** Moving runs between results databases: export, import and sync (all idempotent by run uid). */
import { UserError } from "../errors.ts";
import type { ResultsDb, RunBundle } from "./types.ts";

/** Every given run with all its rows; a missing id is a UserError naming it. */
export async function exportRuns(db: ResultsDb, runIds: number[]): Promise<RunBundle[]> {
  const bundles: RunBundle[] = [];
  for (const id of runIds) {
    const bundle = await db.exportRun(id);
    if (bundle === null) {
      throw new UserError(
        `there is no run ${id} in ${db.location}: list the runs with deno task compare`,
      );
    }
    bundles.push(bundle);
  }
  return bundles;
}

export interface ImportSummary {
  /** Runs newly inserted, with their ids in the target database. */
  created: number[];
  /** Runs the target already had (same uid), with their ids there. */
  existing: number[];
}

/** Inserts the bundles' runs that the database does not have yet. */
export async function importBundles(db: ResultsDb, bundles: RunBundle[]): Promise<ImportSummary> {
  const summary: ImportSummary = { created: [], existing: [] };
  for (const bundle of bundles) {
    const { id, created } = await db.importRun(bundle);
    (created ? summary.created : summary.existing).push(id);
  }
  return summary;
}

export interface SyncSummary extends ImportSummary {
  /** Local run ids still marked running, left out (their rows are not final yet). */
  skippedRunning: number[];
}

/**
 * Pushes every run of `from` that `to` lacks. Runs still marked "running" are left for a later
 * sync unless includeRunning is set: a run pushed half-way would stay half-way in `to`, since
 * sync never rewrites a run that is already there.
 */
export async function syncRuns(
  from: ResultsDb,
  to: ResultsDb,
  opts: { includeRunning?: boolean } = {},
): Promise<SyncSummary> {
  const summary: SyncSummary = { created: [], existing: [], skippedRunning: [] };
  for (const run of await from.listRuns()) {
    const there = await to.getRunByUid(run.uid);
    if (there) {
      summary.existing.push(there.id);
      continue;
    }
    if (run.status === "running" && !opts.includeRunning) {
      summary.skippedRunning.push(run.id);
      continue;
    }
    const bundle = await from.exportRun(run.id);
    if (bundle === null) continue; // deleted meanwhile
    const { id, created } = await to.importRun(bundle);
    (created ? summary.created : summary.existing).push(id);
  }
  return summary;
}
