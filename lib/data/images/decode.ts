/**
 * Decoding JPEG (jpeg-js) and WebP (@jsquash/webp's libwebp wasm) into RGB HWC uint8, the format
 * sniffed from the magic bytes (LSUN's official export stores WebP; other dumps store JPEG).
 *
 * The WebP decoder is an Emscripten module that loads its wasm asynchronously; `loadWebpDecoder`
 * awaits it once, after which decoding is synchronous, so readers keep a synchronous `get(i)`.
 */
import jpeg from "jpeg-js";
import webpModuleFactory from "@jsquash/webp/codec/dec/webp_dec.js";
import { UserError } from "../../errors.ts";

export type ImageFormat = "jpeg" | "webp";

export interface RgbImage {
  width: number;
  height: number;
  /** RGB, HWC, length width * height * 3. */
  pixels: Uint8Array;
}

/** "jpeg" (FF D8 FF), "webp" ("RIFF" .... "WEBP"), or null for anything else. */
export function sniffImageFormat(bytes: Uint8Array): ImageFormat | null {
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) {
    return "jpeg";
  }
  const ascii = (from: number, to: number) => String.fromCharCode(...bytes.subarray(from, to));
  if (bytes.length >= 12 && ascii(0, 4) === "RIFF" && ascii(8, 12) === "WEBP") return "webp";
  return null;
}

interface WebpDecoder {
  decode(data: BufferSource): { data: Uint8ClampedArray; width: number; height: number } | null;
}

let webp: WebpDecoder | null = null;

/** Loads the WebP wasm decoder (once). */
export async function loadWebpDecoder(): Promise<void> {
  if (webp) return;
  // noInitialRun: the module only exposes decode(); there is no main() to run.
  webp = (await webpModuleFactory({ noInitialRun: true })) as unknown as WebpDecoder;
}

/** RGBA -> RGB, dropping alpha (LSUN and CelebA images are opaque). */
function rgbaToRgb(rgba: Uint8Array | Uint8ClampedArray, n: number): Uint8Array {
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    out[i * 3] = rgba[i * 4];
    out[i * 3 + 1] = rgba[i * 4 + 1];
    out[i * 3 + 2] = rgba[i * 4 + 2];
  }
  return out;
}

/**
 * Decodes a JPEG or WebP image to RGB. `where` names the file (and entry) for error messages; a
 * damaged or unknown image is a UserError.
 */
export function decodeRgb(bytes: Uint8Array, where: string): RgbImage {
  const format = sniffImageFormat(bytes);
  if (format === "jpeg") {
    try {
      // formatAsRGBA false: 3 channels, grey JPEGs replicated to RGB.
      const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: false });
      return { width: img.width, height: img.height, pixels: img.data };
    } catch (err) {
      throw new UserError(`${where}: damaged JPEG (${(err as Error).message})`);
    }
  }
  if (format === "webp") {
    if (!webp) throw new Error("call loadWebpDecoder() before decoding WebP");
    const img = webp.decode(bytes as Uint8Array<ArrayBuffer>);
    if (!img) throw new UserError(`${where}: damaged WebP image (libwebp could not decode it)`);
    return {
      width: img.width,
      height: img.height,
      pixels: rgbaToRgb(img.data, img.width * img.height),
    };
  }
  const head = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, "0")).join(" ");
  throw new UserError(`${where}: not a JPEG or WebP image (starts with ${head || "nothing"})`);
}
