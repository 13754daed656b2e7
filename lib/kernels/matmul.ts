/**
 * tfjs's BatchMatMul with a native implementation in front, per backend. The wasm backend's own
 * matmul (XNNPACK without FMA, and a copy per call) took 0.5-1.5 ms for a [256, 128] x [128, 128]
 * product here, the whole cost of the 2D MLP's training step; oneDNN's sgemm takes about 0.1 ms.
 * The original kernel stays registered behind the override and runs whatever the native one
 * declines (other dtypes, broadcast batch dimensions) and everything once the override is removed.
 * tf.matMul's gradient is itself tf.matMul, so both directions of a dense layer go through here.
 */
import * as tf from "@tensorflow/tfjs";

const BATCH_MAT_MUL = "BatchMatMul";

export interface MatMulAttrs {
  transposeA: boolean;
  transposeB: boolean;
}

/** A native product on a backend's storage; null declines (the original kernel then runs). */
export type MatMulImpl = (
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  attrs: MatMulAttrs,
  backend: tf.KernelBackend,
) => tf.TensorInfo | null;

const impls = new Map<string, MatMulImpl>();
const originals = new Map<string, tf.KernelConfig>();

function wrap(backendName: string): void {
  if (originals.has(backendName)) return;
  const original = tf.getKernel(BATCH_MAT_MUL, backendName);
  if (!original) throw new Error(`backend '${backendName}' has no ${BATCH_MAT_MUL} kernel`);
  originals.set(backendName, original);
  tf.unregisterKernel(BATCH_MAT_MUL, backendName);
  // The original's setupFunc (wasm binds its exports there) is kept with the rest of its config.
  tf.registerKernel({
    ...original,
    kernelFunc: (args) => {
      const impl = impls.get(backendName);
      const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
      const out = impl?.(
        a,
        b,
        args.attrs as unknown as MatMulAttrs,
        args.backend as tf.KernelBackend,
      );
      return out ?? original.kernelFunc(args);
    },
  });
}

/** Puts (or with null, takes away) a native matmul in front of one backend's BatchMatMul. */
export function setMatMulImpl(backendName: string, impl: MatMulImpl | null): void {
  if (impl) {
    wrap(backendName);
    impls.set(backendName, impl);
  } else {
    impls.delete(backendName);
  }
}

/**
 * The operands' shapes as (batches, m, n, k) when both have the same batch dimensions (or none);
 * null otherwise (broadcasting, or a shape the original kernel will reject with its own message).
 */
export function matMulDims(
  a: readonly number[],
  b: readonly number[],
  attrs: MatMulAttrs,
): { batches: number; outer: number[]; m: number; n: number; k: number } | null {
  if (a.length < 2 || a.length !== b.length) return null;
  const outer = a.slice(0, -2);
  if (outer.some((d, i) => d !== b[i])) return null;
  const [a0, a1] = a.slice(-2), [b0, b1] = b.slice(-2);
  const m = attrs.transposeA ? a1 : a0, k = attrs.transposeA ? a0 : a1;
  const kb = attrs.transposeB ? b1 : b0, n = attrs.transposeB ? b0 : b1;
  if (k !== kb) return null;
  return { batches: outer.reduce((x, y) => x * y, 1), outer, m, n, k };
}
