/**
 * The evaluation pipeline end to end on a tiny fake setting (a tiny DRL checkpoint, a synthetic
 * reference set, a small fixed random-feature extractor), the reference-statistics cache, and the
 * sanity rows' ordering (more blur or noise, larger FID).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { runCheckpointPath } from "../lib/run_files.ts";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend.ts";
import type { TrainConfig } from "../lib/config.ts";
import type { ImageDataset } from "../lib/data/images/mod.ts";
import { openResultsDb, type ResultsDb } from "../lib/db/mod.ts";
import { UserError } from "../lib/errors.ts";
import { computeMetrics } from "../lib/metrics/compute.ts";
import {
  evaluateRun,
  parseMetrics,
  referenceCachePath,
  referenceFeatures,
} from "../lib/tasks/eval.ts";
import {
  extractFeatures,
  type FeatureExtractor,
  type FeatureOutput,
} from "../lib/metrics/features.ts";
import { datasetImageSource } from "../lib/metrics/image_sources.ts";
import {
  gaussianBlur,
  gaussianKernel1d,
  increasesWithLevel,
  sanityEvaluations,
  sanityMarkdown,
  sanityRows,
} from "../lib/tasks/sanity.ts";
import { PRESETS } from "../lib/presets.ts";
import { JsRandom, Rng } from "../lib/rng.ts";
import { createTrainState, disposeTrainState, saveTrainState } from "../lib/train_state.ts";

await initBackend("cpu");

/**
 * A fixed random-feature extractor: 8 random 3x3 filters, ReLU, then per-filter spatial means of
 * the response and of its square (16 features), and 4 "class" logits as a random projection.
 * Edges drive the responses, so blur and noise move the features.
 */
class RandomConvExtractor implements FeatureExtractor {
  readonly name = "test-random-conv";
  readonly featureDim = 16;
  readonly logitsDim = 4;
  readonly #filters: tf.Tensor4D;
  readonly #projection: tf.Tensor2D;
  calls = 0;

  constructor(seed: number) {
    const rng = new Rng(seed);
    this.#filters = rng.normal([3, 3, 1, 8]) as tf.Tensor4D;
    this.#projection = rng.normal([16, 4]) as tf.Tensor2D;
  }

