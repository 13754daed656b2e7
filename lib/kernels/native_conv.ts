/**
 * conv2dSame and its two gradients on oneDNN (dnnl_ffi.ts) for the tfjs backends whose tensors
 * live in host memory: `cpu` (JS typed arrays) and `wasm` (the module's linear memory). oneDNN
 * reads the inputs and writes the output in place, so nothing is copied.
 */
import * as tf from "@tensorflow/tfjs";
import { type Conv2dSameImpl, setConv2dSameImpl } from "./conv2d.ts";
import { type ConvDirection, type ConvShape, loadDnnl, setNativeThreads } from "./dnnl_ffi.ts";

export const NATIVE_BACKENDS = ["cpu", "wasm"] as const;
export type NativeBackend = typeof NATIVE_BACKENDS[number];

/** Host memory of tensors on one backend: float32 views of inputs, new outputs. */
interface HostMemory {
  view(t: tf.TensorInfo): Float32Array;
  /** A new float32 tensor of `shape` and a view of its (uninitialised or zero) storage. */
  output(shape: number[]): { info: tf.TensorInfo; values: Float32Array };
}

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

function cpuMemory(backend: tf.KernelBackend): HostMemory {
  // deno-lint-ignore no-explicit-any
  const b = backend as any;
  return {
    view: (t) => {
      const values = b.data.get(t.dataId).values;
      return values instanceof Float32Array ? values : Float32Array.from(values);
    },
    output: (shape) => {
      const values = new Float32Array(size(shape));
      return { info: b.makeTensorInfo(shape, "float32", values), values };
    },
  };
}

function wasmMemory(backend: tf.KernelBackend): HostMemory {
  // deno-lint-ignore no-explicit-any
  const b = backend as any;
  // Views are taken after every allocation: growing the wasm memory replaces its buffer.
  const heapView = (t: tf.TensorInfo) => {
    const { memoryOffset } = b.dataIdMap.get(t.dataId);
    return new Float32Array(b.wasm.HEAPU8.buffer, memoryOffset, size(t.shape));
  };
  return {
    view: heapView,
    output: (shape) => {
      const info = b.makeOutput(shape, "float32") as tf.TensorInfo;
      return { info, values: heapView(info) };
    },
  };
}

function convShape(act: tf.TensorInfo, outChannels: number, kernel: number): ConvShape {
  const [batch, height, width, inChannels] = act.shape;
  return { batch, height, width, inChannels, outChannels, kernel };
}

function makeImpl(
  memoryOf: (b: tf.KernelBackend) => HostMemory,
  run: (s: ConvShape, dir: ConvDirection, x: Float32Array, w: Float32Array, y: Float32Array) => void,
  name: string,
): Conv2dSameImpl {
  return {
    name,
    forward: (x, filter, backend) => {
      const mem = memoryOf(backend);
      const [k, , , co] = filter.shape;
      const out = mem.output([...x.shape.slice(0, 3), co]);
      run(convShape(x, co, k), "forward", mem.view(x), mem.view(filter), out.values);
      return out.info;
    },
    inputGrad: (dy, filter, backend) => {
      const mem = memoryOf(backend);
      const [k, , ci, co] = filter.shape;
      const out = mem.output([...dy.shape.slice(0, 3), ci]);
      const s = { ...convShape(out.info, co, k) };
      run(s, "backward_data", out.values, mem.view(filter), mem.view(dy));
      return out.info;
    },
    filterGrad: (x, dy, k, backend) => {
      const mem = memoryOf(backend);
      const co = dy.shape[3];
      const out = mem.output([k, k, x.shape[3], co]);
      run(convShape(x, co, k), "backward_weights", mem.view(x), out.values, mem.view(dy));
      return out.info;
    },
  };
}

export interface NativeConvStatus {
  /** Backends now running conv2dSame on oneDNN. */
  backends: NativeBackend[];
  /** e.g. "oneDNN 2.6.3", or why it is off. */
  description: string;
}

let status: NativeConvStatus | null = null;

/**
 * Runs conv2dSame (the energy nets' convolutions) and its gradients on oneDNN for the cpu and wasm
 * backends, when Debian's libdnnl2 can be loaded; otherwise changes nothing. `threads` sets
 * oneDNN's OpenMP threads (default: 1, which suits a machine shared with other work; OpenMP's
 * spinning threads lose badly when the cores are oversubscribed).
 */
export function enableNativeConv(threads = 1): NativeConvStatus {
  const dnnl = loadDnnl();
  if (!dnnl) {
    status = { backends: [], description: "off: libdnnl.so.2 (oneDNN 2.x) cannot be loaded" };
    return status;
  }
  setNativeThreads(threads);
  const run = dnnl.conv.run.bind(dnnl.conv);
  const name = `oneDNN ${dnnl.version}`;
  setConv2dSameImpl("cpu", makeImpl(cpuMemory, run, name));
  setConv2dSameImpl("wasm", makeImpl(wasmMemory, run, name));
  status = { backends: [...NATIVE_BACKENDS], description: `${name}, ${threads} thread(s)` };
  return status;
}

/** Back to tfjs's own kernels for conv2dSame on the cpu and wasm backends. */
export function disableNativeConv(): void {
  for (const b of NATIVE_BACKENDS) setConv2dSameImpl(b, null);
  status = { backends: [], description: "off" };
}

/** What enableNativeConv last did (null: never called). */
export function nativeConvStatus(): NativeConvStatus | null {
  return status;
}
