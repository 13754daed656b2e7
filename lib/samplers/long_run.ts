/**
 * Long-run chains (Gao et al. 2021, Sec. 5.3): after progressive sampling, the level-0 Langevin
 * chain continues for many more steps; snapshots at log-spaced steps show whether samples stay
 * realistic (energy and pixel statistics should settle, not drift or saturate).
 */
import * as tf from "@tensorflow/tfjs";
import type { EnergyNet } from "../nets/types.ts";
import { sampleRecovery } from "../recovery.ts";
import { perExample, type ScheduleTensors } from "../schedule.ts";
import type { Rng } from "../rng.ts";
import { meanOf } from "../tensor_util.ts";
import type { LangevinOptions } from "./langevin.ts";

export interface LongRunSnapshot {
  step: number;
  /** Mean f(y, 0) over the chains. */
  energy: number;
  /** Mean and standard deviation of all pixel (coordinate) values. */
  mean: number;
  std: number;
  /** Share of values outside [-1, 1], the data range (saturation shows up here). */
  outside: number;
  /** Mean acceptance probability over the steps since the previous snapshot. */
  acceptance: number;
}

/** 0, 1, 2, 5, 10, 20, 50, ... up to `total` (always included). */
export function logSpacedSteps(total: number): number[] {
  const steps = new Set<number>([0]);
  for (let decade = 1; decade <= total; decade *= 10) {
    for (const m of [1, 2, 5]) if (m * decade <= total) steps.add(m * decade);
  }
  steps.add(total);
  return [...steps].sort((a, b) => a - b);
}

/**
 * Continues the level-0 chains conditioned on `x1` from `x0` for `total` steps; calls `onSnapshot`
 * with x_0 at each snapshot step (log-spaced, or the given `snapshots`, `total` always included;
 * the caller may save it) and returns the statistics.
 */
export async function runLongChains(
  net: EnergyNet,
  st: ScheduleTensors,
  x1: tf.Tensor,
  x0: tf.Tensor,
  rng: Rng,
  total: number,
  chain: Pick<LangevinOptions, "sampler" | "noiseScale">,
  onSnapshot?: (step: number, x: tf.Tensor) => Promise<void>,
  snapshots?: readonly number[],
): Promise<LongRunSnapshot[]> {
  const n = x0.shape[0];
  const t = tf.fill([n], 0, "int32");
  const a1 = tf.tidy(() => perExample(st.aPrev, tf.fill([n], 1, "int32"), x0.rank));
  let x = tf.clone(x0);
  const stats: LongRunSnapshot[] = [];
  const steps = snapshots
    ? [...new Set([0, ...snapshots.filter((s) => s > 0 && s < total), total])].sort((a, b) => a - b)
    : logSpacedSteps(total);
  let done = 0;
  let acceptance = NaN;
  try {
    for (const step of steps) {
      if (step > done) {
        const start = tf.mul(a1, x);
        const r = sampleRecovery(net, x1, t, st, rng, { ...chain, steps: step - done, start });
        acceptance = await meanOf(r.acceptance);
        tf.dispose([start, x, r.acceptance, r.displacement]);
        x = r.x;
        done = step;
      }
      const energy = tf.tidy(() => net.energy(tf.mul(a1, x), t));
      const outside = tf.tidy(() => tf.cast(tf.greater(tf.abs(x), 1), "float32"));
      const centred = tf.tidy(() => tf.square(tf.sub(x, tf.mean(x))));
      stats.push({
        step,
        energy: await meanOf(energy),
        mean: await meanOf(x),
        std: Math.sqrt(await meanOf(centred)),
        outside: await meanOf(outside),
        acceptance,
      });
      tf.dispose([energy, outside, centred]);
      await onSnapshot?.(step, x);
    }
  } finally {
    tf.dispose([t, a1, x]);
  }
  return stats;
}
