/**
 * CelebA, aligned and cropped JPEGs (`img_align_celeba/000001.jpg` .. `202599.jpg`, 178 wide x
 * 218 high; https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html).
 *
 * Preprocessing (decoded lazily, per example): center crop 140x140 (rows 39..178, columns 19..158
 * of a 218x178 image), then area-resize to `size` (64 for celeba64): the common CelebA-64 crop used
 * by score-based and EBM papers. Splits follow the official partition by file number
 * (list_eval_partition.txt): train 000001-162770, valid 162771-182637, test 182638-202599.
 */
import { UserError } from "../../errors.ts";
import { decodeRgb } from "./decode.ts";
import { isDir, joinPath, readBytes } from "./files.ts";
import { centerCrop, resize } from "./resize.ts";
import type { ImageDataset } from "./types.ts";

export const CELEBA_FOLDER = "img_align_celeba";
export const CELEBA_CROP = 140;
export type CelebaSplit = "train" | "valid" | "test" | "all";

/** Inclusive file-number ranges of the official partition. */
export const CELEBA_SPLITS: Record<CelebaSplit, [number, number]> = {
  train: [1, 162770],
  valid: [162771, 182637],
  test: [182638, 202599],
  all: [1, 202599],
};

const FILE_NAME = /^(\d{6})\.jpg$/;

function hasCelebaFiles(dir: string): boolean {
  try {
    for (const e of Deno.readDirSync(dir)) if (e.isFile && FILE_NAME.test(e.name)) return true;
  } catch {
    return false;
  }
  return false;
}

/**
 * The JPEG folder, given --data: a folder holding `img_align_celeba/` (also the doubled
 * `img_align_celeba/img_align_celeba/` of some mirrors), or the JPEG folder itself. Null if absent.
 */
export function locateCeleba(path: string): string | null {
  const candidates = [
    joinPath(joinPath(path, CELEBA_FOLDER), CELEBA_FOLDER),
    joinPath(path, CELEBA_FOLDER),
    path,
  ];
  for (const dir of candidates) if (isDir(dir) && hasCelebaFiles(dir)) return dir;
  return null;
}

/** Opens a CelebA split from the JPEG folder `dir`, images cropped and resized to size x size. */
export function openCeleba(dir: string, split: CelebaSplit, size = 64): ImageDataset {
  const [lo, hi] = CELEBA_SPLITS[split];
  const files: { num: number; name: string }[] = [];
  for (const e of Deno.readDirSync(dir)) {
    const m = e.isFile ? FILE_NAME.exec(e.name) : null;
    if (!m) continue;
    const num = Number(m[1]);
    if (num >= lo && num <= hi) files.push({ num, name: e.name });
  }
  if (files.length === 0) {
    throw new UserError(`${dir}: no CelebA images of split ${split} (files ${lo} to ${hi}.jpg)`);
  }
  files.sort((a, b) => a.num - b.num);
  return {
    name: `celeba${size}`,
    split,
    count: files.length,
    height: size,
    width: size,
    channels: 3,
    labels: null,
    numClasses: 0,
    get(i: number): Uint8Array {
      if (!Number.isInteger(i) || i < 0 || i >= files.length) {
        throw new RangeError(`index ${i} out of range`);
      }
      const path = joinPath(dir, files[i].name);
      const img = decodeRgb(readBytes(path), path);
      if (img.height < CELEBA_CROP || img.width < CELEBA_CROP) {
        throw new UserError(
          `${path}: ${img.width}x${img.height} is smaller than the ${CELEBA_CROP}x${CELEBA_CROP} crop ` +
            "(expected img_align_celeba's 178x218)",
        );
      }
      const crop = centerCrop(img.pixels, img.height, img.width, 3, CELEBA_CROP, CELEBA_CROP);
      return resize(crop, CELEBA_CROP, CELEBA_CROP, 3, size, size);
    },
    close() {},
  };
}
