/**
 * Custom kernels against tfjs's own ops: conv2dSame's forward, input gradient and filter gradient
 * equal tf.conv2d and its gradients (cpu backend, random inputs) within 1e-4 relative, for 3x3 and
 * 1x1 kernels and several channel counts; the same holds on the wasm backend, which has no
 * Conv2DBackpropFilter of its own, and on oneDNN (where libdnnl2 loads), as do its leaky ReLU and
 * ceil average pool against tfjs's ops; the zero-copy wasm Identity keeps gradients exact.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend.ts";
import { normals, relError, TOL } from "./helpers/compare.ts";
import { conv2dSame, conv2dSameImplName } from "../lib/kernels/conv2d.ts";
import { loadDnnl } from "../lib/kernels/dnnl_ffi.ts";
import { disableNativeKernels, enableNativeKernels } from "../lib/kernels/native.ts";
import { installFastKernels } from "../lib/kernels/mod.ts";
import { leakyRelu } from "../lib/kernels/leaky_relu.ts";
import { avgPoolCeil } from "../lib/kernels/avg_pool.ts";
import { installZeroCopyWasmIdentity } from "../lib/kernels/wasm_identity.ts";
import { benchTrainConfig } from "../lib/tasks/bench/presets.ts";
import { buildConfig } from "../lib/presets.ts";
import { benchBatch } from "../lib/tasks/bench/workloads.ts";
import { makeTrainStep } from "../lib/train_step.ts";
import { createTrainState, disposeTrainState } from "../lib/train_state.ts";
import { type Need, testNeeding } from "./helpers/needs.ts";

await initBackend("cpu");

interface Case {
  batch: number;
  size: number;
  k: number;
  cin: number;
  cout: number;
}

const CASES: Case[] = [
  { batch: 2, size: 5, k: 3, cin: 3, cout: 4 },
  { batch: 3, size: 6, k: 3, cin: 8, cout: 8 },
  { batch: 1, size: 7, k: 3, cin: 5, cout: 16 },
  { batch: 2, size: 4, k: 1, cin: 4, cout: 8 },
  { batch: 2, size: 5, k: 1, cin: 6, cout: 3 },
];

interface Outputs {
  y: Float32Array;
  dx: Float32Array;
  dw: Float32Array;
}

/** y = conv(x, w) and the gradients of sum(y * r) (a random cotangent) by x and by w. */
async function forwardAndGrads(
  conv: (x: tf.Tensor4D, w: tf.Tensor4D) => tf.Tensor4D,
  c: Case,
  seed: number,
): Promise<Outputs> {
  const xShape = [c.batch, c.size, c.size, c.cin];
  const wShape = [c.k, c.k, c.cin, c.cout];
  const yShape = [c.batch, c.size, c.size, c.cout];
  const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
  const x = tf.tensor4d(normals(size(xShape), seed), xShape as [number, number, number, number]);
  const w = tf.tensor4d(
    normals(size(wShape), seed + 1),
    wShape as [number, number, number, number],
  );
  const r = tf.tensor(normals(size(yShape), seed + 2), yShape);
  const loss = (xx: tf.Tensor, ww: tf.Tensor) =>
    tf.sum(tf.mul(conv(xx as tf.Tensor4D, ww as tf.Tensor4D), r));
  const y = conv(x, w);
  const [dx, dw] = tf.grads(loss)([x, w]);
  const out = {
    y: await y.data() as Float32Array,
    dx: await dx.data() as Float32Array,
    dw: await dw.data() as Float32Array,
  };
  tf.dispose([x, w, r, y, dx, dw]);
  return out;
}

const reference = (x: tf.Tensor4D, w: tf.Tensor4D) => tf.conv2d(x, w, 1, "same");

function assertClose(got: Outputs, want: Outputs, label: string): void {
  for (const key of ["y", "dx", "dw"] as const) {
    const e = relError(got[key], want[key]);
    assert.ok(e <= TOL, `${label} ${key}: relative error ${e.toExponential(2)} > ${TOL}`);
  }
}

