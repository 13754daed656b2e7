/**
 * Float64 dense linear algebra for the image metrics: feature statistics (mean, covariance) and the
 * symmetric eigendecomposition that the Frechet distance's matrix square root is built on.
 *
 * Matrices are flat row-major Float64Arrays. The eigensolver is Householder tridiagonalisation
 * followed by the implicit QL algorithm (EISPACK tred2/tql2; Wilkinson & Reinsch, Handbook for
 * Automatic Computation II, 1971), O(n^3). It works on the transpose of EISPACK's eigenvector matrix
 * so that every inner loop walks contiguous memory: with 2048x2048 Inception covariances, strided
 * column access would be several times slower.
 */

/** Feature statistics of a Gaussian fit: mean and covariance (d x d, row-major). */
export interface GaussianStats {
  mu: Float64Array;
  sigma: Float64Array;
}

/**
 * Mean and unbiased covariance (divisor n - 1, as numpy.cov with rowvar=False) of n feature rows of
 * length d, given row-major. The data are centred first (two-pass), so large offsets cost no
 * precision.
 */
export function meanAndCovariance(
  x: Float32Array | Float64Array,
  n: number,
  d: number,
): GaussianStats {
  if (x.length !== n * d) throw new RangeError(`features: ${x.length} values, expected ${n}x${d}`);
  if (n < 2) throw new RangeError(`covariance needs at least 2 samples, got ${n}`);
  const mu = new Float64Array(d);
  for (let k = 0; k < n; k++) {
    const row = k * d;
    for (let j = 0; j < d; j++) mu[j] += x[row + j];
  }
  for (let j = 0; j < d; j++) mu[j] /= n;
  // Centred data, transposed to d x n so each covariance entry is a contiguous dot product.
  const ct = new Float64Array(d * n);
  for (let k = 0; k < n; k++) {
    const row = k * d;
    for (let j = 0; j < d; j++) ct[j * n + k] = x[row + j] - mu[j];
  }
  const sigma = multiplyABt(ct, ct, d, d, n, true);
  const inv = 1 / (n - 1);
  for (let i = 0; i < sigma.length; i++) sigma[i] *= inv;
  return { mu, sigma };
}

/** Copies `rows` rows of length k into a zero-padded array whose row count is a multiple of 4. */
function padRows(a: Float64Array, rows: number, k: number): Float64Array {
  const padded = Math.ceil(rows / 4) * 4;
  if (padded === rows) return a;
  const out = new Float64Array(padded * k);
  out.set(a.subarray(0, rows * k));
  return out;
}

// Cache blocking for multiplyABt: a panel of JB rows of B times KB columns (128 x 256 doubles,
// 256 KiB) stays in L2 while every row block of A passes over it.
const JB = 128;
const KB = 256;

/**
 * C = A B^T for A (n x k) and B (m x k), row-major: every entry is a dot product of two contiguous
 * rows. With `symmetric` (A B^T known to be symmetric, n === m) only the upper triangle is computed
 * and mirrored. Blocked for cache and computed in 4x4 register tiles: plain loops over 2048x2048
 * operands are memory-bound in JS and several times slower.
 */
