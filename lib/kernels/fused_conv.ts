/**
 * The energy net's convolution with what surrounds it in a residual block, as one op:
 *
 *   fusedConv(x, w, {leaky, bias, rowBias, residual})
 *     = conv2dSame(leaky ? lrelu(x) : x, w) + rowBias[b, c] + residual + bias[c]
 *
 * On WebGPU (when Co % 4 == 0) it is one WGSL kernel forward, one for the input gradient (the
 * leaky ReLU's derivative applied in the same pass) and one for the filter gradient, registered as
 * tfjs kernels with a tfjs gradient, so autodiff, tidy and the engine's memory accounting work as
 * for any op, and a Langevin step asks only for the input gradient. Elsewhere (and for shapes the
 * kernels do not cover) it is the same sum built from tfjs ops and lib/kernels' conv2dSame, which
 * is what the tests compare the kernels against.
 */
import * as tf from "@tensorflow/tfjs";
import { conv2dSame } from "./conv2d.ts";
import { leakyRelu } from "./leaky_relu.ts";
import { filterGradShader, forwardShader, inputGradShader } from "./webgpu/conv_wgsl.ts";
import { webgpuKernelsActive } from "./webgpu/enabled.ts";
import { registerWebgpuKernel, runProgram } from "./webgpu/program.ts";
import { launchShape, workgroupSize } from "./webgpu/workgroups.ts";

export const FUSED_CONV = "DrlFusedConv";
export const FUSED_CONV_INPUT_GRAD = "DrlFusedConvInputGrad";
export const FUSED_CONV_FILTER_GRAD = "DrlFusedConvFilterGrad";

export interface FusedConvOptions {
  /** Apply a leaky ReLU with this slope to x first (the block's pre-activation). */
  leakySlope?: number;
  /** [Co], added everywhere. */
  bias?: tf.Tensor1D;
  /** [B, Co], added to every pixel of example b (the time embedding's projection). */
  rowBias?: tf.Tensor2D;
  /** [B, H, W, Co], added (the residual branch). */
  residual?: tf.Tensor4D;
}

interface FusedAttrs {
  kernel: number;
  leaky: boolean;
  slope: number;
  bias: boolean;
  rowBias: boolean;
  residual: boolean;
}

/** The same sum from tfjs ops, in the order the fused kernel adds. */
export function fusedConvReference(
  x: tf.Tensor4D,
  filter: tf.Tensor4D,
  opts: FusedConvOptions,
): tf.Tensor4D {
  return tf.tidy(() => {
    const input = opts.leakySlope === undefined ? x : leakyRelu(x, opts.leakySlope);
    let z: tf.Tensor = conv2dSame(input as tf.Tensor4D, filter);
    if (opts.rowBias) z = tf.add(z, tf.reshape(opts.rowBias, [-1, 1, 1, filter.shape[3]]));
    if (opts.residual) z = tf.add(opts.residual, z);
    if (opts.bias) z = tf.add(z, opts.bias);
    return z as tf.Tensor4D;
  });
}

function usesKernels(x: tf.Tensor4D, filter: tf.Tensor4D): boolean {
  return webgpuKernelsActive() && filter.shape[3] % 4 === 0 &&
    filter.shape[0] === filter.shape[1] && filter.shape[0] % 2 === 1 &&
    x.shape[3] === filter.shape[2];
}

/** See the header. x [B,H,W,Ci], filter [k,k,Ci,Co] with k odd. */
export function fusedConv(
  x: tf.Tensor4D,
  filter: tf.Tensor4D,
  opts: FusedConvOptions = {},
): tf.Tensor4D {
  if (!usesKernels(x, filter)) return fusedConvReference(x, filter, opts);
  registerKernels();
  const attrs: FusedAttrs = {
    kernel: filter.shape[0],
    leaky: opts.leakySlope !== undefined,
    slope: opts.leakySlope ?? 0,
    bias: opts.bias !== undefined,
    rowBias: opts.rowBias !== undefined,
    residual: opts.residual !== undefined,
  };
  const inputs: tf.NamedTensorMap = { x, filter };
  if (opts.bias) inputs.bias = opts.bias;
  if (opts.rowBias) inputs.rowBias = opts.rowBias;
  if (opts.residual) inputs.residual = opts.residual;
  return tf.engine().runKernel(
    FUSED_CONV,
    inputs,
    attrs as unknown as tf.NamedAttrMap,
  ) as tf.Tensor4D;
}

/** dL/dx of fusedConv from dy (x is the op's input, for the leaky ReLU's derivative). WebGPU only. */
export function fusedConvInputGrad(
  dy: tf.Tensor4D,
  filter: tf.Tensor4D,
  x: tf.Tensor4D,
  leakySlope?: number,
): tf.Tensor4D {
  registerKernels();
  const attrs = gradAttrs(filter.shape[0], leakySlope);
  return tf.engine().runKernel(FUSED_CONV_INPUT_GRAD, { dy, filter, x }, attrs) as tf.Tensor4D;
}

/** dL/dfilter of fusedConv for a k x k kernel. WebGPU only. */
export function fusedConvFilterGrad(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  kernel: number,
  leakySlope?: number,
): tf.Tensor4D {
  registerKernels();
  const attrs = gradAttrs(kernel, leakySlope);
  return tf.engine().runKernel(FUSED_CONV_FILTER_GRAD, { x, dy }, attrs) as tf.Tensor4D;
}