Deno.test("conv2dSame: forward and both gradients equal tf.conv2d's (cpu)", async () => {
  for (const [i, c] of CASES.entries()) {
    const want = await forwardAndGrads(reference, c, 100 + 10 * i);
    const got = await forwardAndGrads(conv2dSame, c, 100 + 10 * i);
    assertClose(got, want, JSON.stringify(c));
  }
});

Deno.test("conv2dSame: the comparison can fail (a spatially transposed filter is caught)", async () => {
  const c = CASES[1];
  const want = await forwardAndGrads(reference, c, 7);
  // Transposing the filter's spatial axes gives the right forward shape but wrong numbers.
  const wrong = (x: tf.Tensor4D, w: tf.Tensor4D) =>
    conv2dSame(x, tf.transpose(w, [1, 0, 2, 3]) as tf.Tensor4D);
  const got = await forwardAndGrads(wrong, c, 7);
  assert.ok(relError(got.y, want.y) > 1e-2);
  assert.ok(relError(got.dw, want.dw) > 1e-2);
});

Deno.test("conv2dSame: only the requested gradient is computed (x only for Langevin)", async () => {
  const x = tf.randomNormal([1, 4, 4, 2], 0, 1, "float32", 1) as tf.Tensor4D;
  const w = tf.randomNormal([3, 3, 2, 2], 0, 1, "float32", 2) as tf.Tensor4D;
  const before = tf.memory().numTensors;
  const gradX = () => tf.grad((v: tf.Tensor) => tf.sum(conv2dSame(v as tf.Tensor4D, w)))(x);
  const onlyX = await tf.profile(() => gradX().dispose());
  // The filter gradient is the only place a plain Conv2D runs (the input gradient is CONV2D_SAME).
  assert.ok(!onlyX.kernelNames.includes("Conv2D"), `kernels: ${onlyX.kernelNames}`);
  const both = await tf.profile(() =>
    tf.dispose(
      tf.grads((v: tf.Tensor, u: tf.Tensor) =>
        tf.sum(conv2dSame(v as tf.Tensor4D, u as tf.Tensor4D))
      )([x, w]),
    )
  );
  assert.ok(both.kernelNames.includes("Conv2D"), `kernels: ${both.kernelNames}`);
  assert.equal(tf.memory().numTensors, before, "tensors leaked by the gradient");
  tf.dispose([x, w]);
});

Deno.test("conv2dSame: rejects even kernels and channel mismatches", () => {
  const x = tf.zeros([1, 4, 4, 2]) as tf.Tensor4D;
  assert.throws(() => conv2dSame(x, tf.zeros([2, 2, 2, 2]) as tf.Tensor4D), /odd square kernel/);
  assert.throws(() => conv2dSame(x, tf.zeros([3, 3, 3, 2]) as tf.Tensor4D), /channels/);
  x.dispose();
});

Deno.test("conv2dSame on wasm: forward and gradients equal the cpu reference", async () => {
  const wants = [];
  for (const [i, c] of CASES.entries()) wants.push(await forwardAndGrads(reference, c, 300 + i));
  await initBackend("wasm");
  try {
    for (const [i, c] of CASES.entries()) {
      const got = await forwardAndGrads(conv2dSame, c, 300 + i);
      assertClose(got, wants[i], `wasm ${JSON.stringify(c)}`);
    }
  } finally {
    await initBackend("cpu");
  }
});

const dnnlAvailable = loadDnnl() !== null;
const ONEDNN: Need = {
  what: "oneDNN (libdnnl.so.2)",
  present: dnnlAvailable,
  install: "apt-get install -y libdnnl2",
};

