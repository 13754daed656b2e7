/**
 * NumPy `.npy` arrays and `.npz` archives (a zip of `.npy` files, stored or deflated), enough to read
 * and write the FID statistics files of pytorch-fid (np.savez of float64 `mu`, `sigma`) and TTUR
 * (float32 `mu`, `sigma`), so published reference statistics can be used directly.
 *
 * Format: https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html - the magic
 * "\x93NUMPY", a version, a little-endian header length (2 bytes in v1.0, 4 in v2.0/v3.0), then a
 * Python dict literal {'descr', 'fortran_order', 'shape'} padded with spaces and a final newline so
 * the data start on a 64-byte boundary.
 */
import { unzipSync, zipSync } from "fflate";
import { UserError } from "../errors.ts";
import { writeFileAtomic } from "../io/atomic.ts";
import type { GaussianStats } from "./linalg.ts";

export type NpyData = Float64Array | Float32Array | Int32Array | BigInt64Array | string[];

export interface NpyArray {
  /** C-order (row-major) shape; [] for a scalar. */
  shape: number[];
  /** Values in C order. Little- and big-endian files both decode to native typed arrays. */
  data: NpyData;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"

interface NpyHeader {
  descr: string;
  fortranOrder: boolean;
  shape: number[];
}

/** Parses the Python dict literal of an .npy header. */
export function parseNpyHeader(text: string): NpyHeader {
  const descr = /'descr'\s*:\s*'([^']+)'/.exec(text);
  const order = /'fortran_order'\s*:\s*(True|False)/.exec(text);
  const shape = /'shape'\s*:\s*\(([^)]*)\)/.exec(text);
  if (!descr || !order || !shape) throw new Error(`unreadable .npy header: ${text.trim()}`);
  const dims = shape[1].split(",").map((s) => s.trim()).filter((s) => s.length > 0)
    .map((s) => Number(s.replace(/L$/, "")));
  if (dims.some((v) => !Number.isInteger(v) || v < 0)) {
    throw new Error(`bad .npy shape (${shape[1]})`);
  }
  return { descr: descr[1], fortranOrder: order[1] === "True", shape: dims };
}

function product(shape: number[]): number {
  return shape.reduce((p, s) => p * s, 1);
}

/** For each C-order position, the offset of the same multi-index in Fortran (column-major) order. */
function fortranOffsets(shape: number[]): Int32Array {
  const n = product(shape);
  const rank = shape.length;
  const offsets = new Int32Array(n);
  const idx = new Array(rank).fill(0);
  for (let c = 0; c < n; c++) {
    let f = 0;
    for (let k = rank - 1; k >= 0; k--) f = f * shape[k] + idx[k];
    offsets[c] = f;
    for (let k = rank - 1; k >= 0; k--) {
      if (++idx[k] < shape[k]) break;
      idx[k] = 0;
    }
  }
  return offsets;
}

/** data[offsets[i]] for every i, in an array of data's kind. */
function gather(data: NpyData, offsets: Int32Array): NpyData {
  if (Array.isArray(data)) return Array.from(offsets, (o) => data[o]);
  if (data instanceof BigInt64Array) return BigInt64Array.from(offsets, (o) => data[o]);
  const out = new (data.constructor as Float64ArrayConstructor)(offsets.length);
  for (let i = 0; i < offsets.length; i++) out[i] = data[offsets[i]];
  return out as typeof data;
}

/** Decodes one .npy file. Supported dtypes: f4, f8, i4, i8 (either byte order) and unicode U. */
export function parseNpy(bytes: Uint8Array): NpyArray {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) {
    throw new Error("not an .npy file");
  }
  const major = bytes[6];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLen: number;
  let start: number;
  if (major === 1) {
    headerLen = view.getUint16(8, true);
    start = 10;
  } else if (major === 2 || major === 3) {
    headerLen = view.getUint32(8, true);
    start = 12;
  } else {
    throw new Error(`unsupported .npy version ${major}.${bytes[7]}`);
  }
  const header = parseNpyHeader(
    new TextDecoder(major === 3 ? "utf-8" : "latin1").decode(
      bytes.subarray(start, start + headerLen),
    ),
  );
  const offset = start + headerLen;
  const count = product(header.shape);
  const m = /^([<>|=])([fiU])(\d+)$/.exec(header.descr);
  if (!m) throw new Error(`unsupported .npy dtype '${header.descr}'`);
  const [, order, kind, sizeText] = m;
  const size = Number(sizeText);
  const little = order !== ">";
  let data: NpyData;
  if (kind === "U") {
    // Fixed-width UTF-32 strings, NUL-padded.
    const strings: string[] = [];
    for (let i = 0; i < count; i++) {
      let s = "";
      for (let c = 0; c < size; c++) {
        const code = view.getUint32(offset + (i * size + c) * 4, little);
        if (code === 0) break;
        s += String.fromCodePoint(code);
      }
      strings.push(s);
    }
    data = strings;
  } else {
    const width = size;
    if (width !== 4 && width !== 8) throw new Error(`unsupported .npy dtype '${header.descr}'`);
    if (offset + count * width > bytes.length) throw new Error(".npy file is truncated");
    if (kind === "f" && width === 8) {
      const out = new Float64Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(offset + i * 8, little);
      data = out;
    } else if (kind === "f") {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(offset + i * 4, little);
      data = out;
    } else if (width === 8) {
      const out = new BigInt64Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getBigInt64(offset + i * 8, little);
      data = out;
    } else {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt32(offset + i * 4, little);
      data = out;
    }
  }
  if (header.fortranOrder && header.shape.length > 1) {
    data = gather(data, fortranOffsets(header.shape));
  }
  return { shape: header.shape, data };
}

