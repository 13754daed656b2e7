/**
 * The 2D energy MLP's f(y) and df/dy as one tfjs kernel (MLP_ENERGY_GRAD), for backends with a
 * native implementation installed (native.ts: mlp_energy_host.ts on oneDNN's sgemm). Elsewhere
 * `mlpEnergyGradAvailable` is false and the net is differentiated by tfjs as before. The kernel has
 * no gradient: it serves Langevin chains, whose samples are constants to the training loss.
 */
import * as tf from "@tensorflow/tfjs";
import type { MlpActivation } from "./mlp_energy_host.ts";

export const MLP_ENERGY_GRAD = "DrlMlpEnergyGrad";

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

const impls = new Map<string, MlpEnergyGradImpl>();

function registerKernel(backendName: string): void {
  if (tf.getKernel(MLP_ENERGY_GRAD, backendName)) return;
  tf.registerKernel({
    kernelName: MLP_ENERGY_GRAD,
    backendName,
    kernelFunc: ({ inputs, attrs, backend }) => {
      const impl = impls.get(backendName);
      if (!impl) throw new Error(`no native MLP energy installed for '${backendName}'`);
      const named = inputs as Record<string, tf.TensorInfo>;
      const depth = Object.keys(named).filter((k) => k.startsWith("w")).length;
      const weights = Array.from({ length: depth }, (_, l) => named[`w${l}`]);
      return impl(
        { y: named.y, weights, proj: named.proj, head: named.head },
        attrs as unknown as MlpEnergyAttrs,
        backend as tf.KernelBackend,
      );
    },
  });
}

/** Installs (or with null, removes) the native MLP energy for one backend. */
export function setMlpEnergyGradImpl(backendName: string, impl: MlpEnergyGradImpl | null): void {
  if (impl) {
    registerKernel(backendName);
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
