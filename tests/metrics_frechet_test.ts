import assert from "node:assert/strict";
import { UserError } from "../lib/errors.ts";
import { JsRandom } from "../lib/rng.ts";
import { frechetDistance, frechetDistanceParts } from "../lib/metrics/frechet.ts";
import { type GaussianStats, matmul, meanAndCovariance } from "../lib/metrics/linalg.ts";

/** Gaussian statistics of n random (correlated, offset) samples in d dimensions. */
function randomStats(n: number, d: number, rng: JsRandom, shift = 0): GaussianStats {
  const mix = Float64Array.from({ length: d * d }, () => rng.normal() / Math.sqrt(d));
  const x = new Float64Array(n * d);
  for (let k = 0; k < n; k++) {
    const z = Array.from({ length: d }, () => rng.normal());
    for (let j = 0; j < d; j++) {
      let v = shift + z[j];
      for (let i = 0; i < d; i++) v += z[i] * mix[i * d + j];
      x[k * d + j] = v;
    }
  }
  return meanAndCovariance(x, n, d);
}

function relErr(got: number, want: number): number {
  return Math.abs(got - want) / Math.max(Math.abs(want), 1e-300);
}

/** Inverse by Gauss-Jordan elimination with partial pivoting (test-only, small n). */
function inverse(a: Float64Array, n: number): Float64Array {
  const m = new Float64Array(a);
  const inv = new Float64Array(n * n);
  for (let i = 0; i < n; i++) inv[i * n + i] = 1;
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r * n + c]) > Math.abs(m[p * n + c])) p = r;
    for (let j = 0; j < n; j++) {
      [m[c * n + j], m[p * n + j]] = [m[p * n + j], m[c * n + j]];
      [inv[c * n + j], inv[p * n + j]] = [inv[p * n + j], inv[c * n + j]];
    }
    const piv = m[c * n + c];
    for (let j = 0; j < n; j++) {
      m[c * n + j] /= piv;
      inv[c * n + j] /= piv;
    }
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = m[r * n + c];
      for (let j = 0; j < n; j++) {
        m[r * n + j] -= f * m[c * n + j];
        inv[r * n + j] -= f * inv[c * n + j];
      }
    }
  }
  return inv;
}

/**
 * tr sqrt(A) for a matrix with positive real eigenvalues by the Denman-Beavers iteration
 * (Denman & Beavers 1976): Y <- (Y + Z^-1)/2, Z <- (Z + Y^-1)/2 from Y = A, Z = I converges
 * quadratically to Y = sqrt(A). An independent route: no eigendecomposition, non-symmetric input.
 */
function traceSqrtDenmanBeavers(a: Float64Array, n: number): number {
  let y = new Float64Array(a);
  let z = new Float64Array(n * n);
  for (let i = 0; i < n; i++) z[i * n + i] = 1;
  for (let it = 0; it < 100; it++) {
    const yInv = inverse(y, n);
    const zInv = inverse(z, n);
    const yNext = y.map((v, i) => (v + zInv[i]) / 2);
    const zNext = z.map((v, i) => (v + yInv[i]) / 2);
    const change = yNext.reduce((s, v, i) => Math.max(s, Math.abs(v - y[i])), 0);
    y = yNext;
    z = zNext;
    if (change < 1e-15 * n) break;
  }
  let t = 0;
  for (let i = 0; i < n; i++) t += y[i * n + i];
  return t;
}

Deno.test("Frechet distance of identical statistics is 0", () => {
  const s = randomStats(60, 16, new JsRandom(1), 3);
  assert.ok(Math.abs(frechetDistance(s, s)) < 1e-9, `${frechetDistance(s, s)}`);
  // Also when the covariance is singular (fewer samples than dimensions).
  const low = randomStats(5, 12, new JsRandom(2));
  assert.ok(Math.abs(frechetDistance(low, low)) < 1e-9);
});

Deno.test("Frechet distance with diagonal covariances is the closed form sum (sqrt a - sqrt b)^2", () => {
  const d = 6;
  const a = [0.5, 1, 2, 3, 0.01, 7];
  const b = [1.5, 1, 0.2, 4, 0.3, 0];
  const mu1 = new Float64Array([0, 1, 2, 3, 4, 5]);
  const mu2 = new Float64Array([1, 1, 0, 3, 4, -5]);
  const diag = (v: number[]) => {
    const m = new Float64Array(d * d);
    v.forEach((x, i) => (m[i * d + i] = x));
    return m;
  };
  let want = 0;
  for (let i = 0; i < d; i++) {
    want += (mu1[i] - mu2[i]) ** 2 + (Math.sqrt(a[i]) - Math.sqrt(b[i])) ** 2;
  }
  const parts = frechetDistanceParts({ mu: mu1, sigma: diag(a) }, { mu: mu2, sigma: diag(b) });
  assert.ok(relErr(parts.distance, want) < 1e-12, `${parts.distance} vs ${want}`);
  assert.equal(parts.meanTerm, 1 + 4 + 100);
});