testNeeding(ONEDNN, {
  name: "conv2dSame on oneDNN (cpu and wasm): forward and gradients equal tf.conv2d's",
  fn: async () => {
    const wants = [];
    for (const [i, c] of CASES.entries()) wants.push(await forwardAndGrads(reference, c, 500 + i));
    try {
      const status = enableNativeKernels({ backends: ["cpu", "wasm"] });
      assert.deepEqual(status.backends, ["cpu", "wasm"]);
      for (const backend of ["cpu", "wasm"] as const) {
        await initBackend(backend);
        assert.match(conv2dSameImplName(backend), /^oneDNN/);
        for (const [i, c] of CASES.entries()) {
          const got = await forwardAndGrads(conv2dSame, c, 500 + i);
          assertClose(got, wants[i], `oneDNN on ${backend} ${JSON.stringify(c)}`);
        }
      }
    } finally {
      disableNativeKernels();
      await initBackend("cpu");
    }
    // By default only wasm is accelerated; the cpu backend keeps tfjs's kernels.
    try {
      assert.deepEqual(enableNativeKernels().backends, ["wasm"]);
      assert.match(conv2dSameImplName("wasm"), /^oneDNN/);
      assert.equal(conv2dSameImplName("cpu"), "tfjs Conv2D");
    } finally {
      disableNativeKernels();
    }
  },
});

/** f(x) and the gradient of sum(f(x) * r) by x, as host arrays. */
async function valueAndGrad(
  f: (x: tf.Tensor) => tf.Tensor,
  xShape: number[],
  seed: number,
): Promise<{ y: Float32Array; dx: Float32Array }> {
  const n = xShape.reduce((a, b) => a * b, 1);
  const x = tf.tensor(normals(n, seed), xShape);
  const y = f(x);
  const r = tf.tensor(normals(y.size, seed + 1), y.shape);
  const dx = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(f(v), r)))(x);
  const out = { y: await y.data() as Float32Array, dx: await dx.data() as Float32Array };
  tf.dispose([x, y, r, dx]);
  return out;
}

testNeeding(ONEDNN, {
  name: "leakyRelu and avgPoolCeil on oneDNN (cpu and wasm) equal tfjs's ops, forward and gradient",
  fn: async () => {
    const cases: { label: string; f: (x: tf.Tensor) => tf.Tensor; shape: number[] }[] = [
      { label: "leakyRelu", f: (x) => leakyRelu(x, 0.2), shape: [2, 5, 5, 3] },
      { label: "avgPoolCeil even", f: (x) => avgPoolCeil(x as tf.Tensor4D), shape: [2, 6, 4, 3] },
      { label: "avgPoolCeil odd", f: (x) => avgPoolCeil(x as tf.Tensor4D), shape: [3, 7, 5, 2] },
    ];
    // Without native kernels these are tfjs's ops (tf.leakyRelu, pad + avgPool + rescale).
    const wants = [];
    for (const [i, c] of cases.entries()) wants.push(await valueAndGrad(c.f, c.shape, 700 + i));
    try {
      enableNativeKernels({ backends: ["cpu", "wasm"] });
      for (const backend of ["cpu", "wasm"] as const) {
        await initBackend(backend);
        for (const [i, c] of cases.entries()) {
          const before = tf.memory().numTensors;
          const got = await valueAndGrad(c.f, c.shape, 700 + i);
          assert.equal(tf.memory().numTensors, before, `${c.label} leaks on ${backend}`);
          for (const key of ["y", "dx"] as const) {
            const e = relError(got[key], wants[i][key]);
            assert.ok(e <= TOL, `${c.label} ${key} on ${backend}: relative error ${e}`);
          }
        }
      }
    } finally {
      disableNativeKernels();
      await initBackend("cpu");
    }
  },
});

Deno.test("zero-copy wasm Identity: clones share data, and gradients through saved tensors hold", async () => {
  installZeroCopyWasmIdentity();
  const c: Case = { batch: 2, size: 5, k: 3, cin: 3, cout: 4 };
  const want = await forwardAndGrads(reference, c, 900);
  await initBackend("wasm");
  try {
    const x = tf.tensor([1, 2, 3]);
    const y = tf.clone(x);
    x.dispose(); // the clone keeps the shared data alive
    assert.deepEqual([...await y.data()], [1, 2, 3]);
    y.dispose();
    // conv2dSame's gradient reads the x and filter saved (cloned) in the forward pass.
    const got = await forwardAndGrads(conv2dSame, c, 900);
    assertClose(got, want, "wasm with zero-copy Identity");
  } finally {
    await initBackend("cpu");
  }
});

