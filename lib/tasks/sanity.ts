/**
 * Sanity rows for an FID feature extractor, after the disturbance checks of Heusel et al. 2017
 * (Appendix, Fig. A1 ff.): the FID between the training split and
 *   - the test split (should be small: same distribution),
 *   - the first n training images themselves (baseline: a subset of the reference),
 *   - those images blurred by a Gaussian kernel of growing standard deviation sigma,
 *   - those images mixed with Gaussian noise, (1 - alpha) x + alpha N, for growing alpha,
 *   - pure Gaussian noise images N (alpha = 1; should be large),
 * where N is standard normal noise clipped to the data range [-1, 1]. The blur and noise rows must
 * grow monotonically with the disturbance level for the features to be worth using.
 */
import * as tf from "@tensorflow/tfjs";
import type { ImageDataset } from "../data/images/mod.ts";
import type { EvaluationRow } from "../db/mod.ts";
import { Rng } from "../rng.ts";
import type { ProgressFn, ReferenceFeatures } from "./eval.ts";
import {
  extractFeatures,
  type FeatureExtractor,
  featureStats,
  type ImageSource,
} from "../metrics/features.ts";
import { frechetDistanceParts } from "../metrics/frechet.ts";
import { datasetImageSource } from "../metrics/image_sources.ts";

/** Blur standard deviations in pixels (the FID paper used 0, 1, 2, 4 on larger images). */
export const DEFAULT_BLUR_SIGMAS = [0.5, 1, 2, 4];
/** Noise mixing weights alpha (the FID paper used 0, 0.25, 0.5, 0.75). */
export const DEFAULT_NOISE_ALPHAS = [0.1, 0.25, 0.5, 0.75];

export type Disturbance = "test_split" | "none" | "blur" | "noise" | "noise_images";

export interface SanityRow {
  /** Evaluation name in the database, e.g. "fid_blur_2". */
  key: `fid_${string}`;
  /** Human description of the compared set. */
  comparison: string;
  disturbance: Disturbance;
  /** sigma for blur, alpha for noise, null otherwise. */
  level: number | null;
  fid: number;
  meanTerm: number;
  covarianceTerm: number;
  n: number;
  nRef: number;
  /** Seconds to read, disturb and extract the row's images. */
  seconds: number;
}

/** Normalised 1D Gaussian weights over [-r, r], r = ceil(3 sigma) capped below `maxRadius`. */
export function gaussianKernel1d(sigma: number, maxRadius: number): Float32Array {
  if (!(sigma > 0)) throw new RangeError(`blur sigma must be positive, got ${sigma}`);
  const r = Math.max(1, Math.min(Math.ceil(3 * sigma), maxRadius));
  const w = new Float32Array(2 * r + 1);
  let sum = 0;
  for (let i = -r; i <= r; i++) sum += w[i + r] = Math.exp(-(i * i) / (2 * sigma * sigma));
  return w.map((v) => v / sum);
}

/**
 * Gaussian blur of NHWC images, separable (rows then columns) and per channel, with reflected
 * borders so that the image edge is not darkened or lightened by padding.
 */
export function gaussianBlur(x: tf.Tensor4D, sigma: number): tf.Tensor4D {
  const [, h, w, c] = x.shape;
  const k = gaussianKernel1d(sigma, Math.min(h, w) - 1);
  const r = (k.length - 1) / 2;
  return tf.tidy(() => {
    const kt = tf.tensor1d(k);
    const fy = tf.tile(tf.reshape(kt, [k.length, 1, 1, 1]), [1, 1, c, 1]) as tf.Tensor4D;
    const fx = tf.tile(tf.reshape(kt, [1, k.length, 1, 1]), [1, 1, c, 1]) as tf.Tensor4D;
    const padded = tf.mirrorPad(x, [[0, 0], [r, r], [r, r], [0, 0]], "reflect");
    const rows = tf.depthwiseConv2d(padded, fy, 1, "valid");
    return tf.depthwiseConv2d(rows, fx, 1, "valid");
  });
}

/** Standard normal noise clipped to the data range [-1, 1]. */
export function noiseImages(shape: [number, number, number, number], rng: Rng): tf.Tensor4D {
  return tf.tidy(() => tf.clipByValue(rng.normal(shape), -1, 1) as tf.Tensor4D);
}

/** (1 - alpha) x + alpha N, N clipped standard normal noise (Heusel et al. 2017, Appendix). */
export function mixNoise(x: tf.Tensor4D, alpha: number, rng: Rng): tf.Tensor4D {
  return tf.tidy(() => {
    const n = noiseImages(x.shape, rng);
    return tf.add(tf.mul(x, 1 - alpha), tf.mul(n, alpha)) as tf.Tensor4D;
  });
}

/** A source whose batches go through `disturb` (which must not keep its input). */
export function disturbedSource(
  base: ImageSource,
  disturb: (x: tf.Tensor4D) => tf.Tensor4D,
): ImageSource {
  return {
    count: base.count,
    batch: async (start, end) => {
      const x = await base.batch(start, end);
      try {
        return disturb(x);
      } finally {
        x.dispose();
      }
    },
  };
}

