/**
 * The 2D path's native kernels against tfjs: oneDNN's sgemm behind tf.matMul on wasm (every
 * transpose, batched, declined broadcasts), the MLP's one-kernel f and df/dy against tfjs's autodiff
 * of the same net (leaky ReLU and swish, with and without Fourier features, depth 1 to 3), a whole
 * 2D training step against the cpu backend's, and bit-identical steps at 1 and 2 threads.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend.ts";
import { getToy2d } from "../lib/data/toy2d.ts";
import { loadDnnl } from "../lib/kernels/dnnl_ffi.ts";
import { installFastKernels } from "../lib/kernels/mod.ts";
import { disableNativeKernels, enableNativeKernels } from "../lib/kernels/native.ts";
import { mlpEnergyGradAvailable } from "../lib/kernels/mlp_energy.ts";
import { type Gemm, mlpEnergyGrad, type MlpMath } from "../lib/kernels/mlp_energy_host.ts";
import {
  distinctRows,
  mlpEnergyParamGrad,
  type MlpParams,
  type ParamGradShape,
} from "../lib/kernels/mlp_param_grad_host.ts";
import { withLevelScale } from "../lib/nets/level_scale.ts";
import { createMlp } from "../lib/nets/mlp.ts";
import type { EnergyNet, MlpConfig } from "../lib/nets/types.ts";
import { buildConfig } from "../lib/presets.ts";
import { adamKernelAvailable } from "../lib/kernels/adam_ema.ts";
import { Adam, Ema } from "../lib/optim.ts";
import { sampleRecovery } from "../lib/recovery.ts";
import { Rng } from "../lib/rng.ts";
import { createTrainState, disposeTrainState } from "../lib/train_state.ts";
import { makeTrainStep, type StepResult } from "../lib/train_step.ts";
import { normals, relError, TOL } from "./helpers/compare.ts";
import { type Need, testNeeding } from "./helpers/needs.ts";

await initBackend("cpu");

const ONEDNN: Need = {
  what: "oneDNN (libdnnl.so.2)",
  present: loadDnnl() !== null,
  install: "apt-get install -y libdnnl2",
};

/** Runs `fn` on wasm with the native kernels, then goes back to cpu without them. */
async function onNativeWasm<T>(fn: () => Promise<T>, threads?: number): Promise<T> {
  try {
    enableNativeKernels({ threads });
    await initBackend("wasm");
    return await fn();
  } finally {
    disableNativeKernels();
    await initBackend("cpu");
  }
}

const MATMUL_CASES: { a: number[]; b: number[]; ta: boolean; tb: boolean }[] = [
  { a: [5, 3], b: [3, 4], ta: false, tb: false },
  { a: [3, 5], b: [3, 4], ta: true, tb: false },
  { a: [5, 3], b: [4, 3], ta: false, tb: true },
  { a: [3, 5], b: [4, 3], ta: true, tb: true },
  { a: [2, 6, 3], b: [2, 3, 7], ta: false, tb: false },
  { a: [2, 3, 6], b: [2, 7, 3], ta: true, tb: true },
  { a: [4, 0], b: [0, 3], ta: false, tb: false },
  // Broadcast batch dimensions: declined, tfjs's own kernel answers.
  { a: [2, 6, 3], b: [1, 3, 7], ta: false, tb: false },
];

async function products(): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for (const [i, c] of MATMUL_CASES.entries()) {
    const size = (s: number[]) => s.reduce((x, y) => x * y, 1);
    const a = tf.tensor(normals(size(c.a), 10 + i), c.a);
    const b = tf.tensor(normals(size(c.b), 20 + i), c.b);
    const y = tf.matMul(a, b, c.ta, c.tb);
    out.push(await y.data() as Float32Array);
    tf.dispose([a, b, y]);
  }
  return out;
}

