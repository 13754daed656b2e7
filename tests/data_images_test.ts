/**
 * Image readers on fixtures written in each exact format (scripts/make_fixtures.ts): pixel values
 * and labels, crops, batches (scaling, flips, seeded order), and the errors for bad or missing data.
 */
import assert from "node:assert/strict";
import { runScript } from "./helpers/script.ts";
import { UserError } from "../lib/errors.ts";
import { Rng } from "../lib/rng.ts";
import { initBackend } from "../lib/backend.ts";
import { LmdbReader, openLmdbLibrary, writeLmdb } from "../lib/data/lmdb_ffi.ts";
import { batches, type ImageDataset } from "../lib/data/images/types.ts";
import { openImageDataset } from "../lib/data/images/registry.ts";
import { centerCrop, resize } from "../lib/data/images/resize.ts";
import { datasetStats } from "../lib/data/images/stats.ts";
import { parseIdx } from "../lib/data/images/idx.ts";
import { readTar, writeTar } from "../lib/data/images/tar.ts";
import { toTensor } from "../lib/data/images/tensor.ts";
import { gunzip } from "../lib/data/images/files.ts";
import {
  BORDER,
  CELEBA_FIXTURE,
  CIFAR_COUNT,
  cifarLabel,
  cifarPixel,
  describeFixtures,
  type FixtureSet,
  IDX_COUNT,
  IDX_SIDE,
  idxLabel,
  idxPixel,
  type LsunFixtureEntry,
  makeFixtures,
  quadrantColors,
  type Rgb,
} from "../scripts/make_fixtures.ts";
import { REAL_FASHION_MNIST, testNeeding } from "./helpers/needs.ts";

/** The fixtures committed in fixtures/ (read only). */
function fixtures(): Promise<FixtureSet> {
  return describeFixtures();
}

/** A scratch folder, removed when the test's scope ends: `using dir = scratchDir()`. */
function scratchDir(): { path: string } & Disposable {
  const path = Deno.makeTempDirSync({ prefix: "drl_data_bad_" });
  return { path, [Symbol.dispose]: () => Deno.removeSync(path, { recursive: true }) };
}

/** Asserts `fn` throws a UserError whose message contains every part. */
async function rejectsUser(fn: () => unknown, ...parts: string[]): Promise<void> {
  try {
    await fn();
  } catch (err) {
    assert.ok(err instanceof UserError, `expected a UserError, got ${err}`);
    for (const p of parts) assert.ok(err.message.includes(p), `'${err.message}' lacks '${p}'`);
    return;
  }
  assert.fail(`expected a UserError mentioning ${parts.join(", ")}`);
}

function pixelAt(img: Uint8Array, w: number, c: number, y: number, x: number): number[] {
  return Array.from(img.subarray((y * w + x) * c, (y * w + x) * c + c));
}

// ---------- IDX (MNIST, Fashion-MNIST) ----------

for (const [name, key] of [["fashion-mnist", "fashionMnist"], ["mnist", "mnist"]] as const) {
  Deno.test(`${name}: IDX fixture gives the exact pixels and labels (${key === "mnist" ? "raw" : "gz"})`, async () => {
    const fx = await fixtures();
    for (const split of ["train", "test"] as const) {
      const ds = await openImageDataset(name, { data: fx[key], split });
      assert.equal(ds.count, IDX_COUNT[split]);
      assert.deepEqual([ds.height, ds.width, ds.channels], [IDX_SIDE, IDX_SIDE, 1]);
      for (let i = 0; i < ds.count; i++) {
        assert.equal(ds.labels![i], idxLabel(split, i));
        const img = ds.get(i);
        for (const [y, x] of [[0, 0], [0, 27], [13, 5], [27, 27]]) {
          assert.equal(
            img[y * IDX_SIDE + x],
            idxPixel(split, i, y, x),
            `${split} ${i} (${y},${x})`,
          );
        }
      }
    }
  });
}

