/** Energy networks built from plain config: the 2D MLP and the image ResNet. */
import { UserError } from "../errors.ts";
import type { Rng } from "../rng.ts";
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

/** Number of trainable scalars (buffers such as spectral-norm vectors excluded). */
export function countParams(net: EnergyNet): number {
  let n = 0;
  for (const v of net.params.values()) n += v.size;
  return n;
}
