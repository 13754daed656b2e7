/** Energy networks built from plain config: the 2D MLP and the image ResNet. */
import { UserError } from "../errors.ts";
import type { Rng } from "../rng.ts";
import { energyLevelScale, type Schedule } from "../schedule.ts";
import { withLevelScale } from "./level_scale.ts";
import { createMlp } from "./mlp.ts";
import { createResNet } from "./resnet.ts";
import type { EnergyNet, NetConfig } from "./types.ts";

export type { Activation, EnergyNet, MlpConfig, NetConfig, ResNetConfig } from "./types.ts";
export { createMlp } from "./mlp.ts";
export { createResNet } from "./resnet.ts";

/** Builds the net `config.kind` names; parameters are drawn from `rng` (same seed, same net). */
export function createEnergyNet(config: NetConfig, rng: Rng): EnergyNet {
  switch (config.kind) {
    case "mlp":
      return createMlp(config, rng);
    case "resnet":
      return createResNet(config, rng);
    default:
      throw new UserError(
        `unknown net kind '${(config as { kind: unknown }).kind}'; use mlp or resnet`,
      );
  }
}

/**
 * A run's net: createEnergyNet, with its output multiplied per level where the schedule asks
 * (schedule.energyScale, lib/nets/level_scale.ts). Training, sampling and the shard workers all
 * build their net here, so they agree on what f is.
 */
export function createRunNet(net: NetConfig, schedule: Schedule, rng: Rng): EnergyNet {
  const inner = createEnergyNet(net, rng);
  const scale = energyLevelScale(schedule);
  return scale ? withLevelScale(inner, scale) : inner;
}

/** Number of trainable scalars (buffers such as spectral-norm vectors excluded). */
export function countParams(net: EnergyNet): number {
  let n = 0;
  for (const v of net.params.values()) n += v.size;
  return n;
}