export function multiplyABt(
  a: Float64Array,
  b: Float64Array,
  n: number,
  m: number,
  k: number,
  symmetric = false,
): Float64Array {
  if (a.length !== n * k || b.length !== m * k) throw new RangeError("multiplyABt: shape mismatch");
  if (symmetric && n !== m) throw new RangeError("multiplyABt: a symmetric product must be square");
  const ap = padRows(a, n, k);
  const bp = padRows(b, m, k);
  const np = ap.length / k || 0;
  const mp = bp.length / k || 0;
  const c = new Float64Array(np * mp);
  for (let j0 = 0; j0 < mp; j0 += JB) {
    const j1 = Math.min(j0 + JB, mp);
    for (let k0 = 0; k0 < k; k0 += KB) {
      const k1 = Math.min(k0 + KB, k);
      for (let i = 0; i < np; i += 4) {
        // In the symmetric case, tiles entirely below the diagonal (j + 3 < i) are skipped.
        const jStart = symmetric ? Math.max(j0, i) : j0;
        const a0 = i * k, a1 = a0 + k, a2 = a1 + k, a3 = a2 + k;
        for (let j = jStart; j < j1; j += 4) {
          const b0 = j * k, b1 = b0 + k, b2 = b1 + k, b3 = b2 + k;
          let c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
          let c20 = 0, c21 = 0, c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0;
          for (let t = k0; t < k1; t++) {
            const x0 = ap[a0 + t], x1 = ap[a1 + t], x2 = ap[a2 + t], x3 = ap[a3 + t];
            const y0 = bp[b0 + t], y1 = bp[b1 + t], y2 = bp[b2 + t], y3 = bp[b3 + t];
            c00 += x0 * y0, c01 += x0 * y1, c02 += x0 * y2, c03 += x0 * y3;
            c10 += x1 * y0, c11 += x1 * y1, c12 += x1 * y2, c13 += x1 * y3;
            c20 += x2 * y0, c21 += x2 * y1, c22 += x2 * y2, c23 += x2 * y3;
            c30 += x3 * y0, c31 += x3 * y1, c32 += x3 * y2, c33 += x3 * y3;
          }
          const r0 = i * mp + j, r1 = r0 + mp, r2 = r1 + mp, r3 = r2 + mp;
          c[r0] += c00, c[r0 + 1] += c01, c[r0 + 2] += c02, c[r0 + 3] += c03;
          c[r1] += c10, c[r1 + 1] += c11, c[r1 + 2] += c12, c[r1 + 3] += c13;
          c[r2] += c20, c[r2 + 1] += c21, c[r2 + 2] += c22, c[r2 + 3] += c23;
          c[r3] += c30, c[r3 + 1] += c31, c[r3 + 2] += c32, c[r3 + 3] += c33;
        }
      }
    }
  }
  const out = np === n && mp === m ? c : new Float64Array(n * m);
  if (out !== c) { for (let i = 0; i < n; i++) out.set(c.subarray(i * mp, i * mp + m), i * m); }
  if (symmetric) mirrorUpper(out, n);
  return out;
}

/**
 * Copies the upper triangle onto the lower one, in 64x64 tiles: a plain loop writes down columns
 * with a page-sized stride at n = 2048 and costs as much as the product itself.
 */
function mirrorUpper(a: Float64Array, n: number): void {
  const T = 64;
  for (let i0 = 0; i0 < n; i0 += T) {
    for (let j0 = i0; j0 < n; j0 += T) {
      const i1 = Math.min(i0 + T, n);
      const j1 = Math.min(j0 + T, n);
      for (let i = i0; i < i1; i++) {
        for (let j = Math.max(j0, i + 1); j < j1; j++) a[j * n + i] = a[i * n + j];
      }
    }
  }
}

/** C = A B for A (n x m), B (m x p), row-major. i-k-j loop order: the inner loop is contiguous. */
export function matmul(
  a: Float64Array,
  b: Float64Array,
  n: number,
  m: number,
  p: number,
): Float64Array {
  if (a.length !== n * m || b.length !== m * p) throw new RangeError("matmul: shape mismatch");
  const c = new Float64Array(n * p);
  for (let i = 0; i < n; i++) {
    const ci = i * p;
    for (let k = 0; k < m; k++) {
      const aik = a[i * m + k];
      if (aik === 0) continue;
      const bk = k * p;
      for (let j = 0; j < p; j++) c[ci + j] += aik * b[bk + j];
    }
  }
  return c;
}

/** Trace of a square n x n matrix. */
export function trace(a: Float64Array, n: number): number {
  let t = 0;
  for (let i = 0; i < n; i++) t += a[i * n + i];
  return t;
}

