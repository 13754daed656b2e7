/**
 * A stride-1 'same' NHWC convolution whose gradients are themselves forward convolutions, so every
 * backend runs its whole backward pass on its fastest kernel (tfjs `wasm` has XNNPACK for Conv2D but
 * no Conv2DBackpropFilter and only a naive loop for Conv2DBackpropInput).
 *
 * For y = conv(x, w) with an odd k x k kernel and padding p = (k-1)/2 (cross-correlation, as tfjs):
 *   dL/dx = conv(dy, w') with w'[a, b, o, i] = w[k-1-a, k-1-b, i, o]  (flipped, in/out swapped), 'same';
 *   dL/dw[a, b, i, o] = sum_{n,h,v} xpad[n, h+a, v+b, i] dy[n, h, v, o], which is a 'valid'
 *   convolution of x^T = [i, H+2p, W+2p, n] (channels as the batch) with the "filter"
 *   dy^T = [H, W, n, o]: the output [i, k, k, o] is dL/dw up to a transpose.
 *
 * It is its own tfjs kernel (CONV2D_SAME) rather than `tf.customGrad`, because tfjs calls a
 * registered gradient lazily per input: a Langevin step asks only for dL/dx and must not pay for
 * dL/dw (customGrad computes every input's gradient eagerly). The kernel delegates to the active
 * backend's own Conv2D unless a native implementation is installed for that backend (native.ts:
 * oneDNN), which then also computes both gradients directly; those native gradient kernels have no
 * gradient of their own (first order only, all DRL needs). Without one, the gradients are tfjs ops.
 */
import * as tf from "@tensorflow/tfjs";

export const CONV2D_SAME = "DrlConv2DSame";
/** Kernels of a native implementation's gradients (registered only where one is installed). */
export const CONV2D_SAME_BACKPROP_INPUT = "DrlConv2DSameBackpropInput";
export const CONV2D_SAME_BACKPROP_FILTER = "DrlConv2DSameBackpropFilter";

/**
 * A backend-specific implementation of the three directions, on the backend's own tensor storage:
 * x [B,H,W,Ci], filter [k,k,Ci,Co], dy [B,H,W,Co]; each returns a new tensor of that backend.
 */
export interface Conv2dSameImpl {
  /** Shown in benchmark lines, e.g. "oneDNN 2.6.3 (x64:gemm:jit)". */
  name: string;
  forward(x: tf.TensorInfo, filter: tf.TensorInfo, backend: tf.KernelBackend): tf.TensorInfo;
  inputGrad(dy: tf.TensorInfo, filter: tf.TensorInfo, backend: tf.KernelBackend): tf.TensorInfo;
  filterGrad(
    x: tf.TensorInfo,
    dy: tf.TensorInfo,
    kernel: number,
    backend: tf.KernelBackend,
  ): tf.TensorInfo;
}

/** Implementations installed per backend name (replacing the delegate to the backend's Conv2D). */
const overrides = new Map<string, Conv2dSameImpl>();

/** The backend's own Conv2D kernel with stride 1 and 'same' padding. */
function delegateToConv2D(
  x: tf.TensorInfo,
  filter: tf.TensorInfo,
  backend: tf.KernelBackend,
  backendName: string,
): tf.TensorInfo {
  const conv = tf.getKernel("Conv2D", backendName);
  if (!conv) throw new Error(`backend '${backendName}' has no Conv2D kernel`);
  const attrs = { strides: 1, pad: "same", dataFormat: "NHWC", dilations: 1 };
  // deno-lint-ignore no-explicit-any
  return conv.kernelFunc({ inputs: { x, filter }, backend, attrs: attrs as any }) as tf.TensorInfo;
}

function ensureKernels(backendName: string): void {
  if (tf.getKernel(CONV2D_SAME, backendName)) return;
  tf.registerKernel({
    kernelName: CONV2D_SAME,
    backendName,
    kernelFunc: ({ inputs, backend: b }) => {
      const { x, filter } = inputs as { x: tf.TensorInfo; filter: tf.TensorInfo };
      const backend = b as tf.KernelBackend;
      const impl = overrides.get(backendName);
      return impl
        ? impl.forward(x, filter, backend)
        : delegateToConv2D(x, filter, backend, backendName);
    },
  });
  // Reached only while an implementation is installed (see the gradient below).
  const installed = () => {
    const impl = overrides.get(backendName);
    if (!impl) throw new Error(`no native conv2dSame installed for '${backendName}'`);
    return impl;
  };
  tf.registerKernel({
    kernelName: CONV2D_SAME_BACKPROP_INPUT,
    backendName,
    kernelFunc: ({ inputs, backend }) => {
      const { dy, filter } = inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
      return installed().inputGrad(dy, filter, backend as tf.KernelBackend);
    },
  });
  tf.registerKernel({
    kernelName: CONV2D_SAME_BACKPROP_FILTER,
    backendName,
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
      const kernel = (attrs as unknown as { kernel: number }).kernel;
      return installed().filterGrad(x, dy, kernel, backend as tf.KernelBackend);
    },
  });
}

