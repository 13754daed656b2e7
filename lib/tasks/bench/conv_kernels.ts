/**
 * One convolution's three directions timed alone (`deno task bench --conv`): the forward, the
 * input gradient and the filter gradient of a 3x3 'same' convolution of [16, 32, 32, 32] with
 * [3, 3, 32, 32] (cifar10-bench's first level), each the median of a few calls that end by reading
 * a value back. On WebGPU with the project's kernels these are the fused WGSL kernels (with the
 * leaky ReLU, as the net uses them); otherwise conv2dSame (oneDNN on wasm where it loads, else
 * tfjs's Conv2D with the gradients as forward convolutions).
 */
import * as tf from "@tensorflow/tfjs";
import {
  conv2dSame,
  conv2dSameFilterGrad,
  conv2dSameImplName,
  conv2dSameInputGrad,
} from "../../kernels/conv2d.ts";
import { fusedConv, fusedConvFilterGrad, fusedConvInputGrad } from "../../kernels/fused_conv.ts";
import { webgpuKernelsActive } from "../../kernels/webgpu/enabled.ts";
import { medianMs } from "../../tensor_util.ts";

export interface ConvKernelLine {
  conv_kernel: "forward" | "input_grad" | "filter_grad";
  impl: string;
  shape: string;
  median_ms: number;
  reps: number;
}

const SHAPE = "x [16,32,32,32], w [3,3,32,32]";

export async function timeConvKernels(reps = 7): Promise<ConvKernelLine[]> {
  const x = tf.randomNormal([16, 32, 32, 32], 0, 1, "float32", 1) as tf.Tensor4D;
  const w = tf.randomNormal([3, 3, 32, 32], 0, 0.1, "float32", 2) as tf.Tensor4D;
  const slope = 0.2;
  const wgsl = webgpuKernelsActive();
  const impl = wgsl ? "fused WGSL (leaky ReLU fused)" : conv2dSameImplName(tf.getBackend());
  const runs: [ConvKernelLine["conv_kernel"], () => tf.Tensor][] = wgsl
    ? [
      ["forward", () => fusedConv(x, w, { leakySlope: slope })],
      ["input_grad", () => fusedConvInputGrad(x, w, x, slope)],
      ["filter_grad", () => fusedConvFilterGrad(x, x, 3, slope)],
    ]
    : [
      ["forward", () => conv2dSame(x, w)],
      ["input_grad", () => conv2dSameInputGrad(x, w)],
      ["filter_grad", () => conv2dSameFilterGrad(x, x, 3)],
    ];
  try {
    const lines: ConvKernelLine[] = [];
    for (const [name, run] of runs) {
      lines.push({
        conv_kernel: name,
        impl,
        shape: SHAPE,
        median_ms: await medianMs(run, reps),
        reps,
      });
    }
    return lines;
  } finally {
    tf.dispose([x, w]);
  }
}