export interface SymmetricEigen {
  /** Eigenvalues in ascending order. */
  values: Float64Array;
  /** Row k (n values) is the unit eigenvector of values[k]; absent when not requested. */
  vectors?: Float64Array;
}

/**
 * Eigendecomposition of a symmetric n x n matrix (only its lower triangle is read; the input is not
 * modified). With `vectors: false` only eigenvalues are computed, about 4x faster.
 */
export function symmetricEigen(
  a: Float64Array,
  n: number,
  options: { vectors?: boolean } = {},
): SymmetricEigen {
  if (a.length !== n * n) {
    throw new RangeError(`symmetricEigen: ${a.length} values, expected ${n}x${n}`);
  }
  const wantVectors = options.vectors ?? true;
  if (n === 0) {
    return { values: new Float64Array(0), vectors: wantVectors ? new Float64Array(0) : undefined };
  }
  // w is the transpose of EISPACK's V: w[j*n + k] stands for V[k][j]. A is symmetric, so starting
  // from w = A^T = A is the same as starting from V = A; we copy the lower triangle into w's upper.
  const w = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      w[j * n + i] = a[i * n + j];
      w[i * n + j] = a[i * n + j];
    }
  }
  const d = new Float64Array(n);
  const e = new Float64Array(n);
  tridiagonalize(w, n, d, e, wantVectors);
  tridiagonalQL(d, e, n, wantVectors ? w : null);
  return sortAscending(d, wantVectors ? w : null, n);
}

/**
 * Householder reduction to tridiagonal form (EISPACK tred2). On return d is the diagonal, e[1..n-1]
 * the subdiagonal, and (with accumulate) w holds the transposed orthogonal transformation.
 */
function tridiagonalize(
  w: Float64Array,
  n: number,
  d: Float64Array,
  e: Float64Array,
  accumulate: boolean,
): void {
  // V[k][j] === w[j*n + k] throughout.
  for (let j = 0; j < n; j++) d[j] = w[j * n + n - 1];
  for (let i = n - 1; i > 0; i--) {
    let scale = 0;
    let h = 0;
    for (let k = 0; k < i; k++) scale += Math.abs(d[k]);
    if (scale === 0) {
      e[i] = d[i - 1];
      for (let j = 0; j < i; j++) {
        d[j] = w[j * n + i - 1];
        w[j * n + i] = 0;
        w[i * n + j] = 0;
      }
    } else {
      for (let k = 0; k < i; k++) {
        d[k] /= scale;
        h += d[k] * d[k];
      }
      let f = d[i - 1];
      let g = Math.sqrt(h);
      if (f > 0) g = -g;
      e[i] = scale * g;
      h -= f * g;
      d[i - 1] = f - g;
      for (let j = 0; j < i; j++) e[j] = 0;
      // e = (lower part of A) d, using the stored lower triangle column by column.
      for (let j = 0; j < i; j++) {
        f = d[j];
        w[i * n + j] = f;
        const cj = j * n;
        g = e[j] + w[cj + j] * f;
        for (let k = j + 1; k < i; k++) {
          g += w[cj + k] * d[k];
          e[k] += w[cj + k] * f;
        }
        e[j] = g;
      }
      f = 0;
      for (let j = 0; j < i; j++) {
        e[j] /= h;
        f += e[j] * d[j];
      }
      const hh = f / (h + h);
      for (let j = 0; j < i; j++) e[j] -= hh * d[j];
      for (let j = 0; j < i; j++) {
        f = d[j];
        g = e[j];
        const cj = j * n;
        for (let k = j; k < i; k++) w[cj + k] -= f * e[k] + g * d[k];
        d[j] = w[cj + i - 1];
        w[cj + i] = 0;
      }
    }
    d[i] = h;
  }
  if (!accumulate) {
    // The reduced diagonal sits on w's diagonal (EISPACK moves it through row n-1 while
    // accumulating; without accumulation it is read directly).
    for (let j = 0; j < n; j++) d[j] = w[j * n + j];
    e[0] = 0;
    return;
  }
  for (let i = 0; i < n - 1; i++) {
    w[i * n + n - 1] = w[i * n + i];
    w[i * n + i] = 1;
    const h = d[i + 1];
    const ci1 = (i + 1) * n;
    if (h !== 0) {
      for (let k = 0; k <= i; k++) d[k] = w[ci1 + k] / h;
      for (let j = 0; j <= i; j++) {
        const cj = j * n;
        let g = 0;
        for (let k = 0; k <= i; k++) g += w[ci1 + k] * w[cj + k];
        for (let k = 0; k <= i; k++) w[cj + k] -= g * d[k];
      }
    }
    for (let k = 0; k <= i; k++) w[ci1 + k] = 0;
  }
  for (let j = 0; j < n; j++) {
    d[j] = w[j * n + n - 1];
    w[j * n + n - 1] = 0;
  }
  w[(n - 1) * n + n - 1] = 1;
  e[0] = 0;
}

