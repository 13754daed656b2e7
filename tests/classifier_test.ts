/**
 * The Fashion-MNIST classifier: forward shapes, determinism under a seed, a tiny training run that
 * beats chance, the checkpoint round trip and the feature extractor over it. Synthetic images keep
 * it fast and independent of the real data set.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend.ts";
import type { ImageDataset } from "../lib/data/images/mod.ts";
import { UserError } from "../lib/errors.ts";
import {
  type ClassifierConfig,
  FMNIST_CLASSIFIER_CONFIG,
  FMNIST_FEATURES_NAME,
  FmnistClassifier,
  FmnistFeatureExtractor,
  loadClassifier,
  loadFmnistFeatureExtractor,
  saveClassifier,
  trainClassifier,
} from "../lib/metrics/fmnist_classifier.ts";
import { JsRandom, Rng } from "../lib/rng.ts";

await initBackend("cpu");

const SMALL: ClassifierConfig = {
  imageSize: 12,
  channels: 1,
  conv1: 4,
  conv2: 8,
  hidden: 16,
  classes: 10,
};

/**
 * 12x12 grey images of 10 classes: class k is a bright 3x3 square at one of 10 fixed places, on a
 * dark background with uniform pixel noise, so a small CNN can learn it from a few hundred examples.
 */
function squaresDataset(count: number, seed: number, split: string): ImageDataset {
  const size = 12;
  const js = new JsRandom(seed);
  const labels = new Uint8Array(count);
  const pixels = new Uint8Array(count * size * size);
  for (let i = 0; i < count; i++) {
    const k = js.int(10);
    labels[i] = k;
    const top = 1 + 4 * Math.floor(k / 3) - (k === 9 ? 4 : 0);
    const left = k === 9 ? 8 : 1 + 3 * (k % 3);
    for (let p = 0; p < size * size; p++) pixels[i * size * size + p] = js.int(90);
    for (let y = top; y < top + 3; y++) {
      for (let x = left; x < left + 3; x++) {
        pixels[i * size * size + y * size + x] = 200 + js.int(55);
      }
    }
  }
  return {
    name: "squares",
    split,
    count,
    height: size,
    width: size,
    channels: 1,
    labels,
    numClasses: 10,
    get: (i) => pixels.subarray(i * size * size, (i + 1) * size * size),
    close: () => {},
  };
}

async function values(t: tf.Tensor): Promise<Float32Array> {
  const v = Float32Array.from(await t.data());
  t.dispose();
  return v;
}

Deno.test("classifier forward: shapes, and the same seed gives the same outputs", async () => {
  const x = tf.randomUniform([3, 28, 28, 1], -1, 1, "float32", 5) as tf.Tensor4D;
  const a = new FmnistClassifier(FMNIST_CLASSIFIER_CONFIG, new Rng(7));
  const b = new FmnistClassifier(FMNIST_CLASSIFIER_CONFIG, new Rng(7));
  const c = new FmnistClassifier(FMNIST_CLASSIFIER_CONFIG, new Rng(8));
  const before = tf.memory().numTensors;
  const oa = a.forward(x);
  assert.deepEqual(oa.features.shape, [3, 128]);
  assert.deepEqual(oa.logits.shape, [3, 10]);
  const fa = await values(oa.features);
  const la = await values(oa.logits);
  assert.equal(tf.memory().numTensors, before, "forward leaves no tensors behind");
  assert.ok(fa.every((v) => v >= 0), "penultimate features are post-ReLU");
  const ob = b.forward(x);
  assert.deepEqual(await values(ob.logits), la);
  assert.deepEqual(await values(ob.features), fa);
  const oc = c.forward(x);
  oc.features.dispose();
  assert.notDeepEqual(await values(oc.logits), la);
  [a, b, c].forEach((n) => n.dispose());
  x.dispose();
});

Deno.test("a tiny training run beats chance by far, deterministically", async () => {
  const train = squaresDataset(400, 1, "train");
  const test = squaresDataset(200, 2, "test");
  const run = () =>
    trainClassifier({
      train,
      test,
      epochs: 3,
      batchSize: 32,
      lr: 1e-2,
      seed: 11,
      widths: { conv1: SMALL.conv1, conv2: SMALL.conv2, hidden: SMALL.hidden },
    });
  const before = tf.memory().numTensors;
  const r = await run();
  const acc = r.testAccuracies[r.testAccuracies.length - 1];
  assert.equal(r.testAccuracies.length, 3);
  assert.equal(r.steps, 3 * Math.ceil(400 / 32));
  assert.ok(acc > 0.6, `accuracy ${acc} should be far above chance (0.1)`);
  assert.deepEqual(r.net.config, SMALL);
  const again = await run();
  assert.deepEqual(again.testAccuracies, r.testAccuracies, "same seed, same training");
  r.net.dispose();
  again.net.dispose();
  assert.equal(tf.memory().numTensors, before, "training leaves no tensors behind");
});

Deno.test("checkpoint round trip and the feature extractor", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const net = new FmnistClassifier(SMALL, new Rng(3));
    const path = join(dir, "sub", "clf.ckpt");
    const facts = {
      dataset: "squares",
      testAccuracy: 0.5,
      epochs: 1,
      batchSize: 8,
      lr: 1e-3,
      seed: 3,
      steps: 10,
      trainSeconds: 1,
      backend: "cpu",
    };
    await saveClassifier(path, net, facts, null);
    const loaded = await loadClassifier(path);
    assert.deepEqual(loaded.facts, facts);
    assert.deepEqual(loaded.net.config, SMALL);
    assert.match(loaded.fingerprint, /^[0-9a-f]{8}$/);

    const x = tf.randomUniform([5, 12, 12, 1], -1, 1, "float32", 9) as tf.Tensor4D;
    const want = net.forward(x);
    const extractor = await loadFmnistFeatureExtractor(path);
    assert.equal(extractor.name, FMNIST_FEATURES_NAME);
    assert.equal(extractor.featureDim, 16);
    assert.equal(extractor.logitsDim, 10);
    assert.equal(extractor.fingerprint, loaded.fingerprint);
    const out = await extractor.features(x);
    assert.deepEqual(out.pool, await values(want.features));
    assert.deepEqual(out.logits, await values(want.logits));

    // Other weights, other fingerprint (cached statistics must not be reused).
    const other = new FmnistClassifier(SMALL, new Rng(4));
    await saveClassifier(join(dir, "other.ckpt"), other, facts, null);
    assert.notEqual(
      (await loadClassifier(join(dir, "other.ckpt"))).fingerprint,
      loaded.fingerprint,
    );

    const wrongSize = tf.zeros([2, 28, 28, 1]) as tf.Tensor4D;
    await assert.rejects(() => extractor.features(wrongSize), UserError);
    [net, other, loaded.net].forEach((n) => n.dispose());
    extractor.dispose();
    tf.dispose([x, wrongSize]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a missing or foreign classifier checkpoint is a UserError saying what to run", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await assert.rejects(
      () => loadClassifier(join(dir, "none.ckpt")),
      (err: Error) =>
        err instanceof UserError &&
        err.message.includes("deno task train-classifier fashion-mnist"),
    );
    const foreign = join(dir, "foreign.ckpt");
    await Deno.writeFile(foreign, new TextEncoder().encode("not a checkpoint"));
    await assert.rejects(() => loadClassifier(foreign), UserError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the extractor reads its class count from the network", () => {
  const net = new FmnistClassifier({ ...SMALL, classes: 4 }, new Rng(0));
  const e = new FmnistFeatureExtractor(net);
  assert.equal(e.logitsDim, 4);
  e.dispose();
});
