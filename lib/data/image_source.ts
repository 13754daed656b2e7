/** Training batches from the real image readers (lib/data/images), resumable at any step. */
import type { TrainConfig } from "../config.ts";
import { UserError } from "../errors.ts";
import { Rng } from "../rng.ts";
import { batches, openImageDataset, toTensor } from "./images/mod.ts";
import type { DataSource } from "./source.ts";

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
