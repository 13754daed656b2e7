/** Where training batches come from: one interface for the 2D densities and the image sets. */
import * as tf from "@tensorflow/tfjs";
import type { TrainConfig } from "../config.ts";
import { imageSource } from "./image_source.ts";
import type { Rng } from "../rng.ts";
import { getToy2d } from "./toy2d.ts";

export interface DataSource {
  /** Shape of one example (e.g. [2] or [32, 32, 3]). */
  readonly exampleShape: number[];
  /** A training batch, values as the model sees them (images in [-1, 1]); toy data draws from `rng`. */
  next(batch: number, rng: Rng): Promise<tf.Tensor>;
  close?(): void;
}

/** Fresh samples of a 2D density for every batch (infinite data, seeded). */
export function toy2dSource(dataset: string): DataSource {
  const ds = getToy2d(dataset);
  return {
    exampleShape: [2],
    next: (batch, rng) => Promise.resolve(tf.tensor2d(ds.sample(batch, rng), [batch, 2])),
  };
}

/** The training stream for a config; `startStep` batches were already consumed (resume). */
export async function dataSourceFor(config: TrainConfig, startStep: number): Promise<DataSource> {
  if (config.task === "toy2d") return toy2dSource(config.dataset);
  return await imageSource(config, startStep);
}
