/**
 * Where a run's files are and that they are its own. A run's folder is results/runs/<uid> (older
 * runs: results/runs/<id>, still read), and its checkpoints record the run's uid: files of another
 * run (two databases sharing one results folder, an import from elsewhere) are refused, not used.
 *
 * The fixed layout of a run's folder, the one place its file names are spelled:
 *   config.json               the frozen training config
 *   checkpoint.ckpt           the latest checkpoint (resume and sampling read it)
 *   checkpoint_step<N>.ckpt   kept copies at steps N (train.keepEvery), for curves over training
 *   samples_step<N>.png       sample grids during training (train.sampleEvery)
 *   samples.png, figure.png   the end-of-run grid (images) or figure (2D)
 *   figure_step<N>.png        a 2D figure of `deno task eval --run` for the checkpoint of step N
 *   db_journal.json           rows the results database did not take (lib/db/journal.ts)
 */
import { join, relative, resolve } from "node:path";
import type { TrainConfig } from "./config.ts";
import type { ResultsDb, RunRecord } from "./db/mod.ts";
import { UserError } from "./errors.ts";
import { readCheckpointMeta } from "./io/checkpoint.ts";

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

/** The end-of-run figure of a 2D run, or (with a step) a later evaluation's of that checkpoint. */
export function runFigurePath(runDir: string, step?: number): string {
  return join(runDir, step === undefined ? "figure.png" : `figure_step${step}.png`);
}

/** A new run's folder: named by its uid, unique across every database (ids are not). */
export function runFolder(resultsDir: string, uid: string): string {
  return join(resultsDir, "runs", uid);
}

/** Whether `path` is `dir` or lies inside it (after resolving both). */
export function isInside(path: string, dir: string): boolean {
  const rel = relative(resolve(dir), resolve(path));
  return rel === "" || (!rel.startsWith("..") && !rel.startsWith("/"));
}

/**
 * The run's folder, checked: recorded, not a symbolic link (a run's files are never followed
 * elsewhere), and inside `resultsDir` when one is given (a folder from a database or an import
 * file could name any place on the machine).
 */
export async function checkedRunDir(run: RunRecord, resultsDir?: string): Promise<string> {
  if (!run.dir) {
    throw new UserError(`run ${run.id} has no folder (task ${run.task}); give --checkpoint`);
  }
  if (resultsDir !== undefined && !isInside(run.dir, resultsDir)) {
    throw new UserError(
      `run ${run.id}'s folder ${run.dir} is outside the results folder ${resultsDir}; ` +
        `refusing to write there (give --results with the folder that holds it)`,
    );
  }
  try {
    if ((await Deno.lstat(run.dir)).isSymlink) {
      throw new UserError(
        `run ${run.id}'s folder ${run.dir} is a symbolic link; a run's folder must be a real ` +
          `folder (copy the run there instead of linking it)`,
      );
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  return run.dir;
}

/**
 * Refuses a checkpoint that belongs to another run: it records its run's uid (written since runs
 * are named by uid; older checkpoints have only a run id, which is all they can be checked by).
 */
export async function checkCheckpointOwner(path: string, run: RunRecord): Promise<void> {
  const extra = (await readCheckpointMeta(path)).extra ?? {};
  const uid = extra.runUid as string | undefined;
  const id = extra.runId as number | undefined;
  if (uid !== undefined ? uid !== run.uid : id !== undefined && id !== run.id) {
    throw new UserError(
      `${path} belongs to another run (${uid ?? `id ${id}`}), not to run ${run.id} (${run.uid}); ` +
        `two results databases share this results folder? Give each its own --results folder`,
    );
  }
}

/**
 * A recorded run and its checkpoint (the latest, or the copy kept at `step`), checked to be the
 * run's own; a UserError saying what is missing otherwise. `images` refuses runs of another task.
 */
export async function runCheckpoint(
  db: ResultsDb,
  runId: number,
  step?: number,
  opts: { images?: boolean } = {},
): Promise<{ run: RunRecord; path: string }> {
  const run = await db.getRun(runId);
  if (!run) {
    throw new UserError(`no run ${runId} in ${db.location}; list runs with: deno task compare`);
  }
  const config = run.config as Partial<TrainConfig>;
  if (opts.images && config.task !== "images") {
    throw new UserError(
      `run ${runId} is a '${run.task}' run, not an image model; FID/IS/KID need images`,
    );
  }
  const path = runCheckpointPath(await checkedRunDir(run), step);
  try {
    await Deno.stat(path);
  } catch {
    throw new UserError(
      step === undefined
        ? `run ${runId} has no checkpoint at ${path} (it died before its first one, or its folder moved)`
        : `run ${runId} kept no checkpoint at step ${step} (${path}); train with --keep-every=N ` +
          `to keep copies every N steps`,
    );
  }
  await checkCheckpointOwner(path, run);
  return { run, path };
}
