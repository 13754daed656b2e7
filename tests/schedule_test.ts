import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend.ts";
import { energyLevelScale, makeSchedule, scheduleTensors, spreadLevels } from "../lib/schedule.ts";
import { buildConfig } from "../lib/presets.ts";
import { UserError } from "../lib/errors.ts";

await initBackend("cpu");

Deno.test("official T=6 schedule matches the published sigmas to 1e-6", () => {
  // The official get_sigma_schedule (diffusion_recovery_likelihood) run in numpy float64.
  const expected = [
    0.009999999999999449,
    0.3236802218101442,
    0.5164952946878926,
    0.6322110687678577,
    0.7132421411785382,
    0.7733690259912669,
    0.9997405831176236,
  ];
  const s = makeSchedule({ kind: "drl", T: 6, b2: 2e-4 });
  assert.equal(s.sigmas.length, 7);
  s.sigmas.forEach((v, i) => assert.ok(Math.abs(v - expected[i]) < 1e-6, `sigma ${i}: ${v}`));
  // The rounded values DESIGN.md quotes.
  assert.deepEqual(s.sigmas.map((v) => v.toFixed(4)), [
    "0.0100",
    "0.3237",
    "0.5165",
    "0.6322",
    "0.7132",
    "0.7734",
    "0.9997",
  ]);
});

Deno.test("step sizes follow s_t^2 = b^2 (sigmabar_t / sigmabar_0) sigma_{t+1}^2", () => {
  const s = makeSchedule({ kind: "drl", T: 6, b2: 2e-4 });
  assert.equal(s.stepSizes.length, 6);
  for (let t = 0; t < 6; t++) {
    const want = 2e-4 * (s.sigmasCum[t] / s.sigmasCum[0]) * s.sigmas[t + 1] ** 2;
    assert.ok(Math.abs(s.stepSizes[t] - want) < 1e-15);
  }
  // SPEC.md's level-2 step size: s^2 = 4.7e-3.
  assert.equal(s.stepSizes[2].toFixed(4), "0.0047");
});

Deno.test("marginals are consistent: alphasCum is the product of alphas, a^2 + sigma^2 = 1", () => {
  for (const kind of ["drl", "cosine"] as const) {
    const s = makeSchedule({ kind, T: 10, b2: 1e-3 });
    let prod = 1;
    for (let t = 0; t <= 10; t++) {
      prod *= s.alphas[t];
      assert.ok(Math.abs(s.alphasCum[t] - prod) < 1e-12);
      assert.ok(Math.abs(s.alphas[t] ** 2 + s.sigmas[t] ** 2 - 1) < 1e-12);
      assert.ok(Math.abs(s.alphasCum[t] ** 2 + s.sigmasCum[t] ** 2 - 1) < 1e-12);
    }
  }
});

Deno.test("cosine schedule: finite, in (0, 1), increasing for every T from 1 to 1000", () => {
  for (let T = 1; T <= 1000; T++) {
    const s = makeSchedule({ kind: "cosine", T, b2: 2e-4 });
    assert.equal(s.sigmas.length, T + 1);
    assert.equal(s.stepSizes.length, T);
    for (let t = 0; t <= T; t++) {
      assert.ok(s.sigmas[t] > 0 && s.sigmas[t] < 1, `T=${T} t=${t}: ${s.sigmas[t]}`);
      if (t > 0) assert.ok(s.sigmas[t] > s.sigmas[t - 1], `T=${T}: not increasing at ${t}`);
      if (t < T) assert.ok(Number.isFinite(s.stepSizes[t]) && s.stepSizes[t] > 0);
    }
  }
});

Deno.test("drl schedule refuses T beyond its formula with a clear error", () => {
  assert.throws(() => makeSchedule({ kind: "drl", T: 502, b2: 2e-4 }), UserError);
  assert.throws(() => makeSchedule({ kind: "drl", T: 1, b2: 2e-4 }), UserError);
  assert.throws(() => makeSchedule({ kind: "cosine", T: 6, b2: -1 }), UserError);
});

