/**
 * Float32 views of tensor storage on the tfjs backends that keep tensors in host memory, so native
 * code can read inputs and write outputs in place: `cpu` (JS typed arrays) and `wasm` (the
 * module's linear memory).
 */
import type * as tf from "@tensorflow/tfjs";

export interface HostMemory {
  view(t: tf.TensorInfo): Float32Array;
  /** A new float32 tensor of `shape` and a view of its (uninitialised) storage. */
  output(shape: number[]): { info: tf.TensorInfo; values: Float32Array };
}

export const HOST_BACKENDS = ["cpu", "wasm"] as const;
export type HostBackend = typeof HOST_BACKENDS[number];

const sizeOf = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

function cpuMemory(backend: tf.KernelBackend): HostMemory {
  // deno-lint-ignore no-explicit-any
  const b = backend as any;
  return {
    view: (t) => {
      // data.get moves the tensor here first if it lives on another backend.
      const values = b.data.get(t.dataId).values;
      return values instanceof Float32Array ? values : Float32Array.from(values);
    },
    output: (shape) => {
      const values = new Float32Array(sizeOf(shape));
      return { info: b.makeTensorInfo(shape, "float32", values), values };
    },
  };
}

function wasmMemory(backend: tf.KernelBackend): HostMemory {
  // deno-lint-ignore no-explicit-any
  const b = backend as any;
  // A view is taken right before use: growing the wasm memory replaces its buffer.
  const heapView = (t: tf.TensorInfo) => {
    const { memoryOffset } = b.dataIdMap.get(t.dataId);
    return new Float32Array(b.wasm.HEAPU8.buffer, memoryOffset, sizeOf(t.shape));
  };
  return {
    view: heapView,
    output: (shape) => {
      const info = b.makeOutput(shape, "float32") as tf.TensorInfo;
      return { info, values: heapView(info) };
    },
  };
}

export function hostMemory(backendName: HostBackend, backend: tf.KernelBackend): HostMemory {
  return backendName === "cpu" ? cpuMemory(backend) : wasmMemory(backend);
}
