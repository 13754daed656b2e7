/**
 * The smallest bridge to tfjs's WebGPU backend for the project's own WGSL: a program description
 * (variable names, output shape, flat dispatch, workgroup size, user code) run through the
 * backend's `runWebGPUProgram`, so our kernels share its buffers, command encoder and pipeline
 * cache, and a chain of them is recorded without any read-back.
 *
 * tfjs prepends the bindings (`result`, one storage array per variable, `uniforms` with every
 * input's shape) and calls `fn main(index: i32)` once per invocation; `index` is the flat global
 * invocation index (tfjs folds a dispatch larger than one dimension allows into 2D or 3D).
 */
import * as tf from "@tensorflow/tfjs";
import type { WebGPUBackend, WebGPUProgram } from "@tensorflow/tfjs-backend-webgpu";

export interface ProgramSpec {
  /** Stable name of this shader variant (every compile-time choice must be in it). */
  key: string;
  variableNames: string[];
  /** Vector width of each variable's storage array (1 or 4). */
  variableComponents: number[];
  outputShape: number[];
  /** Vector width of `result` (1 or 4). */
  outputComponent: number;
  /** Number of invocations (flat); `main` must ignore indices at or beyond it. */
  invocations: number;
  workgroupSize: number;
  /** Extra uniform fields, WGSL struct syntax ("k: i32, slope: f32,"), values in `run`'s order. */
  uniforms?: string;
  /** WGSL defining `fn main(index: i32)`, plus any helpers. */
  code: string;
  /** Workgroups to launch when the program is not one invocation per index (reductions). */
  workgroups?: number;
}

export type UniformValue = { type: "int32" | "float32"; data: number[] };

/** Runs a program on the WebGPU backend; returns the new output tensor (backend storage). */
export function runProgram(
  backend: tf.KernelBackend,
  spec: ProgramSpec,
  inputs: tf.TensorInfo[],
  uniforms: UniformValue[] = [],
): tf.TensorInfo {
  const gpu = backend as unknown as WebGPUBackend;
  const workgroups = spec.workgroups ?? Math.ceil(spec.invocations / spec.workgroupSize);
  const program = {
    shaderKey: spec.key,
    variableNames: spec.variableNames,
    variableComponents: spec.variableComponents,
    outputShape: spec.outputShape,
    outputComponent: spec.outputComponent,
    dispatchLayout: { x: spec.outputShape.map((_, i) => i) },
    dispatch: [workgroups, 1, 1] as [number, number, number],
    workgroupSize: [spec.workgroupSize, 1, 1] as [number, number, number],
    size: true,
    uniforms: (spec.uniforms ?? "") + ` invocations: i32,`,
    getUserCode: () => spec.code,
  } as unknown as WebGPUProgram;
  const all: UniformValue[] = [...uniforms, { type: "int32", data: [spec.invocations] }];
  return gpu.runWebGPUProgram(program, inputs, "float32", all);
}

/** WGSL: the flat index of this invocation's workgroup (the dispatch may be folded into 2D/3D). */
export const WORKGROUP_INDEX = "i32(workgroupId.z * numWorkgroups.x * numWorkgroups.y + " +
  "workgroupId.y * numWorkgroups.x + workgroupId.x)";

/** Registers a kernel for the WebGPU backend (tfjs calls it with that backend only). */
export function registerWebgpuKernel<Attrs>(
  kernelName: string,
  run: (inputs: tf.NamedTensorInfoMap, backend: tf.KernelBackend, attrs: Attrs) => tf.TensorInfo,
): void {
  tf.registerKernel({
    kernelName,
    backendName: "webgpu",
    kernelFunc: ({ inputs, backend, attrs }) =>
      run(inputs, backend as tf.KernelBackend, attrs as unknown as Attrs),
  });
}