Deno.test("Frechet distance of 2x2 covariances matches tr sqrt(M) = sqrt(tr M + 2 sqrt(det M))", () => {
  // For M = S1 S2 with positive eigenvalues l1, l2: (sqrt l1 + sqrt l2)^2 = tr M + 2 sqrt(det M).
  const s1 = new Float64Array([2, 0.7, 0.7, 1]);
  const s2 = new Float64Array([0.5, -0.2, -0.2, 3]);
  const m = matmul(s1, s2, 2, 2, 2);
  const detM = (2 * 1 - 0.7 * 0.7) * (0.5 * 3 - 0.04);
  const traceSqrt = Math.sqrt(m[0] + m[3] + 2 * Math.sqrt(detM));
  const mu1 = new Float64Array([0.3, -1]);
  const mu2 = new Float64Array([1, 2]);
  const want = 0.7 ** 2 + 3 ** 2 + 3 + 3.5 - 2 * traceSqrt;
  const got = frechetDistance({ mu: mu1, sigma: s1 }, { mu: mu2, sigma: s2 });
  assert.ok(relErr(got, want) < 1e-12, `${got} vs ${want}`);
});

Deno.test("Frechet distance agrees with a Denman-Beavers sqrtm of S1 S2 (independent route)", () => {
  const rng = new JsRandom(3);
  for (const d of [3, 12, 25]) {
    const a = randomStats(80, d, rng);
    const b = randomStats(80, d, rng, 0.5);
    let meanTerm = 0;
    for (let i = 0; i < d; i++) meanTerm += (a.mu[i] - b.mu[i]) ** 2;
    let traces = 0;
    for (let i = 0; i < d; i++) traces += a.sigma[i * d + i] + b.sigma[i * d + i];
    const want = meanTerm + traces -
      2 * traceSqrtDenmanBeavers(matmul(a.sigma, b.sigma, d, d, d), d);
    const got = frechetDistance(a, b);
    assert.ok(relErr(got, want) < 1e-9, `d=${d}: ${got} vs ${want}`);
  }
});

Deno.test("Frechet distance is symmetric and non-negative, also with a singular covariance", () => {
  const rng = new JsRandom(4);
  const singular = randomStats(6, 15, rng); // rank 5
  const full = randomStats(100, 15, rng, 0.2);
  const ab = frechetDistance(singular, full);
  const ba = frechetDistance(full, singular);
  assert.ok(ab > 0);
  assert.ok(relErr(ab, ba) < 1e-9, `${ab} vs ${ba}`);
});

Deno.test("Frechet distance refuses statistics of different feature sizes", () => {
  const a = randomStats(10, 3, new JsRandom(5));
  const b = randomStats(10, 4, new JsRandom(6));
  assert.throws(() => frechetDistance(a, b), UserError);
  const bad = { mu: a.mu, sigma: a.sigma.map((v, i) => (i === 0 ? NaN : v)) };
  assert.throws(() => frechetDistance(a, bad), UserError);
});

Deno.test("Frechet distance refuses a covariance that is not symmetric or not semi-definite", () => {
  const d = 3;
  const good = randomStats(50, d, new JsRandom(3));
  const asym = { mu: good.mu, sigma: Float64Array.from(good.sigma) };
  asym.sigma[1] += 0.5; // S[0][1] only
  assert.throws(() => frechetDistance(asym, good), (e) => {
    return e instanceof UserError &&
      /first statistics' covariance is not symmetric/.test(e.message);
  });
  // diag(1, 1, -1): symmetric, indefinite.
  const indefinite = { mu: good.mu, sigma: Float64Array.from([1, 0, 0, 0, 1, 0, 0, 0, -1]) };
  const full = { mu: good.mu, sigma: Float64Array.from([1, 0, 0, 0, 1, 0, 0, 0, 1]) };
  assert.throws(() => frechetDistance(indefinite, full), /first statistics' covariance is not pos/);
  assert.throws(() => frechetDistance(full, indefinite), /second statistics' covariance/);
  // Float32 rounding of a valid covariance is accepted and changes the distance by rounding only.
  const rounded = { mu: good.mu, sigma: Float64Array.from(new Float32Array(good.sigma)) };
  assert.ok(Math.abs(frechetDistance(rounded, good)) < 1e-5);
});