Deno.test("IDX: truncated, corrupt and mismatched files are UserErrors naming the file", async () => {
  const fx = await fixtures();
  using scratch = scratchDir();
  const dir = scratch.path;
  const images = Deno.readFileSync(`${fx.mnist}/train-images-idx3-ubyte`);
  const labels = Deno.readFileSync(`${fx.mnist}/train-labels-idx1-ubyte`);
  const imgPath = `${dir}/train-images-idx3-ubyte`;
  const lblPath = `${dir}/train-labels-idx1-ubyte`;
  Deno.writeFileSync(lblPath, labels);

  Deno.writeFileSync(imgPath, images.subarray(0, images.length - 100));
  await rejectsUser(() => openImageDataset("mnist", { data: dir }), imgPath, "truncated");

  const badMagic = images.slice();
  badMagic[0] = 7;
  Deno.writeFileSync(imgPath, badMagic);
  await rejectsUser(() => openImageDataset("mnist", { data: dir }), imgPath, "magic");

  Deno.writeFileSync(imgPath, new Uint8Array([...images, 1, 2, 3]));
  await rejectsUser(() => openImageDataset("mnist", { data: dir }), imgPath, "3 bytes beyond");

  Deno.writeFileSync(imgPath, images);
  Deno.writeFileSync(lblPath, labels.subarray(0, labels.length - 1));
  await rejectsUser(() => openImageDataset("mnist", { data: dir }), lblPath, "truncated");

  // A gzipped file cut short: the gzip layer reports it, naming the .gz file.
  Deno.removeSync(imgPath);
  const gz = Deno.readFileSync(`${fx.fashionMnist}/train-images-idx3-ubyte.gz`);
  Deno.writeFileSync(`${imgPath}.gz`, gz.subarray(0, gz.length - 300));
  Deno.writeFileSync(lblPath, labels);
  await rejectsUser(() => openImageDataset("mnist", { data: dir }), `${imgPath}.gz`, "gzip");
});

Deno.test("IDX parser: dimension count and data type are checked", () => {
  const bytes = new Uint8Array([0, 0, 8, 1, 0, 0, 0, 2, 5, 6]);
  assert.deepEqual(parseIdx(bytes, "x", 1).dims, [2]);
  assert.deepEqual(Array.from(parseIdx(bytes, "x", 1).data), [5, 6]);
  assert.throws(() => parseIdx(bytes, "x", 3), UserError);
  assert.throws(
    () => parseIdx(new Uint8Array([0, 0, 0x0d, 1, 0, 0, 0, 0]), "x", 1),
    /unsigned byte/,
  );
});

// ---------- CIFAR-10 ----------

function checkCifar(ds: ImageDataset, split: "train" | "test"): void {
  assert.equal(ds.count, CIFAR_COUNT[split]);
  assert.deepEqual([ds.height, ds.width, ds.channels], [32, 32, 3]);
  for (let i = 0; i < ds.count; i++) {
    assert.equal(ds.labels![i], cifarLabel(split, i));
    const img = ds.get(i);
    for (const [y, x] of [[0, 0], [0, 31], [17, 4], [31, 31]]) {
      const want = [0, 1, 2].map((c) => cifarPixel(split, i, c, y, x));
      assert.deepEqual(pixelAt(img, 32, 3, y, x), want, `${split} ${i} (${y},${x})`);
    }
  }
}

Deno.test("cifar10: folder and tar.gz give the exact pixels (planar -> HWC) and labels", async () => {
  const fx = await fixtures();
  for (const split of ["train", "test"] as const) {
    checkCifar(await openImageDataset("cifar10", { data: fx.cifarFolder, split }), split);
    // --data may also be the batches folder itself, the archive, or the archive's folder.
    checkCifar(
      await openImageDataset("cifar10", { data: `${fx.cifarFolder}/cifar-10-batches-bin`, split }),
      split,
    );
    checkCifar(await openImageDataset("cifar10", { data: fx.cifarArchive, split }), split);
  }
});

