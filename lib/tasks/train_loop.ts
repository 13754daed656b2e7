/**
 * The training loop of a run: steps with the divergence guard, per-level rows at each log point,
 * checkpoints (rows first), kept copies, sample grids, and a stop within the step under way on
 * SIGINT or SIGTERM.
 */
import type { TrainConfig } from "../config.ts";
import type { MetricRow } from "../db/mod.ts";
import { UserError } from "../errors.ts";
import { failpoint } from "../failpoints.ts";
import { copyFileAtomic } from "../io/atomic.ts";
import { createProgress, type Progress } from "../io/progress.ts";
import { runCheckpointPath, runSamplesPath } from "../run_files.ts";
import { spreadLevels } from "../schedule.ts";
import { divergence, LEVEL_METRICS, LevelStats, makeTrainStep } from "../train_step.ts";
import { saveTrainState } from "../train_state.ts";
import { writeImageSamples } from "./image_grids.ts";
import type { OpenRun } from "./train_setup.ts";

/** The guard stopped a run whose loss ran away: the same run from its checkpoint would again. */
export class TrainingDivergedError extends UserError {
  override name = "TrainingDivergedError";
}

export interface LoopContext {
  config: TrainConfig;
  runId: number;
  /** Recorded in every checkpoint: whose files these are (lib/run_files.ts). */
  runUid: string;
  runDir: string;
  run: OpenRun;
  commit: string | null;
  log: (line: string) => void;
  /** A stop from the caller, handled as SIGTERM is (see TrainOptions.signal). */
  signal?: AbortSignal;
  /** Called after every step with the step reached. */
  onStep?: (step: number) => void;
}

export interface LoopOutcome {
  /** The signal that stopped the run, or null when it ran to its last step. */
  stoppedBy: string | null;
  secondsPerStep: number;
  /** Sample grids written during training. */
  figures: string[];
}

/** The run's metric rows at a log point: each level's means, then the run-wide values. */
export function logPointRows(
  runId: number,
  step: number,
  flushed: ReturnType<LevelStats["flush"]>,
  lr: number,
  secondsPerStep: number,
): { rows: MetricRow[]; meanLoss: number } {
  const rows: MetricRow[] = [];
  for (const l of flushed.perLevel) {
    for (const m of LEVEL_METRICS) {
      rows.push({ runId, step, level: l.level, name: m, value: l.values[m] });
    }
  }
  const meanLoss = flushed.perLevel.reduce((s, l) => s + l.values.loss, 0) /
    flushed.perLevel.length;
  rows.push(
    { runId, step, level: null, name: "loss", value: meanLoss },
    { runId, step, level: null, name: "grad_norm", value: flushed.gradNorm },
    { runId, step, level: null, name: "lr", value: lr },
    { runId, step, level: null, name: "seconds_per_step", value: secondsPerStep },
  );
  return { rows, meanLoss };
}

/**
 * SIGINT/SIGTERM (or the caller's AbortSignal) set a flag the loop reads at each step; a second
 * signal waits for the first.
 */
function listenForStop(
  log: (line: string) => void,
  abort?: AbortSignal,
): { signal(): string | null; remove(): void } {
  let stopSignal: string | null = null;
  const onAbort = () => {
    stopSignal ??= typeof abort?.reason === "string" ? abort.reason : "abort";
  };
  if (abort?.aborted) onAbort();
  abort?.addEventListener("abort", onAbort, { once: true });
  const handlers = (["SIGINT", "SIGTERM"] as const).map((sig) => {
    const h = () => {
      if (stopSignal) {
        // Exiting now could cut the last checkpoint in half: the stop is already under way.
        log(`${sig} again: finishing the step and the last checkpoint, then stopping`);
        return;
      }
      stopSignal = sig;
    };
    Deno.addSignalListener(sig, h);
    return [sig, h] as const;
  });
  return {
    signal: () => stopSignal,
    remove: () => {
      handlers.forEach(([sig, h]) => Deno.removeSignalListener(sig, h));
      abort?.removeEventListener("abort", onAbort);
    },
  };
}

