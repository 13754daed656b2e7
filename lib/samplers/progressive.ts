/** Progressive sampling from noise down to data (Gao et al. 2021, Algorithm 3). */
import * as tf from "@tensorflow/tfjs";
import type { EnergyNet } from "../nets/types.ts";
import { sampleRecovery } from "../recovery.ts";
import type { ScheduleTensors } from "../schedule.ts";
import type { Rng } from "../rng.ts";
import { meanOf } from "../tensor_util.ts";
import type { LangevinOptions } from "./langevin.ts";

export interface LevelChainStats {
  level: number;
  /** Mean acceptance probability over the batch (see LangevinResult.acceptance). */
  acceptance: number;
  /** Mean ||y_K - y_0|| over the batch. */
  displacement: number;
}

export interface ProgressiveResult {
  /** levels[t] = x_t for t = 0..T; levels[T] is the starting noise, levels[0] the samples. */
  levels: tf.Tensor[];
  stats: LevelChainStats[];
}

/**
 * Starts at x_T ~ N(0, I) and runs Algorithm 2 at levels T-1, ..., 0, each level's output being the
 * next level's condition. Returns every level's state (on the device; the caller disposes them).
 */
export async function sampleProgressive(
  net: EnergyNet,
  shape: number[],
  st: ScheduleTensors,
  rng: Rng,
  opts: LangevinOptions,
): Promise<ProgressiveResult> {
  const T = st.schedule.T;
  const levels: tf.Tensor[] = new Array(T + 1);
  levels[T] = rng.normal(shape);
  const stats: LevelChainStats[] = [];
  for (let t = T - 1; t >= 0; t--) {
    const tt = tf.fill([shape[0]], t, "int32");
    const r = sampleRecovery(net, levels[t + 1], tt, st, rng, opts);
    levels[t] = r.x;
    stats.push({
      level: t,
      acceptance: await meanOf(r.acceptance),
      displacement: await meanOf(r.displacement),
    });
    tf.dispose([tt, r.acceptance, r.displacement]);
  }
  return { levels, stats };
}

/** One batch of `drawSamples`: its first index and every level's state (the caller disposes). */
export interface DrawnBatch extends ProgressiveResult {
  start: number;
}

/**
 * `n` samples by progressive sampling in batches of `batch`, all from one seeded stream, batch
 * after batch: the one way `sample`, `eval`, `fid run:ID` and the training grids draw, so the same
 * seed and batch size give the same images in all of them. The consumer may draw from `rng`
 * between batches (the long-run chains do), in the same order each time.
 */
export async function* drawSamples(
  net: EnergyNet,
  exampleShape: readonly number[],
  n: number,
  batch: number,
  st: ScheduleTensors,
  rng: Rng,
  opts: LangevinOptions,
): AsyncGenerator<DrawnBatch> {
  for (let start = 0; start < n; start += batch) {
    const b = Math.min(batch, n - start);
    const r = await sampleProgressive(net, [b, ...exampleShape], st, rng, opts);
    yield { start, ...r };
  }
}
