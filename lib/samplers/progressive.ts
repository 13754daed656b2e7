/** Progressive sampling from noise down to data (Gao et al. 2021, Algorithm 3). */
import * as tf from "@tensorflow/tfjs";
import type { EnergyNet } from "../nets/types.ts";
import { recoverySteps } from "../recovery.ts";
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

/** What progressive sampling reports as it goes (see progressiveSteps). */
export type ProgressiveEvent =
  | {
    kind: "start";
    /** The level sampling starts from (T, or ProgressiveStart.level). */
    level: number;
    /** x at that level; owned by the final result. */
    x: tf.Tensor;
  }
  | {
    kind: "step";
    /** The level whose chain is running. */
    level: number;
    /** 1..K. */
    step: number;
    /** The chain's state y = a_{t+1} x_t so far; valid until the generator resumes. */
    y: tf.Tensor;
  }
  | {
    kind: "level";
    level: number;
    /** x_t, the level's output; owned by the final result. */
    x: tf.Tensor;
    stats: LevelChainStats;
  };

/** Where progressive sampling starts: x_s at level s (default: x_T ~ N(0, I) drawn from rng). */
export interface ProgressiveStart {
  level: number;
  /** x_s; the caller keeps it. */
  x: tf.Tensor;
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
  const steps = progressiveSteps(net, shape, st, rng, opts);
  for (;;) {
    const r = await steps.next();
    if (r.done) return r.value;
  }
}

/**
 * sampleProgressive as it goes: yields the starting state, then after every Langevin step and
 * every finished level (the browser page draws them), and returns the same result from the same
 * random draws. With `start`, it runs levels start.level - 1, ..., 0 from the given state instead
 * (levels above it are absent from the result). Ending the generator early disposes every tensor
 * it made.
 */
export async function* progressiveSteps(
  net: EnergyNet,
  shape: number[],
  st: ScheduleTensors,
  rng: Rng,
  opts: LangevinOptions,
  start?: ProgressiveStart,
): AsyncGenerator<ProgressiveEvent, ProgressiveResult, void> {
  const T = st.schedule.T;
  const from = start?.level ?? T;
  if (!Number.isInteger(from) || from < 0 || from > T) {
    throw new RangeError(`progressive sampling starts at a level in 0..${T}, got ${from}`);
  }
  const levels: tf.Tensor[] = new Array(from + 1);
  levels[from] = start ? tf.clone(start.x) : rng.normal(shape);
  const stats: LevelChainStats[] = [];
  let done = false;
  try {
    yield { kind: "start", level: from, x: levels[from] };
    for (let t = from - 1; t >= 0; t--) {
      const tt = tf.fill([shape[0]], t, "int32");
      const chain = recoverySteps(net, levels[t + 1], tt, st, rng, opts);
      try {
        let r = chain.next();
        while (!r.done) {
          yield { kind: "step", level: t, step: r.value.step, y: r.value.y };
          r = chain.next();
        }
        levels[t] = r.value.x;
        const level = {
          level: t,
          acceptance: await meanOf(r.value.acceptance),
          displacement: await meanOf(r.value.displacement),
        };
        stats.push(level);
        tf.dispose([r.value.acceptance, r.value.displacement]);
        yield { kind: "level", level: t, x: levels[t], stats: level };
      } finally {
        // A chain left mid-way (the consumer stopped) disposes its own tensors.
        chain.return(undefined as never);
        tt.dispose();
      }
    }
    done = true;
    return { levels, stats };
  } finally {
    if (!done) tf.dispose(levels.filter((x) => x !== undefined));
  }
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
