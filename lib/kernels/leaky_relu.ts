/**
 * Leaky ReLU as one kernel each way. tfjs's own gradient is three kernels over the whole tensor
 * (greater, mul, where) and a boolean mask; with a native implementation installed the gradient is
 * one pass, dx = dy * (x > 0 ? 1 : alpha). Without one, this is tf.leakyRelu.
 */
import * as tf from "@tensorflow/tfjs";

export const LEAKY_RELU = "DrlLeakyRelu";
export const LEAKY_RELU_GRAD = "DrlLeakyReluGrad";

export interface LeakyReluImpl {
  forward(x: tf.TensorInfo, alpha: number, backend: tf.KernelBackend): tf.TensorInfo;
  grad(
    x: tf.TensorInfo,
    dy: tf.TensorInfo,
    alpha: number,
    backend: tf.KernelBackend,
  ): tf.TensorInfo;
}

const impls = new Map<string, LeakyReluImpl>();

function registerKernels(backendName: string): void {
  if (tf.getKernel(LEAKY_RELU, backendName)) return;
  const impl = () => {
    const i = impls.get(backendName);
    if (!i) throw new Error(`no native leaky ReLU installed for '${backendName}'`);
    return i;
  };
  const alphaOf = (attrs: unknown) => (attrs as { alpha: number }).alpha;
  tf.registerKernel({
    kernelName: LEAKY_RELU,
    backendName,
    kernelFunc: ({ inputs, backend, attrs }) =>
      impl().forward(inputs.x as tf.TensorInfo, alphaOf(attrs), backend as tf.KernelBackend),
  });
  tf.registerKernel({
    kernelName: LEAKY_RELU_GRAD,
    backendName,
    kernelFunc: ({ inputs, backend, attrs }) =>
      impl().grad(
        inputs.x as tf.TensorInfo,
        inputs.dy as tf.TensorInfo,
        alphaOf(attrs),
        backend as tf.KernelBackend,
      ),
  });
}

/** Installs (or with null, removes) a native leaky ReLU for one backend. */
export function setLeakyReluImpl(backendName: string, impl: LeakyReluImpl | null): void {
  if (impl) {
    registerKernels(backendName);
    impls.set(backendName, impl);
  } else {
    impls.delete(backendName);
  }
}

/** x > 0 ? x : alpha x. */
export function leakyRelu(x: tf.Tensor, alpha: number): tf.Tensor {
  if (!impls.has(tf.getBackend())) return tf.leakyRelu(x, alpha);
  const attrs = { alpha } as unknown as tf.NamedAttrMap;
  return tf.engine().runKernel(LEAKY_RELU, { x }, attrs) as tf.Tensor;
}

tf.registerGradient({
  kernelName: LEAKY_RELU,
  inputsToSave: ["x"],
  gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs?: tf.NamedAttrMap) => {
    const [x] = saved;
    return {
      x: () =>
        tf.engine().runKernel(LEAKY_RELU_GRAD, { x, dy: dy as tf.Tensor }, attrs!) as tf.Tensor,
    };
  },
});
