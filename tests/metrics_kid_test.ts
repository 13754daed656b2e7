import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend.ts";
import { JsRandom, Rng } from "../lib/rng.ts";
import { kernelInceptionDistance, polynomialMmd2 } from "../lib/metrics/kid.ts";

await initBackend("cpu");

/** The unbiased MMD^2 with the cubic kernel, by explicit float64 loops. */
function mmd2ByHand(x: number[][], y: number[][]): number {
  const d = x[0].length;
  const m = x.length;
  const k = (u: number[], v: number[]) => (u.reduce((s, ui, i) => s + ui * v[i], 0) / d + 1) ** 3;
  let xx = 0, yy = 0, xy = 0;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < m; j++) {
      if (i !== j) {
        xx += k(x[i], x[j]);
        yy += k(y[i], y[j]);
      }
      xy += k(x[i], y[j]);
    }
  }
  return (xx + yy) / (m * (m - 1)) - (2 * xy) / (m * m);
}

Deno.test("polynomialMmd2 equals the hand-written unbiased estimator", async () => {
  const rng = new JsRandom(1);
  const m = 7, d = 5;
  const x = Array.from({ length: m }, () => Array.from({ length: d }, () => rng.normal()));
  const y = Array.from({ length: m }, () => Array.from({ length: d }, () => rng.normal() + 0.3));
  const got = await polynomialMmd2(new Float32Array(x.flat()), new Float32Array(y.flat()), m, d);
  // Inputs are float32-exact copies, so the only difference is the float32 Gram product.
  const want = mmd2ByHand(x.map((r) => r.map(Math.fround)), y.map((r) => r.map(Math.fround)));
  assert.ok(Math.abs(got - want) < 1e-5 * Math.abs(want), `${got} vs ${want}`);
});

Deno.test("KID with one subset covering both sets is that estimate, with std 0; sizes are capped", async () => {
  const a = new Float32Array([0, 1, 2, 3, 4, 5]); // 3 rows, d = 2
  const b = new Float32Array([1, 1, 0, 2, 2, 0, 5, 5]); // 4 rows
  const r = await kernelInceptionDistance(
    { pool: a, n: 3, featureDim: 2 },
    { pool: b, n: 4, featureDim: 2 },
    new Rng(3),
    {
      subsets: 1,
      subsetSize: 1000,
    },
  );
  assert.equal(r.subsetSize, 3);
  assert.equal(r.std, 0);
  assert.equal(r.nA, 3);
  assert.equal(r.nB, 4);
  // One subset draws 3 of b's 4 rows; the estimate must equal the hand value for some such choice.
  const rows = (f: Float32Array, n: number) =>
    Array.from({ length: n }, (_, i) => [f[2 * i], f[2 * i + 1]]);
  const ra = rows(a, 3), rb = rows(b, 4);
  const candidates = [0, 1, 2, 3].map((skip) => mmd2ByHand(ra, rb.filter((_, i) => i !== skip)));
  assert.ok(
    candidates.some((c) => Math.abs(c - r.mean) < 1e-5 * Math.abs(c)),
    `${r.mean} vs ${candidates}`,
  );
});

Deno.test("KID averages subsets to the full-sample unbiased MMD^2 (within 4 standard errors)", async () => {
  // Subsets are drawn independently and uniformly, so each subset estimate has expectation equal
  // to the unbiased estimate on the full sets: every ordered pair is equally likely.
  const rng = new JsRandom(11);
  const n = 200, d = 3;
  const x = Array.from(
    { length: n },
    () => Array.from({ length: d }, () => Math.fround(rng.normal())),
  );
  const y = Array.from(
    { length: n },
    () => Array.from({ length: d }, () => Math.fround(rng.normal() + 0.4)),
  );
  const full = mmd2ByHand(x, y);
  const subsets = 200;
  const r = await kernelInceptionDistance(
    { pool: new Float32Array(x.flat()), n, featureDim: d },
    { pool: new Float32Array(y.flat()), n, featureDim: d },
    new Rng(5),
    { subsets, subsetSize: 50 },
  );
  const stdErr = r.std / Math.sqrt(subsets);
  assert.ok(Math.abs(r.mean - full) < 4 * stdErr, `KID ${r.mean} vs full ${full} (se ${stdErr})`);
  assert.ok(full > 10 * stdErr, "the shift must be clearly visible for this test to mean anything");
});

Deno.test("KID scatters around 0 for one distribution and is large for shifted ones", async () => {
  const rng = new JsRandom(12);
  const n = 2000;
  const x = new Float32Array(n).map(() => rng.normal());
  const same = new Float32Array(n).map(() => rng.normal());
  const shifted = new Float32Array(n).map(() => rng.normal() + 0.5);
  const opts = { subsets: 10, subsetSize: 500 };
  const r0 = await kernelInceptionDistance(
    { pool: x, n, featureDim: 1 },
    { pool: same, n, featureDim: 1 },
    new Rng(5),
    opts,
  );
  const r1 = await kernelInceptionDistance(
    { pool: x, n, featureDim: 1 },
    { pool: shifted, n, featureDim: 1 },
    new Rng(5),
    opts,
  );
  // Population MMD^2 of N(0, 1) vs N(0.5, 1) under (xy + 1)^3 is 3.578 (moments up to the third).
  assert.ok(Math.abs(r0.mean) < 0.2, `KID same ${r0.mean}`);
  assert.ok(r1.mean > 2 && r1.mean < 5.5, `KID shifted ${r1.mean}`);
});

Deno.test("KID: the same seed gives the same value, and no tensors leak", async () => {
  const rng = new JsRandom(2);
  const a = new Float32Array(50 * 3).map(() => rng.normal());
  const b = new Float32Array(40 * 3).map(() => rng.normal() + 1);
  const before = tf.memory().numTensors;
  const run = () =>
    kernelInceptionDistance(
      { pool: a, n: 50, featureDim: 3 },
      { pool: b, n: 40, featureDim: 3 },
      new Rng(9),
      {
        subsets: 5,
        subsetSize: 20,
      },
    );
  const r1 = await run();
  const r2 = await run();
  assert.equal(r1.mean, r2.mean);
  assert.equal(r1.std, r2.std);
  assert.equal(tf.memory().numTensors, before);
});
