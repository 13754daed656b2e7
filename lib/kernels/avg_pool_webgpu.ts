/**
 * avgPoolCeil on WebGPU: one WGSL kernel each way (lib/kernels/webgpu/pool_wgsl.ts) instead of
 * tfjs's pad + AvgPool + rescale forward and its AvgPoolGrad backward.
 */
import * as tf from "@tensorflow/tfjs";
import { registerWebgpuKernel, runProgram } from "./webgpu/program.ts";
import { AVG_POOL_GRAD_SHADER, AVG_POOL_SHADER } from "./webgpu/pool_wgsl.ts";

export const AVG_POOL_WGSL = "DrlAvgPoolCeilWgsl";
export const AVG_POOL_WGSL_GRAD = "DrlAvgPoolCeilWgslGrad";
const WORKGROUP = 64;

let registered = false;

function run(
  backend: tf.KernelBackend,
  key: string,
  name: string,
  input: tf.TensorInfo,
  shape: number[],
  code: string,
) {
  return runProgram(backend, {
    key,
    variableNames: [name],
    variableComponents: [4],
    outputShape: shape,
    outputComponent: 4,
    invocations: shape.reduce((a, b) => a * b, 1) / 4,
    workgroupSize: WORKGROUP,
    code,
  }, [input]);
}

function registerKernels(): void {
  if (registered) return;
  registered = true;
  registerWebgpuKernel(AVG_POOL_WGSL, (inputs, backend) => {
    const x = inputs.x as tf.TensorInfo;
    const [b, h, w, c] = x.shape;
    const shape = [b, Math.ceil(h / 2), Math.ceil(w / 2), c];
    return run(backend, "drl_avg_pool", "x", x, shape, AVG_POOL_SHADER);
  });
  registerWebgpuKernel<{ inputShape: number[] }>(
    AVG_POOL_WGSL_GRAD,
    (inputs, backend, attrs) =>
      run(
        backend,
        "drl_avg_pool_grad",
        "dy",
        inputs.dy as tf.TensorInfo,
        attrs.inputShape,
        AVG_POOL_GRAD_SHADER,
      ),
  );
  tf.registerGradient({
    kernelName: AVG_POOL_WGSL,
    // The input's shape rides in the attributes: nothing needs saving for the backward pass.
    gradFunc: (dy, _saved, attrs) => ({
      x: () =>
        tf.engine().runKernel(AVG_POOL_WGSL_GRAD, { dy: dy as tf.Tensor }, attrs!) as tf.Tensor,
    }),
  });
}

/** x [B, H, W, C] with C % 4 == 0 -> [B, ceil(H/2), ceil(W/2), C], on the WebGPU backend. */
export function avgPoolCeilWebgpu(x: tf.Tensor4D): tf.Tensor4D {
  registerKernels();
  const attrs = { inputShape: x.shape } as unknown as tf.NamedAttrMap;
  return tf.engine().runKernel(AVG_POOL_WGSL, { x }, attrs) as tf.Tensor4D;
}
