/**
 * PNG files: encode, decode, atomic write, and image grids of a batch of samples.
 *
 * Pixels are 8-bit, row-major, interleaved channels (1 = grey, 3 = RGB, 4 = RGBA). Float image
 * batches are NHWC in [-1, 1], the data range of the DRL image models (DESIGN.md section 1).
 */
import { decode, encode } from "fast-png";
import { writeFileAtomic } from "./atomic.ts";
import { UserError } from "../errors.ts";
import { floatToByte } from "./pixels.ts";

export { floatToByte } from "./pixels.ts";

export type PngChannels = 1 | 3 | 4;

/** An 8-bit image: `pixels.length === width * height * channels`. */
export interface Image8 {
  pixels: Uint8Array;
  width: number;
  height: number;
  channels: PngChannels;
}

/** A float batch in NHWC layout, values in [-1, 1]. */
export interface FloatImageBatch {
  data: Float32Array;
  /** [n, height, width, channels], channels 1 or 3. */
  shape: readonly [number, number, number, number];
}

function checkImage(pixels: Uint8Array, width: number, height: number, channels: number): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`PNG size must be positive integers, got ${width}x${height}`);
  }
  if (channels !== 1 && channels !== 3 && channels !== 4) {
    throw new RangeError(`PNG channels must be 1, 3 or 4, got ${channels}`);
  }
  if (pixels.length !== width * height * channels) {
    throw new RangeError(
      `PNG pixel buffer has ${pixels.length} bytes, expected ${width}x${height}x${channels}`,
    );
  }
}

/** Encodes 8-bit pixels as PNG file bytes. */
export function encodePng(
  pixels: Uint8Array,
  width: number,
  height: number,
  channels: PngChannels,
): Uint8Array {
  checkImage(pixels, width, height, channels);
  return encode({ width, height, data: pixels, depth: 8, channels });
}

/**
 * Writes a PNG atomically: the bytes go to a temporary file in the same folder, which is then
 * renamed over the target, so a reader never sees a half-written picture (rename is atomic within
 * one file system, which is why the temporary file is not in /tmp).
 */
export async function writePng(
  path: string,
  pixels: Uint8Array,
  width: number,
  height: number,
  channels: PngChannels,
): Promise<void> {
  const bytes = encodePng(pixels, width, height, channels);
  await writeFileAtomic(path, bytes);
}

/** Unpacks 1/2/4-bit grey rows (each row starts on a byte) to 8-bit values 0..255. */
function unpackLowDepthGrey(
  data: ArrayLike<number>,
  width: number,
  height: number,
  depth: number,
): Uint8Array {
  const out = new Uint8Array(width * height);
  const bytesPerRow = Math.ceil((width * depth) / 8);
  const maxValue = (1 << depth) - 1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const bit = x * depth;
      const byte = data[y * bytesPerRow + (bit >> 3)];
      const value = (byte >> (8 - depth - (bit & 7))) & maxValue;
      out[y * width + x] = Math.round((value * 255) / maxValue);
    }
  }
  return out;
}

/**
 * Decodes PNG bytes to 8-bit pixels with 1, 3 or 4 channels: 16-bit samples keep their high byte,
 * palettes are expanded to RGB(A), grey + alpha becomes RGBA.
 */
export function decodePng(bytes: Uint8Array): Image8 {
  const png = decode(bytes);
  const { width, height } = png;
  if (png.palette) {
    const expanded = convertPalette(png.data, width, height, png.depth, png.palette);
    return { pixels: expanded.pixels, width, height, channels: expanded.channels };
  }
  let pixels: Uint8Array;
  if (png.depth === 16) {
    pixels = new Uint8Array(png.data.length);
    for (let i = 0; i < pixels.length; i++) pixels[i] = png.data[i] >> 8;
  } else if (png.depth < 8) {
    pixels = unpackLowDepthGrey(png.data, width, height, png.depth);
  } else {
    pixels = new Uint8Array(png.data);
  }
  if (png.channels === 2) {
    const rgba = new Uint8Array(width * height * 4);
    for (let i = 0; i < width * height; i++) {
      rgba[4 * i] = rgba[4 * i + 1] = rgba[4 * i + 2] = pixels[2 * i];
      rgba[4 * i + 3] = pixels[2 * i + 1];
    }
    return { pixels: rgba, width, height, channels: 4 };
  }
  return { pixels, width, height, channels: png.channels as PngChannels };
}