testNeeding(ONEDNN, {
  name: "oneDNN matmul on wasm equals tfjs's for every transpose, batched and broadcast",
  fn: async () => {
    const want = await products();
    const got = await onNativeWasm(products);
    got.forEach((g, i) => {
      const e = g.length === 0 ? 0 : relError(g, want[i]);
      assert.ok(e <= TOL, `case ${i} (${JSON.stringify(MATMUL_CASES[i])}): relative error ${e}`);
    });
  },
});

const MLPS: Partial<MlpConfig>[] = [
  { depth: 3, width: 16, activation: "lrelu", fourier: 0 },
  { depth: 1, width: 8, activation: "swish", fourier: 2 },
  { depth: 2, width: 12, activation: "lrelu", fourier: 3, spectralNorm: true },
];

function mlpConfig(c: Partial<MlpConfig>): MlpConfig {
  return {
    kind: "mlp",
    inputDim: 2,
    width: 16,
    depth: 3,
    tembDim: 8,
    fourier: 0,
    activation: "lrelu",
    spectralNorm: false,
    ...c,
  };
}

interface EnergyAndGrad {
  energy: Float32Array;
  grad: Float32Array;
}

/** A seeded MLP, its output multiplied per level by `levelScale` when given. */
function seededMlp(c: Partial<MlpConfig>, seed: number, levelScale?: number[]): EnergyNet {
  const net = createMlp(mlpConfig(c), new Rng(seed));
  return levelScale ? withLevelScale(net, levelScale) : net;
}

/** f and df/dy of a seeded net at 9 points over levels 0..2, by autodiff or the fast path. */
async function energyAndGrad(
  c: Partial<MlpConfig>,
  fast: boolean,
  levelScale?: number[],
): Promise<EnergyAndGrad> {
  const net = seededMlp(c, 3, levelScale);
  const y = tf.tensor2d(normals(18, 4), [9, 2]);
  const t = tf.tensor1d([0, 1, 2, 0, 1, 2, 0, 1, 2], "int32");
  let energy: tf.Tensor, grad: tf.Tensor;
  if (fast) {
    const fixed = net.atLevels?.(t);
    assert.ok(fixed, "the MLP has a fast path with the native kernels installed");
    ({ energy, grad } = fixed.energyAndGrad(y));
    fixed.dispose();
  } else {
    energy = net.energy(y, t);
    grad = tf.grad((v: tf.Tensor) => tf.sum(net.energy(v, t)))(y);
  }
  const out = {
    energy: await energy.data() as Float32Array,
    grad: await grad.data() as Float32Array,
  };
  tf.dispose([y, t, energy, grad]);
  net.dispose();
  return out;
}

testNeeding(ONEDNN, {
  name: "the MLP's one-kernel f and df/dy equal tfjs's autodiff of the same net",
  fn: async () => {
    assert.equal(mlpEnergyGradAvailable(), false, "cpu backend: no fast path");
    for (const c of MLPS) {
      const want = await energyAndGrad(c, false);
      const got = await onNativeWasm(() => energyAndGrad(c, true));
      for (const key of ["energy", "grad"] as const) {
        const e = relError(got[key], want[key]);
        assert.ok(e <= TOL, `${JSON.stringify(c)} ${key}: relative error ${e}`);
      }
      // The comparison can fail: another activation gives another gradient.
      const other = { ...c, activation: c.activation === "lrelu" ? "swish" : "lrelu" } as const;
      const wrong = await onNativeWasm(() => energyAndGrad(other, true));
      assert.ok(relError(wrong.grad, want.grad) > 1e-2, "a different net is told apart");
    }
  },
});

