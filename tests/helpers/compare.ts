/** Random inputs and the relative error the kernel tests compare with. */
import assert from "node:assert/strict";
import { JsRandom } from "../../lib/rng.ts";

/** The tolerance every kernel test holds its results to. */
export const TOL = 1e-4;

/** n standard normal draws from a seed. */
export function normals(n: number, seed: number): Float32Array {
  const r = new JsRandom(seed);
  return Float32Array.from({ length: n }, () => r.normal());
}

/** max |a - b| / max |b|: relative to the reference's scale (elementwise ratios blow up near 0). */
export function relError(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let diff = 0, scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / Math.max(scale, 1e-30);
}