export interface SanityOptions {
  extractor: FeatureExtractor;
  /** Statistics of the training split (see referenceFeatures). */
  reference: ReferenceFeatures;
  train: ImageDataset;
  test: ImageDataset;
  /** Images per row: the first n of each split. */
  n: number;
  seed: number;
  batchSize: number;
  blurSigmas?: readonly number[];
  noiseAlphas?: readonly number[];
  onProgress?: ProgressFn;
  /** Called as each row is done. */
  onRow?: (row: SanityRow) => void;
}

interface RowSpec {
  key: `fid_${string}`;
  comparison: string;
  disturbance: Disturbance;
  level: number | null;
  source: ImageSource;
}

/** Computes every sanity row; each row's noise comes from its own seeded stream. */
export async function sanityRows(opts: SanityOptions): Promise<SanityRow[]> {
  const { train, test, n } = opts;
  const nTrain = Math.min(n, train.count);
  const trainSet = () => datasetImageSource(train, nTrain);
  const { height: h, width: w, channels: c } = train;
  const streams = new Rng(opts.seed);
  const specs: RowSpec[] = [
    {
      key: "fid_test_split",
      comparison: `test split (first ${Math.min(n, test.count)})`,
      disturbance: "test_split",
      level: null,
      source: datasetImageSource(test, n),
    },
    {
      key: "fid_train_subset",
      comparison: `training split (first ${nTrain}), undisturbed`,
      disturbance: "none",
      level: null,
      source: trainSet(),
    },
  ];
  for (const sigma of opts.blurSigmas ?? DEFAULT_BLUR_SIGMAS) {
    specs.push({
      key: `fid_blur_${sigma}`,
      comparison: `training split, Gaussian blur sigma ${sigma}`,
      disturbance: "blur",
      level: sigma,
      source: disturbedSource(trainSet(), (x) => gaussianBlur(x, sigma)),
    });
  }
  for (const alpha of opts.noiseAlphas ?? DEFAULT_NOISE_ALPHAS) {
    const rng = new Rng(streams.nextSeed());
    specs.push({
      key: `fid_noise_${alpha}`,
      comparison: `training split, Gaussian noise alpha ${alpha}`,
      disturbance: "noise",
      level: alpha,
      source: disturbedSource(trainSet(), (x) => mixNoise(x, alpha, rng)),
    });
  }
  const noiseRng = new Rng(streams.nextSeed());
  specs.push({
    key: "fid_noise_images",
    comparison: "Gaussian noise images",
    disturbance: "noise_images",
    level: null,
    source: {
      count: n,
      batch: (start, end) => Promise.resolve(noiseImages([end - start, h, w, c], noiseRng)),
    },
  });

  const rows: SanityRow[] = [];
  for (const spec of specs) {
    const t0 = performance.now();
    const set = await extractFeatures(opts.extractor, spec.source, {
      batchSize: opts.batchSize,
      onProgress: (done, total) => opts.onProgress?.(spec.key, done, total),
    });
    const seconds = (performance.now() - t0) / 1000;
    const parts = frechetDistanceParts(featureStats(set), opts.reference.stats);
    const row: SanityRow = {
      key: spec.key,
      comparison: spec.comparison,
      disturbance: spec.disturbance,
      level: spec.level,
      fid: parts.distance,
      meanTerm: parts.meanTerm,
      covarianceTerm: parts.covarianceTerm,
      n: set.n,
      nRef: opts.reference.n,
      seconds,
    };
    rows.push(row);
    opts.onRow?.(row);
  }
  return rows;
}

/** Whether the rows of one disturbance grow strictly with their level (after the baseline). */
export function increasesWithLevel(
  rows: readonly SanityRow[],
  disturbance: "blur" | "noise",
): boolean {
  const base = rows.find((r) => r.disturbance === "none");
  const seq = rows.filter((r) => r.disturbance === disturbance).sort((a, b) => a.level! - b.level!);
  const values = [...(base ? [base.fid] : []), ...seq.map((r) => r.fid)];
  return values.every((v, i) => i === 0 || v > values[i - 1]);
}

/** The rows as a markdown table. */
export function sanityMarkdown(rows: readonly SanityRow[], featuresName: string): string {
  const lines = [
    `| compared with the training split (${featuresName}) | n | FID |`,
    "| --- | ---: | ---: |",
  ];
  for (const r of rows) lines.push(`| ${r.comparison} | ${r.n} | ${formatFid(r.fid)} |`);
  return lines.join("\n");
}

function formatFid(v: number): string {
  return Math.abs(v) >= 100 ? v.toFixed(1) : Math.abs(v) >= 1 ? v.toFixed(3) : v.toPrecision(3);
}

/** Database rows for a sanity run. */
export function sanityEvaluations(
  runId: number,
  rows: readonly SanityRow[],
  features: string,
): EvaluationRow[] {
  return rows.map((r) => ({
    runId,
    name: r.key,
    value: r.fid,
    n: r.n,
    features,
    details: {
      metric: "fid",
      comparison: r.comparison,
      disturbance: r.disturbance,
      level: r.level,
      n_ref: r.nRef,
      mean_term: r.meanTerm,
      covariance_term: r.covarianceTerm,
      seconds: r.seconds,
    },
  }));
}
