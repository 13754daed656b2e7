import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend.ts";
import { buildConfig } from "../lib/presets.ts";
import { UserError } from "../lib/errors.ts";
import { dataChecksum, loadCheckpoint } from "../lib/io/checkpoint.ts";
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
  // One flipped bit in the tensor data (the file's last float): caught by the checksum, named.
  const flipped = Uint8Array.from(bytes);
  flipped[flipped.length - 2] ^= 0x10;
  await Deno.writeFile(`${dir}/flipped.ckpt`, flipped);
  await assert.rejects(
    () => loadCheckpoint(`${dir}/flipped.ckpt`),
    (e: Error) => e instanceof UserError && e.message.includes(`${dir}/flipped.ckpt is corrupted`),
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("dataChecksum: the same at any alignment, sensitive to every byte", () => {
  const bytes = Uint8Array.from({ length: 37 }, (_, i) => (i * 73 + 11) & 0xff);
  // Written out: FNV-1a's round over little-endian 32-bit words, then the tail bytes.
  let h = 0x811c9dc5;
  for (let i = 0; i + 4 <= bytes.length; i += 4) {
    const w = bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24);
    h = Math.imul(h ^ w, 0x01000193);
  }
  for (let i = 36; i < 37; i++) h = Math.imul(h ^ bytes[i], 0x01000193);
  assert.equal(dataChecksum(bytes), (h >>> 0).toString(16).padStart(8, "0"));
  const shifted = new Uint8Array(bytes.length + 1);
  shifted.set(bytes, 1);
  assert.equal(dataChecksum(shifted.subarray(1)), dataChecksum(bytes));
  for (let i = 0; i < bytes.length; i++) {
    const other = Uint8Array.from(bytes);
    other[i] ^= 1;
    assert.notEqual(dataChecksum(other), dataChecksum(bytes), `byte ${i}`);
  }
});
