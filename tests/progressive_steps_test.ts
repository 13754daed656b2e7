/**
 * The step-by-step form of progressive sampling that the browser page consumes
 * (lib/samplers/progressive.ts progressiveSteps): the same draws and numbers as sampleProgressive,
 * events in order, a start from any level, and no tensors left behind when it is stopped early.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend.ts";
import { createEnergyNet } from "../lib/nets/mod.ts";
import { Rng } from "../lib/rng.ts";
import { progressiveSteps, sampleProgressive } from "../lib/samplers/progressive.ts";
import { makeSchedule, scheduleTensors } from "../lib/schedule.ts";

await initBackend("cpu");

const st = scheduleTensors(makeSchedule({ kind: "drl", T: 4, b2: 2e-4 }));
const net = createEnergyNet({
  kind: "mlp",
  inputDim: 2,
  width: 8,
  depth: 2,
  tembDim: 8,
  activation: "lrelu",
  spectralNorm: false,
}, new Rng(0));
const opts = { steps: 3, sampler: "mala" as const };

Deno.test("progressiveSteps: start, K steps per level, each level, then sampleProgressive's result", async () => {
  const reference = await sampleProgressive(net, [5, 2], st, new Rng(9), opts);
  const steps = progressiveSteps(net, [5, 2], st, new Rng(9), opts);
  const events: string[] = [];
  let r = await steps.next();
  while (!r.done) {
    const ev = r.value;
    events.push(ev.kind === "step" ? `${ev.level}.${ev.step}` : `${ev.kind} ${ev.level}`);
    if (ev.kind === "step") assert.deepEqual(ev.y.shape, [5, 2]);
    r = await steps.next();
  }
  assert.deepEqual(events, [
    "start 4",
    ...[3, 2, 1, 0].flatMap((t) => [`${t}.1`, `${t}.2`, `${t}.3`, `level ${t}`]),
  ]);
  assert.deepEqual(r.value.stats, reference.stats);
  for (let t = 0; t <= 4; t++) {
    assert.deepEqual(await r.value.levels[t].data(), await reference.levels[t].data());
  }
  tf.dispose([...r.value.levels, ...reference.levels]);
});

Deno.test("progressiveSteps: stopped mid-chain or between levels, it leaves no tensors", async () => {
  const drain = async (stopAfter: number) => {
    const steps = progressiveSteps(net, [4, 2], st, new Rng(1), opts);
    for (let i = 0; i < stopAfter; i++) {
      const r = await steps.next();
      // Run to the end: the result's levels are the caller's.
      if (r.done) return tf.dispose(r.value.levels);
    }
    await steps.return(undefined as never);
  };
  await drain(100); // warm-up: kernels may allocate on first use
  const before = tf.memory().numTensors;
  for (const stopAfter of [0, 1, 2, 5, 9, 100]) {
    await drain(stopAfter);
    assert.equal(tf.memory().numTensors, before, `stopped after ${stopAfter} events`);
  }
});

Deno.test("progressiveSteps: from a given level and state, runs the levels below it", async () => {
  const x = tf.tensor2d([[0.5, -0.5], [0.5, -0.5]]);
  const steps = progressiveSteps(net, [2, 2], st, new Rng(3), opts, { level: 2, x });
  const kinds: string[] = [];
  let r = await steps.next();
  while (!r.done) {
    if (r.value.kind !== "step") kinds.push(`${r.value.kind} ${r.value.level}`);
    r = await steps.next();
  }
  assert.deepEqual(kinds, ["start 2", "level 1", "level 0"]);
  assert.equal(r.value.levels.length, 3);
  assert.deepEqual(await r.value.levels[2].data(), await x.data());
  assert.deepEqual(r.value.stats.map((s) => s.level), [1, 0]);
  tf.dispose([x, ...r.value.levels]);
  await assert.rejects(async () => {
    await progressiveSteps(net, [2, 2], st, new Rng(3), opts, { level: 5, x }).next();
  }, /starts at a level in 0\.\.4, got 5/);
});
