/**
 * The native kernels on oneDNN (dnnl_ffi.ts) for the tfjs backends that keep tensors in host
 * memory (cpu, wasm): the energy nets' convolutions with both gradients, leaky ReLU and the ceil
 * average pool, each one kernel each way, reading and writing tfjs's storage in place.
 */
import type * as tf from "@tensorflow/tfjs";
import { setAdamEmaImpl } from "./adam_ema.ts";
import { adamStep, emaStep } from "./adam_ema_host.ts";
import { setAvgPoolImpl } from "./avg_pool.ts";
import { type Conv2dSameImpl, setConv2dSameImpl } from "./conv2d.ts";
import { type ConvShape, type DnnlOps, loadDnnl, type PoolShape } from "./dnnl_ffi.ts";
import { HOST_BACKENDS, type HostBackend, hostMemory } from "./host_memory.ts";
import { setLeakyReluImpl } from "./leaky_relu.ts";
import { matMulDims, setMatMulImpl } from "./matmul.ts";
import { type MlpEnergyAttrs, setMlpEnergyGradImpl } from "./mlp_energy.ts";
import { type Gemm, mlpEnergyGrad, type MlpMath, type MlpShape } from "./mlp_energy_host.ts";
import { mlpLangevinChain } from "./mlp_langevin_host.ts";
import { setMlpParamGradImpl } from "./mlp_param_grad.ts";
import { mlpEnergyParamGrad } from "./mlp_param_grad_host.ts";

function convShape(act: tf.TensorInfo, outChannels: number, kernel: number): ConvShape {
  const [batch, height, width, inChannels] = act.shape;
  return { batch, height, width, inChannels, outChannels, kernel };
}

function convImpl(
  ops: DnnlOps,
  b: HostBackend,
  name: string,
  threads: number,
): Conv2dSameImpl {
  return {
    name,
    forward: (x, filter, backend) => {
      const mem = hostMemory(b, backend);
      const [k, , , co] = filter.shape;
      const out = mem.output([...x.shape.slice(0, 3), co]);
      ops.conv(convShape(x, co, k), "forward", mem.view(x), mem.view(filter), out.values);
      return out.info;
    },
    inputGrad: (dy, filter, backend) => {
      const mem = hostMemory(b, backend);
      const [k, , ci, co] = filter.shape;
      const out = mem.output([...dy.shape.slice(0, 3), ci]);
      ops.conv(
        convShape(out.info, co, k),
        "backward_data",
        out.values,
        mem.view(filter),
        mem.view(dy),
      );
      return out.info;
    },
    filterGrad: (x, dy, k, backend) => {
      const mem = hostMemory(b, backend);
      const co = dy.shape[3];
      const out = mem.output([k, k, x.shape[3], co]);
      // One thread: oneDNN splits this reduction over the batch between its threads, so the sum's
      // order (and its last bits) would depend on the thread count. The forward and input-gradient
      // convolutions give every output to one thread, bit-identical at any count (tested); the
      // filter gradient is a few percent of a training step, so one thread costs little.
      ops.setThreads(1);
      try {
        ops.conv(convShape(x, co, k), "backward_weights", mem.view(x), out.values, mem.view(dy));
      } finally {
        ops.setThreads(threads);
      }
      return out.info;
    },
  };
}

/**
 * oneDNN's sgemm on one thread, whatever the count set: it may split a product's inner dimension
 * between threads (then the sum's order, and its last bits, would follow the thread count), and
 * the products here (the MLP's 256 x 128 x 128) are too small to gain from a second thread.
 */
function singleThreadGemm(ops: DnnlOps, threads: number): Gemm {
  return (m, n, k, a, transA, bm, transB, c, accumulate) =>
    onOneThread(ops, threads, () => ops.sgemm(m, n, k, a, transA, bm, transB, c, accumulate));
}

/** Runs `run` with oneDNN on one thread, then restores `threads`. */
function onOneThread(ops: DnnlOps, threads: number, run: () => void): void {
  ops.setThreads(1);
  try {
    run();
  } finally {
    ops.setThreads(threads);
  }
}

