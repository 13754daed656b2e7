/**
 * The WebGPU kernels (lib/kernels/webgpu, run here on the software adapter that Debian's
 * mesa-vulkan-drivers provides) against tfjs's own ops on the cpu backend, on random inputs:
 * the fused convolution's output and its gradients with respect to every input (x, filter, bias,
 * time-embedding bias, residual) within 1e-4 relative, for 3x3 and 1x1 kernels, 1, 3 and 4k input
 * channels, widths that leave a partial tile of the pixels one kernel invocation computes, and
 * every launch shape the tuner may pick; the head, the pool and the device-side noise; the whole
 * energy ResNet; and that a Langevin chain on WebGPU reads nothing back, uploads no noise, and
 * neither leaks tensors nor grows the GPU buffer pool over 1,000 steps.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend.ts";
import { normals, relError, TOL } from "./helpers/compare.ts";
import { fusedConv, type FusedConvOptions } from "../lib/kernels/fused_conv.ts";
import {
  PIXEL_CANDIDATES,
  resetLaunchShapes,
  setLaunchShape,
  WORKGROUP_CANDIDATES,
} from "../lib/kernels/webgpu/workgroups.ts";
import { avgPoolCeil } from "../lib/kernels/avg_pool.ts";
import { energyHead } from "../lib/kernels/energy_head.ts";
import { randomNormal } from "../lib/kernels/random_normal.ts";
import { sampleRecovery, squaredNorms } from "../lib/recovery.ts";
import { makeSchedule, scheduleTensors } from "../lib/schedule.ts";
import { createResNet } from "../lib/nets/resnet.ts";
import type { ResNetConfig } from "../lib/nets/types.ts";
import { Rng } from "../lib/rng.ts";

interface ConvCase {
  batch: number;
  height: number;
  width: number;
  k: number;
  cin: number;
  cout: number;
  leaky: boolean;
  bias: boolean;
  rowBias: boolean;
  residual: boolean;
}

type Results = Record<string, Float32Array>;

/** The op's output and the gradients of sum(out * r) for a fixed random r. */
async function runConv(c: ConvCase, seed: number): Promise<Results> {
  const xShape = [c.batch, c.height, c.width, c.cin] as [number, number, number, number];
  const outShape = [c.batch, c.height, c.width, c.cout] as [number, number, number, number];
  const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
  const x = tf.tensor4d(normals(size(xShape), seed), xShape);
  const w = tf.tensor4d(normals(c.k * c.k * c.cin * c.cout, seed + 1), [c.k, c.k, c.cin, c.cout]);
  const bias = tf.tensor1d(normals(c.cout, seed + 2));
  const rowBias = tf.tensor2d(normals(c.batch * c.cout, seed + 3), [c.batch, c.cout]);
  const residual = tf.tensor4d(normals(size(outShape), seed + 4), outShape);
  const r = tf.tensor4d(normals(size(outShape), seed + 5), outShape);
  // Only the inputs this case uses: tf.grads refuses one the output does not depend on.
  const used: [string, tf.Tensor][] = [["dx", x], ["dw", w]];
  if (c.bias) used.push(["dbias", bias]);
  if (c.rowBias) used.push(["drowBias", rowBias]);
  if (c.residual) used.push(["dresidual", residual]);
  const f = (...args: tf.Tensor[]) => {
    const input = (name: string) => args[used.findIndex(([n]) => n === name)];
    const opts: FusedConvOptions = {};
    if (c.leaky) opts.leakySlope = 0.2;
    if (c.bias) opts.bias = input("dbias") as tf.Tensor1D;
    if (c.rowBias) opts.rowBias = input("drowBias") as tf.Tensor2D;
    if (c.residual) opts.residual = input("dresidual") as tf.Tensor4D;
    return fusedConv(args[0] as tf.Tensor4D, args[1] as tf.Tensor4D, opts);
  };
  const out = f(...used.map(([, t]) => t));
  const grads = tf.grads((...args: tf.Tensor[]) => tf.sum(tf.mul(f(...args), r)))(
    used.map(([, t]) => t),
  );
  const names = ["out", ...used.map(([n]) => n)];
  const all = [out, ...grads];
  const values = await Promise.all(all.map((t) => t.data() as Promise<Float32Array>));
  tf.dispose([...all, x, w, bias, rowBias, residual, r]);
  return Object.fromEntries(names.map((n, i) => [n, values[i]]));
}

