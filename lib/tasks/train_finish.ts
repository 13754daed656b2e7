/**
 * The end of a completed training run: with the EMA weights, the 2D evaluation (figure, metrics
 * beside their baselines, the chains' statistics) or an image grid, recorded with the run.
 */
import type { TrainConfig } from "../config.ts";
import type { RunRecorder } from "../db/run_recorder.ts";
import { runFigurePath, runSamplesPath } from "../run_files.ts";
import type { TrainState } from "../train_state.ts";
import { writeImageSamples } from "./image_grids.ts";
import { evaluateToy2dRun, evaluationRows } from "./toy2d_report.ts";

export interface RunEnd {
  evaluation: { name: string; value: number }[];
  figures: string[];
}

export async function finishRun(
  config: TrainConfig,
  state: TrainState,
  rec: RunRecorder,
  runId: number,
  runDir: string,
): Promise<RunEnd> {
  const evaluation: { name: string; value: number }[] = [];
  if (config.task === "toy2d") {
    const figurePath = runFigurePath(runDir);
    const report = await state.ema.withEmaWeights(() =>
      evaluateToy2dRun(config, state.net, state.st, figurePath)
    );
    for (const row of evaluationRows(report.evaluation, report.marginalKl)) {
      await rec.addEvaluation(row);
      evaluation.push({ name: row.name, value: row.value });
    }
    await rec.addArtifact({ kind: "figure", path: figurePath, step: state.step });
    await rec.logMetrics(report.levelStats.flatMap((l) => [
      { runId, step: state.step, level: l.level, name: "eval_acceptance", value: l.acceptance },
      { runId, step: state.step, level: l.level, name: "eval_displacement", value: l.displacement },
    ]));
    return { evaluation, figures: [figurePath] };
  }
  const path = runSamplesPath(runDir);
  await state.ema.withEmaWeights(() => writeImageSamples(config, state.net, state.st, path));
  await rec.addArtifact({ kind: "grid", path, step: state.step });
  return { evaluation, figures: [path] };
}
