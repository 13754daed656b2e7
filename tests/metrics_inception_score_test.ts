import assert from "node:assert/strict";
import { NUMPY, PYTHON } from "./helpers/numpy.ts";
import { testNeeding } from "./helpers/needs.ts";
import { JsRandom } from "../lib/rng.ts";
import {
  inceptionScore,
  inceptionScoreFromLogits,
  softmaxRows,
} from "../lib/metrics/inception_score.ts";

Deno.test("Inception Score: identical predictions give 1, confident balanced predictions give k", () => {
  const k = 4;
  const n = 40;
  const same = new Float64Array(n * k).map((_, i) => [0.1, 0.2, 0.3, 0.4][i % k]);
  const flat = inceptionScore(same, n, k);
  assert.ok(Math.abs(flat.mean - 1) < 1e-15 && flat.std < 1e-15);
  // Each split of 4 rows holds one confident (one-hot) prediction per class: KL = log k per row.
  const oneHot = new Float64Array(n * k);
  for (let i = 0; i < n; i++) oneHot[i * k + (i % k)] = 1;
  const sharp = inceptionScore(oneHot, n, k);
  assert.ok(Math.abs(sharp.mean - k) < 1e-12, `${sharp.mean}`);
  assert.equal(sharp.splits, 10);
  assert.equal(sharp.n, n);
});

Deno.test("Inception Score: hand-computed two-class case and the spread over splits", () => {
  // Split 1: rows (0.9, 0.1), (0.1, 0.9): p(y) = (0.5, 0.5), KL = 0.9 ln 1.8 + 0.1 ln 0.2 per row.
  // Split 2: rows (0.5, 0.5) twice: KL = 0.
  const probs = new Float64Array([0.9, 0.1, 0.1, 0.9, 0.5, 0.5, 0.5, 0.5]);
  const s1 = Math.exp(0.9 * Math.log(1.8) + 0.1 * Math.log(0.2));
  const result = inceptionScore(probs, 4, 2, 2);
  assert.ok(Math.abs(result.mean - (s1 + 1) / 2) < 1e-14);
  assert.ok(Math.abs(result.std - Math.abs(s1 - 1) / 2) < 1e-14); // population std of two values
  assert.throws(() => inceptionScore(probs, 4, 2, 10), RangeError);
});

Deno.test("softmaxRows: rows sum to 1, shift-invariant, and handles huge logits", () => {
  const p = softmaxRows(new Float32Array([0, Math.log(3), 1000, 1000 + Math.log(3)]), 2, 2);
  assert.ok(Math.abs(p[0] - 0.25) < 1e-7 && Math.abs(p[1] - 0.75) < 1e-7);
  assert.ok(Math.abs(p[2] - 0.25) < 1e-4 && Math.abs(p[2] + p[3] - 1) < 1e-15);
});

testNeeding(NUMPY, {
  name: "Inception Score matches the reference numpy formula (improved-gan) on random predictions",
  fn: async () => {
    const rng = new JsRandom(7);
    const n = 53; // not a multiple of the splits: uneven parts as the reference
    const k = 6;
    const logits = new Float64Array(n * k).map(() => 3 * rng.normal());
    const probs = softmaxRows(logits, n, k);
    const code = `
import sys, json, numpy as np
preds = np.array(json.load(sys.stdin)).reshape(${n}, ${k})
splits = 10
scores = []
for i in range(splits):
    part = preds[(i * preds.shape[0] // splits):((i + 1) * preds.shape[0] // splits), :]
    kl = part * (np.log(part) - np.log(np.expand_dims(np.mean(part, 0), 0)))
    kl = np.mean(np.sum(kl, 1))
    scores.append(np.exp(kl))
print(json.dumps([float(np.mean(scores)), float(np.std(scores))]))
`;
    const child = new Deno.Command(PYTHON, { args: ["-c", code], stdin: "piped", stdout: "piped" })
      .spawn();
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(JSON.stringify(Array.from(probs))));
    await writer.close();
    const out = await child.output();
    assert.ok(out.success);
    const [mean, std] = JSON.parse(new TextDecoder().decode(out.stdout));
    const ours = inceptionScore(probs, n, k);
    assert.deepEqual(inceptionScoreFromLogits(logits, n, k), ours);
    assert.ok(Math.abs(ours.mean - mean) < 1e-12 * mean, `${ours.mean} vs ${mean}`);
    assert.ok(Math.abs(ours.std - std) < 1e-10, `${ours.std} vs ${std}`);
  },
});
