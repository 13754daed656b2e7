/**
 * Adam's update of one parameter and the EMA's update of its shadow as one kernel each, for
 * backends with a native implementation installed (native.ts: plain loops on host memory). Through
 * tfjs ops they are 15 and 3 kernels per parameter; the 2D MLP's nine parameters made that a third
 * of a training step's kernel launches. Elsewhere (no implementation: `adamKernelAvailable` false)
 * lib/optim.ts runs its tfjs ops as before.
 */
import * as tf from "@tensorflow/tfjs";

export const ADAM_UPDATE = "DrlAdamUpdate";
export const EMA_UPDATE = "DrlEmaUpdate";

export interface AdamStepAttrs {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** 1 - beta^t, the bias corrections of this step. */
  bc1: number;
  bc2: number;
}

export interface AdamEmaImpl {
  /** (p, m, v, g, scale [scalar: the clipping factor]) -> (p', m', v'). */
  adam(
    inputs: Record<"p" | "m" | "v" | "g" | "scale", tf.TensorInfo>,
    attrs: AdamStepAttrs,
    backend: tf.KernelBackend,
  ): [tf.TensorInfo, tf.TensorInfo, tf.TensorInfo];
  /** shadow' = decay shadow + (1 - decay) p. */
  ema(
    shadow: tf.TensorInfo,
    p: tf.TensorInfo,
    decay: number,
    backend: tf.KernelBackend,
  ): tf.TensorInfo;
}

const impls = new Map<string, AdamEmaImpl>();

function registerKernels(backendName: string): void {
  if (tf.getKernel(ADAM_UPDATE, backendName)) return;
  const impl = () => {
    const i = impls.get(backendName);
    if (!i) throw new Error(`no native Adam installed for '${backendName}'`);
    return i;
  };
  tf.registerKernel({
    kernelName: ADAM_UPDATE,
    backendName,
    kernelFunc: ({ inputs, attrs, backend }) =>
      impl().adam(
        inputs as Record<"p" | "m" | "v" | "g" | "scale", tf.TensorInfo>,
        attrs as unknown as AdamStepAttrs,
        backend as tf.KernelBackend,
      ),
  });
  tf.registerKernel({
    kernelName: EMA_UPDATE,
    backendName,
    kernelFunc: ({ inputs, attrs, backend }) => {
      const { shadow, p } = inputs as Record<"shadow" | "p", tf.TensorInfo>;
      const { decay } = attrs as unknown as { decay: number };
      return impl().ema(shadow, p, decay, backend as tf.KernelBackend);
    },
  });
}

/** Installs (or with null, removes) the native Adam and EMA updates for one backend. */
export function setAdamEmaImpl(backendName: string, impl: AdamEmaImpl | null): void {
  if (impl) {
    registerKernels(backendName);
    impls.set(backendName, impl);
  } else {
    impls.delete(backendName);
  }
}

/** Whether the active backend runs adamUpdate and emaUpdate as one kernel each. */
export function adamKernelAvailable(): boolean {
  return impls.has(tf.getBackend());
}

/** One Adam step of one parameter (gradient times `scale` first); returns the new p, m, v. */
export function adamUpdate(
  t: Record<"p" | "m" | "v" | "g" | "scale", tf.Tensor>,
  attrs: AdamStepAttrs,
): [tf.Tensor, tf.Tensor, tf.Tensor] {
  const out = tf.engine().runKernel(ADAM_UPDATE, t, attrs as unknown as tf.NamedAttrMap);
  return out as unknown as [tf.Tensor, tf.Tensor, tf.Tensor];
}

/** decay shadow + (1 - decay) p. */
export function emaUpdate(shadow: tf.Tensor, p: tf.Tensor, decay: number): tf.Tensor {
  const attrs = { decay } as unknown as tf.NamedAttrMap;
  return tf.engine().runKernel(EMA_UPDATE, { shadow, p }, attrs) as tf.Tensor;
}
