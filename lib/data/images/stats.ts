/** Pixel statistics of a dataset split over its raw 0-255 pixels (for `deno task data --stats`). */
import type { ImageDataset } from "./types.ts";

export interface DatasetStats {
  dataset: string;
  split: string;
  /** Examples the statistics cover (all, or the first `limit`). */
  count: number;
  /** One example's shape: [height, width, channels]. */
  shape: [number, number, number];
  min: number;
  max: number;
  /** Per channel, over the raw 0-255 pixels. */
  mean: number[];
  /** Per channel population standard deviation, over the raw 0-255 pixels. */
  std: number[];
  /** Examples per class (index = class), when the format has labels; else null. */
  labels: number[] | null;
}

/**
 * Exact statistics of the first `limit` examples (all by default). Sums of pixels and of their
 * squares are integers below 2^53 for any realistic set (60k * 784 * 255^2 ~ 3e12), so the
 * variance E[p^2] - E[p]^2 loses nothing to accumulation.
 */
export function datasetStats(
  ds: ImageDataset,
  limit = Infinity,
  onProgress?: (done: number, total: number) => void,
): DatasetStats {
  const count = Math.min(ds.count, limit);
  const c = ds.channels;
  const sum = new Array<number>(c).fill(0);
  const sumSq = new Array<number>(c).fill(0);
  let min = 255;
  let max = 0;
  for (let i = 0; i < count; i++) {
    const px = ds.get(i);
    for (let k = 0; k < c; k++) {
      let s = 0;
      let s2 = 0;
      for (let q = k; q < px.length; q += c) {
        const v = px[q];
        s += v;
        s2 += v * v;
        if (v < min) min = v;
        if (v > max) max = v;
      }
      sum[k] += s;
      sumSq[k] += s2;
    }
    if (onProgress && (i + 1) % 1000 === 0) onProgress(i + 1, count);
  }
  const n = count * ds.height * ds.width;
  const mean = sum.map((s) => s / n);
  const std = sumSq.map((s2, k) => Math.sqrt(Math.max(0, s2 / n - mean[k] * mean[k])));
  let labels: number[] | null = null;
  if (ds.labels) {
    labels = new Array<number>(ds.numClasses).fill(0);
    for (let i = 0; i < count; i++) labels[ds.labels[i]]++;
  }
  return {
    dataset: ds.name,
    split: ds.split,
    count,
    shape: [ds.height, ds.width, ds.channels],
    min: count > 0 ? min : 0,
    max: count > 0 ? max : 0,
    mean,
    std,
    labels,
  };
}
