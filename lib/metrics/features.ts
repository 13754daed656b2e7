/**
 * Pluggable feature extractors for the image metrics (FID, KID on `pool` features; IS on `logits`),
 * and a helper that streams many images through one in batches.
 */
import type * as tf from "@tensorflow/tfjs";
import { meanAndCovariance } from "./linalg.ts";
import type { FidStats } from "./npz.ts";

export interface FeatureOutput {
  /** n x featureDim, row-major. */
  pool: Float32Array;
  /** n x logitsDim class logits, when the extractor has a classifier head. */
  logits?: Float32Array;
}

export interface FeatureExtractor {
  /** Stored with every metric, so numbers from different extractors are never compared. */
  readonly name: string;
  readonly featureDim: number;
  /** Number of classes of `logits`; absent when the extractor has no classifier head. */
  readonly logitsDim?: number;
  /** Images NHWC float32 in [-1, 1] (1 or 3 channels). The batch stays the caller's. */
  features(batch: tf.Tensor4D): Promise<FeatureOutput>;
  dispose(): void;
}

/** A source of images, read in slices so that large sets never sit in memory as one tensor. */
export interface ImageSource {
  readonly count: number;
  /** Images [start, end) as NHWC float32 in [-1, 1]; the caller disposes the tensor. */
  batch(start: number, end: number): Promise<tf.Tensor4D>;
}

/** Feature rows of a whole image set, with what produced them. */
export interface FeatureSet extends FeatureOutput {
  extractor: string;
  n: number;
  featureDim: number;
  logitsDim?: number;
}

export interface ExtractOptions {
  /** Images per forward pass (default 50, as the reference TTUR code). */
  batchSize?: number;
  /** Called after every batch with the number of images done so far. */
  onProgress?: (done: number, total: number) => void;
}

/** Runs every image of `source` through `extractor` and collects the features. */
export async function extractFeatures(
  extractor: FeatureExtractor,
  source: ImageSource,
  options: ExtractOptions = {},
): Promise<FeatureSet> {
  const batchSize = options.batchSize ?? 50;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new RangeError(`batch size must be >= 1, got ${batchSize}`);
  }
  const n = source.count;
  const pool = new Float32Array(n * extractor.featureDim);
  const logits = extractor.logitsDim ? new Float32Array(n * extractor.logitsDim) : undefined;
  for (let start = 0; start < n; start += batchSize) {
    const end = Math.min(start + batchSize, n);
    const images = await source.batch(start, end);
    let out: FeatureOutput;
    try {
      out = await extractor.features(images);
    } finally {
      images.dispose();
    }
    if (out.pool.length !== (end - start) * extractor.featureDim) {
      throw new Error(
        `${extractor.name} returned ${out.pool.length} features for ${end - start} images`,
      );
    }
    pool.set(out.pool, start * extractor.featureDim);
    if (logits && out.logits) logits.set(out.logits, start * extractor.logitsDim!);
    options.onProgress?.(end, n);
  }
  return {
    extractor: extractor.name,
    n,
    featureDim: extractor.featureDim,
    logitsDim: extractor.logitsDim,
    pool,
    logits,
  };
}

/** FID statistics (mean, unbiased covariance) of a feature set, labelled with n and the extractor. */
export function featureStats(set: FeatureSet): FidStats {
  const { mu, sigma } = meanAndCovariance(set.pool, set.n, set.featureDim);
  return { mu, sigma, n: set.n, features: set.extractor };
}