/** f and the gradient of sum(cot * f) for every parameter: by autodiff, or by the net's kernel. */
async function paramGrads(
  c: Partial<MlpConfig>,
  fast: boolean,
  levelScale?: number[],
): Promise<Map<string, Float32Array>> {
  const net = seededMlp(c, 6, levelScale);
  const y = tf.tensor2d(normals(20, 7), [10, 2]);
  const t = tf.tensor1d([0, 1, 2, 3, 4, 0, 1, 2, 3, 4], "int32");
  const cot = tf.tensor1d(normals(10, 8));
  let energy: tf.Tensor, grads: Map<string, tf.Tensor>;
  if (fast) {
    const out = net.energyParamGrad?.(y, t, cot);
    assert.ok(out, "the MLP has a one-pass parameter gradient with the native kernels");
    ({ energy, grads } = out);
  } else {
    energy = net.energy(y, t);
    const nameOf = new Map([...net.params].map(([name, v]) => [v.name, name]));
    const g = tf.variableGrads(() => tf.sum(tf.mul(net.energy(y, t), cot)) as tf.Scalar);
    g.value.dispose();
    grads = new Map(Object.entries(g.grads).map(([k, v]) => [nameOf.get(k)!, v]));
  }
  const out = new Map([["energy", await energy.data() as Float32Array]]);
  for (const [name, g] of grads) out.set(name, await g.data() as Float32Array);
  tf.dispose([y, t, cot, energy, ...grads.values()]);
  net.dispose();
  return out;
}

testNeeding(ONEDNN, {
  name: "the MLP's one-kernel parameter gradient equals tfjs's autodiff (every parameter)",
  fn: async () => {
    for (const c of MLPS.filter((m) => !m.spectralNorm)) {
      const want = await paramGrads(c, false);
      const got = await onNativeWasm(() => paramGrads(c, true));
      assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort());
      for (const [name, g] of got) {
        const e = relError(g, want.get(name)!);
        assert.ok(e <= TOL, `${JSON.stringify(c)} ${name}: relative error ${e}`);
      }
    }
    // With spectral norm the gradient would flow through the normalisation: no fast path.
    const withSn = createMlp(mlpConfig({ spectralNorm: true }), new Rng(6));
    const none = await onNativeWasm(() => {
      const y = tf.zeros([2, 2]), t = tf.tensor1d([0, 1], "int32"), cot = tf.ones([2]);
      const out = withSn.energyParamGrad?.(y, t, cot as tf.Tensor1D);
      tf.dispose([y, t, cot]);
      return Promise.resolve(out);
    });
    assert.equal(none, null);
    withSn.dispose();
  },
});

/** A recovery chain of a seeded MLP at mixed levels, as the samplers run it. */
async function recoveryChain(
  sampler: "ula" | "mala",
  overrides: Record<string, string> = {},
): Promise<Record<string, Float32Array>> {
  const config = buildConfig("8gaussians", { width: "16", T: "4", ...overrides });
  const s = createTrainState(config);
  const xNext = tf.tensor2d(normals(24, 8), [12, 2]);
  const start = tf.tensor2d(normals(24, 9), [12, 2]);
  const t = tf.tensor1d([0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3], "int32");
  const r = sampleRecovery(s.net, xNext, t, s.st, new Rng(11), {
    steps: 6,
    sampler,
    noiseScale: 0.99,
    start,
  });
  const out = {
    x: await r.x.data() as Float32Array,
    acceptance: await r.acceptance.data() as Float32Array,
    displacement: await r.displacement.data() as Float32Array,
  };
  tf.dispose([xNext, start, t, r.x, r.acceptance, r.displacement]);
  disposeTrainState(s);
  return out;
}

testNeeding(ONEDNN, {
  name: "the MLP's one-kernel Langevin chain equals sampleLangevin's (ULA and MALA, same draws)",
  fn: async () => {
    for (const sampler of ["ula", "mala"] as const) {
      const want = await recoveryChain(sampler);
      const got = await onNativeWasm(() => recoveryChain(sampler));
      for (const key of ["x", "acceptance", "displacement"]) {
        const e = relError(got[key], want[key]);
        assert.ok(e <= TOL, `${sampler} ${key}: relative error ${e}`);
      }
      if (sampler === "mala") {
        // Some proposals rejected, some accepted: both branches of the kernel ran.
        const shares = [...want.acceptance];
        assert.ok(shares.some((a) => a < 1) && shares.some((a) => a > 0), `${shares}`);
      }
    }
  },
});