async function compare(c: ConvCase, seed: number): Promise<void> {
  await initBackend("cpu");
  const want = await runConv(c, seed);
  await initBackend("webgpu");
  const before = tf.memory().numTensors;
  const got = await runConv(c, seed);
  assert.equal(tf.memory().numTensors, before, "the fused op leaks tensors");
  for (const name of Object.keys(want)) {
    const err = relError(got[name], want[name]);
    assert.ok(err <= TOL, `${JSON.stringify(c)}: ${name} relative error ${err.toExponential(2)}`);
  }
}

/** A two-level energy ResNet (8 and 16 channels), lrelu, as the kernels see it. */
function smallNet(imageSize: number, numResBlocks: number): ResNetConfig {
  return {
    kind: "resnet",
    imageSize,
    channels: 3,
    ch: 8,
    chMult: [1, 2],
    numResBlocks,
    attention: false,
    activation: "lrelu",
    spectralNorm: false,
  };
}

/**
 * Runs `run` on the cpu backend (tfjs's own ops: the reference), then on WebGPU, and checks that
 * each named output agrees within TOL.
 */
async function assertWebgpuMatchesCpu(
  label: string,
  names: string[],
  run: () => Promise<Float32Array[]>,
): Promise<void> {
  await initBackend("cpu");
  const want = await run();
  await initBackend("webgpu");
  const got = await run();
  names.forEach((name, i) => {
    const err = relError(got[i], want[i]);
    assert.ok(err <= TOL, `${label}${name} relative error ${err.toExponential(2)}`);
  });
}

const base = { leaky: true, bias: true, rowBias: true, residual: true };
const CASES: ConvCase[] = [
  // conv_in: 3 or 1 channels in, bias only.
  {
    batch: 2,
    height: 6,
    width: 7,
    k: 3,
    cin: 3,
    cout: 8,
    ...base,
    leaky: false,
    rowBias: false,
    residual: false,
  },
  {
    batch: 2,
    height: 5,
    width: 5,
    k: 3,
    cin: 1,
    cout: 4,
    ...base,
    leaky: false,
    rowBias: false,
    residual: false,
  },
  // a block's conv1 (leaky + time bias) and conv2 (leaky + residual + bias).
  { batch: 3, height: 8, width: 8, k: 3, cin: 8, cout: 12, ...base, bias: false, residual: false },
  { batch: 2, height: 7, width: 9, k: 3, cin: 12, cout: 12, ...base, rowBias: false },
  // the 1x1 skip; everything at once; no pre-activation but every add.
  {
    batch: 2,
    height: 4,
    width: 5,
    k: 1,
    cin: 8,
    cout: 16,
    ...base,
    leaky: false,
    bias: false,
    rowBias: false,
    residual: false,
  },
  { batch: 2, height: 5, width: 6, k: 3, cin: 4, cout: 8, ...base },
  { batch: 1, height: 3, width: 3, k: 3, cin: 5, cout: 4, ...base, leaky: false },
];

Deno.test("fused WebGPU convolution equals tfjs ops, forward and every gradient", async () => {
  for (const [i, c] of CASES.entries()) await compare(c, 100 * i);
});

Deno.test("fused WebGPU convolution is right at every launch shape the tuner may pick", async () => {
  try {
    for (const workgroupSize of WORKGROUP_CANDIDATES) {
      for (const pixels of PIXEL_CANDIDATES) {
        for (const kind of ["conv", "convInputGrad", "convFilterGrad"] as const) {
          setLaunchShape(kind, { workgroupSize, pixels });
        }
        // Width 5 leaves a partial tile for every pixel count.
        const c = { batch: 2, height: 6, width: 5, k: 3, cin: 4, cout: 8, ...base };
        await compare(c, 7 + workgroupSize + pixels);
      }
    }
  } finally {
    resetLaunchShapes();
  }
});

Deno.test("WebGPU energy head equals tfjs ops, forward and both gradients", async () => {
  const run = async () => {
    const x = tf.tensor4d(normals(3 * 5 * 6 * 8, 1), [3, 5, 6, 8]);
    const v = tf.tensor2d(normals(3 * 8, 2), [3, 8]);
    const r = tf.tensor1d(normals(3, 3));
    const out = energyHead(x, v);
    const [dx, dv] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
      tf.sum(tf.mul(energyHead(a as tf.Tensor4D, b as tf.Tensor2D), r))
    )([x, v]);
    const values = await Promise.all([out, dx, dv].map((t) => t.data() as Promise<Float32Array>));
    tf.dispose([out, dx, dv, x, v, r]);
    return values;
  };
  await assertWebgpuMatchesCpu("", ["f", "dx", "dv"], run);
});

