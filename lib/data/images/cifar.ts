/**
 * CIFAR-10, binary version (https://www.cs.toronto.edu/~kriz/cifar.html): `cifar-10-batches-bin/`
 * with data_batch_1..5.bin (train) and test_batch.bin (test), read from the folder or straight from
 * `cifar-10-binary.tar.gz`. Each record is 1 label byte then 3072 pixel bytes, channel-planar:
 * 1024 R, 1024 G, 1024 B, each 32x32 row-major.
 */
import { UserError } from "../../errors.ts";
import { gunzip, isDir, isFile, joinPath, readBytes } from "./files.ts";
import { readTar } from "./tar.ts";
import type { ImageDataset } from "./types.ts";

export const CIFAR_SIDE = 32;
const PIXELS = CIFAR_SIDE * CIFAR_SIDE;
export const CIFAR_RECORD = 1 + 3 * PIXELS; // 3073
export const CIFAR_FOLDER = "cifar-10-batches-bin";
export const CIFAR_ARCHIVE = "cifar-10-binary.tar.gz";

export function cifarFiles(split: "train" | "test"): string[] {
  return split === "train" ? [1, 2, 3, 4, 5].map((k) => `data_batch_${k}.bin`) : ["test_batch.bin"];
}

type CifarSource = { kind: "folder"; dir: string } | { kind: "archive"; file: string };

/**
 * Where the data is, given --data: the archive itself, a folder holding `cifar-10-batches-bin/`
 * or the archive, or the batches folder itself. Null when none is there.
 */
export function locateCifar(path: string): CifarSource | null {
  if (isFile(path) && /\.(tar\.gz|tgz)$/.test(path)) return { kind: "archive", file: path };
  if (isDir(joinPath(path, CIFAR_FOLDER))) {
    return { kind: "folder", dir: joinPath(path, CIFAR_FOLDER) };
  }
  if (isFile(joinPath(path, "data_batch_1.bin")) || isFile(joinPath(path, "test_batch.bin"))) {
    return { kind: "folder", dir: path };
  }
  if (isFile(joinPath(path, CIFAR_ARCHIVE))) {
    return { kind: "archive", file: joinPath(path, CIFAR_ARCHIVE) };
  }
  return null;
}

/** Checks one batch file's length and labels; `where` names it in errors. */
function checkBatch(bytes: Uint8Array, where: string): number {
  if (bytes.length === 0 || bytes.length % CIFAR_RECORD !== 0) {
    throw new UserError(
      `${where}: ${bytes.length} bytes is not a whole number of ${CIFAR_RECORD}-byte records ` +
        "(truncated or not the binary version)",
    );
  }
  const n = bytes.length / CIFAR_RECORD;
  for (let r = 0; r < n; r++) {
    const label = bytes[r * CIFAR_RECORD];
    if (label > 9) {
      throw new UserError(`${where}: record ${r} has label ${label}, not 0..9 (corrupt)`);
    }
  }
  return n;
}

/** Reads the split's batch files from the source, in order. */
function readBatches(
  source: CifarSource,
  split: "train" | "test",
): { where: string; bytes: Uint8Array }[] {
  const names = cifarFiles(split);
  if (source.kind === "folder") {
    return names.map((name) => {
      const path = joinPath(source.dir, name);
      if (!isFile(path)) {
        throw new UserError(`${path}: missing (CIFAR-10 ${split} needs ${names.join(", ")})`);
      }
      return { where: path, bytes: readBytes(path) };
    });
  }
  const entries = readTar(gunzip(readBytes(source.file), source.file), source.file);
  return names.map((name) => {
    const entry = entries.find((e) => e.type === "file" && e.name.split("/").pop() === name);
    if (!entry) {
      throw new UserError(
        `${source.file}: has no ${name} (CIFAR-10 ${split} needs ${names.join(", ")})`,
      );
    }
    return { where: `${source.file}:${entry.name}`, bytes: entry.data };
  });
}

/** Opens a CIFAR-10 split (kept in memory as the raw records: 154 MB for train). */
export function openCifar10(source: CifarSource, split: "train" | "test"): ImageDataset {
  const batches = readBatches(source, split);
  const starts: number[] = [];
  let count = 0;
  for (const b of batches) {
    starts.push(count);
    count += checkBatch(b.bytes, b.where);
  }
  const labels = new Uint8Array(count);
  batches.forEach((b, k) => {
    for (let r = 0; r < b.bytes.length / CIFAR_RECORD; r++) {
      labels[starts[k] + r] = b.bytes[r * CIFAR_RECORD];
    }
  });
  return {
    name: "cifar10",
    split,
    count,
    height: CIFAR_SIDE,
    width: CIFAR_SIDE,
    channels: 3,
    labels,
    numClasses: 10,
    get(i: number): Uint8Array {
      if (!Number.isInteger(i) || i < 0 || i >= count) {
        throw new RangeError(`index ${i} out of range`);
      }
      let k = batches.length - 1;
      while (starts[k] > i) k--;
      const rec = (i - starts[k]) * CIFAR_RECORD + 1;
      const src = batches[k].bytes;
      // Channel-planar (C, H, W) to interleaved HWC.
      const out = new Uint8Array(3 * PIXELS);
      for (let p = 0; p < PIXELS; p++) {
        out[p * 3] = src[rec + p];
        out[p * 3 + 1] = src[rec + PIXELS + p];
        out[p * 3 + 2] = src[rec + 2 * PIXELS + p];
      }
      return out;
    },
    close() {},
  };
}
