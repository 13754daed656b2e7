import assert from "node:assert/strict";
import { JsRandom } from "../lib/rng.ts";
import {
  matmul,
  meanAndCovariance,
  multiplyABt,
  symmetricEigen,
  trace,
} from "../lib/metrics/linalg.ts";

/** A random symmetric n x n matrix with entries ~ N(0, 1). */
function randomSymmetric(n: number, rng: JsRandom): Float64Array {
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      const v = rng.normal();
      a[i * n + j] = v;
      a[j * n + i] = v;
    }
  }
  return a;
}

function maxAbs(a: Float64Array): number {
  let m = 0;
  for (const v of a) m = Math.max(m, Math.abs(v));
  return m;
}

Deno.test("symmetricEigen: A v = lambda v, orthonormal vectors, ascending values", () => {
  const rng = new JsRandom(1);
  for (const n of [1, 2, 3, 7, 40]) {
    const a = randomSymmetric(n, rng);
    const { values, vectors } = symmetricEigen(a, n);
    assert.ok(vectors);
    for (let k = 1; k < n; k++) assert.ok(values[k - 1] <= values[k]);
    const scale = maxAbs(a);
    for (let k = 0; k < n; k++) {
      const v = vectors.subarray(k * n, k * n + n);
      for (let i = 0; i < n; i++) {
        let av = 0;
        for (let j = 0; j < n; j++) av += a[i * n + j] * v[j];
        assert.ok(Math.abs(av - values[k] * v[i]) < 1e-12 * n * scale, `n=${n} k=${k}`);
      }
      for (let l = 0; l < n; l++) {
        let dot = 0;
        for (let i = 0; i < n; i++) dot += v[i] * vectors[l * n + i];
        assert.ok(Math.abs(dot - (k === l ? 1 : 0)) < 1e-12 * n, `orthonormality n=${n}`);
      }
    }
    // Trace is the sum of eigenvalues.
    const sum = values.reduce((s, v) => s + v, 0);
    assert.ok(Math.abs(sum - trace(a, n)) < 1e-12 * n * scale);
  }
});

Deno.test("symmetricEigen: values-only path agrees with the full path", () => {
  const rng = new JsRandom(2);
  const n = 30;
  const a = randomSymmetric(n, rng);
  const full = symmetricEigen(a, n);
  const only = symmetricEigen(a, n, { vectors: false });
  assert.equal(only.vectors, undefined);
  for (let k = 0; k < n; k++) assert.ok(Math.abs(full.values[k] - only.values[k]) < 1e-12 * n);
});

Deno.test("symmetricEigen: known spectra (diagonal, 2x2, repeated and zero eigenvalues)", () => {
  const diag = new Float64Array([3, 0, 0, 0, -1, 0, 0, 0, 2]);
  assert.deepEqual(Array.from(symmetricEigen(diag, 3).values), [-1, 2, 3]);
  // [[2, 1], [1, 2]] has eigenvalues 1 and 3.
  const two = symmetricEigen(new Float64Array([2, 1, 1, 2]), 2).values;
  assert.ok(Math.abs(two[0] - 1) < 1e-15 && Math.abs(two[1] - 3) < 1e-15);
  // Rank one: u u^T with |u|^2 = 14 has eigenvalues 0, 0, 14.
  const u = [1, 2, 3];
  const r1 = new Float64Array(9).map((_, idx) => u[Math.floor(idx / 3)] * u[idx % 3]);
  const v = symmetricEigen(r1, 3).values;
  assert.ok(Math.abs(v[0]) < 1e-13 && Math.abs(v[1]) < 1e-13 && Math.abs(v[2] - 14) < 1e-13);
});

Deno.test("meanAndCovariance matches the two-pass definition with divisor n - 1", () => {
  // Rows: (1, 2), (3, 6), (5, 7). Means 3 and 5. Cov = [[4, 5], [5, 7]].
  const x = new Float32Array([1, 2, 3, 6, 5, 7]);
  const { mu, sigma } = meanAndCovariance(x, 3, 2);
  assert.deepEqual(Array.from(mu), [3, 5]);
  assert.deepEqual(Array.from(sigma), [4, 5, 5, 7]);
  // A large offset costs no precision (two-pass centring).
  const shifted = new Float64Array([1, 2, 3, 6, 5, 7].map((v) => v + 1e8));
  const s2 = meanAndCovariance(shifted, 3, 2).sigma;
  assert.deepEqual(Array.from(s2), [4, 5, 5, 7]);
  assert.throws(() => meanAndCovariance(new Float32Array(2), 1, 2), RangeError);
});

Deno.test("matmul: small product by hand", () => {
  const a = new Float64Array([1, 2, 3, 4, 5, 6]); // 2x3
  const b = new Float64Array([7, 8, 9, 10, 11, 12]); // 3x2
  assert.deepEqual(Array.from(matmul(a, b, 2, 3, 2)), [58, 64, 139, 154]);
});

Deno.test("multiplyABt: agrees with matmul for odd shapes, and its symmetric mode", () => {
  const rng = new JsRandom(4);
  for (const [n, m, k] of [[1, 1, 1], [5, 3, 7], [9, 6, 300], [4, 4, 4], [130, 70, 5]]) {
    const a = new Float64Array(n * k).map(() => rng.normal());
    const b = new Float64Array(m * k).map(() => rng.normal());
    const bt = new Float64Array(k * m);
    for (let i = 0; i < m; i++) for (let j = 0; j < k; j++) bt[j * m + i] = b[i * k + j];
    const want = matmul(a, bt, n, k, m);
    const got = multiplyABt(a, b, n, m, k);
    for (let i = 0; i < n * m; i++) assert.ok(Math.abs(got[i] - want[i]) < 1e-12 * k);
    const sym = multiplyABt(a, a, n, n, k, true);
    const full = multiplyABt(a, a, n, n, k);
    for (let i = 0; i < n * n; i++) assert.ok(Math.abs(sym[i] - full[i]) < 1e-12 * k);
  }
});