Deno.test("the energy ResNet on WebGPU kernels equals tfjs's cpu backend: energy and dE/dy", async () => {
  const config = smallNet(12, 2);
  const run = async () => {
    const net = createResNet(config, new Rng(5));
    // Every parameter away from its near-zero init, so each branch contributes.
    for (const [i, p] of [...net.params.values()].entries()) {
      p.assign(tf.tensor(normals(p.size, 50 + i), p.shape).mul(0.3));
    }
    const y = tf.tensor4d(normals(2 * 12 * 12 * 3, 9), [2, 12, 12, 3]);
    const t = tf.tensor1d([1, 4], "int32");
    const f = net.energy(y, t);
    const dy = tf.grad((v: tf.Tensor) => tf.sum(net.energy(v, t)))(y);
    const values = await Promise.all([f, dy].map((x) => x.data() as Promise<Float32Array>));
    tf.dispose([f, dy, y, t]);
    net.dispose();
    return values;
  };
  await assertWebgpuMatchesCpu("", ["energy", "dE/dy"], run);
});

Deno.test("device-side normal noise: standard normal, seeded, uncorrelated", async () => {
  await initBackend("webgpu");
  const n = 1 << 20;
  const a = randomNormal([n], 12345);
  const b = randomNormal([n], 12345);
  const c = randomNormal([n], 12346);
  const [va, vb, vc] = await Promise.all([a, b, c].map((t) => t.data() as Promise<Float32Array>));
  tf.dispose([a, b, c]);
  assert.deepEqual(va, vb, "the same seed must give the same draw");
  let same = 0, sum = 0, sq = 0, tails = 0, lag = 0, cross = 0;
  for (let i = 0; i < n; i++) {
    if (va[i] === vc[i]) same++;
    sum += va[i];
    sq += va[i] * va[i];
    if (Math.abs(va[i]) > 1.959964) tails++;
    if (i > 0) lag += va[i] * va[i - 1];
    cross += va[i] * vc[i];
  }
  const mean = sum / n, variance = sq / n - mean * mean;
  // Standard errors at n = 2^20: mean 0.001, variance 0.0014, tail share 0.0002, correlations 0.001.
  assert.ok(same < 10, `seeds 12345 and 12346 share ${same} values`);
  assert.ok(Math.abs(mean) < 0.005, `mean ${mean}`);
  assert.ok(Math.abs(variance - 1) < 0.007, `variance ${variance}`);
  assert.ok(Math.abs(tails / n - 0.05) < 0.001, `share beyond 1.96: ${tails / n}`);
  assert.ok(Math.abs(lag / n) < 0.005, `lag-1 correlation ${lag / n}`);
  assert.ok(Math.abs(cross / n) < 0.005, `correlation across seeds ${cross / n}`);
});

Deno.test("a Langevin chain on WebGPU reads nothing back and uploads no noise per step", async () => {
  await initBackend("webgpu");
  const config = smallNet(8, 1);
  const net = createResNet(config, new Rng(1));
  const st = scheduleTensors(makeSchedule({ kind: "drl", T: 6, b2: 2e-4 }));
  const rng = new Rng(2);
  const xNext = tf.tidy(() => rng.normal([16, 8, 8, 3]));
  const t = tf.tensor1d([0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5, 0, 1, 2, 3], "int32");
  // Count the backend's reads and the bytes written from the host while the chain is built.
  const backend = tf.backend() as unknown as Record<string, (...args: unknown[]) => unknown>;
  const counts = { reads: 0, uploaded: 0 };
  const originals = { read: backend.read, readSync: backend.readSync, write: backend.write };
  backend.read = (...args) => (counts.reads++, originals.read.apply(backend, args));
  backend.readSync = (...args) => (counts.reads++, originals.readSync.apply(backend, args));
  backend.write = (...args) => {
    // Outputs of kernels come through here too, without values.
    counts.uploaded += (args[0] as ArrayBufferView | null | undefined)?.byteLength ?? 0;
    return originals.write.apply(backend, args);
  };
  let chain;
  try {
    chain = sampleRecovery(net, xNext, t, st, rng, { steps: 10, sampler: "ula" });
  } finally {
    Object.assign(backend, originals);
  }
  assert.equal(counts.reads, 0, "the chain read values back to the host");
  // A step's noise drawn on the host would be one image batch, 16 * 8 * 8 * 3 * 4 = 12,288 bytes;
  // what remains is tfjs's scalar constants, the [B] level lookups and the small per-channel
  // tensors tfjs-webgpu computes on the host (g times the bias: about 3 KB a step).
  const perStep = counts.uploaded / 10;
  assert.ok(perStep < 12288 / 2, `the chain uploaded ${perStep} bytes per step`);
  const x = await chain.x.data();
  assert.ok(x.every(Number.isFinite));
  tf.dispose([chain.x, chain.acceptance, chain.displacement, xNext, t]);
  st.dispose();
  net.dispose();
});

