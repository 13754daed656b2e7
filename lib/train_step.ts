/**
 * The DRL training step and loop (Gao et al. 2021, Algorithm 1): levels drawn per example
 * (uniformly unless train.levelPower), negatives from K Langevin steps at each example's level,
 * Adam with warm-up, EMA, a divergence guard.
 */
import * as tf from "@tensorflow/tfjs";
import type { TrainConfig } from "./config.ts";
import type { EnergyNet } from "./nets/types.ts";
import type { Adam, Ema } from "./optim.ts";
import { qSamplePairs, recoveryLoss, recoveryLossAndGrad, sampleRecovery } from "./recovery.ts";
import type { ScheduleTensors } from "./schedule.ts";
import { type JsRandom, Rng } from "./rng.ts";
import type { ShardPool } from "./parallel/shard_pool.ts";

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

/** One shard's share of a step: per-example results and its part of the parameter gradient. */
export interface ShardResult {
  /** d(sum of the shard's losses / batch)/d(param), by parameter name (the mean's share). */
  grads: Map<string, tf.Tensor>;
  loss: Float32Array;
  fPos: Float32Array;
  fNeg: Float32Array;
  acceptance: Float32Array;
  displacement: Float32Array;
  samples?: StepResult["samples"];
}

/** recoveryLoss and the gradient of sum(loss) / batch by tfjs's autodiff, by parameter name. */
function lossAndGradByAutodiff(
  net: EnergyNet,
  xPos: tf.Tensor,
  xNeg: tf.Tensor,
  t: tf.Tensor1D,
  st: ScheduleTensors,
  batch: number,
): { loss: tf.Tensor1D; fPos: tf.Tensor1D; fNeg: tf.Tensor1D; grads: Map<string, tf.Tensor> } {
  const nameOf = new Map([...net.params].map(([name, v]) => [v.name, name]));
  let parts: { loss: tf.Tensor1D; fPos: tf.Tensor1D; fNeg: tf.Tensor1D } | null = null;
  const whole = xPos.shape[0] === batch;
  const { value, grads } = tf.variableGrads(() => {
    parts = recoveryLoss(net, xPos, xNeg, t, st);
    tf.keep(parts.loss);
    tf.keep(parts.fPos);
    tf.keep(parts.fNeg);
    return (whole ? tf.mean(parts.loss) : tf.div(tf.sum(parts.loss), batch)) as tf.Scalar;
  }, [...net.params.values()]);
  value.dispose();
  return {
    ...parts!,
    grads: new Map(Object.entries(grads).map(([k, g]) => [nameOf.get(k) ?? k, g])),
  };
}

/**
 * Algorithm 1 on one shard of a batch: noisy pairs, K Langevin steps from x_{t+1}, the loss and
 * its gradient. The gradient is of sum(loss) / `batch`, so the shards' gradients add up to the
 * gradient of the batch mean; a batch in one shard (`batch` = its size) uses tf.mean, as always.
 */
export async function shardStep(
  net: EnergyNet,
  st: ScheduleTensors,
  x0: tf.Tensor,
  t: tf.Tensor1D,
  rng: Rng,
  langevin: TrainConfig["langevin"],
  batch: number,
  keepSamples = false,
): Promise<ShardResult> {
  const { xt, xNext } = qSamplePairs(x0, t, st, rng);
  const chain = sampleRecovery(net, xNext, t, st, rng, langevin);
  const { grads, ...p } = recoveryLossAndGrad(net, xt, chain.x, t, st, batch) ??
    lossAndGradByAutodiff(net, xt, chain.x, t, st, batch);
  const [loss, fPos, fNeg, acceptance, displacement] = await Promise.all(
    [p.loss, p.fPos, p.fNeg, chain.acceptance, chain.displacement].map((x) =>
      x.data() as Promise<Float32Array>
    ),
  );
  const samples = keepSamples ? { xPos: xt, xNeg: chain.x, t } : undefined;
  if (!samples) tf.dispose([xt, chain.x]);
  tf.dispose([xNext, chain.acceptance, chain.displacement, p.loss, p.fPos, p.fNeg]);
  return {
    grads,
    loss,
    fPos,
    fNeg,
    acceptance,
    displacement,
    samples,
  };
}

/** The shards computed by the pool's workers, as if computed here (see ShardPool). */
async function shardsOnPool(
  pool: ShardPool,
  net: EnergyNet,
  x0: tf.Tensor,
  levels: Int32Array,
  rngs: Rng[],
  batch: number,
): Promise<ShardResult[]> {
  const hostValues = async (vars: Map<string, tf.Variable>) =>
    Object.fromEntries(
      await Promise.all([...vars].map(async ([n, v]) => [n, await v.data() as Float32Array])),
    );
  const params = await hostValues(net.params);
  const buffers = await hostValues(net.buffers);
  const data = await x0.data() as Float32Array;
  const shards = rngs.length;
  const size = batch / shards;
  const per = data.length / batch;
  const replies = await pool.run(rngs.map((r, s) => ({
    params,
    buffers,
    x0: data.slice(s * size * per, (s + 1) * size * per),
    shape: [size, ...x0.shape.slice(1)],
    levels: levels.slice(s * size, (s + 1) * size),
    seed: r.seed,
    batch,
  })));
  return replies.map((r) => ({
    grads: new Map(
      [...net.params].map(([name, v]) => [name, tf.tensor(r.grads[name], v.shape)]),
    ),
    loss: r.loss,
    fPos: r.fPos,
    fNeg: r.fNeg,
    acceptance: r.acceptance,
    displacement: r.displacement,
  }));
}

