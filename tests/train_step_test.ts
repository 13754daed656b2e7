/**
 * Tests that would catch a broken training step (images issue, item 2): the step moves
 * f(positive) - f(negative) the right way, the sampler divides by a_{t+1} below the top level,
 * Adam with warm-up and the EMA equal a float64 reference, and the EMA weights keep their own
 * spectral-norm vectors.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend.ts";
import { buildConfig } from "../lib/presets.ts";
import { createEnergyNet, type ResNetConfig } from "../lib/nets/mod.ts";
import { Adam, Ema } from "../lib/optim.ts";
import { recoveryLoss, sampleRecovery } from "../lib/recovery.ts";
import { JsRandom, Rng } from "../lib/rng.ts";
import { makeSchedule, scheduleTensors } from "../lib/schedule.ts";
import { levelDrawer, makeTrainStep } from "../lib/train_step.ts";
import { createTrainState, disposeTrainState } from "../lib/train_state.ts";

await initBackend("cpu");

/** A small image config: the official block (g, 3x3 shortcut), spectral norm, T=6, short chains. */
function smallImageConfig() {
  return buildConfig("fashion-mnist", {
    ch: "8",
    "net.chMult": "1,2",
    "net.numResBlocks": "1",
    K: "5",
    batch: "12",
    lr: "1e-4",
    warmup: "0",
  });
}

function fixedBatch(n: number, seed: number): tf.Tensor4D {
  // Smooth blobs in [-1, 1], far from the Langevin chains' noisy negatives.
  const r = new JsRandom(seed);
  const data = new Float32Array(n * 28 * 28);
  for (let b = 0; b < n; b++) {
    const cx = 8 + 12 * r.float(), cy = 8 + 12 * r.float();
    for (let i = 0; i < 28; i++) {
      for (let j = 0; j < 28; j++) {
        const d2 = (i - cy) ** 2 + (j - cx) ** 2;
        data[b * 784 + i * 28 + j] = 2 * Math.exp(-d2 / 40) - 1;
      }
    }
  }
  return tf.tensor4d(data, [n, 28, 28, 1]);
}

Deno.test("one training step on a fixed batch raises f(positive) - f(negative) of that batch", async () => {
  const config = smallImageConfig();
  const s = createTrainState(config);
  const step = makeTrainStep(config, s.net, s.st, s.adam, s.ema, s.rng, { keepSamples: true });
  const x0 = fixedBatch(config.train.batch, 3);
  // The recovery loss of the step's own positives and negatives, before and after its update.
  const r = await step(x0);
  const { xPos, xNeg, t } = r.samples!;
  const before = r.meanLoss;
  const after = tf.tidy(() => tf.mean(recoveryLoss(s.net, xPos, xNeg, t, s.st).loss).dataSync()[0]);
  const gapBefore = r.fPos.reduce((a, v, i) => a + v - r.fNeg[i], 0);
  const gapAfter = tf.tidy(() => {
    const p = recoveryLoss(s.net, xPos, xNeg, t, s.st);
    return tf.sum(tf.sub(p.fPos, p.fNeg)).dataSync()[0];
  });
  tf.dispose([x0, xPos, xNeg, t]);
  disposeTrainState(s);
  // A first Adam step moves every weight by about lr against its gradient: the loss must fall
  // and the energy gap between positives and negatives must grow. Swapping the positives and
  // negatives in the step (recoveryLoss(net, chain.x, xt, ...)) makes both fail.
  assert.ok(after < before, `loss after the step ${after} < before ${before}`);
  assert.ok(gapAfter > gapBefore, `f(pos) - f(neg) summed: ${gapAfter} > ${gapBefore}`);
});

