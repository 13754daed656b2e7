/**
 * Where training batches come from: one interface for the 2D densities (fresh draws) and the
 * image sets (the real readers of lib/data/images, resumable at any step).
 */
import * as tf from "@tensorflow/tfjs";
import type { TrainConfig } from "../config.ts";
import { UserError } from "../errors.ts";
import { Rng } from "../rng.ts";
import { batches, openImageDataset, toTensor } from "./images/mod.ts";
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

/**
 * An endless shuffled stream of the training split. It has its own seeded stream (not the
 * training RNG), so a resumed run skips the batches it consumed and sees the same data after.
 */
export async function imageSource(config: TrainConfig, startStep: number): Promise<DataSource> {
  if (config.net.kind !== "resnet") throw new UserError(`${config.preset}: images need a ResNet`);
  const ds = await openImageDataset(config.dataset, { data: config.data.path ?? undefined });
  const { imageSize, channels } = config.net;
  if (ds.height !== imageSize || ds.width !== imageSize || ds.channels !== channels) {
    ds.close();
    throw new UserError(
      `${config.dataset} images are ${ds.height}x${ds.width}x${ds.channels}, the network expects ` +
        `${imageSize}x${imageSize}x${channels}`,
    );
  }
  const stream = batches(ds, {
    batchSize: config.train.batch,
    rng: new Rng((config.seed ^ 0x0da7a5e7) >>> 0),
    flip: config.data.flip,
    epochs: Infinity,
    skipBatches: startStep,
  });
  return {
    exampleShape: [imageSize, imageSize, channels],
    next: (batch) => {
      const b = stream.next();
      if (b.done || b.value.shape[0] !== batch) throw new Error("image stream ended unexpectedly");
      return Promise.resolve(toTensor(b.value));
    },
    close: () => ds.close(),
  };
}

/** The training stream for a config; `startStep` batches were already consumed (resume). */
export async function dataSourceFor(config: TrainConfig, startStep: number): Promise<DataSource> {
  if (config.task === "toy2d") return toy2dSource(config.dataset);
  return await imageSource(config, startStep);
}
