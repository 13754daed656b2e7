/**
 * SPEC.md's two workloads on the project's real code paths:
 *
 * - langevin_step: one step of Algorithm 2 (Gao et al. 2021) at level t = 2 of the T = 6 drl
 *   schedule: y <- y + (s_t^2 / 2) grad_y log p(y | x_{t+1}) + s_t eps, with log p from
 *   recovery.ts's recoveryLogDensity (the energy net's forward, the Gaussian term, and the input
 *   gradient: tfjs autodiff, or the MLP's one native kernel). The chain continues step to step.
 * - train_iter: one iteration of train.ts's makeTrainStep (Algorithm 1): per-example levels,
 *   noisy pairs, K ULA steps of samplers/langevin.ts, the loss, its parameter gradient, Adam, EMA.
 *
 * Each `run` ends by reading a value back, so the work is finished inside the timed region.
 */
import * as tf from "@tensorflow/tfjs";
import { recoveryLogDensity } from "../../recovery.ts";
import { perExample } from "../../schedule.ts";
import { readOne } from "../../tensor_util.ts";
import { makeTrainStep } from "../../train_step.ts";
import type { TrainState } from "../../train_state.ts";
import { BENCH_LEVEL } from "./presets.ts";
import { getToy2d } from "../../data/toy2d.ts";

export type WorkloadName = "langevin_step" | "train_iter";
export const WORKLOAD_NAMES: readonly WorkloadName[] = ["langevin_step", "train_iter"];

export interface Workload {
  name: WorkloadName;
  run(): Promise<void>;
  dispose(): void;
}

/**
 * A batch drawn from the run's seeded stream: images uniform in [-1, 1] (the data range), or 2D
 * points of the preset's density.
 */
export function benchBatch(s: TrainState, batch: number): tf.Tensor {
  if (s.config.net.kind === "mlp") {
    return tf.tensor2d(getToy2d(s.config.dataset).sample(batch, s.rng), [batch, 2]);
  }
  const { imageSize, channels } = s.config.net;
  return tf.tidy(() =>
    tf.sub(tf.mul(s.rng.uniform([batch, imageSize, imageSize, channels]), 2), 1) as tf.Tensor4D
  );
}

export interface LangevinStep {
  /** One step from `y` (not disposed); returns the new state. */
  step(y: tf.Tensor): tf.Tensor;
  dispose(): void;
}

/** One Langevin step of Algorithm 2 at level BENCH_LEVEL; `y` and `xNext` are a batch. */
export function makeLangevinStep(s: TrainState, xNext: tf.Tensor): LangevinStep {
  const batch = xNext.shape[0];
  const t = tf.fill([batch], BENCH_LEVEL, "int32");
  const s2 = perExample(s.st.stepSizes, t, xNext.rank);
  // As the training chains compute it (the MLP's one-kernel gradient where it has one).
  const density = recoveryLogDensity(s.net, t, xNext, s.st);
  const { logDensity } = density;
  const gradLogp = logDensity.withGrad
    ? (y: tf.Tensor) => logDensity.withGrad!(y).grad
    : tf.grad((y: tf.Tensor) => tf.sum(logDensity(y)));
  return {
    step: (y) =>
      tf.tidy(() => {
        const drift = tf.mul(tf.mul(s2, 0.5), gradLogp(y));
        const noise = tf.mul(tf.sqrt(s2), s.rng.normal(y.shape));
        return tf.add(tf.add(y, drift), noise);
      }),
    dispose: () => {
      density.dispose();
      tf.dispose([t, s2]);
    },
  };
}

export function langevinStepWorkload(s: TrainState, batch: number): Workload {
  const xNext = benchBatch(s, batch);
  const langevin = makeLangevinStep(s, xNext);
  let y: tf.Tensor = tf.clone(xNext);
  return {
    name: "langevin_step",
    run: async () => {
      const next = langevin.step(y);
      y.dispose();
      y = next;
      await readOne(y);
    },
    dispose: () => {
      langevin.dispose();
      tf.dispose([y, xNext]);
    },
  };
}

export function trainIterWorkload(s: TrainState, batch: number): Workload {
  const x0 = benchBatch(s, batch);
  const trainStep = makeTrainStep(s.config, s.net, s.st, s.adam, s.ema, s.rng);
  return {
    name: "train_iter",
    // makeTrainStep reads its per-example losses and statistics back before it returns.
    run: async () => {
      await trainStep(x0);
    },
    dispose: () => x0.dispose(),
  };
}