/**
 * The 2D MLP routines' arithmetic: sgemm and oneDNN's leaky ReLU and swish, each on one thread (a
 * layer's 256 x 128 activations are too small for a second: waking it costs more than the work).
 */
function singleThreadMlpMath(ops: DnnlOps, threads: number): MlpMath {
  return {
    gemm: singleThreadGemm(ops, threads),
    leakyRelu: {
      forward: (alpha, x, y) => onOneThread(ops, threads, () => ops.leakyRelu(alpha, x, y)),
      backward: (alpha, x, dy, dx) =>
        onOneThread(ops, threads, () => ops.leakyReluGrad(alpha, x, dy, dx)),
    },
    swish: {
      forward: (x, y) => onOneThread(ops, threads, () => ops.swish(x, y)),
      backward: (x, dy, dx) => onOneThread(ops, threads, () => ops.swishGrad(x, dy, dx)),
    },
  };
}

/**
 * Below this many elements an elementwise op runs on one thread: waking OpenMP's sleeping threads
 * costs more than the work (the 2D MLP's 256 x 128 activations took 0.6 ms on two threads of a
 * busy machine). Elementwise results do not depend on the thread count.
 */
const SMALL_ELEMENTWISE = 1 << 16;

function onThreadsFor(ops: DnnlOps, size: number, threads: number, run: () => void): void {
  if (size >= SMALL_ELEMENTWISE) return run();
  onOneThread(ops, threads, run);
}

function installGemmKernels(ops: DnnlOps, b: HostBackend, threads: number): void {
  const math = singleThreadMlpMath(ops, threads);
  const { gemm } = math;
  setMatMulImpl(b, (a, bm, attrs, backend) => {
    if (a.dtype !== "float32" || bm.dtype !== "float32") return null;
    const d = matMulDims(a.shape, bm.shape, attrs);
    if (!d) return null;
    const mem = hostMemory(b, backend);
    const out = mem.output([...d.outer, d.m, d.n]);
    const av = mem.view(a), bv = mem.view(bm);
    const aSize = d.m * d.k, bSize = d.k * d.n, cSize = d.m * d.n;
    for (let i = 0; i < d.batches; i++) {
      gemm(
        d.m,
        d.n,
        d.k,
        av.subarray(i * aSize, (i + 1) * aSize),
        attrs.transposeA,
        bv.subarray(i * bSize, (i + 1) * bSize),
        attrs.transposeB,
        out.values.subarray(i * cSize, (i + 1) * cSize),
      );
    }
    return out.info;
  });
  const netShape = (
    net: { weights: tf.TensorInfo[]; head: tf.TensorInfo },
    y: tf.TensorInfo,
    attrs: MlpEnergyAttrs,
  ): MlpShape => {
    const [batch, inputDim] = y.shape;
    return { batch, inputDim, width: net.head.shape[1], depth: net.weights.length, ...attrs };
  };
  setMlpEnergyGradImpl(b, {
    energyGrad: (inputs, attrs, backend) => {
      const mem = hostMemory(b, backend);
      const [batch, inputDim] = inputs.y.shape;
      // Outputs first: allocating may grow the wasm memory, which invalidates earlier views.
      const energy = mem.output([batch]);
      const grad = mem.output([batch, inputDim]);
      mlpEnergyGrad(
        math,
        netShape(inputs, inputs.y, attrs),
        {
          y: mem.view(inputs.y),
          weights: inputs.weights.map((w) => mem.view(w)),
          proj: mem.view(inputs.proj),
          head: mem.view(inputs.head),
        },
        mem.view(energy.info),
        mem.view(grad.info),
      );
      return [energy.info, grad.info];
    },
    langevin: (inputs, attrs, backend) => {
      const mem = hostMemory(b, backend);
      const [batch, inputDim] = inputs.y0.shape;
      const y = mem.output([batch, inputDim]);
      const acceptance = mem.output([batch]);
      const displacement = mem.output([batch]);
      const { noiseScale, ...netAttrs } = attrs;
      // Copies of the inputs: the views would not survive the wasm memory growing meanwhile
      // (the chain allocates nothing there, but the copies are small and make that not matter).
      const copy = (t: tf.TensorInfo) => mem.view(t).slice();
      mlpLangevinChain(
        math,
        netShape(inputs.net, inputs.y0, netAttrs),
        {
          weights: inputs.net.weights.map(copy),
          proj: copy(inputs.net.proj),
          head: copy(inputs.net.head),
        },
        {
          y0: copy(inputs.y0),
          anchor: copy(inputs.anchor),
          scale: copy(inputs.scale),
          precision: copy(inputs.precision),
          stepSize: copy(inputs.stepSize),
          noises: inputs.noises.map(copy),
          uniforms: inputs.uniforms?.map(copy) ?? null,
        },
        noiseScale,
        {
          y: mem.view(y.info),
          acceptance: mem.view(acceptance.info),
          displacement: mem.view(displacement.info),
        },
      );
      return [y.info, acceptance.info, displacement.info];
    },
  });
}

