/**
 * Energy-based models by Diffusion Recovery Likelihood (Gao, Song, Poole, Wu, Kingma, ICLR 2021)
 * on Deno, computing through TensorFlow.js (WebGPU, or wasm and oneDNN on a CPU): noise schedules,
 * energy networks, the recovery likelihood and its Langevin sampler, progressive sampling, the
 * training step and whole training runs recorded in a results database.
 *
 * @example Train the default 2D preset for a few hundred steps and draw samples
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import {
 *   buildConfig,
 *   createTrainState,
 *   drawSamples,
 *   getToy2d,
 *   initBackend,
 *   makeTrainStep,
 *   Rng,
 * } from "./mod.ts";
 *
 * await initBackend("wasm");
 * const config = buildConfig("8gaussians", { iterations: "300" });
 * const data = getToy2d(config.dataset);
 * const s = createTrainState(config);
 * const step = makeTrainStep(config, s.net, s.st, s.adam, s.ema, s.rng);
 * for (let i = 0; i < 300; i++) {
 *   const x0 = tf.tensor2d(data.sample(config.train.batch, s.rng), [config.train.batch, 2]);
 *   await step(x0);
 *   x0.dispose();
 * }
 * for await (const b of drawSamples(s.net, [2], 1000, 1000, s.st, new Rng(1), config.langevin)) {
 *   console.log(b.levels[0].shape); // [1000, 2]: x_0
 * }
 * ```
 *
 * A complete script: `examples/train_2d.ts`. Whole runs with checkpoints and the database:
 * `train()`; sampling from a checkpoint or a shipped model: `sampleFromCheckpoint()`.
 *
 * @module
 */
export * from "./lib/schedule.ts";
export * from "./lib/rng.ts";
export * from "./lib/backend.ts";
export * from "./lib/errors.ts";
export * from "./lib/recovery.ts";
export * from "./lib/samplers/langevin.ts";
export * from "./lib/samplers/progressive.ts";
export * from "./lib/samplers/long_run.ts";
export * from "./lib/ais.ts";
export * from "./lib/loglik.ts";
export { bitsPerDim, dequantize, PIXEL_BIN } from "./lib/data/images/dequantize.ts";
export * from "./lib/nets/mod.ts";
export * from "./lib/optim.ts";
export * from "./lib/train_step.ts";
export * from "./lib/train_state.ts";
export * from "./lib/sampling_model.ts";
export * from "./lib/level_density.ts";
export { ALIASES, applyOverrides, type TrainConfig } from "./lib/config.ts";
export { buildConfig, DEFAULT_PRESET, presetNames, PRESETS } from "./lib/presets.ts";
export { train, type TrainOptions, type TrainSummary } from "./lib/tasks/train.ts";
export { sampleFromCheckpoint } from "./lib/tasks/sample.ts";
export { getToy2d, TOY2D_NAMES } from "./lib/data/toy2d.ts";
export { batches, type ImageDataset, openImageDataset, toTensor } from "./lib/data/images/mod.ts";
export * from "./lib/db/mod.ts";
export * from "./lib/io/checkpoint.ts";
export * from "./lib/io/png.ts";
export * from "./lib/metrics/toy2d.ts";
export { SHIPPED_MODELS, shippedModelPath } from "./lib/models.ts";