function gradAttrs(kernel: number, leakySlope?: number): tf.NamedAttrMap {
  const a: FusedAttrs = {
    kernel,
    leaky: leakySlope !== undefined,
    slope: leakySlope ?? 0,
    bias: false,
    rowBias: false,
    residual: false,
  };
  return a as unknown as tf.NamedAttrMap;
}

const pixelTiles = (shape: number[], pixels: number) =>
  shape[0] * shape[1] * Math.ceil(shape[2] / pixels);
const slopeUniform = (a: FusedAttrs) => ({ type: "float32" as const, data: [a.slope] });

function forwardKernel(
  inputs: tf.NamedTensorInfoMap,
  backend: tf.KernelBackend,
  a: FusedAttrs,
): tf.TensorInfo {
  const x = inputs.x!, filter = inputs.filter!;
  const vecIn = x.shape[3] % 4 === 0;
  const names = ["x", "w"], tensors = [x, filter], components = [vecIn ? 4 : 1, 4];
  for (const name of ["bias", "rowBias", "residual"] as const) {
    if (a[name]) {
      names.push(name);
      tensors.push(inputs[name]!);
      components.push(4);
    }
  }
  const co = filter.shape[3];
  const shape = [x.shape[0], x.shape[1], x.shape[2], co];
  const { workgroupSize: size, pixels } = launchShape("conv");
  const flags = `v${+vecIn}_l${+a.leaky}_b${+a.bias}_r${+a.rowBias}_s${+a.residual}`;
  return runProgram(
    backend,
    {
      key: `drl_conv_k${a.kernel}_${flags}_${size}x${pixels}`,
      variableNames: names,
      variableComponents: components,
      outputShape: shape,
      outputComponent: 4,
      invocations: pixelTiles(shape, pixels) * (co / 4),
      workgroupSize: size,
      uniforms: "slope: f32,",
      code: forwardShader({ ...a, vecIn, pixels }),
    },
    tensors,
    [slopeUniform(a)],
  );
}

function inputGradKernel(
  inputs: tf.NamedTensorInfoMap,
  backend: tf.KernelBackend,
  a: FusedAttrs,
): tf.TensorInfo {
  const dy = inputs.dy!, filter = inputs.filter!, x = inputs.x!;
  const ci = filter.shape[2];
  const vecIn = ci % 4 === 0;
  const names = ["dy", "w"], tensors = [dy, filter], components = [4, 4];
  if (a.leaky) {
    names.push("x");
    tensors.push(x);
    components.push(vecIn ? 4 : 1);
  }
  const shape = [dy.shape[0], dy.shape[1], dy.shape[2], ci];
  const { workgroupSize: size, pixels } = launchShape("convInputGrad");
  return runProgram(
    backend,
    {
      key: `drl_conv_dx_k${a.kernel}_v${+vecIn}_l${+a.leaky}_${size}x${pixels}`,
      variableNames: names,
      variableComponents: components,
      outputShape: shape,
      outputComponent: vecIn ? 4 : 1,
      invocations: pixelTiles(shape, pixels) * (vecIn ? ci / 4 : ci),
      workgroupSize: size,
      uniforms: "slope: f32,",
      code: inputGradShader({ kernel: a.kernel, vecIn, leaky: a.leaky, pixels }),
    },
    tensors,
    [slopeUniform(a)],
  );
}

function filterGradKernel(
  inputs: tf.NamedTensorInfoMap,
  backend: tf.KernelBackend,
  a: FusedAttrs,
): tf.TensorInfo {
  const x = inputs.x!, dy = inputs.dy!;
  const ci = x.shape[3], co = dy.shape[3];
  const vecIn = ci % 4 === 0;
  const groups = a.kernel * a.kernel * (vecIn ? ci / 4 : ci) * (co / 4);
  const size = workgroupSize("convFilterGrad");
  return runProgram(
    backend,
    {
      key: `drl_conv_dw_k${a.kernel}_v${+vecIn}_l${+a.leaky}_${size}`,
      variableNames: ["x", "dy"],
      variableComponents: [vecIn ? 4 : 1, 4],
      outputShape: [a.kernel, a.kernel, ci, co],
      outputComponent: 4,
      invocations: groups * size,
      workgroups: groups,
      workgroupSize: size,
      uniforms: "slope: f32,",
      code: filterGradShader({ kernel: a.kernel, vecIn, leaky: a.leaky, pixels: 1 }, size),
    },
    [x, dy],
    [slopeUniform(a)],
  );
}

let registered = false;

function registerKernels(): void {
  if (registered) return;
  registered = true;
  registerWebgpuKernel(FUSED_CONV, forwardKernel);
  registerWebgpuKernel(FUSED_CONV_INPUT_GRAD, inputGradKernel);
  registerWebgpuKernel(FUSED_CONV_FILTER_GRAD, filterGradKernel);
  tf.registerGradient({
    kernelName: FUSED_CONV,
    inputsToSave: ["x", "filter"],
    gradFunc: (dy, saved, attrs) => {
      const [x, filter] = saved as [tf.Tensor4D, tf.Tensor4D];
      const g = dy as tf.Tensor4D;
      const a = attrs as unknown as FusedAttrs;
      const attrMap = a as unknown as tf.NamedAttrMap;
      return {
        x: () => tf.engine().runKernel(FUSED_CONV_INPUT_GRAD, { dy: g, filter, x }, attrMap),
        filter: () => tf.engine().runKernel(FUSED_CONV_FILTER_GRAD, { x, dy: g }, attrMap),
        bias: () => tf.sum(g, [0, 1, 2]),
        rowBias: () => tf.sum(g, [1, 2]),
        residual: () => tf.clone(g),
      } as Record<string, () => tf.Tensor>;
    },
  });
}