/**
 * Implicit QL with Wilkinson-style shifts on the symmetric tridiagonal (d, e) (EISPACK tql2).
 * Rotations are applied to the rows of w (the transposed eigenvector matrix) when given.
 */
function tridiagonalQL(d: Float64Array, e: Float64Array, n: number, w: Float64Array | null): void {
  for (let i = 1; i < n; i++) e[i - 1] = e[i];
  e[n - 1] = 0;
  let f = 0;
  let tst1 = 0;
  const eps = 2 ** -52;
  for (let l = 0; l < n; l++) {
    tst1 = Math.max(tst1, Math.abs(d[l]) + Math.abs(e[l]));
    let m = l;
    while (m < n) {
      if (Math.abs(e[m]) <= eps * tst1) break;
      m++;
    }
    if (m === n) m = n - 1; // e[n-1] is 0, so this only guards rounding
    if (m > l) {
      let iter = 0;
      do {
        if (++iter > 60) throw new Error("symmetricEigen: QL iteration did not converge");
        let g = d[l];
        let p = (d[l + 1] - g) / (2 * e[l]);
        let r = Math.hypot(p, 1);
        if (p < 0) r = -r;
        d[l] = e[l] / (p + r);
        d[l + 1] = e[l] * (p + r);
        const dl1 = d[l + 1];
        let h = g - d[l];
        for (let i = l + 2; i < n; i++) d[i] -= h;
        f += h;
        p = d[m];
        let c = 1, c2 = 1, c3 = 1;
        const el1 = e[l + 1];
        let s = 0, s2 = 0;
        for (let i = m - 1; i >= l; i--) {
          c3 = c2;
          c2 = c;
          s2 = s;
          g = c * e[i];
          h = c * p;
          r = Math.hypot(p, e[i]);
          e[i + 1] = s * r;
          s = e[i] / r;
          c = p / r;
          p = c * d[i] - s * g;
          d[i + 1] = h + s * (c * g + s * d[i]);
          if (w) {
            const ri = i * n;
            const ri1 = (i + 1) * n;
            for (let k = 0; k < n; k++) {
              const wk1 = w[ri1 + k];
              const wk = w[ri + k];
              w[ri1 + k] = s * wk + c * wk1;
              w[ri + k] = c * wk - s * wk1;
            }
          }
        }
        p = (-s * s2 * c3 * el1 * e[l]) / dl1;
        e[l] = s * p;
        d[l] = c * p;
      } while (Math.abs(e[l]) > eps * tst1);
    }
    d[l] += f;
    e[l] = 0;
  }
}

function sortAscending(d: Float64Array, w: Float64Array | null, n: number): SymmetricEigen {
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => d[i] - d[j]);
  const values = new Float64Array(n);
  for (let k = 0; k < n; k++) values[k] = d[order[k]];
  if (!w) return { values };
  const vectors = new Float64Array(n * n);
  for (let k = 0; k < n; k++) vectors.set(w.subarray(order[k] * n, order[k] * n + n), k * n);
  return { values, vectors };
}