function descrOf(data: NpyData): { descr: string; width: number } {
  if (data instanceof Float64Array) return { descr: "<f8", width: 8 };
  if (data instanceof Float32Array) return { descr: "<f4", width: 4 };
  if (data instanceof Int32Array) return { descr: "<i4", width: 4 };
  if (data instanceof BigInt64Array) return { descr: "<i8", width: 8 };
  const longest = Math.max(1, ...data.map((s) => [...s].length));
  return { descr: `<U${longest}`, width: 4 * longest };
}

/** Encodes an array as a version 1.0 .npy file, little-endian, C order. */
export function encodeNpy(array: NpyArray): Uint8Array {
  const { data, shape } = array;
  if (product(shape) !== data.length) {
    throw new RangeError(`npy: shape (${shape}) does not hold ${data.length} values`);
  }
  const { descr, width } = descrOf(data);
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  // Pad with spaces so magic (6) + version (2) + length (2) + header ends on a 64-byte boundary.
  const total = Math.ceil((10 + header.length + 1) / 64) * 64;
  header = header.padEnd(total - 10 - 1, " ") + "\n";
  const out = new Uint8Array(total + data.length * width);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  const view = new DataView(out.buffer);
  view.setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  if (Array.isArray(data)) {
    const chars = width / 4;
    data.forEach((s, i) => {
      [...s].forEach((ch, c) =>
        view.setUint32(total + (i * chars + c) * 4, ch.codePointAt(0)!, true)
      );
    });
  } else {
    // Typed arrays are little-endian on every platform Deno runs on; DataView keeps it explicit.
    for (let i = 0; i < data.length; i++) {
      const p = total + i * width;
      if (data instanceof Float64Array) view.setFloat64(p, data[i], true);
      else if (data instanceof Float32Array) view.setFloat32(p, data[i], true);
      else if (data instanceof Int32Array) view.setInt32(p, data[i], true);
      else view.setBigInt64(p, data[i], true);
    }
  }
  return out;
}

/** Reads every array of an .npz archive, keyed by name without the ".npy" suffix. */
export function parseNpz(bytes: Uint8Array): Map<string, NpyArray> {
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(bytes);
  } catch (err) {
    throw new Error(`not a readable .npz (zip) archive: ${(err as Error).message}`);
  }
  const arrays = new Map<string, NpyArray>();
  for (const [name, content] of Object.entries(files)) {
    if (!name.endsWith(".npy")) continue;
    arrays.set(name.slice(0, -4), parseNpy(content));
  }
  return arrays;
}

/** Writes arrays as an .npz archive: stored like np.savez, or deflated like np.savez_compressed. */
export function encodeNpz(
  arrays: Record<string, NpyArray>,
  options: { compress?: boolean } = {},
): Uint8Array {
  const level = options.compress ? 6 : 0;
  const files: Record<string, [Uint8Array, { level: 0 | 6 }]> = {};
  for (const [name, array] of Object.entries(arrays)) {
    files[`${name}.npy`] = [encodeNpy(array), { level }];
  }
  return zipSync(files);
}

/** FID statistics as stored on disk: the Gaussian fit, and when known its sample count and features. */
export interface FidStats extends GaussianStats {
  /** Number of images the statistics were computed from. */
  n?: number;
  /** Feature extractor name, e.g. "inception-2015-12-05-pool3". */
  features?: string;
}

function toFloat64(data: NpyData): Float64Array | null {
  if (data instanceof Float64Array) return data;
  if (data instanceof Float32Array || data instanceof Int32Array) return Float64Array.from(data);
  return null;
}

