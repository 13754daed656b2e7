/**
 * A checkpoint's bytes as data, with no file system: the format's constants, its checksum, parsing
 * a file's bytes and restoring a group into variables. Kept apart from checkpoint.ts (which reads
 * and writes files through Deno) so the browser page (web/) parses the same format with the same
 * checks from bytes it fetched.
 *
 * Layout: magic "DRLCKPT1" (8) | header length u32 LE (4) | JSON header | padding to 4 bytes |
 * float32 LE tensor data.
 */
import * as tf from "@tensorflow/tfjs";
import { UserError } from "../errors.ts";
import type { RngState } from "../rng.ts";

export const CHECKPOINT_FORMAT = "drl-checkpoint-v1";
export const CHECKPOINT_MAGIC: Uint8Array = new TextEncoder().encode("DRLCKPT1");

export interface CheckpointMeta {
  format: string;
  step: number;
  /** The full, frozen training config. */
  config: unknown;
  rng: RngState;
  adamStep: number;
  /** git commit of the code that wrote it (null outside a git checkout). */
  codeVersion: string | null;
  createdAt: string;
  /** Extra facts (e.g. the run id). */
  extra?: Record<string, unknown>;
}

/**
 * A checksum of the tensor data, as 8 hex digits: FNV-1a's multiply-xor over the data's
 * little-endian 32-bit words (then any tail bytes), four bytes a round for speed. It catches a
 * corrupted or truncated data section at load, instead of sampling NaNs; it is no defence against
 * tampering.
 */
export function dataChecksum(bytes: Uint8Array): string {
  // A 32-bit view needs 4-byte alignment: copy the rare unaligned input.
  const b = bytes.byteOffset % 4 === 0 ? bytes : Uint8Array.from(bytes);
  const words = new Uint32Array(b.buffer, b.byteOffset, b.length >>> 2);
  let h = 0x811c9dc5;
  for (let i = 0; i < words.length; i++) h = Math.imul(h ^ words[i], 0x01000193);
  for (let i = words.length * 4; i < b.length; i++) h = Math.imul(h ^ b[i], 0x01000193);
  return (h >>> 0).toString(16).padStart(8, "0");
}

export interface TensorEntry {
  group: string;
  name: string;
  shape: number[];
  offset: number;
  length: number;
}

export interface Checkpoint {
  meta: CheckpointMeta;
  /** group -> name -> tensor data. */
  tensors: Map<string, Map<string, { shape: number[]; values: Float32Array }>>;
}

/** The UserError for a file that is not a checkpoint of this toolkit. */
export function notACheckpoint(path: string, why: string): UserError {
  return new UserError(
    `${path} is not a valid DRL checkpoint (${why}); was it written by this toolkit?`,
  );
}

/**
 * Parses a checkpoint file's bytes; `path` names the file in errors (a path or a URL). Every
 * defect (wrong magic, truncation, unreadable header, checksum mismatch) is one UserError.
 */
export function parseCheckpoint(bytes: Uint8Array, path: string): Checkpoint {
  const bad = (why: string) => notACheckpoint(path, why);
  const magic = CHECKPOINT_MAGIC;
  if (bytes.length < 12 || !magic.every((b, i) => bytes[i] === b)) throw bad("wrong magic bytes");
  const headerLen = new DataView(bytes.buffer, bytes.byteOffset).getUint32(magic.length, true);
  const headerEnd = magic.length + 4 + headerLen;
  if (headerEnd > bytes.length) throw bad("truncated header");
  let header: CheckpointMeta & { tensors: TensorEntry[]; checksum?: string };
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(magic.length + 4, headerEnd)));
  } catch {
    throw bad("unreadable header");
  }
  if (header.format !== CHECKPOINT_FORMAT) throw bad(`unknown format '${header.format}'`);
  const dataStart = Math.ceil(headerEnd / 4) * 4;
  const total = header.tensors.reduce((s, e) => s + e.length, 0);
  if (dataStart + total * 4 !== bytes.length) throw bad("truncated tensor data");
  const aligned = bytes.slice(dataStart).buffer;
  // Files written before checksums existed have none; every newer one must match.
  if (header.checksum !== undefined && dataChecksum(new Uint8Array(aligned)) !== header.checksum) {
    throw new UserError(
      `${path} is corrupted: its tensor data does not match the checksum written with it; ` +
        `use another checkpoint (a kept checkpoint_step<N>.ckpt, or retrain)`,
    );
  }
  const tensors: Checkpoint["tensors"] = new Map();
  for (const e of header.tensors) {
    if (!tensors.has(e.group)) tensors.set(e.group, new Map());
    tensors.get(e.group)!.set(e.name, {
      shape: e.shape,
      values: new Float32Array(aligned, e.offset * 4, e.length),
    });
  }
  const { tensors: _index, checksum: _checksum, ...meta } = header;
  return { meta, tensors };
}

/** Assigns a checkpoint group's values to variables of matching names and shapes. */
export function restoreGroup(
  ckpt: Checkpoint,
  group: string,
  vars: Map<string, tf.Variable>,
  path = "checkpoint",
): void {
  if (vars.size === 0) return;
  const stored = ckpt.tensors.get(group);
  if (!stored) throw new UserError(`${path} has no '${group}' tensors`);
  for (const [name, v] of vars) {
    const s = stored.get(name);
    if (!s) {
      throw new UserError(`${path} lacks ${group}/${name}; it was written for another network`);
    }
    if (s.shape.join("x") !== v.shape.join("x")) {
      throw new UserError(
        `${path}: ${group}/${name} has shape ${s.shape.join("x")}, the network expects ${
          v.shape.join("x")
        }`,
      );
    }
    tf.tidy(() => v.assign(tf.tensor(s.values, s.shape)));
  }
}
