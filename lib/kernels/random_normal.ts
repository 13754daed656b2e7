/**
 * Standard normal noise for the samplers and the forward process. On WebGPU it is drawn on the
 * device (lib/kernels/webgpu/random_wgsl.ts), so a Langevin chain uploads no noise from the host at
 * each step; elsewhere it is tfjs's randomNormal (computed on the host, which is the device there).
 * Both are functions of the seed alone; the two streams differ, so a run is reproducible on its
 * backend.
 */
import * as tf from "@tensorflow/tfjs";
import { webgpuKernelsActive } from "./webgpu/enabled.ts";
import { registerWebgpuKernel, runProgram } from "./webgpu/program.ts";
import { RANDOM_NORMAL_SHADER } from "./webgpu/random_wgsl.ts";

export const RANDOM_NORMAL = "DrlRandomNormal";
const WORKGROUP = 64;

let registered = false;

function registerKernel(): void {
  if (registered) return;
  registered = true;
  registerWebgpuKernel<{ shape: number[]; seed: number }>(
    RANDOM_NORMAL,
    (_inputs, backend, { shape, seed }) => {
      const size = shape.reduce((a, b) => a * b, 1);
      return runProgram(
        backend,
        {
          key: "drl_random_normal",
          variableNames: [],
          variableComponents: [],
          outputShape: shape,
          outputComponent: 1,
          invocations: size,
          workgroupSize: WORKGROUP,
          uniforms: "seed: i32,",
          code: RANDOM_NORMAL_SHADER,
        },
        [],
        [{ type: "int32", data: [seed | 0] }],
      );
    },
  );
}

/** A float32 tensor of standard normal draws; `seed` is a 32-bit integer. */
export function randomNormal(shape: number[], seed: number): tf.Tensor {
  if (!webgpuKernelsActive() || shape.some((d) => d === 0)) {
    return tf.randomNormal(shape, 0, 1, "float32", seed);
  }
  registerKernel();
  const attrs = { shape, seed } as unknown as tf.NamedAttrMap;
  return tf.engine().runKernel(RANDOM_NORMAL, {}, attrs) as tf.Tensor;
}
