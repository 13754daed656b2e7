/**
 * The 2D energy MLP's f(y) and df/dy as one tfjs kernel (MLP_ENERGY_GRAD), and a whole Langevin
 * chain on it (MLP_LANGEVIN), for backends with a native implementation installed (native.ts:
 * mlp_energy_host.ts and mlp_langevin_host.ts on oneDNN's sgemm). Elsewhere
 * `mlpEnergyGradAvailable` is false and the net is differentiated by tfjs as before. The kernels
 * have no gradient: they serve Langevin chains, whose samples are constants to the training loss.
 */
import * as tf from "@tensorflow/tfjs";
import type { MlpActivation } from "./mlp_energy_host.ts";

export const MLP_ENERGY_GRAD = "DrlMlpEnergyGrad";
export const MLP_LANGEVIN = "DrlMlpLangevin";

export interface MlpEnergyAttrs {
  activation: MlpActivation;
  fourier: number;
  slope: number;
}

/** On a backend's storage: y [B, D], weights W_l, proj [B, depth*width], head [B, width]. */
export type MlpEnergyGradImpl = (
  inputs: { y: tf.TensorInfo; weights: tf.TensorInfo[]; proj: tf.TensorInfo; head: tf.TensorInfo },
  attrs: MlpEnergyAttrs,
  backend: tf.KernelBackend,
) => [energy: tf.TensorInfo, grad: tf.TensorInfo];

export interface MlpLangevinAttrs extends MlpEnergyAttrs {
  noiseScale: number;
}

/** The net's inputs as above, the chain's: see mlp_langevin_host.ts. Returns y, acceptance, displacement. */
export type MlpLangevinImpl = (
  inputs: {
    net: { weights: tf.TensorInfo[]; proj: tf.TensorInfo; head: tf.TensorInfo };
    y0: tf.TensorInfo;
    anchor: tf.TensorInfo;
    scale: tf.TensorInfo;
    precision: tf.TensorInfo;
    stepSize: tf.TensorInfo;
    noises: tf.TensorInfo[];
    uniforms: tf.TensorInfo[] | null;
  },
  attrs: MlpLangevinAttrs,
  backend: tf.KernelBackend,
) => [y: tf.TensorInfo, acceptance: tf.TensorInfo, displacement: tf.TensorInfo];

const impls = new Map<string, { energyGrad: MlpEnergyGradImpl; langevin: MlpLangevinImpl }>();

/** Inputs named `${prefix}0`, `${prefix}1`, ... in order. */
function numbered(named: Record<string, tf.TensorInfo>, prefix: string): tf.TensorInfo[] {
  const out: tf.TensorInfo[] = [];
  while (named[`${prefix}${out.length}`]) out.push(named[`${prefix}${out.length}`]);
  return out;
}

function registerKernels(backendName: string): void {
  if (tf.getKernel(MLP_ENERGY_GRAD, backendName)) return;
  const impl = () => {
    const i = impls.get(backendName);
    if (!i) throw new Error(`no native MLP energy installed for '${backendName}'`);
    return i;
  };
  tf.registerKernel({
    kernelName: MLP_LANGEVIN,
    backendName,
    kernelFunc: ({ inputs, attrs, backend }) => {
      const n = inputs as Record<string, tf.TensorInfo>;
      const uniforms = numbered(n, "u");
      return impl().langevin(
        {
          net: { weights: numbered(n, "w"), proj: n.proj, head: n.head },
          y0: n.y0,
          anchor: n.anchor,
          scale: n.scale,
          precision: n.precision,
          stepSize: n.stepSize,
          noises: numbered(n, "noise"),
          uniforms: uniforms.length > 0 ? uniforms : null,
        },
        attrs as unknown as MlpLangevinAttrs,
        backend as tf.KernelBackend,
      );
    },
  });
  tf.registerKernel({
    kernelName: MLP_ENERGY_GRAD,
    backendName,
    kernelFunc: ({ inputs, attrs, backend }) => {
      const named = inputs as Record<string, tf.TensorInfo>;
      return impl().energyGrad(
        { y: named.y, weights: numbered(named, "w"), proj: named.proj, head: named.head },
        attrs as unknown as MlpEnergyAttrs,
        backend as tf.KernelBackend,
      );
    },
  });
}

/** Installs (or with null, removes) the native MLP energy and chain for one backend. */
export function setMlpEnergyGradImpl(
  backendName: string,
  impl: { energyGrad: MlpEnergyGradImpl; langevin: MlpLangevinImpl } | null,
): void {
  if (impl) {
    registerKernels(backendName);
    impls.set(backendName, impl);
  } else {
    impls.delete(backendName);
  }
}

/** Whether the active backend runs mlpEnergyGrad. */
export function mlpEnergyGradAvailable(): boolean {
  return impls.has(tf.getBackend());
}

/** f [B] and df/dy [B, D] of the MLP whose time terms are `proj` and `head` (see above). */
export function mlpEnergyGrad(
  y: tf.Tensor,
  weights: tf.Tensor[],
  proj: tf.Tensor,
  head: tf.Tensor,
  attrs: MlpEnergyAttrs,
): { energy: tf.Tensor1D; grad: tf.Tensor2D } {
  const inputs: tf.NamedTensorMap = { y, proj, head };
  weights.forEach((w, l) => (inputs[`w${l}`] = w));
  const [energy, grad] = tf.engine().runKernel(
    MLP_ENERGY_GRAD,
    inputs,
    attrs as unknown as tf.NamedAttrMap,
  ) as tf.Tensor[];
  return { energy: energy as tf.Tensor1D, grad: grad as tf.Tensor2D };
}

/** The MLP's weights and time terms at fixed levels (see mlpEnergyGrad). */
export interface MlpAtLevels {
  weights: tf.Tensor[];
  proj: tf.Tensor;
  head: tf.Tensor;
}

/**
 * A Langevin chain on log p(y_b) = scale_b f(y_b) - precision_b ||y_b - anchor_b||^2 / 2 from y0
 * with squared step sizes `stepSize` [B], one step per `noises` entry (and, for MALA, `uniforms`).
 */
export function mlpLangevin(
  net: MlpAtLevels,
  chain: {
    y0: tf.Tensor;
    anchor: tf.Tensor;
    scale: tf.Tensor;
    precision: tf.Tensor;
    stepSize: tf.Tensor;
    noises: tf.Tensor[];
    uniforms: tf.Tensor[] | null;
  },
  attrs: MlpLangevinAttrs,
): { y: tf.Tensor; acceptance: tf.Tensor1D; displacement: tf.Tensor1D } {
  const { y0, anchor, scale, precision, stepSize } = chain;
  const inputs: tf.NamedTensorMap = {
    y0,
    anchor,
    scale,
    precision,
    stepSize,
    proj: net.proj,
    head: net.head,
  };
  net.weights.forEach((w, l) => (inputs[`w${l}`] = w));
  chain.noises.forEach((e, k) => (inputs[`noise${k}`] = e));
  chain.uniforms?.forEach((u, k) => (inputs[`u${k}`] = u));
  const [y, acceptance, displacement] = tf.engine().runKernel(
    MLP_LANGEVIN,
    inputs,
    attrs as unknown as tf.NamedAttrMap,
  ) as tf.Tensor[];
  return { y, acceptance: acceptance as tf.Tensor1D, displacement: displacement as tf.Tensor1D };
}
