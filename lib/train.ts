/**
 * The DRL training step and loop (Gao et al. 2021, Algorithm 1): levels drawn uniformly per example,
 * negatives from K Langevin steps at each example's level, Adam with warm-up, EMA, a divergence guard.
 */
import * as tf from "@tensorflow/tfjs";
import type { TrainConfig } from "./config.ts";
import type { EnergyNet } from "./nets/types.ts";
import type { Adam, Ema } from "./optim.ts";
import { qSamplePairs, recoveryLoss, type ScheduleTensors } from "./recovery.ts";
import type { Rng } from "./rng.ts";
import { sampleLangevin } from "./samplers/langevin.ts";

/** Per-example results of one step, read back to the host (a handful of floats per example). */
export interface StepResult {
  levels: Int32Array;
  loss: Float32Array;
  fPos: Float32Array;
  fNeg: Float32Array;
  acceptance: Float32Array;
  displacement: Float32Array;
  gradNorm: number;
  meanLoss: number;
  /**
   * With `keepSamples`: the step's positives x_t, negatives (the Langevin chains' x_t) and
   * levels, left on the device for the caller (who disposes them).
   */
  samples?: { xPos: tf.Tensor; xNeg: tf.Tensor; t: tf.Tensor1D };
}

export type TrainStep = (x0: tf.Tensor) => Promise<StepResult>;

/** Builds the training step for one run; the loop sees only the closure. */
export function makeTrainStep(
  config: TrainConfig,
  net: EnergyNet,
  st: ScheduleTensors,
  adam: Adam,
  ema: Ema,
  rng: Rng,
  opts: { keepSamples?: boolean } = {},
): TrainStep {
  const T = config.schedule.T;
  const params = [...net.params.values()];
  const nameOf = new Map([...net.params].map(([name, v]) => [v.name, name]));
  return async (x0) => {
    const batch = x0.shape[0];
    const js = rng.js();
    const levels = Int32Array.from({ length: batch }, () => js.int(T));
    const t = tf.tensor1d(levels, "int32");
    net.updateSpectralNorm();
    const { xt, xNext } = qSamplePairs(x0, t, st, rng);
    const chain = sampleLangevin(net, xNext, t, st, rng, config.langevin);
    let parts: { loss: tf.Tensor1D; fPos: tf.Tensor1D; fNeg: tf.Tensor1D } | null = null;
    const { value, grads } = tf.variableGrads(() => {
      parts = recoveryLoss(net, xt, chain.x, t, st);
      tf.keep(parts.loss);
      tf.keep(parts.fPos);
      tf.keep(parts.fNeg);
      return tf.mean(parts.loss) as tf.Scalar;
    }, params);
    const named = new Map(Object.entries(grads).map(([k, g]) => [nameOf.get(k) ?? k, g]));
    const gradNorm = adam.apply(named);
    ema.update(adam.step);
    const p = parts!;
    const [loss, fPos, fNeg, acceptance, displacement, norm, mean] = await Promise.all(
      [p.loss, p.fPos, p.fNeg, chain.acceptance, chain.displacement, gradNorm, value].map((x) =>
        x.data() as Promise<Float32Array>
      ),
    );
    const samples = opts.keepSamples ? { xPos: xt, xNeg: chain.x, t: t as tf.Tensor1D } : undefined;
    if (!samples) tf.dispose([t, xt, chain.x]);
    tf.dispose([
      xNext,
      chain.acceptance,
      chain.displacement,
      p.loss,
      p.fPos,
      p.fNeg,
    ]);
    tf.dispose([value, gradNorm, ...Object.values(grads)]);
    return {
      levels,
      loss,
      fPos,
      fNeg,
      acceptance,
      displacement,
      gradNorm: norm[0],
      meanLoss: mean[0],
      samples,
    };
  };
}

export const LEVEL_METRICS = ["loss", "f_pos", "f_neg", "acceptance", "displacement"] as const;
export type LevelMetric = typeof LEVEL_METRICS[number];

/** Running per-level means between two log points. */
export class LevelStats {
  #sums: Record<LevelMetric, Float64Array>;
  #counts: Float64Array;
  #gradNorm = 0;
  #steps = 0;

  constructor(readonly T: number) {
    this.#sums = Object.fromEntries(LEVEL_METRICS.map((m) => [m, new Float64Array(T)])) as Record<
      LevelMetric,
      Float64Array
    >;
    this.#counts = new Float64Array(T);
  }

  add(r: StepResult): void {
    const cols: Record<LevelMetric, Float32Array> = {
      loss: r.loss,
      f_pos: r.fPos,
      f_neg: r.fNeg,
      acceptance: r.acceptance,
      displacement: r.displacement,
    };
    r.levels.forEach((t, i) => {
      this.#counts[t]++;
      for (const m of LEVEL_METRICS) this.#sums[m][t] += cols[m][i];
    });
    this.#gradNorm += r.gradNorm;
    this.#steps++;
  }

  /** Means per level (levels with no examples in the window are left out), then resets. */
  flush(): {
    perLevel: { level: number; values: Record<LevelMetric, number> }[];
    gradNorm: number;
  } {
    const perLevel = [];
    for (let t = 0; t < this.T; t++) {
      if (this.#counts[t] === 0) continue;
      const values = Object.fromEntries(
        LEVEL_METRICS.map((m) => [m, this.#sums[m][t] / this.#counts[t]]),
      ) as Record<LevelMetric, number>;
      perLevel.push({ level: t, values });
    }
    const gradNorm = this.#steps ? this.#gradNorm / this.#steps : NaN;
    this.#sums = Object.fromEntries(
      LEVEL_METRICS.map((m) => [m, new Float64Array(this.T)]),
    ) as Record<
      LevelMetric,
      Float64Array
    >;
    this.#counts = new Float64Array(this.T);
    this.#gradNorm = 0;
    this.#steps = 0;
    return { perLevel, gradNorm };
  }
}

/** Why training must stop, or null when the step is healthy. */
export function divergence(meanLoss: number, lossLimit: number): string | null {
  if (!Number.isFinite(meanLoss)) return `the loss became ${meanLoss}`;
  if (meanLoss < -lossLimit) {
    return `the loss ran away to ${meanLoss.toExponential(3)} (< -${lossLimit})`;
  }
  return null;
}
