/**
 * Shards computed by worker processes give the numbers of the same shards computed one after
 * another in this process (lib/parallel/shard_pool.ts): same per-example losses, gradient norm
 * and weights after two steps; a worker's failure is one error, not a hang.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend.ts";
import { buildConfig } from "../lib/presets.ts";
import { ShardPool } from "../lib/parallel/shard_pool.ts";
import { makeTrainStep, type StepResult } from "../lib/train_step.ts";
import { createTrainState, disposeTrainState } from "../lib/train_state.ts";

const config = buildConfig("fashion-mnist", {
  ch: "8",
  "net.chMult": "1,2",
  batch: "8",
  shards: "2",
  K: "3",
});

async function twoSteps(
  pool?: ShardPool,
): Promise<{ steps: StepResult[]; params: Float32Array[] }> {
  const s = createTrainState(config);
  const step = makeTrainStep(config, s.net, s.st, s.adam, s.ema, s.rng, { pool });
  const x0 = tf.randomUniform([8, 28, 28, 1], -1, 1, "float32", 3);
  const steps = [await step(x0), await step(x0)];
  const params = await Promise.all([...s.net.params.values()].map((p) => p.data()));
  x0.dispose();
  disposeTrainState(s);
  return { steps, params: params as Float32Array[] };
}

Deno.test("two worker processes give the numbers of the shards computed in turn", async () => {
  await initBackend("wasm");
  const here = await twoSteps();
  const pool = await ShardPool.create(config, 2, "wasm");
  try {
    const there = await twoSteps(pool);
    there.steps.forEach((r, i) => {
      assert.deepEqual(r.levels, here.steps[i].levels, `step ${i} levels`);
      assert.deepEqual(r.loss, here.steps[i].loss, `step ${i} losses`);
      assert.deepEqual(r.displacement, here.steps[i].displacement, `step ${i} chains`);
      assert.equal(r.gradNorm, here.steps[i].gradNorm, `step ${i} gradient norm`);
    });
    there.params.forEach((p, i) => assert.deepEqual(p, here.params[i], `parameter ${i}`));
  } finally {
    pool.close();
    await initBackend("cpu");
  }
});

Deno.test("a shard pool: a bad request is one clear error; a closed pool refuses work", async () => {
  const pool = await ShardPool.create(config, 1, "wasm");
  try {
    await assert.rejects(
      () =>
        pool.run([{
          params: {},
          buffers: {},
          x0: new Float32Array(4),
          shape: [1, 2, 2, 1],
          levels: new Int32Array(1),
          seed: 1,
          batch: 1,
        }]),
      /shard worker: no values for/,
    );
  } finally {
    pool.close();
  }
  await assert.rejects(() => pool.run([]), /closed/);
});
