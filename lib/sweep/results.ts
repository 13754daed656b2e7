/**
 * A sweep's runs as comparison results (`deno task compare --sweep ID`): each completed job's
 * final evaluations and its final logged mean loss (image presets end without evaluations, and a
 * sweep still wants to rank them), for lib/report/compare.ts to group by setting over seeds.
 */
import type { ResultsDb } from "../db/mod.ts";
import { datasetOfRun, type RunResult } from "../report/compare.ts";
import { kyselyOf, requireSweep, sweepJobs, type SweepRecord } from "./store.ts";

export async function collectSweepResults(
  db: ResultsDb,
  sweepId: number,
): Promise<{
  sweep: SweepRecord;
  results: RunResult[];
  unfinished: number;
  /** Each result's grid setting (sweep_jobs.setting), by run id: the axes of the sweep page. */
  settings: Map<number, Record<string, string>>;
}> {
  const k = kyselyOf(db);
  const sweep = await requireSweep(k, sweepId, db.location);
  const results: RunResult[] = [];
  const settings = new Map<number, Record<string, string>>();
  let unfinished = 0;
  for (const job of await sweepJobs(k, sweepId)) {
    const run = await db.getRunByUid(job.runUid);
    if (!run || run.status !== "completed") {
      unfinished++;
      continue;
    }
    const metrics: Record<string, number> = {};
    const loss = await k.selectFrom("metrics").select("value").where("run_id", "=", run.id)
      .where("name", "=", "loss").where("level", "is", null).orderBy("step", "desc").limit(1)
      .executeTakeFirst();
    if (loss) metrics.loss = loss.value === null ? NaN : Number(loss.value);
    for (const e of await db.evaluations(run.id)) metrics[e.name] = e.value; // ordered: last wins
    results.push({ run, dataset: datasetOfRun(run), metrics });
    settings.set(run.id, job.setting);
  }
  return { sweep, results, unfinished, settings };
}
