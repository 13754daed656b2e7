/**
 * The Kernel Inception Distance (Binkowski et al., "Demystifying MMD GANs", ICLR 2018): the unbiased
 * estimate of the squared MMD with the cubic polynomial kernel k(x, y) = (x.y / d + 1)^3, averaged
 * over random subsets, as the reference implementations (the paper's compute_scores.py and
 * torch-fidelity, default 100 subsets of 1000) do:
 *
 *   MMD^2_u = [sum_{i != j} k(x_i, x_j) + sum_{i != j} k(y_i, y_j)] / (m (m - 1))
 *             - 2 sum_{i, j} k(x_i, y_j) / m^2.
 *
 * The Gram matrices are float32 matrix products on the active tfjs backend (the reference code also
 * works in float32: sklearn's polynomial_kernel and torch-fidelity keep float32 features); the
 * kernel values and the sums are float64.
 */
import * as tf from "@tensorflow/tfjs";
import type { Rng } from "../rng.ts";
import type { FeatureSet } from "./features.ts";

export interface KidOptions {
  /** Number of random subsets (default 100). */
  subsets?: number;
  /** Subset size m (default 1000), capped by the smaller sample count. */
  subsetSize?: number;
}

export interface KidResult {
  /** Mean of the subsets' unbiased MMD^2 estimates. */
  mean: number;
  /** Population standard deviation over the subsets (np.std, as the reference code). */
  std: number;
  subsets: number;
  subsetSize: number;
  nA: number;
  nB: number;
}

/** Feature rows, row-major: n rows of featureDim values (a FeatureSet fits). */
export type FeatureRows = Pick<FeatureSet, "pool" | "n" | "featureDim">;

/** m distinct indices from 0..n-1 (partial Fisher-Yates), drawn from `rng`. */
function sampleWithoutReplacement(n: number, m: number, rng: Rng): Int32Array {
  const js = rng.js();
  const idx = new Int32Array(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  for (let i = 0; i < m; i++) {
    const j = i + js.int(n - i);
    const t = idx[i];
    idx[i] = idx[j];
    idx[j] = t;
  }
  return idx.subarray(0, m);
}

function gatherRows(x: FeatureRows, rows: Int32Array): Float32Array {
  const d = x.featureDim;
  const out = new Float32Array(rows.length * d);
  rows.forEach((r, i) => out.set(x.pool.subarray(r * d, (r + 1) * d), i * d));
  return out;
}

/** Sum of the cubic kernel over a Gram matrix, leaving out its diagonal when asked. */
function kernelSum(gram: Float32Array, m: number, d: number, offDiagonalOnly: boolean): number {
  let sum = 0;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < m; j++) {
      if (offDiagonalOnly && i === j) continue;
      sum += (gram[i * m + j] / d + 1) ** 3;
    }
  }
  return sum;
}

/** Unbiased MMD^2 between two m x d feature subsets (cubic polynomial kernel). */
export async function polynomialMmd2(
  x: Float32Array,
  y: Float32Array,
  m: number,
  d: number,
): Promise<number> {
  if (m < 2) throw new RangeError(`the unbiased MMD needs at least 2 samples per set, got ${m}`);
  const [gxx, gyy, gxy] = tf.tidy(() => {
    const tx = tf.tensor2d(x, [m, d]);
    const ty = tf.tensor2d(y, [m, d]);
    return [
      tf.matMul(tx, tx, false, true),
      tf.matMul(ty, ty, false, true),
      tf.matMul(tx, ty, false, true),
    ];
  });
  try {
    const [xx, yy, xy] = await Promise.all([gxx.data(), gyy.data(), gxy.data()]) as Float32Array[];
    const within = (kernelSum(xx, m, d, true) + kernelSum(yy, m, d, true)) / (m * (m - 1));
    return within - (2 * kernelSum(xy, m, d, false)) / (m * m);
  } finally {
    tf.dispose([gxx, gyy, gxy]);
  }
}

/** KID between two feature sets, with its standard deviation over subsets. */
export async function kernelInceptionDistance(
  a: FeatureRows,
  b: FeatureRows,
  rng: Rng,
  options: KidOptions = {},
): Promise<KidResult> {
  if (a.featureDim !== b.featureDim) {
    throw new RangeError(`feature sizes differ: ${a.featureDim} vs ${b.featureDim}`);
  }
  const subsets = options.subsets ?? 100;
  const m = Math.min(options.subsetSize ?? 1000, a.n, b.n);
  if (!Number.isInteger(subsets) || subsets < 1) {
    throw new RangeError(`subsets must be >= 1, got ${subsets}`);
  }
  const values: number[] = [];
  for (let s = 0; s < subsets; s++) {
    const x = gatherRows(a, sampleWithoutReplacement(a.n, m, rng));
    const y = gatherRows(b, sampleWithoutReplacement(b.n, m, rng));
    values.push(await polynomialMmd2(x, y, m, a.featureDim));
  }
  const mean = values.reduce((p, v) => p + v, 0) / subsets;
  const std = Math.sqrt(values.reduce((p, v) => p + (v - mean) ** 2, 0) / subsets);
  return { mean, std, subsets, subsetSize: m, nA: a.n, nB: b.n };
}
