/** Small readback helpers that leave no tensors behind. */
import * as tf from "@tensorflow/tfjs";

/** The mean of a tensor, read back as a number (async: WebGPU cannot read synchronously). */
export async function meanOf(x: tf.Tensor): Promise<number> {
  const m = tf.mean(x);
  const v = (await m.data())[0];
  m.dispose();
  return v;
}

/** A tensor's values as a Float32Array copy. */
export async function valuesOf(x: tf.Tensor): Promise<Float32Array> {
  return Float32Array.from(await x.data());
}
