/** Turning image batches into tfjs tensors (kept apart so readers and `deno task data` load no tfjs). */
import * as tf from "@tensorflow/tfjs";
import type { ImageBatch } from "./types.ts";

/** The batch as an NHWC float32 tensor in [-1, 1]; the caller owns (and disposes) it. */
export function toTensor(batch: ImageBatch): tf.Tensor4D {
  return tf.tensor4d(batch.x, batch.shape, "float32");
}