testNeeding(ONEDNN, {
  name:
    "schedule.energyScale step (f = s_t^2 g): the fast f, df/dy, parameter gradient and MALA chain equal tfjs's autodiff of the scaled net",
  fn: async () => {
    const c = MLPS[0];
    const scale = [1e-3, 0.05, 2, 0.7, 0.3];
    // The scaled net is the plain one times c_t, example by example (t = 0, 1, 2 repeating).
    const plain = await energyAndGrad(c, false);
    const scaled = await energyAndGrad(c, false, scale);
    scaled.energy.forEach((f, i) => {
      const want = plain.energy[i] * scale[i % 3];
      assert.ok(Math.abs(f - want) <= 1e-6 * (1 + Math.abs(want)), `example ${i}: ${f} vs ${want}`);
    });
    const fast = await onNativeWasm(() => energyAndGrad(c, true, scale));
    for (const key of ["energy", "grad"] as const) {
      const e = relError(fast[key], scaled[key]);
      assert.ok(e <= TOL, `${key}: relative error ${e}`);
    }
    const want = await paramGrads(c, false, scale);
    const got = await onNativeWasm(() => paramGrads(c, true, scale));
    assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort());
    for (const [name, g] of got) {
      const e = relError(g, want.get(name)!);
      assert.ok(e <= TOL, `${name}: relative error ${e}`);
    }
    // The run's net (createRunNet) scales by s_t^2: its chains take other paths than the plain
    // net's, and the native chain follows tfjs's step for step.
    const step = { "energy-scale": "step", "step-rule": "flat", b2: "1", sampler: "mala" };
    const chainWant = await recoveryChain("mala", step);
    const chainGot = await onNativeWasm(() => recoveryChain("mala", step));
    for (const key of ["x", "acceptance", "displacement"]) {
      const e = relError(chainGot[key], chainWant[key]);
      assert.ok(e <= TOL, `chain ${key}: relative error ${e}`);
    }
    const unscaled = await recoveryChain("mala", { ...step, "energy-scale": "none" });
    assert.ok(relError(unscaled.x, chainWant.x) > 1e-3, "the scale changes the chain");
  },
});

/** Three Adam steps and EMA updates on two parameters, clipped or not. */
async function adamSteps(gradClip: number): Promise<Float32Array[]> {
  const params = new Map([
    ["a", tf.variable(tf.tensor(normals(12, 30), [3, 4]))],
    ["b", tf.variable(tf.tensor(normals(5, 31), [5]))],
  ]);
  const adam = new Adam(params, {
    lr: 1e-2,
    beta1: 0.9,
    beta2: 0.999,
    eps: 1e-8,
    warmup: 2,
    gradClip,
  });
  const ema = new Ema({ params, buffers: new Map(), updateSpectralNorm: () => {} }, 0.9);
  for (let step = 0; step < 3; step++) {
    const grads = new Map([
      ["a", tf.tensor(normals(12, 40 + step), [3, 4])],
      ["b", tf.tensor(normals(5, 50 + step), [5])],
    ]);
    adam.apply(grads).dispose();
    ema.update(adam.step);
    tf.dispose([...grads.values()]);
  }
  const tensors = [
    ...params.values(),
    ...adam.m.values(),
    ...adam.v.values(),
    ...ema.shadow.values(),
  ];
  const out = await Promise.all(tensors.map((t) => t.data() as Promise<Float32Array>));
  tf.dispose([...params.values(), ...ema.shadow.values()]);
  adam.dispose();
  return out;
}

testNeeding(ONEDNN, {
  name: "Adam's and the EMA's one-kernel updates equal lib/optim.ts's tfjs ops (clipped or not)",
  fn: async () => {
    for (const clip of [0, 0.5]) {
      const want = await adamSteps(clip);
      const got = await onNativeWasm(async () => {
        assert.ok(adamKernelAvailable());
        return await adamSteps(clip);
      });
      got.forEach((g, i) => {
        const e = relError(g, want[i]);
        assert.ok(e <= TOL, `clip ${clip}, tensor ${i}: relative error ${e}`);
      });
    }
  },
});

