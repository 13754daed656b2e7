/**
 * Sampling from a checkpoint (Algorithm 3 with the EMA weights): a grid of strips (every level of
 * each chain), optionally a folder of PNGs for metrics, optionally long-run chains; recorded in the
 * results database as a run of task "sample".
 */
import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import { type BackendChoice, initBackend } from "../backend.ts";
import { getToy2d } from "../data/toy2d.ts";
import type { ResultsDb } from "../db/mod.ts";
import { imageShape, levelStrips } from "./image_grids.ts";
import { TOY_BOX } from "../level_density.ts";
import { gitCommit } from "../git.ts";
import { writeToy2dFigure } from "../io/plot2d.ts";
import { floatBatchToTiles, imageGrid, writePng } from "../io/png.ts";
import { Rng } from "../rng.ts";
import { type LongRunSnapshot, runLongChains } from "../samplers/long_run.ts";
import { drawSamples } from "../samplers/progressive.ts";
import type { SamplerKind } from "../samplers/langevin.ts";
import { loadForSampling } from "../train_state.ts";
import { runCheckpoint } from "../run_files.ts";

export interface SampleOptions {
  checkpoint: string;
  /** The run the checkpoint belongs to, when known (recorded with the samples). */
  sourceRun: number | null;
  n: number;
  seed: number;
  out: string;
  /** Also write each sample as its own PNG here (images only). */
  pngDir: string | null;
  /** Continue the level-0 chains for this many steps (0: none). */
  longRun: number;
  /** Long-run snapshot steps (default log-spaced; the last step is always one). */
  snapshots?: readonly number[];
  weights: "ema" | "params";
  backend: BackendChoice;
  /** Samples per progressive-sampling batch (memory bound). */
  batch: number;
  /** Langevin noise scale (official evaluation: 0.99; default 1). */
  noiseScale?: number;
  /** K and the sampler, where they differ from the checkpoint's training config. */
  langevin?: { steps?: number; sampler?: SamplerKind };
}

export interface SampleSummary {
  runId: number;
  out: string;
  pngDir: string | null;
  /** Long-run snapshots over all chains; their PNGs (with pngDir) in longRunDir/step_N/. */
  longRun: LongRunSnapshot[];
  longRunDir: string | null;
  /** The grid of final samples (images only). */
  finals: string | null;
  levelStats: { level: number; acceptance: number; displacement: number }[];
}

async function writeTiles(dir: string, data: Float32Array, shape: number[], offset: number) {
  const tiles = floatBatchToTiles({ data, shape: shape as [number, number, number, number] });
  for (let i = 0; i < tiles.length; i++) {
    const t = tiles[i];
    const name = `${String(offset + i).padStart(6, "0")}.png`;
    await writePng(join(dir, name), t.pixels, t.width, t.height, t.channels);
  }
}

/** The grid of final samples written beside the strips: grid.png -> grid_x0.png. */
export function finalsPath(out: string): string {
  return out.replace(/(\.png)?$/i, "_x0.png");
}

const stepName = (s: number) => `step_${String(s).padStart(7, "0")}`;

/** Statistics of several batches' snapshots at one step, as if taken over all chains at once. */
function poolSnapshots(parts: { n: number; s: LongRunSnapshot }[]): LongRunSnapshot {
  const total = parts.reduce((a, p) => a + p.n, 0);
  const avg = (f: (s: LongRunSnapshot) => number) =>
    parts.reduce((a, p) => a + p.n * f(p.s), 0) / total;
  const mean = avg((s) => s.mean);
  // Pooled variance: within-batch variance plus the spread of the batch means.
  const variance = avg((s) => s.std * s.std + (s.mean - mean) ** 2);
  return {
    step: parts[0].s.step,
    energy: avg((s) => s.energy),
    mean,
    std: Math.sqrt(variance),
    outside: avg((s) => s.outside),
    acceptance: avg((s) => s.acceptance),
  };
}

