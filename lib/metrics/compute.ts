/**
 * The image metrics of a set of features: FID against reference statistics (Heusel et al. 2017),
 * the Inception Score over 10 splits (Salimans et al. 2016) with the share of each class, and KID
 * over subsets (Binkowski et al. 2018).
 */
import { UserError } from "../errors.ts";
import { Rng } from "../rng.ts";
import { type FeatureSet, featureStats } from "./features.ts";
import { frechetDistanceParts } from "./frechet.ts";
import { inceptionScore, softmaxRows } from "./inception_score.ts";
import { type FeatureRows, kernelInceptionDistance, type KidOptions } from "./kid.ts";
import type { FidStats } from "./npz.ts";

export const IMAGE_METRICS = ["fid", "is", "kid"] as const;
export type ImageMetric = typeof IMAGE_METRICS[number];

/** Subsets of the Inception Score, as the reference implementation. */
export const IS_SPLITS = 10;

/** What FID and KID compare against: the reference's Gaussian fit and feature rows. */
export interface ReferenceStats {
  stats: FidStats;
  /** Feature rows (the first images of the split) for KID. */
  kidRows: FeatureRows;
  n: number;
}

export interface MetricValue {
  name: ImageMetric;
  value: number;
  n: number;
  details: Record<string, unknown>;
}

export interface ComputeOptions {
  metrics: readonly ImageMetric[];
  samples: FeatureSet;
  /** Needed for FID and KID. */
  reference?: ReferenceStats;
  /** Seeds KID's subset draws. */
  seed: number;
  kid?: KidOptions;
}

/**
 * The share of the images the classifier assigns to each class (its argmax), in class order: how
 * evenly a model covers the classes (a mode-dropping model leaves some near 0).
 */
export function classShares(logits: Float32Array, n: number, classes: number): number[] {
  const counts = new Array(classes).fill(0);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let c = 1; c < classes; c++) {
      if (logits[i * classes + c] > logits[i * classes + best]) best = c;
    }
    counts[best]++;
  }
  return counts.map((c) => c / n);
}

/** FID, IS and KID of sample features (against the reference where the metric needs one). */
export async function computeMetrics(opts: ComputeOptions): Promise<MetricValue[]> {
  const { samples, reference } = opts;
  const out: MetricValue[] = [];
  const needRef = () => {
    if (!reference) throw new Error("FID and KID need reference features");
    if (reference.stats.features !== samples.extractor) {
      throw new UserError(
        `reference features are ${reference.stats.features}, samples ${samples.extractor}`,
      );
    }
    return reference;
  };
  for (const name of opts.metrics) {
    if (name === "fid") {
      const ref = needRef();
      const parts = frechetDistanceParts(featureStats(samples), ref.stats);
      out.push({
        name,
        value: parts.distance,
        n: samples.n,
        details: { n_ref: ref.n, mean_term: parts.meanTerm, covariance_term: parts.covarianceTerm },
      });
    } else if (name === "is") {
      if (!samples.logits || !samples.logitsDim) {
        throw new UserError(`${samples.extractor} has no classifier head, so no Inception Score`);
      }
      const k = samples.logitsDim;
      const r = inceptionScore(softmaxRows(samples.logits, samples.n, k), samples.n, k, IS_SPLITS);
      out.push({
        name,
        value: r.mean,
        n: samples.n,
        details: {
          std: r.std,
          splits: r.splits,
          classes: k,
          class_shares: classShares(samples.logits, samples.n, k),
        },
      });
    } else {
      const ref = needRef();
      const r = await kernelInceptionDistance(
        samples,
        ref.kidRows,
        new Rng(opts.seed),
        opts.kid,
      );
      out.push({
        name,
        value: r.mean,
        n: samples.n,
        details: {
          std: r.std,
          subsets: r.subsets,
          subset_size: r.subsetSize,
          n_ref: ref.n,
          n_ref_rows: ref.kidRows.n,
        },
      });
    }
  }
  return out;
}
