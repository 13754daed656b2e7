/**
 * `deno run -A scripts/make_fixtures.ts OUT_DIR`: writes tiny datasets in each reader's exact
 * on-disk format, with pixel values and labels given by the formulas below, so tests can check
 * readers value by value:
 *
 *   OUT/fashion-mnist/   IDX, gzipped       OUT/mnist/   IDX, raw
 *   OUT/cifar10/cifar-10-batches-bin/       OUT/cifar10-archive/cifar-10-binary.tar.gz
 *   OUT/celeba/img_align_celeba/*.jpg       OUT/lsun/church_outdoor_{train,val}_lmdb/
 *
 * Image fixtures (CelebA, LSUN) are four flat quadrants inside the center crop and a border color
 * outside it, so the expected output after crop + resize is known without re-running the resize.
 */
import { fileURLToPath } from "node:url";
import jpeg from "jpeg-js";
import encodeWebp from "@jsquash/webp/encode.js";
import { gzipSync } from "fflate";
import { runMain, UserError } from "../lib/errors.ts";
import { writeLmdb } from "../lib/data/lmdb_ffi.ts";
import { writeTar } from "../lib/data/images/tar.ts";
import { CELEBA_CROP } from "../lib/data/images/celeba.ts";

export type IdxSplit = "train" | "test";
export const IDX_COUNT: Record<IdxSplit, number> = { train: 12, test: 3 };
export const IDX_SIDE = 28;

export function idxPixel(split: IdxSplit, i: number, y: number, x: number): number {
  return (i * 37 + y * 7 + x * 3 + (split === "test" ? 101 : 0)) % 256;
}
export function idxLabel(split: IdxSplit, i: number): number {
  return (i + (split === "test" ? 5 : 0)) % 10;
}

/** CIFAR: 2 records in each of the 5 training batches, 3 in the test batch. */
export const CIFAR_PER_BATCH = 2;
export const CIFAR_COUNT: Record<IdxSplit, number> = { train: 5 * CIFAR_PER_BATCH, test: 3 };

export function cifarPixel(split: IdxSplit, i: number, c: number, y: number, x: number): number {
  return (i * 11 + c * 80 + y * 5 + x * 2 + (split === "test" ? 7 : 0)) % 256;
}
export function cifarLabel(split: IdxSplit, i: number): number {
  return (i * 7 + (split === "test" ? 3 : 0)) % 10;
}

export type Rgb = [number, number, number];
/** Outside the center crop: must never reach an output pixel. */
export const BORDER: Rgb = [255, 0, 0];

/** Quadrant colors (top-left, top-right, bottom-left, bottom-right) of fixture image k. */
export function quadrantColors(k: number): [Rgb, Rgb, Rgb, Rgb] {
  const v = (a: number) => (40 + a * 23 + k * 17) % 200 + 20;
  return [[v(0), v(1), v(2)], [v(3), 200, v(4)], [30, v(5), v(6)], [v(7), v(8), 220]];
}

/** RGBA image: quadrants inside the centered crop window (crop x crop), BORDER outside. */
export function quadrantImage(width: number, height: number, crop: number, k: number): Uint8Array {
  const colors = quadrantColors(k);
  const top = Math.floor((height - crop) / 2);
  const left = Math.floor((width - crop) / 2);
  const rgba = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const cy = y - top;
      const cx = x - left;
      const inside = cy >= 0 && cy < crop && cx >= 0 && cx < crop;
      const color = inside ? colors[(cy < crop / 2 ? 0 : 2) + (cx < crop / 2 ? 0 : 1)] : BORDER;
      rgba.set([...color, 255], (y * width + x) * 4);
    }
  }
  return rgba;
}

export const CELEBA_FIXTURE = {
  width: 178,
  height: 218,
  /** File numbers: three train, one valid, one test (official partition). */
  numbers: [1, 2, 3, 162771, 182638],
};

export interface LsunFixtureEntry {
  key: string;
  /** "webp" lossless (exact pixels), "webp-lossy" (as LSUN's official export), or "jpeg". */
  format: "webp" | "webp-lossy" | "jpeg";
  width: number;
  height: number;
  /** quadrantColors(k) */
  k: number;
}

/** LSUN fixture entries in key order (what a reader yields). */
export interface FixtureSet {
  root: string;
  fashionMnist: string;
  mnist: string;
  cifarFolder: string;
  cifarArchive: string;
  celeba: string;
  lsun: string;
  lsunTrain: LsunFixtureEntry[];
  lsunVal: LsunFixtureEntry[];
}

