import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend.ts";
import { createEnergyNet } from "../lib/nets/mod.ts";
import { conditionalLogProb, qSamplePairs, recoveryLoss, sampleRecovery } from "../lib/recovery.ts";
import { Rng } from "../lib/rng.ts";
import { sampleProgressive } from "../lib/samplers/progressive.ts";
import { makeSchedule, scheduleTensors } from "../lib/schedule.ts";
import { quadraticNet } from "./helpers/quadratic_net.ts";

await initBackend("cpu");

const schedule = makeSchedule({ kind: "drl", T: 6, b2: 2e-4 });

function moments(x: Float32Array): { mean: number; variance: number } {
  let s = 0, s2 = 0;
  for (const v of x) {
    s += v;
    s2 += v * v;
  }
  const mean = s / x.length;
  return { mean, variance: s2 / x.length - mean * mean };
}

Deno.test("conditional log-density: f / s_t^2 minus the Gaussian term; none at the top level", async () => {
  const st = scheduleTensors(schedule);
  const net = quadraticNet(2);
  const y = tf.tensor2d([[0.3, -0.2]]);
  const xNext = tf.tensor2d([[0.1, 0.4]]);
  for (const t of [2, 5]) {
    const tt = tf.tensor1d([t], "int32");
    const got = (await conditionalLogProb(net, y, tt, xNext, st).data())[0];
    const f = -2 / 2 * (0.3 ** 2 + 0.2 ** 2);
    const gauss = t === 5
      ? 0
      : ((0.3 - 0.1) ** 2 + (-0.2 - 0.4) ** 2) / (2 * schedule.sigmas[t + 1] ** 2);
    const want = f / schedule.stepSizes[t] - gauss;
    assert.ok(Math.abs(got - want) < 1e-3 * Math.abs(want), `t=${t}: ${got} vs ${want}`);
    tt.dispose();
  }
  tf.dispose([y, xNext]);
  net.dispose();
  st.dispose();
});

Deno.test("MALA samples the exact conditional: a Gaussian with known mean and variance", async () => {
  // At the top level, log p(y) = f(y)/s^2 = -k ||y||^2 / (2 s^2): N(0, s^2 / k).
  const st = scheduleTensors(schedule);
  const t = 5;
  const s2 = schedule.stepSizes[t];
  const k = 0.5;
  const net = quadraticNet(k);
  const n = 2000;
  const start = tf.fill([n, 2], 0.5);
  const tt = tf.fill([n], t, "int32");
  const r = sampleRecovery(net, start, tt, st, new Rng(3), { steps: 60, sampler: "mala" });
  const { mean, variance } = moments(Float32Array.from(await r.x.data()));
  const acceptance = Array.from(await r.acceptance.data()).reduce((a, b) => a + b, 0) / n;
  assert.ok(Math.abs(mean) < 0.02, `mean ${mean}`);
  assert.ok(Math.abs(variance / (s2 / k) - 1) < 0.1, `variance ${variance} vs ${s2 / k}`);
  // A real acceptance rate: strictly between 0 and 1 for this step size.
  assert.ok(acceptance > 0.3 && acceptance < 1, `acceptance ${acceptance}`);
  tf.dispose([start, tt, r.x, r.acceptance, r.displacement]);
  net.dispose();
  st.dispose();
});

Deno.test("Langevin and progressive sampling leak no tensors and are seeded", async () => {
  const st = scheduleTensors(schedule);
  const net = createEnergyNet({
    kind: "mlp",
    inputDim: 2,
    width: 16,
    depth: 2,
    tembDim: 8,
    activation: "swish",
    spectralNorm: false,
  }, new Rng(0));
  const draw = async (seed: number) => {
    const r = await sampleProgressive(net, [8, 2], st, new Rng(seed), {
      steps: 3,
      sampler: "mala",
    });
    const out = Float32Array.from(await r.levels[0].data());
    assert.equal(r.levels.length, 7);
    assert.equal(r.stats.length, 6);
    tf.dispose(r.levels);
    return out;
  };
  await draw(1); // warm-up: backend kernels may allocate on first use
  const before = tf.memory().numTensors;
  const a = await draw(1);
  const b = await draw(1);
  const c = await draw(2);
  assert.equal(tf.memory().numTensors, before);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
  net.dispose();
  st.dispose();
});

