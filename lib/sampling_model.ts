/**
 * A checkpoint's network ready for sampling: the EMA weights (or the raw weights) with their own
 * spectral-norm vectors, and the schedule as device tensors. From a parsed checkpoint, so the CLI
 * (train_state.ts loadForSampling, from a file) and the browser page (web/, from fetched bytes)
 * build the model the same way.
 */
import type { TrainConfig } from "./config.ts";
import { UserError } from "./errors.ts";
import { type Checkpoint, restoreGroup } from "./io/checkpoint_data.ts";
import { createRunNet } from "./nets/mod.ts";
import { INITIAL_POWER_ITERATIONS } from "./nets/spectral_norm.ts";
import type { EnergyNet } from "./nets/types.ts";
import { Rng } from "./rng.ts";
import { makeSchedule, type ScheduleTensors, scheduleTensors } from "./schedule.ts";

/** The checkpoint group of the EMA weights' own spectral-norm vectors. */
export const EMA_BUFFERS = "ema.buffers";

export interface SamplingModel {
  config: TrainConfig;
  net: EnergyNet;
  st: ScheduleTensors;
  /** The training step the weights are from. */
  step: number;
}

/** The sampling model of a parsed checkpoint; `path` names it in errors. The caller disposes. */
export function samplingModelFrom(
  ckpt: Checkpoint,
  weights: "ema" | "params",
  path: string,
): SamplingModel {
  const config = ckpt.meta.config as TrainConfig | undefined;
  // Another checkpoint of this toolkit (the feature classifier's, say) parses, then fails deep in
  // the net's construction: say what it is instead.
  if (!config || (config.task !== "toy2d" && config.task !== "images") || !config.net) {
    throw new UserError(
      `${path} holds no DRL energy model (its config's task is '${config?.task ?? "none"}'); ` +
        `give a training run's checkpoint or a model file (deno task export-model)`,
    );
  }
  const schedule = makeSchedule(config.schedule);
  const net = createRunNet(config.net, schedule, new Rng(config.seed));
  try {
    restoreGroup(ckpt, weights, net.params, path);
    if (weights === "ema" && ckpt.tensors.has(EMA_BUFFERS)) {
      restoreGroup(ckpt, EMA_BUFFERS, net.buffers, path);
    } else {
      restoreGroup(ckpt, "buffers", net.buffers, path);
      // An older checkpoint's EMA weights with the live net's vectors: converge them first.
      if (weights === "ema") {
        for (let i = 0; i < INITIAL_POWER_ITERATIONS; i++) net.updateSpectralNorm();
      }
    }
  } catch (err) {
    net.dispose();
    throw err;
  }
  return { config, net, st: scheduleTensors(schedule), step: ckpt.meta.step };
}
