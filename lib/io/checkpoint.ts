/**
 * Self-describing checkpoints: one file with a JSON header (format, step, full config, RNG state,
 * code version, tensor index) followed by the raw little-endian float32 tensor data. Groups:
 * "params", "ema", "buffers" (spectral-norm vectors), "ema.buffers" (the EMA weights' own vectors),
 * "adam.m", "adam.v".
 */
import * as tf from "@tensorflow/tfjs";
import { UserError } from "../errors.ts";
import type { RngState } from "../rng.ts";
import { writeFileAtomic } from "./atomic.ts";

export const CHECKPOINT_FORMAT = "drl-checkpoint-v1";
const MAGIC = new TextEncoder().encode("DRLCKPT1");

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

interface TensorEntry {
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

/** What a checkpoint stores of a tensor (a tf.Tensor is one; so are plain host arrays). */
export interface StoredTensor {
  readonly shape: number[];
  data(): Promise<ArrayLike<number>>;
}

/** Host values as a StoredTensor, for writing checkpoints without a tfjs backend. */
export function hostTensor(shape: number[], values: Float32Array): StoredTensor {
  return { shape, data: () => Promise.resolve(values) };
}

/** Reads variables' values back (async, so it works on WebGPU) and writes the checkpoint atomically. */
export async function saveCheckpoint(
  path: string,
  meta: Omit<CheckpointMeta, "format" | "createdAt">,
  groups: Record<string, Map<string, StoredTensor>>,
): Promise<void> {
  const entries: TensorEntry[] = [];
  const chunks: Float32Array[] = [];
  let offset = 0;
  for (const [group, tensors] of Object.entries(groups)) {
    for (const [name, t] of tensors) {
      const values = Float32Array.from(await t.data());
      entries.push({ group, name, shape: t.shape, offset, length: values.length });
      chunks.push(values);
      offset += values.length;
    }
  }
  const data = new Float32Array(offset);
  let at = 0;
  for (const c of chunks) {
    data.set(c, at);
    at += c.length;
  }
  const header = new TextEncoder().encode(JSON.stringify({
    ...meta,
    format: CHECKPOINT_FORMAT,
    createdAt: new Date().toISOString(),
    tensors: entries,
    checksum: dataChecksum(new Uint8Array(data.buffer)),
  }));
  // Layout: magic (8) | header length u32 (4) | header | padding to 4 bytes | float32 data.
  const headerEnd = MAGIC.length + 4 + header.length;
  const dataStart = Math.ceil(headerEnd / 4) * 4;
  const bytes = new Uint8Array(dataStart + offset * 4);
  bytes.set(MAGIC, 0);
  new DataView(bytes.buffer).setUint32(MAGIC.length, header.length, true);
  bytes.set(header, MAGIC.length + 4);
  bytes.set(new Uint8Array(data.buffer), dataStart);
  await writeFileAtomic(path, bytes);
}

export async function loadCheckpoint(path: string): Promise<Checkpoint> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new UserError(`checkpoint not found: ${path}; check the path or the run id`);
    }
    throw new UserError(`cannot read checkpoint ${path}: ${(err as Error).message}`);
  }
  const bad = (why: string) =>
    new UserError(
      `${path} is not a valid DRL checkpoint (${why}); was it written by this toolkit?`,
    );
  if (bytes.length < 12 || !MAGIC.every((b, i) => bytes[i] === b)) throw bad("wrong magic bytes");
  const headerLen = new DataView(bytes.buffer, bytes.byteOffset).getUint32(MAGIC.length, true);
  const headerEnd = MAGIC.length + 4 + headerLen;
  if (headerEnd > bytes.length) throw bad("truncated header");
  let header: CheckpointMeta & { tensors: TensorEntry[]; checksum?: string };
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(MAGIC.length + 4, headerEnd)));
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

/**
 * A checkpoint's header (step, config, provenance) without its tensor data: for checks that must
 * not read a whole large file.
 */
export async function readCheckpointMeta(path: string): Promise<CheckpointMeta> {
  let f: Deno.FsFile;
  try {
    f = await Deno.open(path, { read: true });
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new UserError(`checkpoint not found: ${path}; check the path or the run id`);
    }
    throw new UserError(`cannot read checkpoint ${path}: ${(err as Error).message}`);
  }
  try {
    const head = new Uint8Array(MAGIC.length + 4);
    const readExactly = async (buf: Uint8Array) => {
      let at = 0;
      while (at < buf.length) {
        const n = await f.read(buf.subarray(at));
        if (n === null) return false;
        at += n;
      }
      return true;
    };
    const bad = (why: string) =>
      new UserError(
        `${path} is not a valid DRL checkpoint (${why}); was it written by this toolkit?`,
      );
    if (!(await readExactly(head)) || !MAGIC.every((b, i) => head[i] === b)) {
      throw bad("wrong magic bytes");
    }
    const length = new DataView(head.buffer).getUint32(MAGIC.length, true);
    const header = new Uint8Array(length);
    if (!(await readExactly(header))) throw bad("truncated header");
    try {
      const { tensors: _t, checksum: _c, ...meta } = JSON.parse(new TextDecoder().decode(header));
      return meta as CheckpointMeta;
    } catch {
      throw bad("unreadable header");
    }
  } finally {
    f.close();
  }
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
