/**
 * The 2D energy MLP's f and its parameter gradient (of sum_b cot_b f_b) as one tfjs kernel
 * (MLP_PARAM_GRAD), where a native implementation is installed (native.ts:
 * mlp_param_grad_host.ts on oneDNN's sgemm); the training step then skips tfjs's autodiff for the
 * loss (lib/recovery.ts recoveryLossAndGrad). It has no gradient of its own.
 */
import * as tf from "@tensorflow/tfjs";
import type { MlpEnergyAttrs } from "./mlp_energy.ts";

export const MLP_PARAM_GRAD = "DrlMlpParamGrad";

const ROLES = ["tembW", "tembB", "projW", "projB", "headW", "headB"] as const;
export type MlpParamRole = typeof ROLES[number];

/** The net's parameters by role, hidden weights in order. */
export interface MlpParamTensors<T> {
  roles: Record<MlpParamRole, T>;
  hidden: T[];
}

export type MlpParamGradImpl = (
  inputs: {
    emb: tf.TensorInfo;
    y: tf.TensorInfo;
    cot: tf.TensorInfo;
    params: MlpParamTensors<tf.TensorInfo>;
  },
  attrs: MlpEnergyAttrs,
  backend: tf.KernelBackend,
) => { energy: tf.TensorInfo; grads: MlpParamTensors<tf.TensorInfo> };

const impls = new Map<string, MlpParamGradImpl>();

function registerKernel(backendName: string): void {
  if (tf.getKernel(MLP_PARAM_GRAD, backendName)) return;
  tf.registerKernel({
    kernelName: MLP_PARAM_GRAD,
    backendName,
    kernelFunc: ({ inputs, attrs, backend }) => {
      const impl = impls.get(backendName);
      if (!impl) throw new Error(`no native MLP parameter gradient installed for '${backendName}'`);
      const n = inputs as Record<string, tf.TensorInfo>;
      const hidden: tf.TensorInfo[] = [];
      while (n[`w${hidden.length}`]) hidden.push(n[`w${hidden.length}`]);
      const roles = Object.fromEntries(ROLES.map((r) => [r, n[r]])) as Record<
        MlpParamRole,
        tf.TensorInfo
      >;
      const out = impl(
        { emb: n.emb, y: n.y, cot: n.cot, params: { roles, hidden } },
        attrs as unknown as MlpEnergyAttrs,
        backend as tf.KernelBackend,
      );
      return [out.energy, ...ROLES.map((r) => out.grads.roles[r]), ...out.grads.hidden];
    },
  });
}

/** Installs (or with null, removes) the native implementation for one backend. */
export function setMlpParamGradImpl(backendName: string, impl: MlpParamGradImpl | null): void {
  if (impl) {
    registerKernel(backendName);
    impls.set(backendName, impl);
  } else {
    impls.delete(backendName);
  }
}

export function mlpParamGradAvailable(): boolean {
  return impls.has(tf.getBackend());
}

/** f [N] and d(sum_b cot_b f_b)/d(parameter) for each parameter, by role. */
export function mlpParamGrad(
  emb: tf.Tensor,
  y: tf.Tensor,
  cot: tf.Tensor,
  params: MlpParamTensors<tf.Tensor>,
  attrs: MlpEnergyAttrs,
): { energy: tf.Tensor1D; grads: MlpParamTensors<tf.Tensor> } {
  const inputs: tf.NamedTensorMap = { emb, y, cot, ...params.roles };
  params.hidden.forEach((w, l) => (inputs[`w${l}`] = w));
  const out = tf.engine().runKernel(
    MLP_PARAM_GRAD,
    inputs,
    attrs as unknown as tf.NamedAttrMap,
  ) as tf.Tensor[];
  const roles = Object.fromEntries(ROLES.map((r, i) => [r, out[1 + i]])) as Record<
    MlpParamRole,
    tf.Tensor
  >;
  return {
    energy: out[0] as tf.Tensor1D,
    grads: { roles, hidden: out.slice(1 + ROLES.length) },
  };
}