Deno.test({
  name: "a training step of a tiny ResNet on wasm (tfjs, then oneDNN) equals the cpu backend's",

  fn: async () => {
    const preset = {
      name: "tiny",
      imageSize: 6,
      channels: 2,
      ch: 4,
      chMult: [1, 2],
      numResBlocks: 1,
      batch: 3,
    };
    const oneStep = async () => {
      const s = createTrainState(benchTrainConfig(preset, 3));
      const x0 = benchBatch(s, preset.batch);
      const r = await makeTrainStep(s.config, s.net, s.st, s.adam, s.ema, s.rng)(x0);
      const params = await Promise.all([...s.net.params.values()].map((p) => p.data()));
      x0.dispose();
      s.net.dispose();
      s.adam.dispose();
      s.ema.dispose();
      s.st.dispose();
      return { r, params: params as Float32Array[] };
    };
    const want = await oneStep();
    try {
      // wasm with conv gradients as XNNPACK forward convolutions, then with oneDNN.
      for (const native of dnnlAvailable ? [false, true] : [false]) {
        if (native) enableNativeKernels();
        else disableNativeKernels();
        await initBackend("wasm");
        const got = await oneStep();
        assert.deepEqual([...got.r.levels], [...want.r.levels]);
        for (const key of ["loss", "fPos", "fNeg", "displacement"] as const) {
          const e = relError(got.r[key], want.r[key]);
          assert.ok(e <= TOL, `${key}: relative error ${e}`);
        }
        // The global norm of the parameter gradient (filter gradients included), before Adam.
        const normError = Math.abs(got.r.gradNorm - want.r.gradNorm) / want.r.gradNorm;
        assert.ok(normError <= TOL, `gradient norm: relative error ${normError}`);
        assert.ok(want.r.gradNorm > 0);
        got.params.forEach((p, i) => {
          const e = relError(p, want.params[i]);
          assert.ok(e <= TOL, `parameter ${i}: relative error ${e}`);
        });
      }
    } finally {
      disableNativeKernels();
      await initBackend("cpu");
    }
  },
});

testNeeding(ONEDNN, {
  name: "oneDNN: training steps are bit-identical with 1 and 2 threads",
  fn: async () => {
    const run = async (threads: number) => {
      // What `--threads N` does (initBackend keeps a choice made this way).
      assert.match(installFastKernels({ threads }).description, new RegExp(`${threads} thread`));
      await initBackend("wasm");
      // Batch 16: large enough that oneDNN would split the filter gradient's batch sum.
      const config = buildConfig("fashion-mnist", { batch: "16", K: "5" });
      const s = createTrainState(config);
      const step = makeTrainStep(config, s.net, s.st, s.adam, s.ema, s.rng);
      const x0 = tf.randomUniform([16, 28, 28, 1], -1, 1, "float32", 7);
      const results = [];
      for (let i = 0; i < 3; i++) results.push(await step(x0));
      const params = await Promise.all([...s.net.params.values()].map((p) => p.data()));
      x0.dispose();
      disposeTrainState(s);
      return { results, params: params as Float32Array[] };
    };
    try {
      const one = await run(1);
      const two = await run(2);
      two.results.forEach((r, i) => {
        assert.deepEqual(r.loss, one.results[i].loss, `step ${i}: per-example losses`);
        assert.equal(r.gradNorm, one.results[i].gradNorm, `step ${i}: gradient norm`);
      });
      two.params.forEach((p, i) => assert.deepEqual(p, one.params[i], `parameter ${i}`));
    } finally {
      disableNativeKernels();
      await initBackend("cpu");
    }
  },
});
