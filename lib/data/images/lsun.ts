/**
 * LSUN scene categories from the official LMDB folders (https://github.com/fyu/lsun:
 * `python3 download.py -c church_outdoor` gives `church_outdoor_train_lmdb.zip`), e.g.
 * `church_outdoor_train_lmdb/{data.mdb,lock.mdb}`: keys are image ids, values are WebP images (the
 * official export) or JPEG (older dumps), told apart by their magic bytes.
 *
 * Preprocessing (decoded lazily, per example): center square crop of the short side, then
 * area-resize to size x size (64 or 128).
 */
import { UserError } from "../../errors.ts";
import { LmdbReader } from "../lmdb_ffi.ts";
import { decodeRgb, loadWebpDecoder } from "./decode.ts";
import { isDir, isFile, joinPath } from "./files.ts";
import { centerSquareResize } from "./resize.ts";
import type { ImageDataset } from "./types.ts";

export type LsunSplit = "train" | "val";

/** The official folder name of a category's split, e.g. church_outdoor_train_lmdb. */
export function lsunFolder(category: string, split: LsunSplit): string {
  return `${category}_${split}_lmdb`;
}

/** The LMDB folder, given --data: the folder itself (has data.mdb) or its parent. Null if absent. */
export function locateLsun(path: string, category: string, split: LsunSplit): string | null {
  if (isFile(joinPath(path, "data.mdb"))) return path;
  const inside = joinPath(path, lsunFolder(category, split));
  if (isDir(inside) && isFile(joinPath(inside, "data.mdb"))) return inside;
  return null;
}

/** Opens an LSUN LMDB folder; `name` is the dataset name (e.g. lsun-church64). */
export async function openLsun(
  name: string,
  lmdbDir: string,
  split: LsunSplit,
  size: number,
): Promise<ImageDataset> {
  await loadWebpDecoder();
  const db = new LmdbReader(lmdbDir);
  if (db.count === 0) {
    db.close();
    throw new UserError(`${db.dataFile}: the database has no entries`);
  }
  return {
    name,
    split,
    count: db.count,
    height: size,
    width: size,
    channels: 3,
    labels: null,
    numClasses: 0,
    get(i: number): Uint8Array {
      const bytes = db.value(i);
      const key = new TextDecoder().decode(db.key(i));
      const img = decodeRgb(bytes, `${db.dataFile} entry ${i} (key ${key})`);
      return centerSquareResize(img.pixels, img.height, img.width, 3, size);
    },
    close() {
      db.close();
    },
  };
}
