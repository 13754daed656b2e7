/**
 * A zero-copy Identity for tfjs's wasm backend. tfjs clones every tensor an op saves for its
 * gradient (engine.saveTensorsForBackwardMode -> Identity), and the wasm backend's Identity copies
 * the whole buffer: over a hundred full-size copies per Langevin step of the energy ResNet. Tensors
 * are immutable in tfjs (a Variable's assign swaps its data id, nothing writes in place), so
 * sharing the data with a reference count is safe; the cpu backend's Identity does the same.
 */
import * as tf from "@tensorflow/tfjs";

let installed = false;

export function installZeroCopyWasmIdentity(): void {
  if (installed) return;
  if (!tf.getKernel("Identity", "wasm")) return; // wasm backend not loaded
  tf.unregisterKernel("Identity", "wasm");
  tf.registerKernel({
    kernelName: "Identity",
    backendName: "wasm",
    kernelFunc: ({ inputs, backend }) => {
      const x = inputs.x as tf.TensorInfo;
      // deno-lint-ignore no-explicit-any
      (backend as any).incRef(x.dataId);
      return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
    },
  });
  installed = true;
}
