/**
 * Self-describing checkpoints: one file with a JSON header (format, step, full config, RNG state,
 * code version, tensor index) followed by the raw little-endian float32 tensor data. Groups:
 * "params", "ema", "buffers" (spectral-norm vectors), "ema.buffers" (the EMA weights' own vectors),
 * "adam.m", "adam.v".
 */
import { UserError } from "../errors.ts";
import { writeFileAtomic } from "./atomic.ts";
import {
  type Checkpoint,
  CHECKPOINT_FORMAT,
  CHECKPOINT_MAGIC as MAGIC,
  type CheckpointMeta,
  dataChecksum,
  notACheckpoint,
  parseCheckpoint,
  type TensorEntry,
} from "./checkpoint_data.ts";

// The format itself (parsing, checksum, restoring) lives in checkpoint_data.ts, which the browser
// page shares; this module adds reading and writing files.
export {
  type Checkpoint,
  CHECKPOINT_FORMAT,
  type CheckpointMeta,
  dataChecksum,
  parseCheckpoint,
  restoreGroup,
} from "./checkpoint_data.ts";

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
  return parseCheckpoint(bytes, path);
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
    const bad = (why: string) => notACheckpoint(path, why);
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