Deno.test("Langevin output is x_t = y_K / a_{t+1} at every level (a = 1 only at the top)", () => {
  const schedule = makeSchedule({ kind: "drl", T: 6, b2: 2e-4 });
  const st = scheduleTensors(schedule);
  const cfg: ResNetConfig = {
    kind: "resnet",
    imageSize: 4,
    channels: 1,
    ch: 4,
    chMult: [1],
    numResBlocks: 1,
    attention: false,
    activation: "lrelu",
    spectralNorm: false,
  };
  const net = createEnergyNet(cfg, new Rng(1));
  const levels = [0, 1, 2, 3, 4, 5];
  const xNext = tf.tensor4d(
    Float32Array.from({ length: levels.length * 16 }, (_, i) => Math.sin(i)),
    [levels.length, 4, 4, 1],
  );
  const t = tf.tensor1d(levels, "int32");
  // No steps: y_K = y_0 = x_{t+1}, so x_t = x_{t+1} / a_{t+1} exactly.
  const r = sampleRecovery(net, xNext, t, st, new Rng(2), { steps: 0, sampler: "ula" });
  const got = r.x.dataSync();
  const x = xNext.dataSync();
  for (let b = 0; b < levels.length; b++) {
    const a = levels[b] + 1 === schedule.T ? 1 : schedule.alphas[levels[b] + 1];
    if (levels[b] < schedule.T - 1) assert.ok(a < 0.99, `a_${levels[b] + 1} = ${a} is not ~1`);
    for (let i = 0; i < 16; i++) {
      const want = x[b * 16 + i] / a;
      assert.ok(Math.abs(got[b * 16 + i] - want) <= 1e-6 * Math.max(1, Math.abs(want)));
    }
  }
  tf.dispose([xNext, t, r.x, r.acceptance, r.displacement]);
  net.dispose();
  st.dispose();
});

Deno.test("Adam with warm-up and clipping, and the EMA, equal a float64 reference", () => {
  const cfg = { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, warmup: 4, gradClip: 1.5 };
  const decay = 0.9;
  const init = { a: [0.5, -1.25, 2], b: [0.75] };
  const params = new Map(
    Object.entries(init).map(([k, v]) => [k, tf.variable(tf.tensor1d(v), true)]),
  );
  const net = { params, buffers: new Map(), updateSpectralNorm: () => {} };
  const adam = new Adam(params, cfg);
  const ema = new Ema(net, decay);
  // The reference, written out in float64 from Kingma & Ba (2015), Algorithm 1, with a linear
  // warm-up of the rate over `warmup` steps and global-norm clipping before the moments.
  const p = Object.fromEntries(Object.entries(init).map(([k, v]) => [k, [...v]]));
  const shadow = structuredClone(p);
  const m = Object.fromEntries(Object.entries(init).map(([k, v]) => [k, v.map(() => 0)]));
  const v = structuredClone(m);
  const r = new JsRandom(9);
  for (let step = 1; step <= 7; step++) {
    const g = Object.fromEntries(
      Object.entries(init).map(([k, x]) => [k, x.map(() => 3 * (r.float() - 0.3))]),
    );
    const norm = Math.sqrt(Object.values(g).flat().reduce((a, x) => a + x * x, 0));
    const scale = Math.min(1, cfg.gradClip / (norm + 1e-12));
    const lr = cfg.lr * Math.min(1, step / cfg.warmup);
    for (const k of Object.keys(p)) {
      for (let i = 0; i < p[k].length; i++) {
        const gi = g[k][i] * scale;
        m[k][i] = cfg.beta1 * m[k][i] + (1 - cfg.beta1) * gi;
        v[k][i] = cfg.beta2 * v[k][i] + (1 - cfg.beta2) * gi * gi;
        const mHat = m[k][i] / (1 - cfg.beta1 ** step);
        const vHat = v[k][i] / (1 - cfg.beta2 ** step);
        p[k][i] -= lr * mHat / (Math.sqrt(vHat) + cfg.eps);
        shadow[k][i] = decay * shadow[k][i] + (1 - decay) * p[k][i];
      }
    }
    const grads = new Map(Object.entries(g).map(([k, x]) => [k, tf.tensor1d(x)]));
    const reported = adam.apply(grads);
    ema.update(step);
    assert.ok(Math.abs(reported.dataSync()[0] - norm) <= 1e-5 * norm, "reported gradient norm");
    tf.dispose([reported, ...grads.values()]);
    for (const k of Object.keys(p)) {
      const got = params.get(k)!.dataSync();
      const gotEma = ema.shadow.get(k)!.dataSync();
      for (let i = 0; i < p[k].length; i++) {
        assert.ok(
          Math.abs(got[i] - p[k][i]) <= 1e-6,
          `step ${step} ${k}[${i}]: ${got[i]} vs ${p[k][i]}`,
        );
        assert.ok(Math.abs(gotEma[i] - shadow[k][i]) <= 1e-6, `step ${step} ema ${k}[${i}]`);
      }
    }
  }
  adam.dispose();
  ema.dispose();
  tf.dispose([...params.values()]);
});