function installParamGradKernel(b: HostBackend, math: MlpMath): void {
  setMlpParamGradImpl(b, (inputs, attrs, backend) => {
    const mem = hostMemory(b, backend);
    const { roles, hidden } = inputs.params;
    const [batch, inputDim] = inputs.y.shape;
    // Outputs first (allocating may grow the wasm memory), then every view.
    const energy = mem.output([batch]);
    const gradRoles = Object.fromEntries(
      Object.entries(roles).map(([r, t]) => [r, mem.output(t.shape).info]),
    ) as typeof roles;
    const gradHidden = hidden.map((t) => mem.output(t.shape).info);
    const view = (r: typeof roles) => ({
      tembW: mem.view(r.tembW),
      tembB: mem.view(r.tembB),
      projW: mem.view(r.projW),
      projB: mem.view(r.projB),
      headW: mem.view(r.headW),
      headB: mem.view(r.headB),
    });
    mlpEnergyParamGrad(
      math,
      {
        batch,
        inputDim,
        width: roles.headB.shape[0],
        depth: hidden.length,
        tembDim: roles.tembB.shape[0],
        ...attrs,
      },
      mem.view(inputs.emb),
      mem.view(inputs.y),
      mem.view(inputs.cot),
      { ...view(roles), hidden: hidden.map((t) => mem.view(t)) },
      mem.view(energy.info),
      { ...view(gradRoles), hidden: gradHidden.map((t) => mem.view(t)) },
    );
    return { energy: energy.info, grads: { roles: gradRoles, hidden: gradHidden } };
  });
}

function installOptimizerKernels(b: HostBackend): void {
  setAdamEmaImpl(b, {
    adam: (inputs, attrs, backend) => {
      const mem = hostMemory(b, backend);
      const shape = inputs.p.shape;
      const outs = [mem.output(shape), mem.output(shape), mem.output(shape)];
      const [p, m, v] = outs.map((o) => mem.view(o.info));
      adamStep(
        {
          p: mem.view(inputs.p),
          m: mem.view(inputs.m),
          v: mem.view(inputs.v),
          g: mem.view(inputs.g),
        },
        mem.view(inputs.scale)[0],
        attrs,
        { p, m, v, g: new Float32Array(0) },
      );
      return [outs[0].info, outs[1].info, outs[2].info];
    },
    ema: (shadow, p, decay, backend) => {
      const mem = hostMemory(b, backend);
      const out = mem.output(p.shape);
      emaStep(mem.view(shadow), mem.view(p), decay, mem.view(out.info));
      return out.info;
    },
  });
}