Deno.test("q-sampling pairs have the marginal and step statistics of the forward process", async () => {
  const st = scheduleTensors(schedule);
  const n = 20000;
  const x0 = tf.fill([n, 2], 0.8);
  const t = tf.fill([n], 2, "int32");
  const { xt, xNext } = qSamplePairs(x0, t, st, new Rng(5));
  const m = moments(Float32Array.from(await xt.data()));
  assert.ok(Math.abs(m.mean - 0.8 * schedule.alphasCum[2]) < 0.01);
  assert.ok(Math.abs(Math.sqrt(m.variance) - schedule.sigmasCum[2]) < 0.01);
  const diff = tf.sub(xNext, tf.mul(xt, schedule.alphas[3]));
  const d = moments(Float32Array.from(await diff.data()));
  assert.ok(Math.abs(d.mean) < 0.01);
  assert.ok(Math.abs(Math.sqrt(d.variance) - schedule.sigmas[3]) < 0.01);
  tf.dispose([x0, t, xt, xNext, diff]);
  st.dispose();
});

Deno.test("loss is -(f(pos) - f(neg)) * sigma_1 / sigma_{t+1} on y = a_{t+1} x", async () => {
  const st = scheduleTensors(schedule);
  const net = quadraticNet(1);
  const pos = tf.tensor2d([[0.2, 0.1]]);
  const neg = tf.tensor2d([[0.5, -0.3]]);
  const t = tf.tensor1d([1], "int32");
  const { loss, fPos, fNeg } = recoveryLoss(net, pos, neg, t, st);
  const a = schedule.alphas[2];
  const f = (x: number[]) => -0.5 * ((a * x[0]) ** 2 + (a * x[1]) ** 2);
  const want = -(f([0.2, 0.1]) - f([0.5, -0.3])) * schedule.sigmas[1] / schedule.sigmas[2];
  assert.ok(Math.abs((await loss.data())[0] - want) < 1e-5);
  tf.dispose([pos, neg, t, loss, fPos, fNeg]);
  net.dispose();
  st.dispose();
});

Deno.test("loss weight 'likelihood': -(f(pos) - f(neg)) * s_0^2 / s_t^2, the log-likelihood's", async () => {
  const weighted = makeSchedule({ kind: "cosine", T: 10, b2: 1, lossWeight: "likelihood" });
  const st = scheduleTensors(weighted);
  const net = quadraticNet(1);
  const pos = tf.tensor2d([[0.2, 0.1], [0.3, 0.3]]);
  const neg = tf.tensor2d([[0.5, -0.3], [-0.1, 0.2]]);
  const levels = [3, 9];
  const t = tf.tensor1d(levels, "int32");
  const { loss, fPos, fNeg } = recoveryLoss(net, pos, neg, t, st);
  const got = await loss.data();
  levels.forEach((level, i) => {
    // The top level is unconditional: its input is not rescaled.
    const a = level === 9 ? 1 : weighted.alphas[level + 1];
    const f = (x: number[]) => -0.5 * ((a * x[0]) ** 2 + (a * x[1]) ** 2);
    const [p, n] = [[[0.2, 0.1], [0.5, -0.3]], [[0.3, 0.3], [-0.1, 0.2]]][i];
    const want = -(f(p) - f(n)) * weighted.stepSizes[0] / weighted.stepSizes[level];
    assert.ok(
      Math.abs(got[i] - want) < 1e-5 * Math.abs(want),
      `level ${level}: ${got[i]} vs ${want}`,
    );
  });
  tf.dispose([pos, neg, t, loss, fPos, fNeg]);
  net.dispose();
  st.dispose();
});