Deno.test("cifar10: bad lengths, labels, missing batches and damaged archives are UserErrors", async () => {
  const fx = await fixtures();
  using scratch = scratchDir();
  const dir = scratch.path;
  const src = `${fx.cifarFolder}/cifar-10-batches-bin`;
  for (const e of Deno.readDirSync(src)) Deno.copyFileSync(`${src}/${e.name}`, `${dir}/${e.name}`);
  const batch3 = `${dir}/data_batch_3.bin`;
  const good = Deno.readFileSync(batch3);

  Deno.writeFileSync(batch3, good.subarray(0, good.length - 10));
  await rejectsUser(() => openImageDataset("cifar10", { data: dir }), batch3, "3073");

  const badLabel = good.slice();
  badLabel[3073] = 42;
  Deno.writeFileSync(batch3, badLabel);
  await rejectsUser(() => openImageDataset("cifar10", { data: dir }), batch3, "label 42");

  Deno.removeSync(batch3);
  await rejectsUser(() => openImageDataset("cifar10", { data: dir }), batch3, "missing");

  const archive = Deno.readFileSync(fx.cifarArchive);
  const cut = `${dir}/cut.tar.gz`;
  Deno.writeFileSync(cut, archive.subarray(0, archive.length - 50));
  await rejectsUser(() => openImageDataset("cifar10", { data: cut }), cut);

  // An intact gzip around a damaged tar header: the checksum catches it.
  const tar = gunzip(archive, fx.cifarArchive).slice();
  tar[512 + 5] ^= 0xff; // the second header's name field (the first is the folder's, no data)
  const { gzipSync } = await import("fflate");
  const damaged = `${dir}/damaged.tar.gz`;
  Deno.writeFileSync(damaged, gzipSync(tar));
  await rejectsUser(() => openImageDataset("cifar10", { data: damaged }), damaged, "checksum");
});

Deno.test("tar: writeTar/readTar round trip with folders and a long prefix-free name", () => {
  const data = new Uint8Array(1000).map((_, i) => i % 251);
  const entries = readTar(
    writeTar([{ name: "a/" }, { name: "a/b.bin", data }, { name: "c", data: new Uint8Array(0) }]),
    "t",
  );
  assert.deepEqual(entries.map((e) => [e.name, e.type, e.data.length]), [["a/", "dir", 0], [
    "a/b.bin",
    "file",
    1000,
  ], [
    "c",
    "file",
    0,
  ]]);
  assert.deepEqual(entries[1].data, data);
});

// ---------- CelebA ----------

/** Checks a quadrant image: interior of each quadrant near `colors` (tolerance tol), no border. */
function checkQuadrants(
  img: Uint8Array,
  size: number,
  colors: Rgb[],
  tol: number,
  margin: number,
): void {
  const half = size / 2;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const px = pixelAt(img, size, 3, y, x);
      // The border outside the crop must not leak in: no output pixel is near its color.
      assert.ok(px.some((v, c) => Math.abs(v - BORDER[c]) > 30), `border color at ${y},${x}`);
      const nearEdge = [y, x].some((v) =>
        v < margin || v >= size - margin || Math.abs(v + 0.5 - half) < margin
      );
      if (nearEdge) continue;
      const want = colors[(y < half ? 0 : 2) + (x < half ? 0 : 1)];
      for (let c = 0; c < 3; c++) {
        assert.ok(
          Math.abs(px[c] - want[c]) <= tol,
          `(${y},${x}) channel ${c}: ${px[c]} vs ${want[c]}`,
        );
      }
    }
  }
}

Deno.test("celeba64: official split by file number, center crop 140 resized to 64", async () => {
  const fx = await fixtures();
  const counts: Record<string, number> = {};
  for (const split of ["train", "valid", "test", "all"]) {
    counts[split] = (await openImageDataset("celeba64", { data: fx.celeba, split })).count;
  }
  assert.deepEqual(counts, { train: 3, valid: 1, test: 1, all: 5 });
  const ds = await openImageDataset("celeba64", { data: fx.celeba, split: "all" });
  assert.deepEqual([ds.height, ds.width, ds.channels, ds.labels], [64, 64, 3, null]);
  for (let i = 0; i < ds.count; i++) {
    // JPEG at quality 100 (4:4:4) is near-exact away from edges; the border must be cropped off.
    checkQuadrants(ds.get(i), 64, quadrantColors(i), 3, 2);
  }
  // The valid split holds the fixture's fourth image (162771.jpg).
  const valid = await openImageDataset("celeba64", { data: fx.celeba, split: "valid" });
  assert.equal(CELEBA_FIXTURE.numbers[3], 162771);
  checkQuadrants(valid.get(0), 64, quadrantColors(3), 3, 2);
});