/** Two steps of the 8 Gaussians preset (batch 64, K 4, and `overrides`) from a fixed seed. */
async function twoSteps(
  overrides: Record<string, string> = {},
): Promise<{ results: StepResult[]; params: Float32Array[] }> {
  const config = buildConfig("8gaussians", { batch: "64", K: "4", ...overrides });
  const s = createTrainState(config);
  const step = makeTrainStep(config, s.net, s.st, s.adam, s.ema, s.rng);
  const x0 = tf.tensor2d(getToy2d("8gaussians").sample(64, new Rng(5)), [64, 2]);
  const results = [await step(x0), await step(x0)];
  const params = await Promise.all([...s.net.params.values()].map((p) => p.data()));
  x0.dispose();
  disposeTrainState(s);
  return { results, params: params as Float32Array[] };
}

testNeeding(ONEDNN, {
  name:
    "a 2D training step on wasm with the native MLP equals the cpu backend's (both loss weights)",
  fn: async () => {
    await sameSteps({});
    await sameSteps({ "loss-weight": "likelihood" });
  },
});

/**
 * The native one-pass loss gradient (recoveryLossAndGrad) against tfjs's autodiff of
 * recoveryLoss on the cpu backend, two training steps from the same weights.
 */
async function sameSteps(overrides: Record<string, string>): Promise<void> {
  const want = await twoSteps(overrides);
  const got = await onNativeWasm(() => twoSteps(overrides));
  got.results.forEach((r, i) => {
    assert.deepEqual([...r.levels], [...want.results[i].levels]);
    // Step 0 from the same weights: within TOL. Step 1 starts from weights that differ at
    // rounding level amplified by Adam (see below), so it gets ten times the slack.
    const tol = i === 0 ? TOL : 10 * TOL;
    for (const key of ["loss", "fPos", "fNeg", "displacement", "acceptance"] as const) {
      const e = relError(r[key], want.results[i][key]);
      assert.ok(e <= tol, `step ${i} ${key}: relative error ${e}`);
    }
  });
  got.results.forEach((r, i) => {
    const e = Math.abs(r.gradNorm - want.results[i].gradNorm) / want.results[i].gradNorm;
    assert.ok(e <= TOL, `step ${i} gradient norm: relative error ${e}`);
  });
  // Against the net's weight scale, not each tensor's: Adam moves every weight by about the
  // learning rate whatever its gradient's size, so a bias whose gradient is at rounding level
  // (the time projection's, 3e-5 after two warm-up steps) may move either way on either backend.
  const scale = Math.max(...want.params.map((p) => Math.max(...p.map(Math.abs))));
  got.params.forEach((p, i) => {
    const diff = Math.max(...p.map((v, j) => Math.abs(v - want.params[i][j])));
    assert.ok(diff <= TOL * scale, `parameter ${i}: difference ${diff} (weight scale ${scale})`);
  });
}

testNeeding(ONEDNN, {
  name: "oneDNN: 2D training steps are bit-identical with 1 and 2 threads",
  fn: async () => {
    const run = (threads: number) =>
      onNativeWasm(async () => {
        assert.match(installFastKernels({ threads }).description, new RegExp(`${threads} thread`));
        await initBackend("wasm");
        return await twoSteps();
      }, threads);
    const one = await run(1);
    const two = await run(2);
    two.results.forEach((r, i) => {
      assert.deepEqual(r.loss, one.results[i].loss, `step ${i}: per-example losses`);
      assert.equal(r.gradNorm, one.results[i].gradNorm, `step ${i}: gradient norm`);
    });
    two.params.forEach((p, i) => assert.deepEqual(p, one.params[i], `parameter ${i}`));
  },
});

