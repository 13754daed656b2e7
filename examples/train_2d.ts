/**
 * Diffusion Recovery Likelihood on a 2D density, through the public API (mod.ts) alone: build a
 * preset's config, train with Algorithm 1, sample with Algorithm 3, score the samples.
 *
 *   deno run -A examples/train_2d.ts [STEPS]
 */
import * as tf from "@tensorflow/tfjs";
import {
  buildConfig,
  createTrainState,
  disposeTrainState,
  drawSamples,
  energyDistance,
  getToy2d,
  initBackend,
  makeTrainStep,
  modeCoverage,
  Rng,
} from "../mod.ts";

const steps = Number(Deno.args[0] ?? 1500);
await initBackend("wasm");

// The default preset (8 Gaussians, MLP 128 x 3, T = 6, K = 10), for fewer steps.
const config = buildConfig("8gaussians", { iterations: String(steps) });
const data = getToy2d(config.dataset);
const state = createTrainState(config);
const step = makeTrainStep(config, state.net, state.st, state.adam, state.ema, state.rng);

for (let i = 1; i <= steps; i++) {
  const x0 = tf.tensor2d(data.sample(config.train.batch, state.rng), [config.train.batch, 2]);
  const r = await step(x0);
  x0.dispose();
  if (i % 500 === 0 || i === steps) console.log(`step ${i}: loss ${r.meanLoss.toFixed(4)}`);
}

// Algorithm 3 with the EMA weights: from N(0, I) at the top level down to x_0.
const n = 2000;
const samples = await state.ema.withEmaWeights(async () => {
  const [batch] = await Array.fromAsync(
    drawSamples(state.net, [2], n, n, state.st, new Rng(1), config.langevin),
  );
  const x0 = Float32Array.from(await batch.levels[0].data());
  tf.dispose(batch.levels);
  return x0;
});

const modes = modeCoverage(samples, data.modes!.centres, 3 * data.modes!.std);
const held = data.sample(n, new Rng(2));
console.log(
  `mode shares ${modes.perMode.map((s) => (100 * s).toFixed(1)).join(" ")} %, ` +
    `off-mode ${(100 * modes.offMode).toFixed(1)} %, energy distance ` +
    `${energyDistance(samples, held).toFixed(4)}`,
);
disposeTrainState(state);