Deno.test("celeba64: a damaged JPEG is a UserError naming the file", async () => {
  const fx = await fixtures();
  using scratch = scratchDir();
  const dir = scratch.path;
  const good = Deno.readFileSync(`${fx.celeba}/img_align_celeba/000001.jpg`);
  const bad = `${dir}/000001.jpg`;
  Deno.writeFileSync(bad, good.subarray(0, 3000));
  const ds = await openImageDataset("celeba64", { data: dir });
  await rejectsUser(() => ds.get(0), bad, "JPEG");
  Deno.writeFileSync(bad, new TextEncoder().encode("not an image at all"));
  await rejectsUser(() => ds.get(0), bad, "not a JPEG or WebP");
});

// ---------- LSUN (LMDB through FFI) ----------

/** Lossy WebP (quality 95, 4:2:0 chroma) is near the flat colors away from the edges. */
const LOSSY_WEBP_TOLERANCE = 6;

function checkLsunEntry(img: Uint8Array, size: number, e: LsunFixtureEntry): void {
  if (e.format === "webp" && size === 64) {
    // Lossless WebP and an area resize whose quadrant boundary falls on a pixel edge: exact.
    checkQuadrants(img, size, quadrantColors(e.k), 0, 0);
  } else {
    checkQuadrants(
      img,
      size,
      quadrantColors(e.k),
      { webp: 0, jpeg: 3, "webp-lossy": LOSSY_WEBP_TOLERANCE }[e.format],
      size === 128 ? 4 : 2,
    );
  }
}

Deno.test("lsun: LMDB fixture (WebP and JPEG values) read in key order, cropped and resized", async () => {
  const fx = await fixtures();
  for (const [name, size] of [["lsun-church64", 64], ["lsun-church128", 128]] as const) {
    const ds = await openImageDataset(name, { data: fx.lsun });
    assert.equal(ds.count, fx.lsunTrain.length);
    assert.deepEqual([ds.height, ds.width, ds.channels, ds.labels], [size, size, 3, null]);
    fx.lsunTrain.forEach((e, i) => checkLsunEntry(ds.get(i), size, e));
    ds.close();
    ds.close(); // idempotent
  }
  const val = await openImageDataset("lsun-church64", { data: fx.lsun, split: "val" });
  assert.equal(val.count, 1);
  checkLsunEntry(val.get(0), 64, fx.lsunVal[0]);
  val.close();
  // --data may also name the LMDB folder itself.
  const direct = await openImageDataset("lsun-church64", {
    data: `${fx.lsun}/church_outdoor_val_lmdb`,
  });
  assert.equal(direct.count, 1);
  direct.close();
  assert.deepEqual(fx.lsunTrain.map((e) => e.format).sort(), ["jpeg", "webp", "webp"]);
});

Deno.test("lsun: keys come back sorted, as LMDB stores them", async () => {
  const fx = await fixtures();
  const db = new LmdbReader(`${fx.lsun}/church_outdoor_train_lmdb`);
  const keys = Array.from({ length: db.count }, (_, i) => new TextDecoder().decode(db.key(i)));
  db.close();
  assert.deepEqual(keys, fx.lsunTrain.map((e) => e.key));
  assert.ok(keys.every((k) => /^[0-9a-f]{40}$/.test(k)));
});

Deno.test("lsun: fixture values are lossless (VP8L), lossy (VP8) WebP and JPEG", async () => {
  const fx = await fixtures();
  const tag = (bytes: Uint8Array) =>
    bytes[0] === 0xff ? "jpeg" : String.fromCharCode(...bytes.subarray(12, 16));
  const train = new LmdbReader(`${fx.lsun}/church_outdoor_train_lmdb`);
  const tags = fx.lsunTrain.map((_, i) => tag(train.value(i)));
  train.close();
  assert.deepEqual(tags, fx.lsunTrain.map((e) => e.format === "jpeg" ? "jpeg" : "VP8L"));
  const val = new LmdbReader(`${fx.lsun}/church_outdoor_val_lmdb`);
  assert.equal(tag(val.value(0)), "VP8 ");
  val.close();
});

Deno.test("lmdb: a missing liblmdb is a UserError with the install command", () => {
  assert.throws(
    () => openLmdbLibrary(["/nonexistent/liblmdb.so.0"]),
    (e) => e instanceof UserError && e.message.includes("apt-get install liblmdb0"),
  );
});

