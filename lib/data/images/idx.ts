/**
 * MNIST and Fashion-MNIST from IDX files (http://yann.lecun.com/exdb/mnist/, format at the bottom
 * of that page), gzipped or raw: `{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]`.
 *
 * IDX: two zero bytes, a type byte (0x08 = unsigned byte), the number of dimensions, then one
 * big-endian uint32 per dimension, then the data. Every field is checked against the file length.
 */
import { UserError } from "../../errors.ts";
import { isFile, joinPath, readMaybeGzip } from "./files.ts";
import type { ImageDataset } from "./types.ts";

export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

/** Parses an unsigned-byte IDX array with `ndim` dimensions; `path` names the file in errors. */
export function parseIdx(bytes: Uint8Array, path: string, ndim: number): IdxArray {
  if (bytes.length < 4) throw new UserError(`${path}: truncated IDX file (${bytes.length} bytes)`);
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    throw new UserError(`${path}: not an IDX file (bad magic number)`);
  }
  if (bytes[2] !== 0x08) {
    throw new UserError(
      `${path}: IDX data type 0x${bytes[2].toString(16)} is not unsigned byte (0x08)`,
    );
  }
  if (bytes[3] !== ndim) {
    throw new UserError(`${path}: IDX file has ${bytes[3]} dimensions, expected ${ndim}`);
  }
  const headerLength = 4 + 4 * ndim;
  if (bytes.length < headerLength) {
    throw new UserError(`${path}: truncated IDX header (${bytes.length} bytes)`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  for (let d = 0; d < ndim; d++) dims.push(view.getUint32(4 + 4 * d, false));
  const expected = headerLength + dims.reduce((a, b) => a * b, 1);
  if (bytes.length < expected) {
    throw new UserError(
      `${path}: truncated (${bytes.length} bytes, header [${dims.join(", ")}] needs ${expected})`,
    );
  }
  if (bytes.length > expected) {
    throw new UserError(
      `${path}: ${bytes.length - expected} bytes beyond the header's [${
        dims.join(", ")
      }] (corrupt)`,
    );
  }
  return { dims, data: bytes.subarray(headerLength) };
}

/** The IDX file `stem` in `dir`, raw or gzipped, or null. */
export function findIdxFile(dir: string, stem: string): string | null {
  for (const name of [stem, `${stem}.gz`]) {
    const path = joinPath(dir, name);
    if (isFile(path)) return path;
  }
  return null;
}

/** File stems of a split: MNIST's naming, shared by Fashion-MNIST. */
export function idxStems(split: "train" | "test"): { images: string; labels: string } {
  const prefix = split === "train" ? "train" : "t10k";
  return { images: `${prefix}-images-idx3-ubyte`, labels: `${prefix}-labels-idx1-ubyte` };
}

/**
 * Opens an MNIST-family split from `dir` (whole files in memory: 47 MB for the training images).
 * Returns null when the image file is absent, so the caller can explain where to get it.
 */
export function openIdxDataset(
  name: string,
  dir: string,
  split: "train" | "test",
): ImageDataset | null {
  const stems = idxStems(split);
  const imagesPath = findIdxFile(dir, stems.images);
  if (!imagesPath) return null;
  const labelsPath = findIdxFile(dir, stems.labels);
  if (!labelsPath) {
    throw new UserError(
      `${joinPath(dir, stems.labels)}[.gz]: missing (the labels of ${imagesPath})`,
    );
  }
  const images = parseIdx(readMaybeGzip(imagesPath), imagesPath, 3);
  const labels = parseIdx(readMaybeGzip(labelsPath), labelsPath, 1);
  const [count, height, width] = images.dims;
  if (labels.dims[0] !== count) {
    throw new UserError(
      `${labelsPath}: ${labels.dims[0]} labels for ${count} images in ${imagesPath}`,
    );
  }
  if (height === 0 || width === 0) {
    throw new UserError(`${imagesPath}: images of size ${height}x${width}`);
  }
  const numClasses = 10;
  const bad = labels.data.findIndex((l) => l >= numClasses);
  if (bad >= 0) {
    throw new UserError(
      `${labelsPath}: label ${labels.data[bad]} at index ${bad} is not in 0..9 (corrupt)`,
    );
  }
  const size = height * width;
  return {
    name,
    split,
    count,
    height,
    width,
    channels: 1,
    labels: labels.data,
    numClasses,
    get(i: number): Uint8Array {
      if (!Number.isInteger(i) || i < 0 || i >= count) {
        throw new RangeError(`index ${i} out of range`);
      }
      return images.data.subarray(i * size, (i + 1) * size);
    },
    close() {},
  };
}