testNeeding(ONEDNN, {
  name:
    "oneDNN: the 2D MLP routines with oneDNN's leaky ReLU (bit for bit) and swish equal the loops",
  fn: () => {
    const { ops } = loadDnnl()!;
    ops.setThreads(1);
    const gemm: Gemm = (m, n, k, a, ta, b, tb, c, acc) => ops.sgemm(m, n, k, a, ta, b, tb, c, acc);
    const loops: MlpMath = { gemm };
    const eltwise: MlpMath = {
      gemm,
      leakyRelu: {
        forward: (alpha, x, y) => ops.leakyRelu(alpha, x, y),
        backward: (alpha, x, dy, dx) => ops.leakyReluGrad(alpha, x, dy, dx),
      },
      swish: {
        forward: (x, y) => ops.swish(x, y),
        backward: (x, dy, dx) => ops.swishGrad(x, dy, dx),
      },
    };
    const cases = [[3, 0, "lrelu"], [2, 1, "lrelu"], [3, 0, "swish"], [2, 1, "swish"]] as const;
    for (const [depth, fourier, activation] of cases) {
      const s: ParamGradShape = {
        batch: 37,
        inputDim: 2,
        width: 24,
        depth,
        fourier,
        activation,
        slope: 0.2,
        tembDim: 16,
      };
      const { batch: n, width: w, tembDim: e } = s;
      const f = 2 * (1 + 2 * fourier);
      const hidden = Array.from({ length: depth }, (_, l) => normals((l ? w : f) * w, 40 + l));
      const params: MlpParams = {
        tembW: normals(e * e, 50),
        tembB: normals(e, 51),
        projW: normals(e * depth * w, 52),
        projB: normals(depth * w, 53),
        hidden,
        headW: normals(e * w, 54),
        headB: normals(w, 55),
      };
      const y = normals(n * 2, 56);
      const net = {
        y,
        weights: hidden,
        proj: normals(n * depth * w, 57),
        head: normals(n * w, 58),
      };
      const energyGrad = (math: MlpMath) => {
        const energy = new Float32Array(n), grad = new Float32Array(n * 2);
        mlpEnergyGrad(math, s, net, energy, grad);
        return [energy, grad];
      };
      const paramGrad = (math: MlpMath) => {
        const energy = new Float32Array(n);
        const grads: MlpParams = {
          tembW: new Float32Array(e * e),
          tembB: new Float32Array(e),
          projW: new Float32Array(e * depth * w),
          projB: new Float32Array(depth * w),
          hidden: hidden.map((h) => new Float32Array(h.length)),
          headW: new Float32Array(e * w),
          headB: new Float32Array(w),
        };
        mlpEnergyParamGrad(math, s, normals(n * e, 59), y, normals(n, 60), params, energy, grads);
        return [
          energy,
          grads.tembW,
          grads.tembB,
          grads.projW,
          grads.projB,
          grads.headW,
          grads.headB,
          ...grads.hidden,
        ];
      };
      const want = [...energyGrad(loops), ...paramGrad(loops)];
      const got = [...energyGrad(eltwise), ...paramGrad(eltwise)];
      const where = (i: number) => `${activation}, depth ${depth}, fourier ${fourier}: array ${i}`;
      if (activation === "lrelu") {
        got.forEach((g, i) => assert.deepEqual(g, want[i], where(i)));
      } else {
        // oneDNN's swish has its own exp: equal to rounding, not bit for bit.
        got.forEach((g, i) => assert.ok(relError(g, want[i]) <= 1e-5, where(i)));
        assert.ok(got.some((g, i) => g.some((v, j) => v !== want[i][j])), "swish ran the loops");
      }
      assert.ok(want[0].some((v) => v !== 0), "energies all zero");
    }
  },
});

Deno.test("distinctRows: each row's index of its first equal row, compared in full", () => {
  // Rows 0 and 2 equal; rows 1 and 3 share their first value but not their second.
  const x = Float32Array.of(1, 2, 5, 6, 1, 2, 5, 7, 0, 0);
  const d = distinctRows(x, 5, 2);
  assert.equal(d.count, 4);
  assert.deepEqual([...d.index], [0, 1, 0, 2, 3]);
  assert.deepEqual([...d.rows], [1, 2, 5, 6, 5, 7, 0, 0]);
});
