/**
 * Adam's and the EMA's elementwise updates on float32 arrays (see adam_ema.ts), computed in float64
 * and stored in float32, with the moments rounded as stored before the update reads them (as the
 * tfjs ops in lib/optim.ts do).
 */
import type { AdamStepAttrs } from "./adam_ema.ts";

export interface AdamArrays {
  p: Float32Array;
  m: Float32Array;
  v: Float32Array;
  g: Float32Array;
}

/** Writes p', m', v' into `out` (which may not alias the inputs). */
export function adamStep(a: AdamArrays, scale: number, s: AdamStepAttrs, out: AdamArrays): void {
  const { lr, beta1, beta2, eps, bc1, bc2 } = s;
  for (let i = 0; i < a.p.length; i++) {
    const g = Math.fround(a.g[i] * scale);
    const m = Math.fround(beta1 * a.m[i] + (1 - beta1) * g);
    const v = Math.fround(beta2 * a.v[i] + (1 - beta2) * g * g);
    out.m[i] = m;
    out.v[i] = v;
    out.p[i] = a.p[i] - lr * ((m / bc1) / (Math.sqrt(v / bc2) + eps));
  }
}

/** out = decay shadow + (1 - decay) p. */
export function emaStep(shadow: Float32Array, p: Float32Array, decay: number, out: Float32Array) {
  for (let i = 0; i < p.length; i++) out[i] = decay * shadow[i] + (1 - decay) * p[i];
}
