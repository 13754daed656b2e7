/** Everything a training run holds, and its round trip through a checkpoint. */
import type { TrainConfig } from "./config.ts";
import { type Checkpoint, loadCheckpoint, restoreGroup, saveCheckpoint } from "./io/checkpoint.ts";
import { createRunNet } from "./nets/mod.ts";
import type { EnergyNet } from "./nets/types.ts";
import { Adam, Ema } from "./optim.ts";
import { Rng } from "./rng.ts";
import { makeSchedule, type ScheduleTensors, scheduleTensors } from "./schedule.ts";
import { INITIAL_POWER_ITERATIONS } from "./nets/spectral_norm.ts";
import { EMA_BUFFERS, type SamplingModel, samplingModelFrom } from "./sampling_model.ts";

export interface TrainState {
  config: TrainConfig;
  net: EnergyNet;
  adam: Adam;
  ema: Ema;
  rng: Rng;
  st: ScheduleTensors;
  /** Training iterations completed. */
  step: number;
}

/** A fresh state: parameters drawn from the config's seed. */
export function createTrainState(config: TrainConfig): TrainState {
  const rng = new Rng(config.seed);
  const schedule = makeSchedule(config.schedule);
  const net = createRunNet(config.net, schedule, rng);
  return {
    config,
    net,
    adam: new Adam(net.params, config.optim, config.train.iterations),
    ema: new Ema(net, config.optim.ema, config.optim.emaWarmup ?? false),
    rng,
    st: scheduleTensors(schedule),
    step: 0,
  };
}

export async function saveTrainState(
  path: string,
  s: TrainState,
  codeVersion: string | null,
  extra: Record<string, unknown> = {},
): Promise<void> {
  await saveCheckpoint(path, {
    step: s.step,
    config: s.config,
    rng: s.rng.state(),
    adamStep: s.adam.step,
    codeVersion,
    extra,
  }, {
    params: s.net.params,
    ema: s.ema.shadow,
    buffers: s.net.buffers,
    [EMA_BUFFERS]: s.ema.shadowBuffers,
    "adam.m": s.adam.m,
    "adam.v": s.adam.v,
  });
}

/** Rebuilds the exact training state a checkpoint describes (same RNG position, same moments). */
export function restoreTrainState(
  ckpt: Checkpoint,
  path: string,
  config?: TrainConfig,
): TrainState {
  const c = config ?? (ckpt.meta.config as TrainConfig);
  const s = createTrainState(c);
  restoreGroup(ckpt, "params", s.net.params, path);
  restoreGroup(ckpt, "ema", s.ema.shadow, path);
  restoreGroup(ckpt, "buffers", s.net.buffers, path);
  if (ckpt.tensors.has(EMA_BUFFERS)) {
    restoreGroup(ckpt, EMA_BUFFERS, s.ema.shadowBuffers, path);
  } else {
    // Written before the EMA had its own vectors: start them from the live ones, converged on
    // the EMA weights.
    restoreGroup(ckpt, "buffers", s.ema.shadowBuffers, path);
    s.ema.refineSpectralNorm(INITIAL_POWER_ITERATIONS);
  }
  restoreGroup(ckpt, "adam.m", s.adam.m, path);
  restoreGroup(ckpt, "adam.v", s.adam.v, path);
  s.adam.step = ckpt.meta.adamStep;
  s.rng = Rng.fromState(ckpt.meta.rng);
  s.step = ckpt.meta.step;
  return s;
}

/**
 * For sampling: the network with its EMA weights (or the raw weights) and their own spectral-norm
 * vectors, and the schedule (lib/sampling_model.ts, shared with the browser page).
 */
export async function loadForSampling(
  path: string,
  weights: "ema" | "params" = "ema",
): Promise<SamplingModel> {
  return samplingModelFrom(await loadCheckpoint(path), weights, path);
}

export function disposeTrainState(s: TrainState): void {
  s.net.dispose();
  s.adam.dispose();
  s.ema.dispose();
  s.st.dispose();
}