function convertPalette(
  data: ArrayLike<number>,
  width: number,
  height: number,
  depth: number,
  palette: number[][],
): { pixels: Uint8Array; channels: PngChannels } {
  const indices = depth === 8 ? data : unpackLowDepthGrey(data, width, height, depth);
  const scale = depth === 8 ? 1 : ((1 << depth) - 1) / 255;
  const channels = palette.some((c) => c.length === 4) ? 4 : 3;
  const pixels = new Uint8Array(width * height * channels);
  for (let i = 0; i < width * height; i++) {
    const entry = palette[Math.round(indices[i] * scale)] ?? [0, 0, 0, 255];
    for (let c = 0; c < channels; c++) pixels[i * channels + c] = entry[c] ?? 255;
  }
  return { pixels, channels };
}

/** Reads a PNG file; a missing or corrupt file is a UserError naming the path. */
export async function readPng(path: string): Promise<Image8> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) throw new UserError(`PNG file not found: ${path}`);
    throw err;
  }
  try {
    return decodePng(bytes);
  } catch (err) {
    throw new UserError(`${path} is not a readable PNG (${(err as Error).message})`);
  }
}

/** Converts a float NHWC batch in [-1, 1] to one 8-bit tile per image. */
export function floatBatchToTiles(batch: FloatImageBatch): Image8[] {
  const [n, height, width, channels] = batch.shape;
  if (channels !== 1 && channels !== 3 && channels !== 4) {
    throw new RangeError(`image batch channels must be 1, 3 or 4, got ${channels}`);
  }
  const size = height * width * channels;
  if (batch.data.length !== n * size) {
    throw new RangeError(
      `image batch has ${batch.data.length} values, expected ${batch.shape.join("x")}`,
    );
  }
  const tiles: Image8[] = [];
  for (let i = 0; i < n; i++) {
    const pixels = new Uint8Array(size);
    for (let j = 0; j < size; j++) pixels[j] = floatToByte(batch.data[i * size + j]);
    tiles.push({ pixels, width, height, channels });
  }
  return tiles;
}

/**
 * Lays out images as one RGB grid, row by row: tiles beyond rows*cols are left out, missing tiles
 * stay padding-coloured. Grey tiles are repeated over R, G, B; alpha is dropped. All tiles must
 * share one size. `pad` pixels go between tiles and around the border; `padValue` is their grey
 * level (default 0, black, as torchvision's make_grid).
 */
export function imageGrid(
  images: Image8[] | FloatImageBatch,
  rows: number,
  cols: number,
  pad = 2,
  padValue = 0,
): Image8 {
  const tiles = Array.isArray(images) ? images : floatBatchToTiles(images);
  if (tiles.length === 0) throw new RangeError("imageGrid needs at least one image");
  if (!(rows >= 1 && cols >= 1 && pad >= 0)) {
    throw new RangeError(`imageGrid needs rows, cols >= 1 and pad >= 0`);
  }
  const { width: tw, height: th } = tiles[0];
  const width = cols * tw + (cols + 1) * pad;
  const height = rows * th + (rows + 1) * pad;
  const out = new Uint8Array(width * height * 3).fill(padValue);
  const count = Math.min(tiles.length, rows * cols);
  for (let k = 0; k < count; k++) {
    const tile = tiles[k];
    if (tile.width !== tw || tile.height !== th) {
      throw new RangeError(
        `imageGrid tiles differ in size: ${tw}x${th} and ${tile.width}x${tile.height}`,
      );
    }
    checkImage(tile.pixels, tile.width, tile.height, tile.channels);
    const x0 = pad + (k % cols) * (tw + pad);
    const y0 = pad + Math.floor(k / cols) * (th + pad);
    const ch = tile.channels;
    for (let y = 0; y < th; y++) {
      for (let x = 0; x < tw; x++) {
        const src = (y * tw + x) * ch;
        const dst = ((y0 + y) * width + x0 + x) * 3;
        if (ch === 1) {
          out[dst] = out[dst + 1] = out[dst + 2] = tile.pixels[src];
        } else {
          out[dst] = tile.pixels[src];
          out[dst + 1] = tile.pixels[src + 1];
          out[dst + 2] = tile.pixels[src + 2];
        }
      }
    }
  }
  return { pixels: out, width, height, channels: 3 };
}