function concatArrays(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * Draws a level t in 0..T-1 with probability proportional to (t + 1)^-power (config
 * train.levelPower). Power 0 is the uniform draw itself, one js.int(T) per example, so runs
 * without the field keep their random stream; otherwise one float per example through the CDF.
 */
export function levelDrawer(T: number, power: number): (js: JsRandom) => number {
  if (power === 0) return (js) => js.int(T);
  const cdf = new Float64Array(T);
  let total = 0;
  for (let t = 0; t < T; t++) cdf[t] = total += (t + 1) ** -power;
  return (js) => {
    const u = js.float() * total;
    let lo = 0;
    let hi = T - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid] > u) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  };
}

/**
 * Builds the training step for one run; the loop sees only the closure. With
 * `config.train.shards` = S > 1 the batch is cut into S equal shards, each with its own random
 * stream (seeds drawn in order from the run's), whose gradients are summed in shard order: the
 * numbers depend on S, never on how many processes compute the shards.
 */
export function makeTrainStep(
  config: TrainConfig,
  net: EnergyNet,
  st: ScheduleTensors,
  adam: Adam,
  ema: Ema,
  rng: Rng,
  opts: { keepSamples?: boolean; pool?: ShardPool } = {},
): TrainStep {
  const T = config.schedule.T;
  const drawLevel = levelDrawer(T, config.train.levelPower ?? 0);
  const shards = config.train.shards ?? 1;
  if (opts.pool && (shards < 2 || opts.keepSamples)) {
    throw new Error("a shard pool needs train.shards > 1 and no kept samples");
  }
  return async (x0) => {
    const batch = x0.shape[0];
    if (batch % shards !== 0) {
      throw new Error(`a batch of ${batch} does not split into ${shards} equal shards`);
    }
    const js = rng.js();
    const levels = Int32Array.from({ length: batch }, () => drawLevel(js));
    net.updateSpectralNorm();
    // One shard uses the run's stream itself: the numbers of unsharded runs stay as they were.
    const rngs = shards === 1
      ? [rng]
      : Array.from({ length: shards }, () => new Rng(rng.nextSeed()));
    const size = batch / shards;
    const results: ShardResult[] = opts.pool
      ? await shardsOnPool(opts.pool, net, x0, levels, rngs, batch)
      : [];
    for (let s = 0; s < shards && !opts.pool; s++) {
      const x = shards === 1 ? x0 : tf.slice(x0, s * size, size);
      const t = tf.tensor1d(levels.subarray(s * size, (s + 1) * size), "int32");
      results.push(
        await shardStep(net, st, x, t, rngs[s], config.langevin, batch, opts.keepSamples),
      );
      if (x !== x0) x.dispose();
      if (!opts.keepSamples) t.dispose();
    }
    const grads = shards === 1 ? results[0].grads : new Map(
      [...results[0].grads.keys()].map((name) => [
        name,
        tf.tidy(() =>
          results.slice(1).reduce(
            (acc, r) => tf.add(acc, r.grads.get(name)!),
            results[0].grads
              .get(name)!,
          )
        ),
      ]),
    );
    const gradNorm = adam.apply(grads);
    ema.update(adam.step);
    const norm = (await gradNorm.data())[0];
    tf.dispose([gradNorm, ...grads.values(), ...results.flatMap((r) => [...r.grads.values()])]);
    const loss = concatArrays(results.map((r) => r.loss));
    let samples: StepResult["samples"];
    if (opts.keepSamples) {
      const kept = results.map((r) => r.samples!);
      samples = {
        xPos: tf.concat(kept.map((k) => k.xPos)),
        xNeg: tf.concat(kept.map((k) => k.xNeg)),
        t: tf.concat(kept.map((k) => k.t)) as tf.Tensor1D,
      };
      tf.dispose(kept.flatMap((k) => [k.xPos, k.xNeg, k.t]));
    }
    return {
      levels,
      loss,
      fPos: concatArrays(results.map((r) => r.fPos)),
      fNeg: concatArrays(results.map((r) => r.fNeg)),
      acceptance: concatArrays(results.map((r) => r.acceptance)),
      displacement: concatArrays(results.map((r) => r.displacement)),
      gradNorm: norm,
      // The batch mean, summed in float64 (the loss the step minimised).
      meanLoss: loss.reduce((a, v) => a + v, 0) / batch,
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
