/**
 * The common shape of every image reader, and the batch stream the trainer consumes.
 *
 * A reader gives raw uint8 HWC pixels one example at a time (`get(i)`). Small sets (MNIST,
 * Fashion-MNIST, CIFAR-10) keep their files in memory as uint8; large ones (CelebA, LSUN) decode
 * lazily, so a batch costs only its own decoding.
 */
import type { Rng } from "../../rng.ts";

export interface ImageDataset {
  /** Dataset name as on the command line, e.g. "cifar10". */
  readonly name: string;
  readonly split: string;
  readonly count: number;
  readonly height: number;
  readonly width: number;
  readonly channels: 1 | 3;
  /** Class index per example, when the format has labels; null otherwise. */
  readonly labels: Uint8Array | null;
  /** Number of classes when labelled (e.g. 10), else 0. */
  readonly numClasses: number;
  /**
   * Raw uint8 pixels of example i, HWC order, length height * width * channels. May be a view into
   * the reader's buffer (MNIST): treat it as read-only.
   */
  get(i: number): Uint8Array;
  /** Releases files or mappings held open (LSUN); safe to call twice. */
  close(): void;
}

export interface BatchOptions {
  batchSize: number;
  /** Source of the order and the flips; each epoch draws one JsRandom from it. */
  rng: Rng;
  /** Random horizontal flips with probability 1/2 (official DRL setup for CIFAR-10, CelebA, LSUN). */
  flip?: boolean;
  /** Visit examples in a random order per epoch (default true); false keeps file order. */
  shuffle?: boolean;
  /** Number of passes; Infinity gives an endless stream (default 1). */
  epochs?: number;
  /** Drop a final batch shorter than batchSize (default false; an endless stream never has one). */
  dropLast?: boolean;
  /**
   * Batches to skip before yielding, without decoding them: a resumed run passes the number of
   * batches it already consumed and, with the same rng seed, continues the same stream.
   */
  skipBatches?: number;
}

export interface ImageBatch {
  /** NHWC float32 pixels in [-1, 1]: x = p / 127.5 - 1. */
  x: Float32Array;
  shape: [number, number, number, number];
  /** Labels of the batch's examples, when the dataset has labels. */
  labels: Uint8Array | null;
  /** Dataset index of each example. */
  indices: Int32Array;
  /** 1 where the example was flipped horizontally. */
  flipped: Uint8Array;
}

/** Scales raw 0..255 pixels to [-1, 1] (the data range of the DRL paper). */
export function scalePixel(p: number): number {
  return p / 127.5 - 1;
}

/**
 * Writes example `pixels` (HWC uint8) into `out` at `offset`, scaled to [-1, 1], mirrored left to
 * right when `flip`.
 */
export function writeScaled(
  pixels: Uint8Array,
  h: number,
  w: number,
  c: number,
  flip: boolean,
  out: Float32Array,
  offset: number,
): void {
  for (let y = 0; y < h; y++) {
    const row = y * w * c;
    for (let x = 0; x < w; x++) {
      const src = row + (flip ? w - 1 - x : x) * c;
      const dst = offset + row + x * c;
      for (let k = 0; k < c; k++) out[dst + k] = pixels[src + k] / 127.5 - 1;
    }
  }
}

interface EpochPlan {
  order: Int32Array;
  flips: Uint8Array;
}

function planEpoch(count: number, rng: Rng, shuffle: boolean, flip: boolean): EpochPlan {
  const js = rng.js();
  let order: Int32Array;
  if (shuffle) {
    order = js.permutation(count);
  } else {
    order = new Int32Array(count);
    for (let i = 0; i < count; i++) order[i] = i;
  }
  const flips = new Uint8Array(count);
  if (flip) { for (let i = 0; i < count; i++) flips[i] = js.float() < 0.5 ? 1 : 0; }
  return { order, flips };
}

/**
 * Streams NHWC float32 batches in [-1, 1] in a seeded order. The order is the concatenation of one
 * permutation per epoch, cut into consecutive batches (so with `epochs: Infinity` every batch is
 * full and crosses epoch boundaries); the same rng seed gives the same batches and flips.
 */
export function* batches(ds: ImageDataset, opts: BatchOptions): Generator<ImageBatch> {
  const { batchSize } = opts;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
  }
  if (ds.count === 0) throw new RangeError(`dataset ${ds.name}/${ds.split} is empty`);
  const epochs = opts.epochs ?? 1;
  const shuffle = opts.shuffle ?? true;
  const flip = opts.flip ?? false;
  const total = epochs === Infinity ? Infinity : epochs * ds.count;
  const { height: h, width: w, channels: c } = ds;
  const size = h * w * c;

  let plan = planEpoch(ds.count, opts.rng, shuffle, flip);
  let epochStart = 0; // stream position of plan.order[0]
  let position = 0;
  /** Moves `position` forward by n examples, planning new epochs as it crosses them. */
  const advance = (n: number, visit?: (index: number, flipped: boolean, slot: number) => void) => {
    for (let slot = 0; slot < n; slot++) {
      if (position - epochStart === ds.count) {
        plan = planEpoch(ds.count, opts.rng, shuffle, flip);
        epochStart = position;
      }
      const k = position - epochStart;
      visit?.(plan.order[k], plan.flips[k] === 1, slot);
      position++;
    }
  };

  const skip = opts.skipBatches ?? 0;
  for (let b = 0; b < skip && position < total; b++) {
    advance(Math.min(batchSize, total - position));
  }
  while (position < total) {
    const n = Math.min(batchSize, total - position);
    if (n < batchSize && opts.dropLast) return;
    const x = new Float32Array(n * size);
    const indices = new Int32Array(n);
    const flipped = new Uint8Array(n);
    const labels = ds.labels ? new Uint8Array(n) : null;
    advance(n, (index, doFlip, slot) => {
      writeScaled(ds.get(index), h, w, c, doFlip, x, slot * size);
      indices[slot] = index;
      flipped[slot] = doFlip ? 1 : 0;
      if (labels) labels[slot] = ds.labels![index];
    });
    yield { x, shape: [n, h, w, c], labels, indices, flipped };
  }
}