/** Trains from the run's state to config.train.iterations or a stop; ends with a checkpoint. */
export async function runTrainingLoop(ctx: LoopContext): Promise<LoopOutcome> {
  const { config, runId, runDir, log } = ctx;
  const { state, rec, source, pool } = ctx.run;
  const trainStep = makeTrainStep(config, state.net, state.st, state.adam, state.ema, state.rng, {
    pool: pool ?? undefined,
  });
  const stats = new LevelStats(config.schedule.T);
  const pending: MetricRow[] = [];
  const figures: string[] = [];
  const ckptPath = runCheckpointPath(runDir);
  // Configs written before keepEvery existed have no such field: no kept copies.
  const keepEvery = config.train.keepEvery ?? 0;
  const checkpoint = async () => {
    // Rows first, then the checkpoint: a kill in between leaves rows past the checkpoint, which a
    // resume deletes and logs again, so the database always matches what training did.
    await rec.logMetrics(pending.splice(0));
    failpoint("after-rows");
    await saveTrainState(ckptPath, state, ctx.commit, { runId, runUid: ctx.runUid });
    if (keepEvery > 0 && state.step % keepEvery === 0) {
      const kept = runCheckpointPath(runDir, state.step);
      await copyFileAtomic(ckptPath, kept);
      await rec.addArtifact({ kind: "checkpoint", path: kept, step: state.step });
    }
  };
  const stop = listenForStop(log, ctx.signal);
  const progress: Progress = createProgress(config.train.iterations, state.step, { write: log });
  const startStep = state.step;
  const t0 = performance.now();
  try {
    while (state.step < config.train.iterations) {
      // Signal listeners run as event-loop tasks, which a loop of resolved promises (the wasm
      // and cpu backends) never lets in: yield once per step so a stop is seen within a step.
      await new Promise((resolve) => setTimeout(resolve, 0));
      if (stop.signal()) break;
      // Still this run's trainer? (A database that went away only skips the heartbeat.)
      await ctx.run.lease.heartbeat().catch((err) => {
        if (err instanceof UserError) throw err;
      });
      const x0 = await source.next(config.train.batch, state.rng);
      const r = await trainStep(x0);
      x0.dispose();
      const bad = divergence(r.meanLoss, config.train.lossLimit);
      if (bad) {
        await rec.logMetrics(pending.splice(0));
        const message = `training diverged at step ${state.step + 1}: ${bad}; the last good ` +
          `checkpoint is kept in ${ckptPath}; lower --b2 or --lr, or set --grad-clip`;
        await rec.setRunStatus("failed", message);
        throw new TrainingDivergedError(message);
      }
      state.step++;
      stats.add(r);
      ctx.onStep?.(state.step);
      const perStep = (performance.now() - t0) / 1000 / (state.step - startStep);
      progress.update(state.step, `loss ${r.meanLoss.toFixed(4)} | ${perStep.toFixed(3)} s/it`);
      if (state.step % config.train.logEvery === 0 || state.step === config.train.iterations) {
        const flushed = stats.flush();
        const { rows, meanLoss } = logPointRows(
          runId,
          state.step,
          flushed,
          state.adam.learningRate(),
          perStep,
        );
        pending.push(...rows);
        // Many levels (T = 100) would make a line of thousands of characters: show a spread of
        // them; the database has every level.
        const shown = new Set(spreadLevels(config.schedule.T, 10));
        const levels = flushed.perLevel.filter((l) => shown.has(l.level)).map((l) =>
          `${l.level}:${l.values.loss.toFixed(3)}/${l.values.acceptance.toFixed(2)}`
        ).join(" ");
        progress.log(
          `step ${state.step}/${config.train.iterations} loss ${meanLoss.toFixed(4)} ` +
            `grad ${flushed.gradNorm.toFixed(2)} ${perStep.toFixed(3)} s/it | ` +
            `level:loss/accept ${levels}`,
        );
      }
      if (
        state.step % config.train.checkpointEvery === 0 ||
        (keepEvery > 0 && state.step % keepEvery === 0)
      ) await checkpoint();
      if (
        config.task === "images" && config.train.sampleEvery > 0 &&
        state.step % config.train.sampleEvery === 0
      ) {
        const path = runSamplesPath(runDir, state.step);
        await state.ema.withEmaWeights(() => writeImageSamples(config, state.net, state.st, path));
        await rec.addArtifact({ kind: "grid", path, step: state.step });
        figures.push(path);
      }
    }
    progress.stop();
    await checkpoint();
    await rec.addArtifact({ kind: "checkpoint", path: ckptPath, step: state.step });
    const secondsPerStep = state.step > startStep
      ? (performance.now() - t0) / 1000 / (state.step - startStep)
      : NaN;
    return { stoppedBy: stop.signal(), secondsPerStep, figures };
  } catch (err) {
    progress.stop();
    if (rec.status === "running") await rec.logMetrics(pending.splice(0)).catch(() => {});
    throw err;
  } finally {
    stop.remove();
  }
}