Deno.test("cosine decay: warm-up, then lr (1 + cos(pi n / N)) / 2, 0 from the horizon on", () => {
  const base = { lr: 0.02, beta1: 0.9, beta2: 0.999, eps: 1e-8, warmup: 10, gradClip: 0 };
  const params = new Map([["p", tf.variable(tf.tensor1d([1]), true)]]);
  const N = 100;
  const cosine = new Adam(params, { ...base, lrDecay: "cosine" }, N);
  // The rate of update n (counting from 0), written out.
  const want = (n: number) =>
    base.lr * Math.min(1, (n + 1) / base.warmup) * 0.5 *
    (1 + Math.cos(Math.PI * Math.min(1, n / N)));
  for (const n of [0, 4, 9, 10, 25, 50, 75, 99, 100, 150]) {
    assert.ok(Math.abs(cosine.learningRate(n) - want(n)) < 1e-15, `update ${n}`);
  }
  assert.ok(Math.abs(cosine.learningRate(50) - base.lr / 2) < 1e-15, "half way: half the rate");
  assert.equal(cosine.learningRate(N), 0);
  // Constant (and absent, as in configs written before the field): warm-up only, any horizon.
  for (const cfg of [{ ...base, lrDecay: "constant" as const }, base]) {
    const adam = new Adam(params, cfg, N);
    assert.equal(adam.learningRate(4), base.lr / 2);
    assert.equal(adam.learningRate(99), base.lr);
    assert.equal(adam.learningRate(1000), base.lr);
    adam.dispose();
  }
  // A config's run uses its own iterations as the horizon, and a bad name is refused.
  const state = createTrainState(
    buildConfig("8gaussians", { "lr-decay": "cosine", iterations: "40" }),
  );
  assert.equal(state.adam.learningRate(40), 0);
  assert.ok(state.adam.learningRate(20) > 0);
  disposeTrainState(state);
  assert.throws(
    () => buildConfig("8gaussians", { "lr-decay": "step" }),
    /--optim.lrDecay=step: expected one of constant, cosine/,
  );
  cosine.dispose();
  tf.dispose([...params.values()]);
});

Deno.test("EMA warm-up: the n-th update averages with decay min(d, (1 + n) / (10 + n))", () => {
  const p = tf.variable(tf.tensor1d([1, -2]), true);
  const net = { params: new Map([["p", p]]), buffers: new Map(), updateSpectralNorm: () => {} };
  const ema = new Ema(net, 0.999, true);
  let shadow = [1, -2];
  for (let n = 1; n <= 5; n++) {
    const live = [1 + n, -2 * n];
    p.assign(tf.tensor1d(live));
    ema.update(n);
    const d = Math.min(0.999, (1 + n) / (10 + n));
    shadow = shadow.map((s, i) => d * s + (1 - d) * live[i]);
    const got = ema.shadow.get("p")!.dataSync();
    shadow.forEach((want, i) => assert.ok(Math.abs(got[i] - want) < 1e-5, `update ${n}`));
  }
  // Without warm-up the decay is constant from the first update.
  assert.equal(new Ema(net, 0.999).decayAt(1), 0.999);
  ema.dispose();
  p.dispose();
});

/** The largest singular value of W viewed as [in', out], by many power iterations in float64. */
function topSingularValue(w: Float32Array, outDim: number): number {
  const inDim = w.length / outDim;
  let u = Array.from({ length: outDim }, (_, i) => 1 + i / outDim);
  let sigma = 0;
  for (let it = 0; it < 500; it++) {
    const v = Array.from({ length: inDim }, (_, i) => {
      let s = 0;
      for (let j = 0; j < outDim; j++) s += w[i * outDim + j] * u[j];
      return s;
    });
    const nv = Math.hypot(...v);
    const un = Array.from({ length: outDim }, (_, j) => {
      let s = 0;
      for (let i = 0; i < inDim; i++) s += w[i * outDim + j] * v[i] / nv;
      return s;
    });
    sigma = Math.hypot(...un);
    u = un.map((x) => x / sigma);
  }
  return sigma;
}

