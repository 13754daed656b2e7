/**
 * The energy ResNet's downsampling: a 2x2 average pool, stride 2, ceil for odd sizes, an edge
 * window averaging only the pixels inside the image (PyTorch avg_pool2d(ceil_mode=True), TF
 * 'SAME'). With a native implementation installed, or on WebGPU, one kernel each way; otherwise
 * tfjs ops.
 */
import * as tf from "@tensorflow/tfjs";
import { avgPoolCeilWebgpu } from "./avg_pool_webgpu.ts";
import { webgpuKernelsActive } from "./webgpu/enabled.ts";

export const AVG_POOL_CEIL = "DrlAvgPoolCeil";
export const AVG_POOL_CEIL_GRAD = "DrlAvgPoolCeilGrad";

export interface AvgPoolImpl {
  forward(x: tf.TensorInfo, backend: tf.KernelBackend): tf.TensorInfo;
  /** dx of shape `inputShape` from dy. */
  grad(dy: tf.TensorInfo, inputShape: number[], backend: tf.KernelBackend): tf.TensorInfo;
}

const impls = new Map<string, AvgPoolImpl>();

function registerKernels(backendName: string): void {
  if (tf.getKernel(AVG_POOL_CEIL, backendName)) return;
  const impl = () => {
    const i = impls.get(backendName);
    if (!i) throw new Error(`no native average pool installed for '${backendName}'`);
    return i;
  };
  tf.registerKernel({
    kernelName: AVG_POOL_CEIL,
    backendName,
    kernelFunc: ({ inputs, backend }) =>
      impl().forward(inputs.x as tf.TensorInfo, backend as tf.KernelBackend),
  });
  tf.registerKernel({
    kernelName: AVG_POOL_CEIL_GRAD,
    backendName,
    kernelFunc: ({ inputs, backend, attrs }) =>
      impl().grad(
        inputs.dy as tf.TensorInfo,
        (attrs as unknown as { inputShape: number[] }).inputShape,
        backend as tf.KernelBackend,
      ),
  });
}

/** Installs (or with null, removes) a native pool for one backend. */
export function setAvgPoolImpl(backendName: string, impl: AvgPoolImpl | null): void {
  if (impl) {
    registerKernels(backendName);
    impls.set(backendName, impl);
  } else {
    impls.delete(backendName);
  }
}

/**
 * tfjs ops: zero padding, a 'valid' pool and a constant rescale of the edge windows, so every
 * backend computes the same thing.
 */
function avgPoolCeilOps(x: tf.Tensor4D): tf.Tensor4D {
  const [, h, w] = x.shape;
  if (h % 2 === 0 && w % 2 === 0) return tf.avgPool(x, 2, 2, "valid");
  return tf.tidy(() => {
    const pooled = tf.avgPool(tf.pad(x, [[0, 0], [0, h % 2], [0, w % 2], [0, 0]]), 2, 2, "valid");
    const oh = Math.ceil(h / 2), ow = Math.ceil(w / 2);
    const rescale = new Float32Array(oh * ow);
    for (let i = 0; i < oh; i++) {
      for (let j = 0; j < ow; j++) {
        const rows = 2 * i + 1 < h ? 2 : 1, cols = 2 * j + 1 < w ? 2 : 1;
        rescale[i * ow + j] = 4 / (rows * cols);
      }
    }
    return tf.mul(pooled, tf.tensor4d(rescale, [1, oh, ow, 1]));
  });
}

/** x [B, H, W, C] -> [B, ceil(H/2), ceil(W/2), C]. */
export function avgPoolCeil(x: tf.Tensor4D): tf.Tensor4D {
  if (webgpuKernelsActive() && x.shape[3] % 4 === 0) return avgPoolCeilWebgpu(x);
  if (!impls.has(tf.getBackend())) return avgPoolCeilOps(x);
  const attrs = { inputShape: x.shape } as unknown as tf.NamedAttrMap;
  return tf.engine().runKernel(AVG_POOL_CEIL, { x }, attrs) as tf.Tensor4D;
}

tf.registerGradient({
  kernelName: AVG_POOL_CEIL,
  // The input's shape rides in the attributes: no tensor needs saving for the backward pass.
  gradFunc: (dy: tf.Tensor | tf.Tensor[], _saved: tf.Tensor[], attrs?: tf.NamedAttrMap) => ({
    x: () =>
      tf.engine().runKernel(AVG_POOL_CEIL_GRAD, { dy: dy as tf.Tensor }, attrs!) as tf.Tensor,
  }),
});
