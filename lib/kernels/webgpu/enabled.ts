/**
 * One switch for the project's WGSL kernels (fused convolution, energy head, device-side noise):
 * on by default wherever tfjs runs on WebGPU; off gives tfjs's stock kernels, for comparisons
 * (`deno task bench --native off`).
 */
import * as tf from "@tensorflow/tfjs";

let enabled = true;

export function setWebgpuKernelsEnabled(on: boolean): void {
  enabled = on;
}

export function webgpuKernelsEnabled(): boolean {
  return enabled;
}

/** Whether the project's WGSL kernels run for ops issued now. */
export function webgpuKernelsActive(): boolean {
  return enabled && tf.getBackend() === "webgpu";
}