Deno.test("EMA weights keep their own spectral-norm vectors: sigma is the EMA weight's own", async () => {
  const config = buildConfig("fashion-mnist-tiny", { ema: "0.9" });
  const s = createTrainState(config);
  // The live weights drift (each step grows them and rescales them a little at random, as training
  // moves them), the EMA lags behind: the two copies end with different norms.
  for (let i = 0; i < 60; i++) {
    tf.tidy(() => {
      for (const [name, v] of s.net.params) {
        if (!name.endsWith(".w")) continue;
        v.assign(tf.mul(v, tf.randomNormal(v.shape, 1.01, 0.02, "float32", i)));
      }
    });
    s.net.updateSpectralNorm();
    s.ema.update(i + 1);
  }
  const name = "level0.block0.conv1";
  const emaW = s.ema.shadow.get(`${name}.w`)!.dataSync() as Float32Array;
  const liveW = s.net.params.get(`${name}.w`)!.dataSync() as Float32Array;
  const out = s.net.params.get(`${name}.w`)!.shape.at(-1)!;
  const sigmaOf = (w: Float32Array, u: Float32Array, v: Float32Array) => {
    let sum = 0;
    for (let i = 0; i < v.length; i++) {
      for (let j = 0; j < out; j++) sum += v[i] * w[i * out + j] * u[j];
    }
    return sum;
  };
  const uE = s.ema.shadowBuffers.get(`${name}.sn_u`)!.dataSync() as Float32Array;
  const vE = s.ema.shadowBuffers.get(`${name}.sn_v`)!.dataSync() as Float32Array;
  const trueEma = topSingularValue(emaW, out);
  assert.ok(Math.abs(trueEma - topSingularValue(liveW, out)) > 0.05 * trueEma, "copies differ");
  assert.ok(
    Math.abs(sigmaOf(emaW, uE, vE) - trueEma) < 1e-3 * trueEma,
    `EMA sigma ${sigmaOf(emaW, uE, vE)} vs its true norm ${trueEma}`,
  );
  // Inside withEmaWeights the net uses the EMA weights with the EMA vectors; after, the live ones.
  const liveU = Float32Array.from(s.net.buffers.get(`${name}.sn_u`)!.dataSync());
  await s.ema.withEmaWeights(() => {
    assert.deepEqual(s.net.buffers.get(`${name}.sn_u`)!.dataSync(), uE);
    assert.deepEqual(s.net.params.get(`${name}.w`)!.dataSync(), emaW);
    return Promise.resolve();
  });
  assert.deepEqual(s.net.buffers.get(`${name}.sn_u`)!.dataSync(), liveU);
  disposeTrainState(s);
});

Deno.test("level draws: power 0 is js.int(T) itself; power p follows (t + 1)^-p; bad powers refused", () => {
  const uniform = levelDrawer(7, 0);
  const [a, b] = [new JsRandom(5), new JsRandom(5)];
  for (let i = 0; i < 100; i++) assert.equal(uniform(a), b.int(7));

  const T = 10;
  const p = 0.5;
  const draw = levelDrawer(T, p);
  const js = new JsRandom(11);
  const n = 200_000;
  const counts = new Array(T).fill(0);
  for (let i = 0; i < n; i++) counts[draw(js)]++;
  const weights = Array.from({ length: T }, (_, t) => (t + 1) ** -p);
  const z = weights.reduce((s, w) => s + w, 0);
  counts.forEach((c, t) => {
    const expected = weights[t] / z;
    // Binomial standard error at n = 200,000 is at most 0.0011: 5 of them.
    assert.ok(Math.abs(c / n - expected) < 0.0055, `level ${t}: ${c / n} vs ${expected}`);
  });

  for (const bad of ["-1", "-0.5"]) {
    assert.throws(
      () => buildConfig("8gaussians", { "level-power": bad }),
      /train.levelPower must be a finite number >= 0/,
    );
  }
  for (const bad of ["NaN", "Infinity"]) {
    assert.throws(() => buildConfig("8gaussians", { "level-power": bad }), /expected a number/);
  }
});