Deno.test("lsun: truncated data.mdb and undecodable values are UserErrors naming the file", async () => {
  const fx = await fixtures();
  using scratch = scratchDir();
  const dir = scratch.path;
  const lmdb = `${dir}/church_outdoor_train_lmdb`;
  Deno.mkdirSync(lmdb);
  const data = Deno.readFileSync(`${fx.lsun}/church_outdoor_train_lmdb/data.mdb`);
  Deno.writeFileSync(`${lmdb}/data.mdb`, data.subarray(0, data.length - 4096));
  await rejectsUser(
    () => openImageDataset("lsun-church64", { data: dir }),
    `${lmdb}/data.mdb`,
    "truncated",
  );
  Deno.writeFileSync(`${lmdb}/data.mdb`, new Uint8Array(8192).fill(0x5a));
  await rejectsUser(
    () => openImageDataset("lsun-church64", { data: dir }),
    `${lmdb}/data.mdb`,
    "LMDB",
  );

  const junkDb = `${dir}/junk_lmdb`;
  const enc = new TextEncoder();
  writeLmdb(junkDb, [[enc.encode("k1"), enc.encode("RIFF\0\0\0\0WEBPgarbage")], [
    enc.encode("k2"),
    enc.encode("??"),
  ]]);
  const ds = await openImageDataset("lsun-bedroom64", { data: junkDb });
  await rejectsUser(() => ds.get(0), `${junkDb}/data.mdb`, "key k1", "WebP");
  await rejectsUser(() => ds.get(1), "key k2", "not a JPEG or WebP");
  ds.close();
});

// ---------- missing data ----------

Deno.test("missing data: the message says where to get the files and where to put them", async () => {
  using scratch = scratchDir();
  const nowhere = `${scratch.path}/absent`;
  await rejectsUser(
    () => openImageDataset("cifar10", { data: nowhere }),
    nowhere,
    "https://www.cs.toronto.edu/~kriz/cifar.html",
    "data/cifar10",
    "--data PATH",
  );
  await rejectsUser(
    () => openImageDataset("celeba64", { data: nowhere }),
    "img_align_celeba",
    "data/celeba",
  );
  await rejectsUser(
    () => openImageDataset("lsun-bedroom64", { data: nowhere }),
    "bedroom_train_lmdb",
    "https://github.com/fyu/lsun",
  );
  await rejectsUser(() => openImageDataset("mnist", { data: nowhere }), "train-images-idx3-ubyte");
  await rejectsUser(
    () => openImageDataset("fashion-mnist", { data: nowhere }),
    "dataset-fashion-mnist",
  );
  await rejectsUser(() => openImageDataset("imagenet"), "unknown dataset", "cifar10");
  await rejectsUser(() => openImageDataset("cifar10", { split: "valid" }), "no split 'valid'");
});

// ---------- crop and resize ----------

Deno.test("resize: area averaging when shrinking, bilinear when enlarging, center crop offsets", () => {
  // 4x4 -> 2x2: means of 2x2 blocks.
  const a = Uint8Array.from([0, 2, 10, 20, 4, 6, 30, 40, 100, 100, 1, 1, 100, 104, 1, 3]);
  assert.deepEqual(Array.from(resize(a, 4, 4, 1, 2, 2)), [3, 25, 101, 2]);
  // 1x3 -> 1x2: s = 1.5, out0 = (p0 + p1/2) / 1.5, out1 = (p1/2 + p2) / 1.5.
  assert.deepEqual(Array.from(resize(Uint8Array.from([30, 60, 90]), 1, 3, 1, 1, 2)), [40, 80]);
  // 1x2 -> 1x4, half-pixel bilinear: sources -0.25 (clamped 0), 0.25, 0.75, 1.25 (clamped 1).
  assert.deepEqual(Array.from(resize(Uint8Array.from([0, 100]), 1, 2, 1, 1, 4)), [0, 25, 75, 100]);
  // Channels stay separate.
  assert.deepEqual(Array.from(resize(Uint8Array.from([10, 200, 30, 100]), 1, 2, 2, 1, 1)), [
    20,
    150,
  ]);
  // Center crop of a 5x4 image (h x w) to 2x2: top = floor(3/2) = 1, left = 1.
  const img = Uint8Array.from({ length: 20 }, (_, i) => i);
  assert.deepEqual(Array.from(centerCrop(img, 5, 4, 1, 2, 2)), [5, 6, 9, 10]);
});

// ---------- batches ----------