Deno.test("spreadLevels: all levels up to `most`, else an even spread with both ends", () => {
  assert.deepEqual(spreadLevels(4, 6), [0, 1, 2, 3]);
  assert.deepEqual(spreadLevels(6, 6), [0, 1, 2, 3, 4, 5]);
  assert.deepEqual(spreadLevels(100, 6), [0, 20, 40, 59, 79, 99]);
  assert.deepEqual(spreadLevels(7, 6), [0, 1, 2, 4, 5, 6]);
});

Deno.test("step rules: drl scales b^2 sigma_{t+1}^2 by sigmabar_t / sigmabar_0, flat does not", () => {
  const base = { kind: "cosine", T: 100, b2: 0.5 } as const;
  const old = makeSchedule(base); // a config written before the option: the official rule
  const drl = makeSchedule({ ...base, stepRule: "drl" });
  const flat = makeSchedule({ ...base, stepRule: "flat" });
  assert.deepEqual(old.stepSizes, drl.stepSizes);
  assert.equal(old.stepRule, "drl");
  for (const t of [0, 1, 50, 99]) {
    const s2 = 0.5 * flat.sigmas[t + 1] ** 2;
    assert.ok(Math.abs(flat.stepSizes[t] - s2) <= 1e-15 * s2, `flat level ${t}`);
    const ratio = drl.sigmasCum[t] / drl.sigmasCum[0];
    assert.ok(Math.abs(drl.stepSizes[t] - ratio * s2) <= 1e-12 * ratio * s2, `drl level ${t}`);
  }
  // Level 0 alike; the top 100x apart (sigmabar_99 / sigmabar_0 ~ 1 / 0.01).
  assert.equal(flat.stepSizes[0], drl.stepSizes[0]);
  assert.ok(drl.stepSizes[99] / flat.stepSizes[99] > 90);
  assert.throws(
    () => makeSchedule({ ...base, stepRule: "wide" as "flat" }),
    (e: unknown) => e instanceof UserError && /step rule 'wide'.*drl, flat/.test(e.message),
  );
});

Deno.test("loss weights: drl is float32(sigma_1 / sigma_{t+1}) as before, likelihood s_0^2 / s_t^2", async () => {
  for (const kind of ["drl", "cosine"] as const) {
    const drl = makeSchedule({ kind, T: 6, b2: 2e-4 });
    assert.equal(drl.lossWeight, "drl");
    const st = scheduleTensors(drl);
    const before = tf.div(drl.sigmas[1], tf.tensor1d(drl.sigmas.slice(1)));
    assert.deepEqual(await st.lossWeights.data(), await before.data());
    const lik = makeSchedule({ kind, T: 6, b2: 2e-4, lossWeight: "likelihood" });
    const stLik = scheduleTensors(lik);
    const w = await stLik.lossWeights.data();
    lik.stepSizes.forEach((s, t) => {
      const want = lik.stepSizes[0] / s;
      assert.ok(Math.abs(w[t] - want) <= 1e-6 * want, `level ${t}: ${w[t]} vs ${want}`);
    });
    tf.dispose(before);
    st.dispose();
    stLik.dispose();
  }
  assert.throws(
    () => makeSchedule({ kind: "drl", T: 6, b2: 2e-4, lossWeight: "mle" as "drl" }),
    /unknown loss weight 'mle'; use one of drl, likelihood/,
  );
});

Deno.test("energy scale: none by default (no factor), step multiplies level t by s_t^2; others refused", () => {
  const base = { kind: "cosine", T: 10, b2: 1, stepRule: "flat" } as const;
  const none = makeSchedule(base);
  assert.equal(none.energyScale, "none");
  assert.equal(energyLevelScale(none), null);
  const step = makeSchedule({ ...base, energyScale: "step" });
  assert.deepEqual(energyLevelScale(step), step.stepSizes);
  assert.equal(step.stepSizes.length, 10);
  assert.throws(
    () => makeSchedule({ ...base, energyScale: "nats" as "step" }),
    (e: unknown) => e instanceof UserError && /energy scale 'nats'.*none, step/.test(e.message),
  );
  assert.throws(
    () => buildConfig("8gaussians-T100", { "energy-scale": "sigma" }),
    (e: unknown) => e instanceof UserError && /none, step/.test(e.message),
  );
});