  async features(batch: tf.Tensor4D): Promise<FeatureOutput> {
    this.calls++;
    const [pool, logits] = tf.tidy(() => {
      const h = tf.relu(tf.conv2d(batch, this.#filters, 1, "same"));
      const f = tf.concat([tf.mean(h, [1, 2]), tf.mean(tf.square(h), [1, 2])], 1);
      return [f, tf.matMul(f, this.#projection)];
    });
    const out = {
      pool: Float32Array.from(await pool.data()),
      logits: Float32Array.from(await logits.data()),
    };
    tf.dispose([pool, logits]);
    return out;
  }

  dispose(): void {
    tf.dispose([this.#filters, this.#projection]);
  }
}

/** Grey size x size images of random bright rectangles on a dark background (no labels). */
function rectanglesDataset(
  count: number,
  size: number,
  seed: number,
  split = "train",
): ImageDataset {
  const js = new JsRandom(seed);
  const pixels = new Uint8Array(count * size * size);
  for (let i = 0; i < count; i++) {
    const base = i * size * size;
    for (let r = 0; r < 2; r++) {
      const w = 2 + js.int(size / 2);
      const h = 2 + js.int(size / 2);
      const x0 = js.int(size - w);
      const y0 = js.int(size - h);
      const v = 150 + js.int(105);
      for (let y = y0; y < y0 + h; y++) {
        for (let x = x0; x < x0 + w; x++) pixels[base + y * size + x] = v;
      }
    }
  }
  return {
    name: "rectangles",
    split,
    count,
    height: size,
    width: size,
    channels: 1,
    labels: null,
    numClasses: 0,
    get: (i) => pixels.subarray(i * size * size, (i + 1) * size * size),
    close: () => {},
  };
}

/** A tiny image DRL config: 8x8 grey images, a 4-channel ResNet, T = 2, K = 2. */
function tinyConfig(): TrainConfig {
  const c = structuredClone(PRESETS["fashion-mnist-tiny"]);
  if (c.net.kind !== "resnet") throw new Error("expected a resnet preset");
  c.net = { ...c.net, imageSize: 8, ch: 4, chMult: [1], numResBlocks: 1, attention: false };
  c.schedule = { ...c.schedule, T: 2 };
  c.langevin = { ...c.langevin, steps: 2 };
  return c;
}

interface TinyRun {
  dir: string;
  db: ResultsDb;
  runId: number;
  noCheckpointId: number;
  toyId: number;
  cleanup(): Promise<void>;
}

async function tinyRun(): Promise<TinyRun> {
  const dir = await Deno.makeTempDir();
  const db = await openResultsDb({ path: join(dir, "results.db") });
  const config = tinyConfig();
  const base = { gitCommit: null, backend: "cpu", adapter: "test", seed: 0 };
  const runDir = join(dir, "runs", "1");
  await Deno.mkdir(runDir, { recursive: true });
  const runId = await db.createRun({
    ...base,
    task: "images",
    preset: config.preset,
    config,
    dir: runDir,
  });
  const state = createTrainState(config);
  await saveTrainState(join(runDir, "checkpoint.ckpt"), state, null);
  disposeTrainState(state);
  const noCheckpointId = await db.createRun({
    ...base,
    task: "images",
    preset: config.preset,
    config,
    dir: join(dir, "runs", "empty"),
  });
  const toy = PRESETS["8gaussians"];
  const toyId = await db.createRun({
    ...base,
    task: "toy2d",
    preset: toy.preset,
    config: toy,
    dir: dir,
  });
  return {
    dir,
    db,
    runId,
    noCheckpointId,
    toyId,
    cleanup: async () => {
      await db.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

Deno.test("parseMetrics accepts the three metrics and refuses others", () => {
  assert.deepEqual(parseMetrics("fid,is,kid"), ["fid", "is", "kid"]);
  assert.deepEqual(parseMetrics(" kid , fid,kid"), ["kid", "fid"]);
  assert.throws(() => parseMetrics("fid,precision"), UserError);
  assert.throws(() => parseMetrics(""), UserError);
});

Deno.test("reference statistics are cached per data set, split, extractor version and count", async () => {
  const dir = await Deno.makeTempDir();
  const extractor = new RandomConvExtractor(1);
  try {
    const ds = rectanglesDataset(40, 8, 3);
    const opts = {
      dataset: ds,
      extractor,
      extractorVersion: "v1",
      count: 30,
      batchSize: 16,
      cacheDir: dir,
    };
    const first = await referenceFeatures(opts);
    assert.equal(first.fromCache, false);
    assert.equal(first.n, 30);
    assert.equal(
      first.cachePath,
      referenceCachePath(dir, "rectangles", "train", extractor.name, "v1", 30),
    );
    const calls = extractor.calls;
    const second = await referenceFeatures(opts);
    assert.equal(second.fromCache, true);
    assert.equal(extractor.calls, calls, "the cached statistics need no feature extraction");
    assert.deepEqual(second.stats.mu, first.stats.mu);
    assert.deepEqual(second.stats.sigma, first.stats.sigma);
    assert.deepEqual(second.kidRows.pool, first.kidRows.pool);
    assert.equal(second.kidRows.n, 30);
    // Another weights version or count is another cache entry.
    assert.equal((await referenceFeatures({ ...opts, extractorVersion: "v2" })).fromCache, false);
    assert.equal((await referenceFeatures({ ...opts, count: 20 })).fromCache, false);
  } finally {
    extractor.dispose();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("FID of a set against itself is 0, against another set positive", async () => {
  const extractor = new RandomConvExtractor(2);
  try {
    const ds = rectanglesDataset(30, 8, 4);
    const reference = await referenceFeatures({
      dataset: ds,
      extractor,
      batchSize: 10,
      cacheDir: null,
    });
    const same = await extractFeatures(extractor, datasetImageSource(ds));
    const [fid] = await computeMetrics({ metrics: ["fid"], samples: same, reference, seed: 0 });
    assert.ok(Math.abs(fid.value) < 1e-6, `FID of a set with itself: ${fid.value}`);
    const other = await extractFeatures(
      extractor,
      datasetImageSource(rectanglesDataset(30, 8, 99)),
    );
    const [fid2] = await computeMetrics({ metrics: ["fid"], samples: other, reference, seed: 0 });
    assert.ok(fid2.value > 1e-4, `FID of another set: ${fid2.value}`);
  } finally {
    extractor.dispose();
  }
});

Deno.test("deno task eval's pipeline: tiny checkpoint -> samples -> FID, IS, KID in the database", async () => {
  const t = await tinyRun();
  const extractor = new RandomConvExtractor(5);
  try {
    const reference = rectanglesDataset(48, 8, 6);
    const phases = new Set<string>();
    const run = () =>
      evaluateRun({
        db: t.db,
        target: { runId: t.runId },
        n: 20,
        metrics: ["fid", "is", "kid"],
        extractor,
        extractorVersion: "test",
        openReference: (dataset, path) => {
          assert.equal(dataset, "fashion-mnist");
          assert.equal(path, null);
          return Promise.resolve(reference);
        },
        seed: 3,
        batchSize: 10,
        cacheDir: join(t.dir, "cache"),
        kid: { subsets: 5, subsetSize: 10 },
        onProgress: (phase, done, total) => {
          phases.add(phase);
          assert.ok(done <= total);
        },
      });
    const before = tf.memory().numTensors;
    const r = await run();
    assert.equal(tf.memory().numTensors, before, "evaluation leaves no tensors behind");
    assert.deepEqual([...phases].sort(), ["reference", "samples"]);
    assert.deepEqual(r.values.map((v) => v.name), ["fid", "is", "kid"]);
    const [fid, is, kid] = r.values;
    assert.ok(fid.value > 0 && Number.isFinite(fid.value));
    assert.ok(is.value >= 1 && is.value <= 4, `IS ${is.value} lies in [1, classes]`);
    assert.ok(Number.isFinite(kid.value));

    const rows = await t.db.evaluations(t.runId);
    assert.equal(rows.length, 3);
    for (const row of rows) {
      assert.equal(row.n, 20);
      assert.equal(row.features, extractor.name);
      const d = row.details as Record<string, unknown>;
      assert.equal(d.seed, 3);
      assert.equal(d.checkpoint_step, 0);
      if (row.name !== "is") assert.equal(d.n_ref, 48);
      if (row.name !== "fid") assert.equal(typeof d.std, "number");
      assert.equal(d.noise_scale, 1);
    }
    // The classifier's labels of the samples: one share per class, summing to 1.
    const shares = is.details.class_shares as number[];
    assert.equal(shares.length, 4);
    assert.ok(Math.abs(shares.reduce((a, b) => a + b, 0) - 1) < 1e-12);
    // The same seed gives the same samples and numbers; the reference now comes from the cache.
    const again = await run();
    assert.equal(again.reference!.fromCache, true);
    assert.deepEqual(again.values.map((v) => v.value), r.values.map((v) => v.value));
    assert.equal((await t.db.evaluations(t.runId)).length, 6);
  } finally {
    extractor.dispose();
    await t.cleanup();
  }
});

Deno.test("eval of a kept step and of a checkpoint file; the noise scale changes the samples and is recorded", async () => {
  const t = await tinyRun();
  const extractor = new RandomConvExtractor(5);
  try {
    const runDir = join(t.dir, "runs", "1");
    await Deno.copyFile(runCheckpointPath(runDir), runCheckpointPath(runDir, 40));
    const common = {
      db: t.db,
      n: 12,
      metrics: ["fid"] as const,
      extractor,
      openReference: () => Promise.resolve(rectanglesDataset(12, 8, 1)),
      seed: 1,
      batchSize: 6,
      cacheDir: null,
    };
    const kept = await evaluateRun({ ...common, target: { runId: t.runId, step: 40 } });
    assert.equal(kept.run.id, t.runId);
    assert.equal(kept.checkpoint, runCheckpointPath(runDir, 40));
    const file = await evaluateRun({
      ...common,
      target: { checkpoint: runCheckpointPath(runDir) },
      noiseScale: 0.99,
    });
    // A checkpoint outside a run is recorded as a run of its own, of task "eval".
    assert.notEqual(file.run.id, t.runId);
    assert.equal(file.run.task, "eval");
    assert.equal((await t.db.getRun(file.run.id))!.status, "completed");
    const [row] = await t.db.evaluations(file.run.id);
    assert.equal((row.details as Record<string, unknown>).noise_scale, 0.99);
    // Same checkpoint and seed: only the noise scale differs, and so do the samples.
    assert.notEqual(file.values[0].value, kept.values[0].value);
  } finally {
    extractor.dispose();
    await t.cleanup();
  }
});

Deno.test("eval of a data split: the baseline a model's numbers are read against", async () => {
  const t = await tinyRun();
  const extractor = new RandomConvExtractor(5);
  try {
    const data = rectanglesDataset(30, 8, 4);
    const r = await evaluateRun({
      db: t.db,
      target: { data: "rectangles", split: "test" },
      n: 20,
      metrics: ["fid", "is"],
      extractor,
      openReference: () => Promise.resolve(rectanglesDataset(30, 8, 4)),
      openData: (name, split) => {
        assert.deepEqual([name, split], ["rectangles", "test"]);
        return Promise.resolve(data);
      },
      seed: 0,
      batchSize: 10,
      cacheDir: null,
    });
    assert.equal(r.run.task, "eval");
    assert.equal(r.checkpoint, null);
    // The first 20 images of the reference's own split: their statistics are the reference's.
    assert.ok(r.values[0].value < 1, `FID of a subset of the reference ${r.values[0].value}`);
    const [row] = await t.db.evaluations(r.run.id);
    assert.equal((row.details as Record<string, unknown>).split, "test");
  } finally {
    extractor.dispose();
    await t.cleanup();
  }
});

Deno.test("eval: a missing run, a run without checkpoint, a 2D run are UserErrors", async () => {
  const t = await tinyRun();
  const extractor = new RandomConvExtractor(5);
  try {
    const opts = {
      db: t.db,
      n: 10,
      metrics: ["fid"] as const,
      extractor,
      openReference: () => Promise.resolve(rectanglesDataset(10, 8, 1)),
      seed: 0,
      batchSize: 5,
      cacheDir: null,
    };
    await assert.rejects(() => evaluateRun({ ...opts, target: { runId: 999 } }), /no run 999/);
    await assert.rejects(
      () => evaluateRun({ ...opts, target: { runId: t.noCheckpointId } }),
      /no checkpoint/,
    );
    await assert.rejects(() => evaluateRun({ ...opts, target: { runId: t.toyId } }), UserError);
    await assert.rejects(
      () => evaluateRun({ ...opts, target: { runId: t.runId, step: 7 } }),
      /kept no checkpoint at step 7.*--keep-every/,
    );
  } finally {
    extractor.dispose();
    await t.cleanup();
  }
});

Deno.test("gaussian blur keeps constants and the mean, and smooths", async () => {
  const k = gaussianKernel1d(1, 10);
  assert.equal(k.length, 7);
  assert.ok(Math.abs(k.reduce((a, b) => a + b, 0) - 1) < 1e-6);
  const flat = tf.fill([1, 6, 6, 1], 0.3) as tf.Tensor4D;
  const blurred = gaussianBlur(flat, 2);
  assert.deepEqual(blurred.shape, [1, 6, 6, 1]);
  for (const v of await blurred.data()) assert.ok(Math.abs(v - 0.3) < 1e-6);
  const spike = tf.tensor4d([0, 0, 0, 1, 0, 0, 0], [1, 1, 7, 1]);
  const padded = tf.pad(spike, [[0, 0], [3, 3], [0, 0], [0, 0]]) as tf.Tensor4D;
  const s = await gaussianBlur(padded, 1).data();
  const centre = s[3 * 7 + 3];
  assert.ok(centre < 0.5 && centre > 0, `the spike spreads (${centre})`);
  tf.dispose([flat, blurred, spike, padded]);
});

Deno.test("sanity rows: more blur and more noise give larger FID; noise images are far", async () => {
  const dir = await Deno.makeTempDir();
  const extractor = new RandomConvExtractor(7);
  const db = await openResultsDb({ path: join(dir, "results.db") });
  try {
    const train = rectanglesDataset(160, 16, 10, "train");
    const test = rectanglesDataset(80, 16, 11, "test");
    const reference = await referenceFeatures({
      dataset: train,
      extractor,
      batchSize: 40,
      cacheDir: null,
    });
    const rows = await sanityRows({
      extractor,
      reference,
      train,
      test,
      n: 80,
      seed: 0,
      batchSize: 40,
      blurSigmas: [0.5, 1, 2],
      noiseAlphas: [0.1, 0.3, 0.6],
    });
    assert.deepEqual(rows.map((r) => r.key), [
      "fid_test_split",
      "fid_train_subset",
      "fid_blur_0.5",
      "fid_blur_1",
      "fid_blur_2",
      "fid_noise_0.1",
      "fid_noise_0.3",
      "fid_noise_0.6",
      "fid_noise_images",
    ]);
    assert.ok(increasesWithLevel(rows, "blur"), rows.map((r) => `${r.key} ${r.fid}`).join(", "));
    assert.ok(increasesWithLevel(rows, "noise"), rows.map((r) => `${r.key} ${r.fid}`).join(", "));
    const fid = (key: string) => rows.find((r) => r.key === key)!.fid;
    assert.ok(fid("fid_noise_images") > 10 * fid("fid_test_split"));
    // increasesWithLevel is a real check: swapping two levels breaks it.
    const swapped = rows.map((r) => r.key === "fid_blur_2" ? { ...r, fid: 0 } : r);
    assert.equal(increasesWithLevel(swapped, "blur"), false);

    const table = sanityMarkdown(rows, extractor.name);
    assert.equal(table.split("\n").length, rows.length + 2);
    const runId = await db.createRun({
      task: "sanity",
      preset: "rectangles",
      config: {},
      gitCommit: null,
      backend: "cpu",
      adapter: "test",
      seed: 0,
      dir: null,
    });
    for (const row of sanityEvaluations(runId, rows, extractor.name)) await db.addEvaluation(row);
    const stored = await db.evaluations(runId);
    assert.equal(stored.length, rows.length);
    assert.equal(stored.find((e) => e.name === "fid_blur_1")!.value, fid("fid_blur_1"));
  } finally {
    extractor.dispose();
    await db.close();
    await Deno.remove(dir, { recursive: true });
  }
});
