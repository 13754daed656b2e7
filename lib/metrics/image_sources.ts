/**
 * Image sets for the metrics: a folder of PNG files (what `deno task fid DIR ...` reads, as TTUR and
 * pytorch-fid read folders), and an adapter from any ImageDataset reader to the ImageSource that
 * extractFeatures streams.
 */
import * as tf from "@tensorflow/tfjs";
import { UserError } from "../errors.ts";
import { type ImageDataset, writeScaled } from "../data/images/types.ts";
import { decodePng } from "../io/png.ts";
import type { ImageSource } from "./features.ts";

/** The first `limit` images of a dataset (default all), in file order, as NHWC in [-1, 1]. */
export function datasetImageSource(ds: ImageDataset, limit = ds.count): ImageSource {
  const count = Math.min(limit, ds.count);
  const { height: h, width: w, channels: c } = ds;
  return {
    count,
    batch: (start, end) => {
      const size = h * w * c;
      const x = new Float32Array((end - start) * size);
      for (let i = start; i < end; i++) {
        writeScaled(ds.get(i), h, w, c, false, x, (i - start) * size);
      }
      return Promise.resolve(tf.tensor4d(x, [end - start, h, w, c]));
    },
  };
}

/** 8-bit pixels with 1, 3 or 4 channels to `channels` (alpha dropped, grey repeated over RGB). */
function convertChannels(pixels: Uint8Array, from: number, to: 1 | 3, where: string): Uint8Array {
  if (from === to) return pixels;
  const n = pixels.length / from;
  if (to === 1) throw new UserError(`${where} is a colour image in a folder of grey images`);
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < 3; k++) out[3 * i + k] = pixels[from * i + (from === 1 ? 0 : k)];
  }
  return out;
}

/**
 * The PNG files of a folder (sorted by name) as an ImageDataset. Size and channels come from the
 * first file: grey folders stay one channel, everything else becomes RGB (alpha is dropped); every
 * file must have the first file's size.
 */
export function pngFolderDataset(dir: string): ImageDataset {
  let names: string[];
  try {
    names = [...Deno.readDirSync(dir)].filter((e) => e.isFile && /\.png$/i.test(e.name)).map((e) =>
      e.name
    );
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) throw new UserError(`folder not found: ${dir}`);
    if (err instanceof Deno.errors.NotADirectory) {
      throw new UserError(`${dir} is neither a folder nor an .npz file`);
    }
    throw err;
  }
  names.sort();
  if (names.length === 0) throw new UserError(`${dir} holds no .png files`);
  const path = (i: number) => `${dir.replace(/\/+$/, "")}/${names[i]}`;
  const read = (i: number) => {
    try {
      return decodePng(Deno.readFileSync(path(i)));
    } catch (err) {
      throw new UserError(
        `${path(i)} is not a readable PNG (${(err as Error).message.split("\n")[0]})`,
      );
    }
  };
  const first = read(0);
  const channels: 1 | 3 = first.channels === 1 ? 1 : 3;
  return {
    name: dir,
    split: "folder",
    count: names.length,
    height: first.height,
    width: first.width,
    channels,
    labels: null,
    numClasses: 0,
    get: (i) => {
      const img = i === 0 ? first : read(i);
      if (img.width !== first.width || img.height !== first.height) {
        throw new UserError(
          `${path(i)} is ${img.width}x${img.height}, but ${
            path(0)
          } is ${first.width}x${first.height}; ` +
            "all images of a folder must have one size",
        );
      }
      return convertChannels(img.pixels, img.channels, channels, path(i));
    },
    close: () => {},
  };
}
