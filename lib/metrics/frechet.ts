/**
 * The Frechet distance between two Gaussians (Dowson & Landau 1982), the FID of Heusel et al.,
 * "GANs Trained by a Two Time-Scale Update Rule Converge to a Local Nash Equilibrium", NeurIPS 2017:
 *
 *   d^2 = ||mu1 - mu2||^2 + tr(S1) + tr(S2) - 2 tr( (S1^{1/2} S2 S1^{1/2})^{1/2} ).
 *
 * The reference code (TTUR, pytorch-fid) takes scipy's sqrtm of the non-symmetric product S1 S2.
 * Here the same trace comes from symmetric eigendecompositions only, which are stable in float64:
 * with S1 = V diag(l) V^T, S1^{1/2} S2 S1^{1/2} = V [diag(sqrt l) V^T S2 V diag(sqrt l)] V^T, so the
 * trace term is the sum of square roots of the eigenvalues of the bracket (a similarity transform
 * does not change eigenvalues). Tiny negative eigenvalues, which are rounding noise of positive
 * semi-definite matrices (e.g. covariances of fewer samples than dimensions), are clipped to 0.
 * A covariance that is not symmetric, or has an eigenvalue below -COVARIANCE_TOLERANCE times its
 * largest, is no covariance (pytorch-fid fails on the imaginary part this gives): it is refused.
 */
import { UserError } from "../errors.ts";
import { type GaussianStats, multiplyABt, symmetricEigen, trace } from "./linalg.ts";

export interface FrechetParts {
  /** The Frechet distance d^2 (what papers report as FID). */
  distance: number;
  /** ||mu1 - mu2||^2. */
  meanTerm: number;
  /** tr(S1) + tr(S2) - 2 tr sqrt(S1^{1/2} S2 S1^{1/2}). */
  covarianceTerm: number;
}

/** The Frechet distance between N(a.mu, a.sigma) and N(b.mu, b.sigma), with its two terms. */
export function frechetDistanceParts(a: GaussianStats, b: GaussianStats): FrechetParts {
  const d = a.mu.length;
  if (b.mu.length !== d) {
    throw new UserError(
      `the two statistics have different feature sizes (${d} vs ${b.mu.length}); ` +
        "compute both with the same feature extractor",
    );
  }
  if (a.sigma.length !== d * d || b.sigma.length !== d * d) {
    throw new UserError(`a covariance is not ${d}x${d}; the statistics file is malformed`);
  }
  for (const s of [a.mu, b.mu, a.sigma, b.sigma]) {
    if (!s.every(Number.isFinite)) {
      throw new UserError("the statistics contain NaN or infinite values");
    }
  }
  let meanTerm = 0;
  for (let i = 0; i < d; i++) meanTerm += (a.mu[i] - b.mu[i]) ** 2;

  checkSymmetric(a.sigma, d, "first");
  checkSymmetric(b.sigma, d, "second");
  const s1 = symmetrized(a.sigma, d);
  const s2 = symmetrized(b.sigma, d);
  const { values: l1, vectors } = symmetricEigen(s1, d);
  checkSemiDefinite(l1, "the first statistics' covariance");
  const w = vectors!; // row k: eigenvector k of S1, i.e. w = V^T
  const sqrtL1 = clippedSqrt(l1, d);
  // M = diag(sqrt l) (V^T S2 V) diag(sqrt l). With S2 symmetric, V^T S2 = w s2^T, and
  // (V^T S2) V = (w s2^T) w^T is symmetric: two products of rows with rows.
  const m = multiplyABt(multiplyABt(w, s2, d, d, d), w, d, d, d, true);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < d; j++) m[i * d + j] *= sqrtL1[i] * sqrtL1[j];
  }
  const { values: lm } = symmetricEigen(m, d, { vectors: false });
  // M is congruent to S2 on the span of S1: a clearly negative eigenvalue means S2 is indefinite.
  checkSemiDefinite(lm, "the second statistics' covariance (on the span of the first's)");
  const traceSqrt = clippedSqrt(lm, d).reduce((sum, v) => sum + v, 0);
  const covarianceTerm = trace(s1, d) + trace(s2, d) - 2 * traceSqrt;
  return { distance: meanTerm + covarianceTerm, meanTerm, covarianceTerm };
}

/** The Frechet distance (FID when the statistics are Inception pool_3 features). */
export function frechetDistance(a: GaussianStats, b: GaussianStats): number {
  return frechetDistanceParts(a, b).distance;
}

/**
 * Square roots of the eigenvalues of a positive semi-definite matrix. Eigenvalues below the
 * rounding level d * eps * max|l| (the rank tolerance of numpy's matrix_rank) are zero up to
 * rounding and are set to 0: their square roots (~1e-8 each) would otherwise add noise.
 */
function clippedSqrt(values: Float64Array, d: number): Float64Array {
  let largest = 0;
  for (const v of values) largest = Math.max(largest, Math.abs(v));
  const tol = d * Number.EPSILON * largest;
  return values.map((v) => (v > tol ? Math.sqrt(v) : 0));
}

/**
 * Relative size of asymmetry or of a negative eigenvalue that float32 storage and summation can
 * explain (float32 rounds at 6e-8; sums of thousands of terms lose a few more digits).
 */
export const COVARIANCE_TOLERANCE = 1e-4;

function checkSymmetric(s: Float64Array, d: number, which: string): void {
  let largest = 0;
  let asymmetry = 0;
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < d; j++) {
      largest = Math.max(largest, Math.abs(s[i * d + j]));
      asymmetry = Math.max(asymmetry, Math.abs(s[i * d + j] - s[j * d + i]));
    }
  }
  if (asymmetry > COVARIANCE_TOLERANCE * largest) {
    throw new UserError(
      `the ${which} statistics' covariance is not symmetric (|S - S^T| up to ${
        asymmetry.toPrecision(3)
      }, entries up to ${largest.toPrecision(3)}): the statistics file is malformed; recompute it`,
    );
  }
}

function checkSemiDefinite(values: Float64Array, what: string): void {
  let largest = 0;
  let smallest = 0;
  for (const v of values) {
    largest = Math.max(largest, Math.abs(v));
    smallest = Math.min(smallest, v);
  }
  if (smallest < -COVARIANCE_TOLERANCE * largest) {
    throw new UserError(
      `${what} is not positive semi-definite (eigenvalue ${smallest.toPrecision(3)}, largest ${
        largest.toPrecision(3)
      }): no set of features has it; the statistics file is malformed; recompute it`,
    );
  }
}

/** (S + S^T) / 2: covariances read from float32 files can be asymmetric in the last bit. */
function symmetrized(s: Float64Array, d: number): Float64Array {
  const out = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < d; j++) out[i * d + j] = 0.5 * (s[i * d + j] + s[j * d + i]);
  }
  return out;
}
