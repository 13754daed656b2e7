/** Small read-back helpers (and timing by read-back) that leave no tensors behind. */
import * as tf from "@tensorflow/tfjs";

/** A per-example [B] tensor reshaped to [B, 1, ..., 1] of `rank` dimensions, to broadcast. */
export function appendDims(x: tf.Tensor, rank: number): tf.Tensor {
  return tf.reshape(x, [x.shape[0], ...Array(rank - 1).fill(1)]);
}

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

/** Reads one element of `x` back: enough to wait for every kernel that produced it. */
export async function readOne(x: tf.Tensor): Promise<void> {
  const one = tf.tidy(() => tf.slice(tf.reshape(x, [-1]), 0, 1));
  await one.data();
  one.dispose();
}

/** Median wall time in ms of `reps` calls of `run`, after one untimed warm-up call. */
export async function medianRunMs(run: () => Promise<void>, reps: number): Promise<number> {
  await run();
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await run();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

/**
 * medianRunMs of a tensor-returning `run`, each call ending with a one-value read-back so the
 * device work is inside the timing (the warm-up call also compiles shaders).
 */
export function medianMs(run: () => tf.Tensor, reps: number): Promise<number> {
  return medianRunMs(async () => {
    const out = run();
    await readOne(out);
    out.dispose();
  }, reps);
}
