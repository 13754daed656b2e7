/**
 * The energy net's head as one op: f[b] = sum_{h,w,c} relu(x[b,h,w,c]) * v[b,c] (the official
 * net_res_temb2 head: relu, sum pooling, dot product with a time-dependent vector).
 *
 * On WebGPU (C % 4 == 0) one WGSL reduction forward and one elementwise kernel for dx; dv (wanted
 * only for the parameter gradient) is tfjs ops. Elsewhere the same from tfjs ops.
 */
import * as tf from "@tensorflow/tfjs";
import { HEAD_GRAD_SHADER, headShader } from "./webgpu/head_wgsl.ts";
import { webgpuKernelsActive } from "./webgpu/enabled.ts";
import { registerWebgpuKernel, runProgram } from "./webgpu/program.ts";
import { workgroupSize } from "./webgpu/workgroups.ts";

export const ENERGY_HEAD = "DrlEnergyHead";
export const ENERGY_HEAD_INPUT_GRAD = "DrlEnergyHeadInputGrad";

/** The head from tfjs ops (the reference the kernels are tested against). */
export function energyHeadReference(x: tf.Tensor4D, v: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => tf.sum(tf.mul(tf.sum(tf.relu(x), [1, 2]), v), 1) as tf.Tensor1D);
}

/** x [B, H, W, C], v [B, C] -> [B]. */
export function energyHead(x: tf.Tensor4D, v: tf.Tensor2D): tf.Tensor1D {
  const c = x.shape[3];
  if (v.rank !== 2 || v.shape[0] !== x.shape[0] || v.shape[1] !== c) {
    throw new Error(`energyHead expects v [${x.shape[0]}, ${c}], got [${v.shape}]`);
  }
  if (!webgpuKernelsActive() || c % 4 !== 0) {
    return energyHeadReference(x, v);
  }
  registerKernels();
  return tf.engine().runKernel(ENERGY_HEAD, { x, v }, {}) as tf.Tensor1D;
}

let registered = false;

function registerKernels(): void {
  if (registered) return;
  registered = true;
  registerWebgpuKernel(ENERGY_HEAD, (inputs, backend) => {
    const { x, v } = inputs as { x: tf.TensorInfo; v: tf.TensorInfo };
    const size = workgroupSize("head");
    const batch = x.shape[0];
    return runProgram(backend, {
      key: `drl_head_${size}`,
      variableNames: ["x", "v"],
      variableComponents: [4, 4],
      outputShape: [batch],
      outputComponent: 1,
      invocations: batch * size,
      workgroups: batch,
      workgroupSize: size,
      code: headShader(size),
    }, [x, v]);
  });
  registerWebgpuKernel(ENERGY_HEAD_INPUT_GRAD, (inputs, backend) => {
    const { df, x, v } = inputs as { df: tf.TensorInfo; x: tf.TensorInfo; v: tf.TensorInfo };
    const size = workgroupSize("head");
    return runProgram(backend, {
      key: `drl_head_dx_${size}`,
      variableNames: ["df", "x", "v"],
      variableComponents: [1, 4, 4],
      outputShape: x.shape,
      outputComponent: 4,
      invocations: x.shape.reduce((a, b) => a * b, 1) / 4,
      workgroupSize: size,
      code: HEAD_GRAD_SHADER,
    }, [df, x, v]);
  });
  tf.registerGradient({
    kernelName: ENERGY_HEAD,
    inputsToSave: ["x", "v"],
    gradFunc: (dy, saved) => {
      const [x, v] = saved as [tf.Tensor4D, tf.Tensor2D];
      const df = dy as tf.Tensor1D;
      return {
        x: () => tf.engine().runKernel(ENERGY_HEAD_INPUT_GRAD, { df, x, v }, {}),
        v: () => tf.mul(tf.sum(tf.relu(x), [1, 2]), tf.reshape(df, [-1, 1])),
      } as Record<string, () => tf.Tensor>;
    },
  });
}