Deno.test("batches: NHWC shapes, exact [-1, 1] scaling, labels and a full permutation per epoch", async () => {
  const fx = await fixtures();
  const ds = await openImageDataset("cifar10", { data: fx.cifarFolder });
  const got = [...batches(ds, { batchSize: 4, rng: new Rng(3) })];
  assert.deepEqual(got.map((b) => b.shape), [[4, 32, 32, 3], [4, 32, 32, 3], [2, 32, 32, 3]]);
  const seen = got.flatMap((b) => Array.from(b.indices)).sort((p, q) => p - q);
  assert.deepEqual(seen, [...Array(ds.count).keys()]);
  for (const b of got) {
    for (let s = 0; s < b.shape[0]; s++) {
      const i = b.indices[s];
      assert.equal(b.labels![s], cifarLabel("train", i));
      const raw = ds.get(i);
      for (const q of [0, 100, 3071]) {
        assert.equal(b.x[s * 3072 + q], Math.fround(raw[q] / 127.5 - 1));
      }
    }
  }
  const all = got.flatMap((b) => Array.from(b.x));
  assert.equal(Math.min(...all), -1); // pixel 0
  assert.equal(Math.max(...all), 1); // pixel 255
  assert.equal([...batches(ds, { batchSize: 4, rng: new Rng(3), dropLast: true })].length, 2);
});

Deno.test("batches: random horizontal flips mirror the image, about half of the time", async () => {
  const fx = await fixtures();
  const ds = await openImageDataset("mnist", { data: fx.mnist });
  let flips = 0;
  let total = 0;
  for (const b of batches(ds, { batchSize: 5, rng: new Rng(11), flip: true, epochs: 20 })) {
    for (let s = 0; s < b.shape[0]; s++) {
      const raw = ds.get(b.indices[s]);
      const y = 9;
      for (const x of [0, 6, 27]) {
        const src = b.flipped[s] ? 27 - x : x;
        assert.equal(b.x[s * 784 + y * 28 + x], Math.fround(raw[y * 28 + src] / 127.5 - 1));
      }
      flips += b.flipped[s];
      total++;
    }
  }
  assert.equal(total, 20 * ds.count);
  // 240 fair coin flips: 120 +- 3 standard deviations (7.7) is a wide, seed-fixed check.
  assert.ok(Math.abs(flips - total / 2) < 3 * Math.sqrt(total / 4), `${flips} flips of ${total}`);
  const plain = [...batches(ds, { batchSize: 5, rng: new Rng(11) })];
  assert.ok(plain.every((b) => b.flipped.every((f) => f === 0)));
});

Deno.test("batches: same seed, same stream; skipBatches resumes it; endless streams stay full", async () => {
  const fx = await fixtures();
  const ds = await openImageDataset("cifar10", { data: fx.cifarFolder });
  const take = (seed: number, n: number, skip = 0) => {
    const out: { indices: number[]; flipped: number[]; x0: number }[] = [];
    for (
      const b of batches(ds, {
        batchSize: 3,
        rng: new Rng(seed),
        flip: true,
        epochs: Infinity,
        skipBatches: skip,
      })
    ) {
      assert.equal(b.shape[0], 3);
      out.push({ indices: Array.from(b.indices), flipped: Array.from(b.flipped), x0: b.x[0] });
      if (out.length === n) break;
    }
    return out;
  };
  const a = take(5, 9);
  assert.deepEqual(take(5, 9), a);
  assert.notDeepEqual(take(6, 9).map((b) => b.indices), a.map((b) => b.indices));
  assert.deepEqual(take(5, 5, 4), a.slice(4));
  // 27 examples = 2.7 epochs: every epoch a permutation of 0..9.
  const flat = a.flatMap((b) => b.indices);
  for (const e of [0, 1]) {
    assert.deepEqual(flat.slice(e * 10, e * 10 + 10).sort((p, q) => p - q), [...Array(10).keys()]);
  }
  // Unshuffled: file order.
  const ordered = [...batches(ds, { batchSize: 10, rng: new Rng(1), shuffle: false })][0];
  assert.deepEqual(Array.from(ordered.indices), [...Array(10).keys()]);
});

Deno.test("toTensor: an NHWC float32 tensor with the batch's values", async () => {
  await initBackend("cpu");
  const fx = await fixtures();
  const ds = await openImageDataset("mnist", { data: fx.mnist, split: "test" });
  const b = [...batches(ds, { batchSize: 2, rng: new Rng(0) })][0];
  const t = toTensor(b);
  assert.deepEqual(t.shape, [2, 28, 28, 1]);
  assert.equal(t.dtype, "float32");
  assert.deepEqual(await t.data(), b.x);
  t.dispose();
});