/**
 * Draws samples from a checkpoint (Algorithm 3 with its EMA weights), writes the grids (and PNGs,
 * and long-run chains when asked) and records a run of task "sample".
 *
 * @example
 * ```ts
 * const db = await openResultsDb({ path: "results/results.db" });
 * await sampleFromCheckpoint({
 *   checkpoint: await shippedModelPath("fashion-mnist"),
 *   sourceRun: null, n: 64, seed: 0, out: "grid.png", pngDir: null, longRun: 0,
 *   weights: "ema", backend: "auto", batch: 64,
 * }, db);
 * ```
 */
export async function sampleFromCheckpoint(
  opts: SampleOptions,
  db: ResultsDb,
): Promise<SampleSummary> {
  const backend = await initBackend(opts.backend);
  const { config, net, st, step } = await loadForSampling(opts.checkpoint, opts.weights);
  const noiseScale = opts.noiseScale ?? 1;
  const chain = { ...config.langevin, ...opts.langevin, noiseScale };
  console.log(
    `backend: ${backend.backend} (${backend.adapter}); ${config.preset} at step ${step}, ` +
      `${opts.weights} weights, T=${config.schedule.T}, K=${chain.steps} ${chain.sampler}, ` +
      `noise scale ${noiseScale}`,
  );
  const runId = await db.createRun({
    task: "sample",
    preset: config.preset,
    config: {
      dataset: config.dataset,
      checkpoint: opts.checkpoint,
      sourceRun: opts.sourceRun,
      checkpointStep: step,
      n: opts.n,
      seed: opts.seed,
      weights: opts.weights,
      longRun: opts.longRun,
      snapshots: opts.snapshots ?? null,
      langevin: chain,
    },
    gitCommit: await gitCommit(),
    backend: backend.backend,
    adapter: backend.adapter,
    seed: opts.seed,
    dir: null,
  });
  try {
    const rng = new Rng(opts.seed);
    const isImage = config.task === "images";
    const exampleShape = isImage ? imageShape(config) : [2];
    let levelStats: SampleSummary["levelStats"] = [];
    const allSamples: Float32Array[] = [];
    let firstLevels: tf.Tensor[] | null = null;
    const longRunDir = opts.longRun > 0 ? opts.out.replace(/\.png$/i, "") + "_longrun" : null;
    const snapshotParts = new Map<number, { n: number; s: LongRunSnapshot }[]>();
    if (opts.pngDir) await Deno.mkdir(opts.pngDir, { recursive: true });
    if (longRunDir) await Deno.mkdir(longRunDir, { recursive: true });
    for await (const r of drawSamples(net, exampleShape, opts.n, opts.batch, st, rng, chain)) {
      const done = r.start;
      const b = r.levels[0].shape[0];
      if (done === 0) levelStats = r.stats;
      const x0 = tf.tidy(
        () => (isImage ? tf.clipByValue(r.levels[0], -1, 1) : r.levels[0].clone()),
      );
      const values = Float32Array.from(await x0.data());
      allSamples.push(values);
      if (opts.pngDir && isImage) await writeTiles(opts.pngDir, values, x0.shape, done);
      x0.dispose();
      if (longRunDir) {
        // Every chain continues, batch by batch: the snapshots' PNGs cover all n samples.
        const snaps = await runLongChains(
          net,
          st,
          r.levels[1],
          r.levels[0],
          rng,
          opts.longRun,
          chain,
          async (s, x) => {
            if (!isImage) return;
            const clipped = tf.tidy(() => tf.clipByValue(x, -1, 1));
            const data = Float32Array.from(await clipped.data());
            if (opts.pngDir) {
              const dir = join(longRunDir, stepName(s));
              await Deno.mkdir(dir, { recursive: true });
              await writeTiles(dir, data, clipped.shape, done);
            }
            if (done === 0) {
              const rows = Math.min(x.shape[0], 64);
              const part = clipped.slice(0, rows);
              const tiles = floatBatchToTiles({
                data: Float32Array.from(await part.data()),
                shape: part.shape as [number, number, number, number],
              });
              part.dispose();
              const cols = Math.ceil(Math.sqrt(rows));
              const grid = imageGrid(tiles, Math.ceil(rows / cols), cols);
              const path = join(longRunDir, `${stepName(s)}.png`);
              await writePng(path, grid.pixels, grid.width, grid.height, grid.channels);
              await db.addArtifact({ runId, kind: "longrun", path, step: s });
            }
            clipped.dispose();
          },
          opts.snapshots,
        );
        for (const s of snaps) {
          if (!snapshotParts.has(s.step)) snapshotParts.set(s.step, []);
          snapshotParts.get(s.step)!.push({ n: b, s });
        }
      }
      if (done === 0) {
        firstLevels = r.levels;
      } else {
        tf.dispose(r.levels);
      }
    }
    const levels = firstLevels!;
    if (isImage) {
      const rows = Math.min(levels[0].shape[0], 16);
      const strips = await levelStrips({ levels, stats: levelStats }, rows);
      const grid = imageGrid(strips, rows, config.schedule.T + 1);
      await writePng(opts.out, grid.pixels, grid.width, grid.height, grid.channels);
      // Beside the strips, the final samples alone: a square grid of up to 256 of them.
      const count = Math.min(opts.n, 256);
      const finals = allSamples.flatMap((values) =>
        floatBatchToTiles({
          data: values,
          shape: [values.length / exampleShape.reduce((a, b) => a * b, 1), ...exampleShape] as [
            number,
            number,
            number,
            number,
          ],
        })
      ).slice(0, count);
      const cols = Math.ceil(Math.sqrt(count));
      const square = imageGrid(finals, Math.ceil(count / cols), cols);
      await writePng(
        finalsPath(opts.out),
        square.pixels,
        square.width,
        square.height,
        square.channels,
      );
    } else {
      const samples = new Float32Array(allSamples.reduce((s, a) => s + a.length, 0));
      let at = 0;
      for (const a of allSamples) {
        samples.set(a, at);
        at += a.length;
      }
      const data = getToy2d(config.dataset).sample(opts.n, new Rng(opts.seed + 1));
      await writeToy2dFigure(opts.out, {
        data,
        samples,
        ...TOY_BOX,
        title: `${config.preset} samples`,
      });
    }
    tf.dispose(levels);
    await db.addArtifact({ runId, kind: "grid", path: opts.out, step });
    if (opts.pngDir) await db.addArtifact({ runId, kind: "samples", path: opts.pngDir, step });
    const longRun = [...snapshotParts.values()].map(poolSnapshots);
    if (longRun.length) {
      await db.logMetrics(longRun.flatMap((s) => [
        { runId, step: s.step, level: 0, name: "longrun_energy", value: s.energy },
        { runId, step: s.step, level: 0, name: "longrun_mean", value: s.mean },
        { runId, step: s.step, level: 0, name: "longrun_std", value: s.std },
        { runId, step: s.step, level: 0, name: "longrun_outside", value: s.outside },
        { runId, step: s.step, level: 0, name: "longrun_acceptance", value: s.acceptance },
      ]));
    }
    await db.logMetrics(levelStats.flatMap((l) => [
      { runId, step, level: l.level, name: "acceptance", value: l.acceptance },
      { runId, step, level: l.level, name: "displacement", value: l.displacement },
    ]));
    await db.setRunStatus(runId, "completed");
    return {
      runId,
      out: opts.out,
      pngDir: opts.pngDir,
      longRun,
      longRunDir,
      finals: isImage ? finalsPath(opts.out) : null,
      levelStats,
    };
  } catch (err) {
    await db.setRunStatus(runId, "failed", (err as Error).message.split("\n")[0]);
    throw err;
  } finally {
    net.dispose();
    st.dispose();
  }
}

/** The checkpoint of a recorded training run, checked to be its own. */
export async function checkpointOfRun(db: ResultsDb, runId: number): Promise<string> {
  return (await runCheckpoint(db, runId)).path;
}
