/** File helpers shared by the readers: existence checks, gzip, and the "data missing" message. */
import { gunzipSync } from "fflate";
import { UserError } from "../../errors.ts";

export function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

export function isDir(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}

export function joinPath(dir: string, name: string): string {
  return `${dir.replace(/\/+$/, "")}/${name}`;
}

/** Reads a whole file as bytes; a UserError naming it when it cannot be read. */
export function readBytes(path: string): Uint8Array {
  try {
    return Deno.readFileSync(path);
  } catch (err) {
    throw new UserError(`${path}: cannot read (${(err as Error).message.split("\n")[0]})`);
  }
}

/** Inflates gzip bytes; a truncated or damaged stream is a UserError naming the file. */
export function gunzip(bytes: Uint8Array, path: string): Uint8Array {
  if (bytes.length < 18 || bytes[0] !== 0x1f || bytes[1] !== 0x8b) {
    throw new UserError(`${path}: not a gzip file (bad magic bytes)`);
  }
  let out: Uint8Array;
  try {
    out = gunzipSync(bytes);
  } catch (err) {
    throw new UserError(`${path}: damaged or truncated gzip data (${(err as Error).message})`);
  }
  // gzip's trailer holds the uncompressed size mod 2^32; fflate does not check it, and a stream cut
  // at a block boundary would otherwise pass as a shorter file.
  const n = bytes.length;
  const isize =
    (bytes[n - 4] | (bytes[n - 3] << 8) | (bytes[n - 2] << 16) | (bytes[n - 1] << 24)) >>> 0;
  if (isize !== out.length % 2 ** 32) {
    throw new UserError(
      `${path}: damaged or truncated gzip data (inflated ${out.length} bytes, trailer says ${isize})`,
    );
  }
  return out;
}

/** Reads `path`, inflating it when its name ends in .gz. */
export function readMaybeGzip(path: string): Uint8Array {
  const bytes = readBytes(path);
  return path.endsWith(".gz") ? gunzip(bytes, path) : bytes;
}

export interface MissingDataHelp {
  dataset: string;
  /** Where the reader looked. */
  looked: string;
  /** What it expected to find there. */
  expected: string;
  /** Where to download the files (official pages). */
  source: string;
  /** The default --data location. */
  defaultPath: string;
}

/** The "data missing" error: what was expected, where to get it, where to put it. */
export function missingData(help: MissingDataHelp): UserError {
  return new UserError(
    `${help.dataset} data not found at ${help.looked} (expected ${help.expected}). ` +
      `Get it from ${help.source}, and put it in ${help.defaultPath} or pass --data PATH.`,
  );
}