/** Decodes FID statistics from .npz bytes (`source` names the file in error messages). */
export function decodeFidStats(bytes: Uint8Array, source: string): FidStats {
  let arrays: Map<string, NpyArray>;
  try {
    arrays = parseNpz(bytes);
  } catch (err) {
    throw new UserError(`${source}: ${(err as Error).message}`);
  }
  const mu = arrays.get("mu");
  const sigma = arrays.get("sigma");
  if (!mu || !sigma) {
    throw new UserError(
      `${source} holds [${[...arrays.keys()].join(", ")}], not 'mu' and 'sigma'; ` +
        "use a pytorch-fid/TTUR statistics file or one written by `deno task fid`",
    );
  }
  const muData = toFloat64(mu.data);
  const sigmaData = toFloat64(sigma.data);
  const d = mu.data.length;
  if (!muData || !sigmaData || mu.shape.length !== 1 || sigma.shape.join() !== `${d},${d}`) {
    throw new UserError(
      `${source}: expected float mu (d,) and sigma (d, d), got mu (${mu.shape}) and sigma (${sigma.shape})`,
    );
  }
  const bad = covarianceProblem(sigmaData, d);
  if (bad) {
    throw new UserError(
      `${source}: sigma is not a covariance matrix (${bad}); the file is damaged or not FID ` +
        "statistics: recompute it",
    );
  }
  const stats: FidStats = { mu: muData, sigma: sigmaData };
  const n = arrays.get("n")?.data;
  if (n && n.length === 1 && !Array.isArray(n)) stats.n = Number(n[0]);
  const features = arrays.get("features")?.data;
  if (Array.isArray(features) && features.length === 1) stats.features = features[0];
  return stats;
}

/**
 * Why a d x d matrix cannot be a covariance, or null: every entry finite, symmetric, a
 * non-negative diagonal and |s_ij| <= sqrt(s_ii s_jj) (what positive semi-definiteness implies
 * entry by entry), each within a relative 1e-6 of float32 rounding. A full eigen-decomposition
 * would also catch subtler cases, at the cost of the FID itself; pytorch-fid checks none of this.
 */
export function covarianceProblem(s: Float64Array, d: number): string | null {
  let scale = 0;
  for (let i = 0; i < d; i++) scale = Math.max(scale, Math.abs(s[i * d + i]));
  const tol = 1e-6 * Math.max(scale, 1e-30);
  for (let i = 0; i < d; i++) {
    const sii = s[i * d + i];
    if (!Number.isFinite(sii)) return `sigma[${i}][${i}] is ${sii}`;
    if (sii < -tol) return `a negative variance sigma[${i}][${i}] = ${sii}`;
    for (let j = i + 1; j < d; j++) {
      const a = s[i * d + j], b = s[j * d + i];
      if (!Number.isFinite(a) || !Number.isFinite(b)) return `sigma[${i}][${j}] is not finite`;
      if (Math.abs(a - b) > tol) {
        return `not symmetric: sigma[${i}][${j}] = ${a}, sigma[${j}][${i}] = ${b}`;
      }
      const bound = Math.sqrt(Math.max(sii, 0) * Math.max(s[j * d + j], 0));
      if (Math.abs(a) > bound + tol) {
        return `|sigma[${i}][${j}]| = ${
          Math.abs(a)
        } exceeds sqrt(sigma[${i}][${i}] sigma[${j}][${j}]) = ${bound}`;
      }
    }
  }
  return null;
}

/** Encodes FID statistics as .npz bytes: float64 mu and sigma (as pytorch-fid), plus n and features. */
export function encodeFidStats(stats: FidStats, options: { compress?: boolean } = {}): Uint8Array {
  const d = stats.mu.length;
  const arrays: Record<string, NpyArray> = {
    mu: { shape: [d], data: stats.mu },
    sigma: { shape: [d, d], data: stats.sigma },
  };
  if (stats.n !== undefined) arrays.n = { shape: [], data: new BigInt64Array([BigInt(stats.n)]) };
  if (stats.features !== undefined) arrays.features = { shape: [], data: [stats.features] };
  return encodeNpz(arrays, options);
}

/** Reads an FID statistics .npz file; a missing or malformed file is a UserError. */
export async function readFidStats(path: string): Promise<FidStats> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new UserError(`statistics file not found: ${path}`);
    }
    throw err;
  }
  return decodeFidStats(bytes, path);
}

/** Writes an FID statistics .npz file atomically. */
export async function writeFidStats(
  path: string,
  stats: FidStats,
  options: { compress?: boolean } = {},
): Promise<void> {
  await writeFileAtomic(path, encodeFidStats(stats, options));
}