// ---------- statistics and the data task ----------

Deno.test("datasetStats: per-channel mean and std over raw pixels, class counts", async () => {
  const fx = await fixtures();
  const ds = await openImageDataset("cifar10", { data: fx.cifarFolder, split: "test" });
  const s = datasetStats(ds);
  for (let c = 0; c < 3; c++) {
    const vals: number[] = [];
    for (let i = 0; i < 3; i++) {
      for (let y = 0; y < 32; y++) {
        for (let x = 0; x < 32; x++) vals.push(cifarPixel("test", i, c, y, x));
      }
    }
    const mean = vals.reduce((p, q) => p + q, 0) / vals.length;
    const std = Math.sqrt(vals.reduce((p, q) => p + (q - mean) ** 2, 0) / vals.length);
    assert.ok(Math.abs(s.mean[c] - mean) < 1e-9 && Math.abs(s.std[c] - std) < 1e-9, `channel ${c}`);
  }
  const labels = new Array(10).fill(0);
  for (let i = 0; i < 3; i++) labels[cifarLabel("test", i)]++;
  assert.deepEqual(s.labels, labels);
  assert.deepEqual(s.shape, [32, 32, 3]);
});

const runData = (args: string[]) => runScript("data.ts", args);

Deno.test("deno task data: --stats --json prints the documented keys; missing data exits 2", async () => {
  const fx = await fixtures();
  const ok = await runData([
    "fashion-mnist",
    "--data",
    fx.fashionMnist,
    "--split",
    "test",
    "--stats",
    "--json",
  ]);
  assert.equal(ok.code, 0, ok.stderr);
  const j = JSON.parse(ok.stdout);
  assert.deepEqual(Object.keys(j), [
    "dataset",
    "split",
    "count",
    "shape",
    "min",
    "max",
    "mean",
    "std",
    "labels",
  ]);
  assert.equal(j.count, IDX_COUNT.test);
  assert.deepEqual(j.shape, [28, 28, 1]);
  assert.deepEqual(j.labels, [0, 0, 0, 0, 0, 1, 1, 1, 0, 0]);
  const missing = await runData(["cifar10", "--data", "/nonexistent/cifar", "--stats"]);
  assert.equal(missing.code, 2);
  assert.match(
    missing.stderr,
    /^error: cifar10 data not found at \/nonexistent\/cifar .*--data PATH/,
  );
});

// ---------- the real Fashion-MNIST (Debian's dataset-fashion-mnist), when installed ----------

testNeeding(REAL_FASHION_MNIST, {
  name: "real Fashion-MNIST: 60,000 train and 10,000 test images, 6,000 per class in train",
  fn: async () => {
    const train = await openImageDataset("fashion-mnist"); // found at its default location
    assert.equal(train.count, 60000);
    const perClass = new Array(10).fill(0);
    for (const l of train.labels!) perClass[l]++;
    assert.deepEqual(perClass, new Array(10).fill(6000));
    const test = await openImageDataset("fashion-mnist", { split: "test" });
    assert.equal(test.count, 10000);
    assert.equal(test.get(9999).length, 784);
  },
});

Deno.test("fixtures/ holds exactly what scripts/make_fixtures.ts makes", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "drl_fixtures_" });
  try {
    await makeFixtures(dir);
    const files = (root: string): string[] => {
      const out: string[] = [];
      const walk = (d: string) => {
        for (const e of Deno.readDirSync(d)) {
          if (e.isDirectory) walk(`${d}/${e.name}`);
          else out.push(`${d}/${e.name}`.slice(root.length + 1));
        }
      };
      walk(root);
      return out.sort();
    };
    const committed = (await describeFixtures()).root;
    assert.deepEqual(files(dir), files(committed));
    for (const f of files(dir)) {
      assert.deepEqual(
        Deno.readFileSync(`${committed}/${f}`),
        Deno.readFileSync(`${dir}/${f}`),
        `fixtures/${f} differs from what make_fixtures.ts writes; regenerate: ` +
          "deno run -A scripts/make_fixtures.ts fixtures",
      );
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