Deno.test("WebGPU ceil average pool equals tfjs ops, forward and gradient, even and odd sizes", async () => {
  for (const [h, w] of [[6, 8], [7, 5], [1, 3]]) {
    const run = async () => {
      const x = tf.tensor4d(normals(2 * h * w * 8, h * 10 + w), [2, h, w, 8]);
      const out = avgPoolCeil(x);
      const r = tf.tensor(normals(out.size, 3), out.shape);
      const dx = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(avgPoolCeil(v as tf.Tensor4D), r)))(x);
      const values = await Promise.all([out, dx].map((t) => t.data() as Promise<Float32Array>));
      tf.dispose([x, out, r, dx]);
      return values;
    };
    await assertWebgpuMatchesCpu(`${h}x${w} `, ["pool", "dx"], run);
  }
});

Deno.test("squaredNorms and its written-out gradient equal tf.sum(tf.square(d)) on cpu and WebGPU", async () => {
  const d0 = normals(3 * 4 * 5 * 2, 77), r0 = normals(3, 78);
  const run = async (f: (d: tf.Tensor) => tf.Tensor) => {
    const d = tf.tensor4d(d0, [3, 4, 5, 2]);
    const r = tf.tensor1d(r0);
    const value = f(d);
    const grad = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(f(v), r)))(d);
    const out = await Promise.all([value, grad].map((t) => t.data() as Promise<Float32Array>));
    tf.dispose([d, r, value, grad]);
    return out;
  };
  await initBackend("cpu");
  const want = await run((d) => tf.sum(tf.square(d), [1, 2, 3]));
  const cpu = await run(squaredNorms);
  assert.deepEqual(cpu, want, "on cpu the values and gradient must be bit-identical");
  await initBackend("webgpu");
  const gpu = await run(squaredNorms);
  [0, 1].forEach((i) => assert.ok(relError(gpu[i], want[i]) <= TOL));
});

Deno.test("memory on WebGPU: 1,000 steps of the sampler leave only its outputs; GPU buffers do not grow", async () => {
  await initBackend("webgpu");
  const config = smallNet(8, 1);
  const net = createResNet(config, new Rng(1));
  const st = scheduleTensors(makeSchedule({ kind: "drl", T: 6, b2: 2e-4 }));
  const xNext = tf.tidy(() => new Rng(2).normal([2, 8, 8, 3]));
  const t = tf.tensor1d([2, 3], "int32");
  const gpuBytes = () =>
    (tf.memory() as unknown as { numBytesAllocatedInGPU: number }).numBytesAllocatedInGPU;
  const chain = async (steps: number) => {
    const r = sampleRecovery(net, xNext, t, st, new Rng(3), { steps, sampler: "ula" });
    await r.x.data();
    return [r.x, r.acceptance, r.displacement];
  };
  tf.dispose(await chain(100)); // compiles, fills the buffer pool
  const before = tf.memory().numTensors;
  const afterWarm = gpuBytes();
  assert.ok(afterWarm > 0, `the backend reports ${afterWarm} bytes of GPU buffers`);
  const outputs = await chain(1000);
  assert.equal(tf.memory().numTensors, before + 3, "only x, acceptance and displacement remain");
  tf.dispose(outputs);
  assert.equal(gpuBytes(), afterWarm, "GPU buffers allocated grew over 1,000 steps");
  tf.dispose([xNext, t]);
  st.dispose();
  net.dispose();
});