function idxFile(dims: number[], data: Uint8Array): Uint8Array {
  const header = new Uint8Array(4 + 4 * dims.length);
  const view = new DataView(header.buffer);
  header[2] = 0x08;
  header[3] = dims.length;
  dims.forEach((d, k) => view.setUint32(4 + 4 * k, d, false));
  const out = new Uint8Array(header.length + data.length);
  out.set(header);
  out.set(data, header.length);
  return out;
}

function writeIdxSet(dir: string, gzip: boolean): void {
  Deno.mkdirSync(dir, { recursive: true });
  for (const split of ["train", "test"] as const) {
    const n = IDX_COUNT[split];
    const images = new Uint8Array(n * IDX_SIDE * IDX_SIDE);
    const labels = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      labels[i] = idxLabel(split, i);
      for (let y = 0; y < IDX_SIDE; y++) {
        for (let x = 0; x < IDX_SIDE; x++) {
          images[(i * IDX_SIDE + y) * IDX_SIDE + x] = idxPixel(split, i, y, x);
        }
      }
    }
    const prefix = split === "train" ? "train" : "t10k";
    const files: [string, Uint8Array][] = [
      [`${prefix}-images-idx3-ubyte`, idxFile([n, IDX_SIDE, IDX_SIDE], images)],
      [`${prefix}-labels-idx1-ubyte`, idxFile([n], labels)],
    ];
    for (const [name, bytes] of files) {
      if (gzip) Deno.writeFileSync(`${dir}/${name}.gz`, gzipSync(bytes, { mtime: 0 }));
      else Deno.writeFileSync(`${dir}/${name}`, bytes);
    }
  }
}

function cifarBatch(split: IdxSplit, first: number, n: number): Uint8Array {
  const out = new Uint8Array(n * 3073);
  for (let r = 0; r < n; r++) {
    const i = first + r;
    out[r * 3073] = cifarLabel(split, i);
    for (let c = 0; c < 3; c++) {
      for (let y = 0; y < 32; y++) {
        for (let x = 0; x < 32; x++) {
          out[r * 3073 + 1 + c * 1024 + y * 32 + x] = cifarPixel(split, i, c, y, x);
        }
      }
    }
  }
  return out;
}

function cifarPaths(root: string): { folder: string; archive: string } {
  return {
    folder: `${root}/cifar10`,
    archive: `${root}/cifar10-archive/cifar-10-binary.tar.gz`,
  };
}

function writeCifar(root: string): { folder: string; archive: string } {
  const files: { name: string; data?: Uint8Array }[] = [{ name: "cifar-10-batches-bin/" }];
  for (let b = 1; b <= 5; b++) {
    files.push({
      name: `cifar-10-batches-bin/data_batch_${b}.bin`,
      data: cifarBatch("train", (b - 1) * CIFAR_PER_BATCH, CIFAR_PER_BATCH),
    });
  }
  files.push({
    name: "cifar-10-batches-bin/test_batch.bin",
    data: cifarBatch("test", 0, CIFAR_COUNT.test),
  });
  const names = "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n";
  files.push({
    name: "cifar-10-batches-bin/batches.meta.txt",
    data: new TextEncoder().encode(names),
  });
  const folder = `${root}/cifar10`;
  for (const f of files) {
    if (f.data) Deno.writeFileSync(`${folder}/${f.name}`, f.data);
    else Deno.mkdirSync(`${folder}/${f.name}`, { recursive: true });
  }
  const archiveDir = `${root}/cifar10-archive`;
  Deno.mkdirSync(archiveDir, { recursive: true });
  const { archive } = cifarPaths(root);
  // A fixed gzip header time: the same bytes at every run (fflate writes the current time).
  Deno.writeFileSync(archive, gzipSync(writeTar(files), { mtime: 0 }));
  return { folder, archive };
}

function encodeJpeg(rgba: Uint8Array, width: number, height: number): Uint8Array<ArrayBuffer> {
  return new Uint8Array(jpeg.encode({ data: rgba, width, height }, 100).data);
}

async function encodeWebpImage(
  rgba: Uint8Array,
  width: number,
  height: number,
  lossless: boolean,
): Promise<Uint8Array<ArrayBuffer>> {
  const image = {
    data: new Uint8ClampedArray(rgba),
    width,
    height,
    colorSpace: "srgb",
  } as ImageData;
  return new Uint8Array(await encodeWebp(image, lossless ? { lossless: 1 } : { quality: 95 }));
}

