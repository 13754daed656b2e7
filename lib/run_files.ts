/**
 * The fixed layout of a run's folder, the one place its file names are spelled:
 *   config.json               the frozen training config
 *   checkpoint.ckpt           the latest checkpoint (resume and sampling read it)
 *   checkpoint_step<N>.ckpt   kept copies at steps N (train.keepEvery), for curves over training
 *   samples_step<N>.png       sample grids during training (train.sampleEvery)
 *   samples.png, figure.png   the end-of-run grid (images) or figure (2D)
 *   db_journal.json           rows the results database did not take (lib/db/journal.ts)
 */
import { join } from "node:path";

export const RUN_CONFIG_FILE = "config.json";
export const RUN_CHECKPOINT_FILE = "checkpoint.ckpt";

/** The latest checkpoint of the run in `runDir`, or its kept copy at `step`. */
export function runCheckpointPath(runDir: string, step?: number): string {
  return join(runDir, step === undefined ? RUN_CHECKPOINT_FILE : `checkpoint_step${step}.ckpt`);
}

/** A sample grid written during training (at `step`) or at the end (no step). */
export function runSamplesPath(runDir: string, step?: number): string {
  return join(runDir, step === undefined ? "samples.png" : `samples_step${step}.png`);
}

/** The end-of-run figure of a 2D run. */
export function runFigurePath(runDir: string): string {
  return join(runDir, "figure.png");
}