/**
 * Installs (or with null, removes) a faster implementation of conv2dSame and its gradients for
 * one backend.
 */
export function setConv2dSameImpl(backendName: string, impl: Conv2dSameImpl | null): void {
  if (impl) {
    ensureKernels(backendName);
    overrides.set(backendName, impl);
  } else {
    overrides.delete(backendName);
  }
}

/** The implementation in use for a backend: an installed one's name, or "tfjs Conv2D". */
export function conv2dSameImplName(backendName: string): string {
  return overrides.get(backendName)?.name ?? "tfjs Conv2D";
}

function checkShapes(x: tf.Tensor, filter: tf.Tensor): number {
  if (x.rank !== 4 || filter.rank !== 4) {
    throw new Error(
      `conv2dSame expects x [B,H,W,C] and filter [k,k,Ci,Co], got [${x.shape}], [${filter.shape}]`,
    );
  }
  const [kh, kw, ci] = filter.shape;
  if (kh !== kw || kh % 2 !== 1) {
    throw new Error(`conv2dSame needs an odd square kernel, got ${kh}x${kw}`);
  }
  if (x.shape[3] !== ci) {
    throw new Error(`conv2dSame: x has ${x.shape[3]} channels, the filter expects ${ci}`);
  }
  return kh;
}

/** Stride-1 'same' NHWC convolution (cross-correlation), x [B,H,W,Ci], filter [k,k,Ci,Co], k odd. */
export function conv2dSame(x: tf.Tensor4D, filter: tf.Tensor4D): tf.Tensor4D {
  checkShapes(x, filter);
  ensureKernels(tf.getBackend());
  return tf.engine().runKernel(CONV2D_SAME, { x, filter }, {}) as tf.Tensor4D;
}

/** dL/dx of conv2dSame: a 'same' convolution of dy with the flipped, in/out-swapped filter. */
export function conv2dSameInputGrad(dy: tf.Tensor4D, filter: tf.Tensor4D): tf.Tensor4D {
  if (overrides.has(tf.getBackend())) {
    return tf.engine().runKernel(CONV2D_SAME_BACKPROP_INPUT, { dy, filter }, {}) as tf.Tensor4D;
  }
  return tf.tidy(() => {
    const flipped = tf.transpose(tf.reverse(filter, [0, 1]), [0, 1, 3, 2]) as tf.Tensor4D;
    return conv2dSame(dy, flipped);
  });
}

/** dL/dw of conv2dSame for a k x k kernel: a convolution of x^T with dy^T (see the header). */
export function conv2dSameFilterGrad(x: tf.Tensor4D, dy: tf.Tensor4D, k: number): tf.Tensor4D {
  if (overrides.has(tf.getBackend())) {
    const attrs = { kernel: k } as unknown as tf.NamedAttrMap;
    return tf.engine().runKernel(CONV2D_SAME_BACKPROP_FILTER, { x, dy }, attrs) as tf.Tensor4D;
  }
  return tf.tidy(() => {
    const [b, h, w, ci] = x.shape;
    const co = dy.shape[3];
    if (k === 1) {
      // A 1x1 kernel's gradient is one matrix product over all pixels: x^T dy.
      const g = tf.matMul(tf.reshape(x, [b * h * w, ci]), tf.reshape(dy, [b * h * w, co]), true);
      return tf.reshape(g, [1, 1, ci, co]) as tf.Tensor4D;
    }
    const p = (k - 1) / 2;
    const xT = tf.transpose(x, [3, 1, 2, 0]) as tf.Tensor4D; // [ci, H, W, B]
    const dyT = tf.transpose(dy, [1, 2, 0, 3]) as tf.Tensor4D; // [H, W, B, co]
    const pad: [[number, number], [number, number], [number, number], [number, number]] = [
      [0, 0],
      [p, p],
      [p, p],
      [0, 0],
    ];
    const g = tf.conv2d(xT, dyT, 1, pad); // [ci, k, k, co]
    return tf.transpose(g, [1, 2, 0, 3]) as tf.Tensor4D;
  });
}

tf.registerGradient({
  kernelName: CONV2D_SAME,
  inputsToSave: ["x", "filter"],
  gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
    const [x, filter] = saved as [tf.Tensor4D, tf.Tensor4D];
    const g = dy as tf.Tensor4D;
    return {
      x: () => conv2dSameInputGrad(g, filter),
      filter: () => conv2dSameFilterGrad(x, g, filter.shape[0]),
    };
  },
});