async function hexKey(text: string): Promise<string> {
  // LSUN keys are 40-hex-digit SHA-1 ids.
  const digest = await crypto.subtle.digest("SHA-1", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The LSUN fixture entries: a landscape and a portrait lossless WebP (exact pixels), a JPEG
 * value, and (val) a lossy WebP value; keys sorted as LMDB stores them. */
const LSUN_SPECS: Record<"train" | "val", Omit<LsunFixtureEntry, "key">[]> = {
  train: [
    { format: "webp", width: 96, height: 80, k: 0 },
    { format: "webp", width: 80, height: 100, k: 1 },
    { format: "jpeg", width: 104, height: 88, k: 2 },
  ],
  val: [{ format: "webp-lossy", width: 72, height: 64, k: 3 }],
};

async function lsunEntries(tag: "train" | "val"): Promise<LsunFixtureEntry[]> {
  const entries: LsunFixtureEntry[] = [];
  for (const spec of LSUN_SPECS[tag]) {
    entries.push({ key: await hexKey(`${tag}-${spec.k}`), ...spec });
  }
  return entries.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

async function writeLsun(dir: string, specs: Omit<LsunFixtureEntry, "key">[], tag: string) {
  const entries: LsunFixtureEntry[] = [];
  const kv: [Uint8Array<ArrayBuffer>, Uint8Array<ArrayBuffer>][] = [];
  for (const spec of specs) {
    const key = await hexKey(`${tag}-${spec.k}`);
    const rgba = quadrantImage(spec.width, spec.height, Math.min(spec.width, spec.height), spec.k);
    const value = spec.format === "jpeg"
      ? encodeJpeg(rgba, spec.width, spec.height)
      : await encodeWebpImage(rgba, spec.width, spec.height, spec.format === "webp");
    entries.push({ key, ...spec });
    kv.push([new TextEncoder().encode(key), value]);
  }
  writeLmdb(dir, kv);
  return entries.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** Writes every fixture under `root` and describes what is where. */
export async function makeFixtures(root: string): Promise<FixtureSet> {
  Deno.mkdirSync(root, { recursive: true });
  writeIdxSet(`${root}/fashion-mnist`, true);
  writeIdxSet(`${root}/mnist`, false);
  writeCifar(root);

  const celeba = `${root}/celeba/img_align_celeba`;
  Deno.mkdirSync(celeba, { recursive: true });
  const { width, height, numbers } = CELEBA_FIXTURE;
  numbers.forEach((num, k) => {
    const rgba = quadrantImage(width, height, CELEBA_CROP, k);
    Deno.writeFileSync(
      `${celeba}/${String(num).padStart(6, "0")}.jpg`,
      encodeJpeg(rgba, width, height),
    );
  });

  const lsun = `${root}/lsun`;
  await writeLsun(`${lsun}/church_outdoor_train_lmdb`, LSUN_SPECS.train, "train");
  await writeLsun(`${lsun}/church_outdoor_val_lmdb`, LSUN_SPECS.val, "val");
  return await describeFixtures(root);
}

/**
 * The fixtures committed in the repository (fixtures/, made by this script; a test checks they
 * are what it makes): what tests read, without writing anything.
 */
export const FIXTURES_DIR = fileURLToPath(new URL("../fixtures", import.meta.url));

/** What is where in a fixtures folder written by makeFixtures. */
export async function describeFixtures(root = FIXTURES_DIR): Promise<FixtureSet> {
  const lsun = `${root}/lsun`;
  const cifar = cifarPaths(root);
  const lsunTrain = await lsunEntries("train");
  const lsunVal = await lsunEntries("val");
  return {
    root,
    fashionMnist: `${root}/fashion-mnist`,
    mnist: `${root}/mnist`,
    cifarFolder: cifar.folder,
    cifarArchive: cifar.archive,
    celeba: `${root}/celeba`,
    lsun,
    lsunTrain,
    lsunVal,
  };
}

async function main(): Promise<void> {
  const root = Deno.args[0];
  if (!root) throw new UserError("usage: deno run -A scripts/make_fixtures.ts OUT_DIR");
  const set = await makeFixtures(root);
  for (const [k, v] of Object.entries(set)) {
    if (typeof v === "string") console.log(`${k.padEnd(14)} ${v}`);
  }
}

if (import.meta.main) await runMain(main);
