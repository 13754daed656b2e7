/** Public API of the DRL toolkit: schedules, networks, recovery likelihood, samplers, training. */
export * from "./lib/schedule.ts";
export * from "./lib/rng.ts";
export * from "./lib/backend.ts";
export * from "./lib/errors.ts";
export * from "./lib/recovery.ts";
export * from "./lib/samplers/langevin.ts";
export * from "./lib/samplers/progressive.ts";
export * from "./lib/samplers/long_run.ts";
export * from "./lib/nets/mod.ts";
export * from "./lib/optim.ts";
export * from "./lib/train.ts";
export * from "./lib/train_state.ts";
export { ALIASES, buildConfig, presetNames, type TrainConfig } from "./lib/config.ts";
export { DEFAULT_PRESET, PRESETS } from "./lib/presets.ts";
export { train, type TrainOptions, type TrainSummary } from "./lib/run.ts";
export { sampleFromCheckpoint } from "./lib/sample_run.ts";
export { getToy2d, TOY2D_NAMES } from "./lib/data/toy2d.ts";
export {
  batches,
  type ImageDataset,
  openImageDataset,
  toTensor,
} from "./lib/data/images/mod.ts";
export * from "./lib/db/mod.ts";
export * from "./lib/io/checkpoint.ts";
export * from "./lib/io/png.ts";
export * from "./lib/metrics/toy2d.ts";
