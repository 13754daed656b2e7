import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend.ts";
import { buildConfig } from "../lib/config.ts";
import { UserError } from "../lib/errors.ts";
import { loadCheckpoint } from "../lib/io/checkpoint.ts";
import {
  createTrainState,
  disposeTrainState,
  restoreTrainState,
  saveTrainState,
} from "../lib/train_state.ts";

await initBackend("cpu");

Deno.test("a checkpoint round-trips the whole training state and describes itself", async () => {
  const dir = await Deno.makeTempDir();
  const config = buildConfig("8gaussians", { width: "8", "net.spectralNorm": "true" });
  const s = createTrainState(config);
  s.step = 42;
  s.adam.step = 42;
  s.rng.nextSeed();
  tf.tidy(() => s.ema.shadow.forEach((v) => v.assign(tf.add(v, 1))));
  const path = `${dir}/c.ckpt`;
  await saveTrainState(path, s, "abc123");
  const ckpt = await loadCheckpoint(path);
  assert.equal(ckpt.meta.step, 42);
  assert.equal(ckpt.meta.codeVersion, "abc123");
  assert.deepEqual(ckpt.meta.rng, s.rng.state());
  assert.deepEqual(ckpt.meta.config, config);
  assert.ok(ckpt.tensors.get("buffers")!.size > 0, "spectral-norm vectors are saved");
  const r = restoreTrainState(ckpt, path);
  for (const group of ["params", "ema"] as const) {
    const a = group === "params" ? s.net.params : s.ema.shadow;
    const b = group === "params" ? r.net.params : r.ema.shadow;
    for (const [name, v] of a) assert.deepEqual(await v.data(), await b.get(name)!.data(), name);
  }
  for (const [name, v] of s.net.buffers) {
    assert.deepEqual(await v.data(), await r.net.buffers.get(name)!.data(), name);
  }
  assert.equal(r.step, 42);
  assert.equal(r.rng.nextSeed(), s.rng.nextSeed());
  disposeTrainState(s);
  disposeTrainState(r);
  // No temporary file is left beside the checkpoint.
  assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["c.ckpt"]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("truncated or foreign files give a clear error", async () => {
  const dir = await Deno.makeTempDir();
  const config = buildConfig("8gaussians", { width: "8" });
  const s = createTrainState(config);
  await saveTrainState(`${dir}/c.ckpt`, s, null);
  disposeTrainState(s);
  const bytes = await Deno.readFile(`${dir}/c.ckpt`);
  await Deno.writeFile(`${dir}/short.ckpt`, bytes.subarray(0, bytes.length - 10));
  await Deno.writeTextFile(`${dir}/text.ckpt`, "hello");
  await assert.rejects(
    () => loadCheckpoint(`${dir}/short.ckpt`),
    (e: Error) => e instanceof UserError && /truncated/.test(e.message),
  );
  await assert.rejects(() => loadCheckpoint(`${dir}/text.ckpt`), UserError);
  await assert.rejects(
    () => loadCheckpoint(`${dir}/missing.ckpt`),
    (e: Error) => e instanceof UserError && /not found/.test(e.message),
  );
  await Deno.remove(dir, { recursive: true });
});