function install(ops: DnnlOps, b: HostBackend, name: string, threads: number): void {
  installGemmKernels(ops, b, threads);
  installParamGradKernel(b, singleThreadMlpMath(ops, threads));
  installOptimizerKernels(b);
  setConv2dSameImpl(b, convImpl(ops, b, name, threads));
  setLeakyReluImpl(b, {
    forward: (x, alpha, backend) => {
      const mem = hostMemory(b, backend);
      const out = mem.output(x.shape);
      onThreadsFor(ops, out.values.length, threads, () => {
        ops.leakyRelu(alpha, mem.view(x), out.values);
      });
      return out.info;
    },
    grad: (x, dy, alpha, backend) => {
      const mem = hostMemory(b, backend);
      const out = mem.output(x.shape);
      onThreadsFor(ops, out.values.length, threads, () => {
        ops.leakyReluGrad(alpha, mem.view(x), mem.view(dy), out.values);
      });
      return out.info;
    },
  });
  setAvgPoolImpl(b, {
    forward: (x, backend) => {
      const mem = hostMemory(b, backend);
      const [n, h, w, c] = x.shape;
      const out = mem.output([n, Math.ceil(h / 2), Math.ceil(w / 2), c]);
      ops.avgPool(x.shape as PoolShape, mem.view(x), out.values);
      return out.info;
    },
    grad: (dy, inputShape, backend) => {
      const mem = hostMemory(b, backend);
      const out = mem.output(inputShape);
      ops.avgPoolGrad(inputShape as PoolShape, mem.view(dy), out.values);
      return out.info;
    },
  });
}

function uninstall(b: HostBackend): void {
  setMatMulImpl(b, null);
  setMlpEnergyGradImpl(b, null);
  setAdamEmaImpl(b, null);
  setMlpParamGradImpl(b, null);
  setConv2dSameImpl(b, null);
  setLeakyReluImpl(b, null);
  setAvgPoolImpl(b, null);
}

export interface NativeStatus {
  /** Backends now running these ops on oneDNN. */
  backends: HostBackend[];
  /** e.g. "oneDNN 2.6.3, 1 thread(s)", or why it is off. */
  description: string;
}

let status: NativeStatus | null = null;

export interface NativeOptions {
  /** oneDNN's OpenMP threads (default: every core, `defaultThreads()`). */
  threads?: number;
  /** The backends to accelerate (default wasm only: see below). */
  backends?: readonly HostBackend[];
}

/** Every core of the machine: the default thread count of the native kernels. */
export function defaultThreads(): number {
  return Math.max(1, navigator.hardwareConcurrency || 1);
}

/**
 * Runs the nets' convolutions, leaky ReLU and pooling on oneDNN when Debian's libdnnl2 loads;
 * otherwise changes nothing. By default only on wasm, the backend the CPU path runs on: the cpu
 * backend stays pure tfjs (its elementwise kernels are plain JS and slow anyway, and the test
 * suites run on it). Every core by default: idle OpenMP threads sleep (OMP_WAIT_POLICY=PASSIVE,
 * dnnl_ffi.ts), and the same seed gives the same numbers at any thread count.
 */
export function enableNativeKernels(opts: NativeOptions = {}): NativeStatus {
  const threads = opts.threads ?? defaultThreads();
  if (!Number.isInteger(threads) || threads < 1) {
    throw new RangeError(`native kernel threads must be a positive integer, got ${threads}`);
  }
  const backends = [...(opts.backends ?? ["wasm"])];
  const dnnl = loadDnnl();
  if (!dnnl) {
    status = { backends: [], description: "off: libdnnl.so.2 (oneDNN 2.x) cannot be loaded" };
    return status;
  }
  dnnl.ops.setThreads(threads);
  const name = `oneDNN ${dnnl.version}`;
  for (const b of HOST_BACKENDS) {
    if (backends.includes(b)) install(dnnl.ops, b, name, threads);
    else uninstall(b);
  }
  status = { backends, description: `${name}, ${threads} thread(s)` };
  return status;
}

/** Back to tfjs's own kernels on the cpu and wasm backends. */
export function disableNativeKernels(): void {
  for (const b of HOST_BACKENDS) uninstall(b);
  status = { backends: [], description: "off" };
}

/** What enableNativeKernels last did (null: never called). */
export function nativeKernelsStatus(): NativeStatus | null {
  return status;
}
