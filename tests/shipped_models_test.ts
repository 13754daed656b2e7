/**
 * The models shipped in models/ load on a fresh clone and do what their cards say: the
 * Fashion-MNIST classifier scores its recorded test accuracy on the real test split, and the
 * Fashion-MNIST energy model samples from `deno task sample --model fashion-mnist`.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { initBackend } from "../lib/backend.ts";
import { openImageDataset } from "../lib/data/images/mod.ts";
import { loadCheckpoint } from "../lib/io/checkpoint.ts";
import {
  classifierAccuracy,
  DEFAULT_CLASSIFIER_PATH,
  loadClassifier,
} from "../lib/metrics/fmnist_classifier.ts";
import { readPng } from "../lib/io/png.ts";
import { shippedModelPath } from "../lib/models.ts";
import { REAL_FASHION_MNIST, testNeeding } from "./helpers/needs.ts";
import { runScript } from "./helpers/script.ts";

testNeeding(REAL_FASHION_MNIST, {
  name: "the shipped classifier loads and scores its recorded accuracy on the real test split",
  fn: async () => {
    // wasm: 10,000 images in seconds (the plain-JS cpu backend takes minutes).
    await initBackend("wasm");
    const { net, facts, fingerprint } = await loadClassifier(DEFAULT_CLASSIFIER_PATH);
    try {
      assert.match(fingerprint, /^[0-9a-f]{8}$/);
      const test = await openImageDataset("fashion-mnist", { split: "test" });
      const acc = await classifierAccuracy(net, test);
      test.close();
      assert.equal(acc, facts.testAccuracy, `accuracy ${acc} vs recorded ${facts.testAccuracy}`);
      assert.ok(acc > 0.9);
    } finally {
      net.dispose();
      await initBackend("cpu");
    }
  },
});

Deno.test("the shipped Fashion-MNIST model: its file describes itself and it samples images", async () => {
  const path = await shippedModelPath("fashion-mnist");
  const meta = (await loadCheckpoint(path)).meta;
  const config = meta.config as { preset: string; dataset: string };
  assert.equal(config.preset, "fashion-mnist");
  assert.equal(config.dataset, "fashion-mnist");
  assert.ok(meta.step > 0);
  const dir = await Deno.makeTempDir();
  try {
    const out = join(dir, "grid.png");
    const r = await runScript("sample.ts", [
      "--model",
      "fashion-mnist",
      "--n",
      "2",
      "--batch",
      "2",
      "--out",
      out,
      "--backend",
      "wasm",
      "--db",
      join(dir, "r.db"),
    ]);
    assert.equal(r.code, 0, r.stderr);
    const grid = await readPng(out);
    // Two chains, seven levels each (28 px tiles, 2 px padding).
    assert.equal(grid.width, 7 * 28 + 8 * 2);
    assert.equal(grid.height, 2 * 28 + 3 * 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the shipped 8gaussians model: its file describes itself and it samples 2D points", async () => {
  const path = await shippedModelPath("8gaussians");
  const meta = (await loadCheckpoint(path)).meta;
  const config = meta.config as { preset: string; task: string; net: { kind: string } };
  assert.equal(config.preset, "8gaussians");
  assert.equal(config.task, "toy2d");
  assert.equal(config.net.kind, "mlp");
  assert.ok(meta.step > 0);
  const dir = await Deno.makeTempDir();
  try {
    const out = join(dir, "samples.png");
    const r = await runScript("sample.ts", [
      ...["--model", "8gaussians", "--n", "64", "--out", out, "--backend", "wasm"],
      ...["--db", join(dir, "r.db")],
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((r.stdout.match(/level \d: acceptance/g) ?? []).length, 6);
    assert.ok((await readPng(out)).width > 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an unknown shipped model is one clear error listing the models", async () => {
  await assert.rejects(
    () => shippedModelPath("cifar10"),
    /unknown model 'cifar10'; shipped models: fashion-mnist/,
  );
});

Deno.test("the shipped files carry checksums: a damaged copy is refused, naming it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (const path of [DEFAULT_CLASSIFIER_PATH, await shippedModelPath("fashion-mnist")]) {
      const bytes = await Deno.readFile(path);
      bytes[bytes.length - 3] ^= 0x40; // one bit of the last weight
      const copy = join(dir, "damaged.ckpt");
      await Deno.writeFile(copy, bytes);
      await assert.rejects(() => loadCheckpoint(copy), new RegExp(`${copy} is corrupted`));
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
