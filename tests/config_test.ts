import assert from "node:assert/strict";
import { buildConfig, presetNames } from "../lib/presets.ts";
import { UserError } from "../lib/errors.ts";
import { parseArgs } from "../lib/cli.ts";

Deno.test("every preset builds and validates", () => {
  for (const name of presetNames()) {
    const c = buildConfig(name);
    assert.equal(c.preset, name);
    assert.ok(Object.isFrozen(c) && Object.isFrozen(c.train), `${name} is not frozen`);
  }
});

Deno.test("overrides by alias and by dotted path, typed", () => {
  const c = buildConfig("8gaussians", { lr: "3e-4", "net.width": "32", K: "7", flip: "true" });
  assert.equal(c.optim.lr, 3e-4);
  assert.equal(c.net.kind === "mlp" && c.net.width, 32);
  assert.equal(c.langevin.steps, 7);
  assert.equal(c.data.flip, true);
  const img = buildConfig("cifar10-tiny", { "net.chMult": "1,2" });
  assert.deepEqual(img.net.kind === "resnet" && img.net.chMult, [1, 2]);
});

Deno.test("unknown keys, mistyped values and bad choices are refused with a clear message", () => {
  assert.throws(
    () => buildConfig("nope"),
    (e: Error) => e instanceof UserError && /unknown preset/.test(e.message),
  );
  assert.throws(
    () => buildConfig("8gaussians", { lr: "abc" }),
    (e: Error) => e instanceof UserError && /--optim.lr=abc: expected a number/.test(e.message),
  );
  assert.throws(
    () => buildConfig("8gaussians", { lrr: "1" }),
    (e: Error) =>
      e instanceof UserError && /unknown option --lrr \(did you mean --lr\?\)/.test(e.message),
  );
  assert.throws(() => buildConfig("8gaussians", { sampler: "hmc" }), UserError);
  assert.throws(() => buildConfig("8gaussians", { dataset: "cifar10" }), UserError);
  assert.throws(() => buildConfig("8gaussians", { batch: "0" }), UserError);
  assert.throws(() => buildConfig("8gaussians", { ema: "1.5" }), UserError);
});

Deno.test("argument parsing separates flags, switches and overrides", () => {
  const a = parseArgs(["cifar10", "--backend", "wasm", "--lr=1e-3", "--K", "5", "--help"], [
    "backend",
  ], ["help"]);
  assert.deepEqual(a.positional, ["cifar10"]);
  assert.deepEqual(a.flags, { backend: "wasm", help: true });
  assert.deepEqual(a.overrides, { lr: "1e-3", K: "5" });
  assert.throws(() => parseArgs(["--lr"], []), UserError);
});
