/**
 * A minimal tar (ustar / GNU / pax) reader over in-memory bytes, enough for `cifar-10-binary.tar.gz`,
 * and a ustar writer for the fixtures. Header checksums and entry lengths are verified so a damaged
 * or cut archive is reported rather than misread.
 */
import { UserError } from "../../errors.ts";

const BLOCK = 512;

export interface TarEntry {
  name: string;
  /** "file", "dir" or "other" (links, devices: skipped by the readers). */
  type: "file" | "dir" | "other";
  data: Uint8Array;
}

function text(bytes: Uint8Array): string {
  const end = bytes.indexOf(0);
  return new TextDecoder().decode(end < 0 ? bytes : bytes.subarray(0, end));
}

function octal(bytes: Uint8Array): number {
  const s = text(bytes).trim();
  return s === "" ? 0 : parseInt(s, 8);
}

/** Parses a pax extended header body ("<len> key=value\n" records) for a path override. */
function paxPath(body: Uint8Array): string | null {
  const s = new TextDecoder().decode(body);
  for (const line of s.split("\n")) {
    const m = /^\d+ path=(.*)$/.exec(line);
    if (m) return m[1];
  }
  return null;
}

/** Lists the entries of a tar archive; `path` names it in errors. */
export function readTar(bytes: Uint8Array, path: string): TarEntry[] {
  const entries: TarEntry[] = [];
  let off = 0;
  let longName: string | null = null;
  while (off + BLOCK <= bytes.length) {
    const header = bytes.subarray(off, off + BLOCK);
    if (header.every((b) => b === 0)) return entries; // end-of-archive marker
    // The checksum is the byte sum of the header with its own field read as spaces.
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : header[i];
    const stored = octal(header.subarray(148, 156));
    if (stored !== sum) {
      throw new UserError(`${path}: damaged tar archive (bad header checksum at byte ${off})`);
    }
    const size = octal(header.subarray(124, 136));
    const flag = String.fromCharCode(header[156]);
    const prefix = text(header.subarray(345, 500));
    const baseName = text(header.subarray(0, 100));
    const start = off + BLOCK;
    if (start + size > bytes.length) {
      throw new UserError(
        `${path}: truncated tar archive (entry ${baseName} needs ${size} bytes, ` +
          `${bytes.length - start} left)`,
      );
    }
    const data = bytes.subarray(start, start + size);
    off = start + Math.ceil(size / BLOCK) * BLOCK;
    if (flag === "L") { // GNU long name for the next entry
      longName = text(data);
      continue;
    }
    if (flag === "x") { // pax extended header for the next entry
      longName = paxPath(data) ?? longName;
      continue;
    }
    if (flag === "g") continue; // pax global header
    const isUstar = text(header.subarray(257, 262)) === "ustar";
    const name = longName ?? (isUstar && prefix ? `${prefix}/${baseName}` : baseName);
    longName = null;
    const type = flag === "0" || flag === "\0" || flag === "7"
      ? "file"
      : flag === "5"
      ? "dir"
      : "other";
    entries.push({ name, type, data });
  }
  // Archives that stop exactly after their last entry are accepted; a cut inside a header is not.
  if (off === bytes.length) return entries;
  throw new UserError(`${path}: truncated tar archive (cut inside a header at byte ${off})`);
}

function writeField(header: Uint8Array, at: number, len: number, value: string): void {
  const enc = new TextEncoder().encode(value);
  if (enc.length > len) throw new RangeError(`tar field too long: ${value}`);
  header.set(enc, at);
}

function writeOctal(header: Uint8Array, at: number, len: number, value: number): void {
  writeField(header, at, len, value.toString(8).padStart(len - 1, "0") + "\0");
}

/** Builds a ustar archive of regular files and folders (names under 100 bytes). */
export function writeTar(files: ReadonlyArray<{ name: string; data?: Uint8Array }>): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const f of files) {
    const isDir = f.data === undefined;
    const header = new Uint8Array(BLOCK);
    writeField(header, 0, 100, f.name);
    writeOctal(header, 100, 8, isDir ? 0o755 : 0o644);
    writeOctal(header, 108, 8, 0);
    writeOctal(header, 116, 8, 0);
    writeOctal(header, 124, 12, f.data?.length ?? 0);
    writeOctal(header, 136, 12, 0);
    header[156] = isDir ? 0x35 : 0x30;
    writeField(header, 257, 6, "ustar\0");
    writeField(header, 263, 2, "00");
    header.fill(0x20, 148, 156);
    const sum = header.reduce((a, b) => a + b, 0);
    writeField(header, 148, 8, sum.toString(8).padStart(6, "0") + "\0 ");
    parts.push(header);
    if (f.data) {
      const padded = new Uint8Array(Math.ceil(f.data.length / BLOCK) * BLOCK);
      padded.set(f.data);
      parts.push(padded);
    }
  }
  parts.push(new Uint8Array(2 * BLOCK));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
