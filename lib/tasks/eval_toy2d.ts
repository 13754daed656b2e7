/**
 * `deno task eval --run ID` for a 2D run: the end-of-run evaluation (lib/tasks/toy2d_report.ts)
 * again, on the run's latest checkpoint or a kept one, with the current code: metrics beside their
 * baselines, the level-0 grid likelihood, learned vs true marginals per level, and the figure.
 * Same seed as the training's own evaluation, so the latest checkpoint gives the same numbers.
 */
import type { ResultsDb, RunRecord } from "../db/mod.ts";
import { checkedRunDir, runCheckpoint, runFigurePath } from "../run_files.ts";
import { loadForSampling } from "../train_state.ts";
import { evaluateToy2dRun, evaluationRows } from "./toy2d_report.ts";

export interface Toy2dEvalResult {
  run: RunRecord;
  /** The checkpoint's training step. */
  step: number;
  rows: { name: string; value: number; n: number }[];
  marginalKl: { level: number; kl: number }[];
  figurePath: string;
}

/** Whether run `runId` is a 2D run (false for unknown runs: the image path reports those). */
export async function isToy2dRun(db: ResultsDb, runId: number): Promise<boolean> {
  const run = await db.getRun(runId);
  return (run?.config as { task?: string } | null)?.task === "toy2d";
}

/** Evaluates the run's EMA weights and records the rows as evaluations of the run. */
export async function evaluateToy2dCheckpoint(
  db: ResultsDb,
  runId: number,
  step?: number,
): Promise<Toy2dEvalResult> {
  const { run, path } = await runCheckpoint(db, runId, step);
  const model = await loadForSampling(path, "ema");
  try {
    const figurePath = runFigurePath(await checkedRunDir(run), model.step);
    const report = await evaluateToy2dRun(model.config, model.net, model.st, figurePath);
    const rows = evaluationRows(report.evaluation, report.marginalKl);
    for (const row of rows) {
      // The step goes with the row: a run's evaluations may come from several checkpoints.
      const details = { ...(row.details as object | undefined), step: model.step };
      await db.addEvaluation({ runId, ...row, details });
    }
    await db.addArtifact({ runId, kind: "figure", path: figurePath, step: model.step });
    return { run, step: model.step, rows, marginalKl: report.marginalKl, figurePath };
  } finally {
    model.net.dispose();
    model.st.dispose();
  }
}
