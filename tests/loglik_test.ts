/**
 * The AIS log-likelihood (lib/ais.ts, lib/loglik.ts) where the truth is known: Gaussian
 * conditionals' normalisers in closed form, chains whose levels are the exact diffused marginals of
 * a Gaussian and of a 2D Gaussian mixture (so log p(x_0) is the data density itself) and of the
 * curve sets (their quadrature as a mixture), the level-0 normaliser against the grid, the native
 * MLP path against autodiff, dequantisation, and the CLI.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend.ts";
import { bitsPerDim, dequantize, PIXEL_BIN } from "../lib/data/images/dequantize.ts";
import { getToy2d } from "../lib/data/toy2d.ts";
import { openResultsDb } from "../lib/db/mod.ts";
import { loadDnnl } from "../lib/kernels/dnnl_ffi.ts";
import { disableNativeKernels, enableNativeKernels } from "../lib/kernels/native.ts";
import {
  chainLogLikelihood,
  levelLogNormaliser,
  type LogLikOptions,
  logMeanExp,
  summarizeLogLik,
} from "../lib/loglik.ts";
import { gridLogLikelihood, logSumExp } from "../lib/metrics/toy2d.ts";
import { createMlp } from "../lib/nets/mlp.ts";
import { buildConfig } from "../lib/presets.ts";
import { JsRandom, Rng } from "../lib/rng.ts";
import { makeSchedule, type Schedule, scheduleTensors } from "../lib/schedule.ts";
import { runCheckpointPath } from "../lib/run_files.ts";
import { train } from "../lib/tasks/train.ts";
import { levelInputScale, levelLogDensity } from "../lib/level_density.ts";
import { gaussianChainNet, gaussianLogDensity, mixtureChainNet } from "../lib/exact_chain.ts";
import { type Need, testNeeding } from "./helpers/needs.ts";
import { quadraticNet } from "./helpers/quadratic_net.ts";
import { runScript } from "./helpers/script.ts";
import { TINY_TOY } from "./helpers/tiny_toy.ts";

await initBackend("cpu");

const DRL6 = makeSchedule({ kind: "drl", T: 6, b2: 2e-4 });

/** Closed form of log int exp(-l1 ||y - m||^2 / 2 - l2 ||y - x||^2 / 2) dy in d dimensions. */
function gaussianLogIntegral(l1: number, l2: number, sqDist: number, d: number): number {
  const l = l1 + l2;
  return (d / 2) * Math.log(2 * Math.PI / l) - (l1 * l2 / l) * sqDist / 2;
}

/**
 * Checks every estimate within 4 of its standard errors (plus float32 slack) of the truth, and
 * each error small enough (below 0.1 nats) for the check to tell a wrong estimator apart.
 */
function assertWithin(got: ArrayLike<number>, se: ArrayLike<number>, want: number[], what: string) {
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(got[i] - want[i]);
    assert.ok(Number.isFinite(se[i]) && se[i] < 0.1, `${what} row ${i}: se ${se[i]}`);
    assert.ok(
      err < 4 * se[i] + 1e-3,
      `${what} row ${i}: ${got[i]} vs exact ${want[i]} (${(err / se[i]).toFixed(1)} se)`,
    );
  }
}

Deno.test("AIS recovers a Gaussian conditional's exact log normaliser (recovery and top level)", async () => {
  // f = -k ||y - m||^2 / 2 with k / s_t^2 = 10 and the anchors ~1 away from m: the energy term is
  // large (|f / s^2| ~ 5), and with few temperatures and many particles a lost or doubled AIS
  // weight (a tenth of log w) moves log Z by many standard errors.
  const st = scheduleTensors(DRL6);
  const m = 0.3;
  const anchors = [[1.2, -0.4], [-0.5, 0.9], [0.3, 0.3], [1.0, 1.1]];
  const xNext = tf.tensor2d(anchors);
  const opts: LogLikOptions = { aisSteps: 10, particles: 1024 };
  for (const adaptStep of [true, false]) {
    for (const t of [2, 5]) {
      const top = t === DRL6.T - 1;
      const k = 10 * DRL6.stepSizes[t];
      const net = quadraticNet(k, m);
      const before = tf.memory().numTensors;
      const r = await levelLogNormaliser(net, st, t, top ? null : xNext, [4, 2], new Rng(t), {
        ...opts,
        adaptStep,
      });
      assert.equal(tf.memory().numTensors, before, "no tensor leaks");
      const l2 = top ? 0 : 1 / DRL6.sigmas[t + 1] ** 2;
      const want = anchors.map(([a, b]) =>
        gaussianLogIntegral(10, l2, (a - m) ** 2 + (b - m) ** 2, 2)
      );
      assertWithin(r.logZ, r.se, want, `level ${t}, adapt ${adaptStep}`);
      assert.ok(r.acceptance > 0.3 && r.acceptance < 0.99, `acceptance ${r.acceptance}`);
      net.dispose();
    }
  }
  xNext.dispose();
  st.dispose();
});

/** x_0 ~ N(mu, v I): n points, their exact log-density, and the chain's estimates. */
async function gaussianChain(schedule: Schedule, n: number, opts: LogLikOptions, seed = 1) {
  const dim = 2, mu = 0.2, v = 0.09;
  const st = scheduleTensors(schedule);
  const net = gaussianChainNet(schedule, dim, mu, v);
  const rng = new Rng(seed);
  const x0 = tf.tidy(() => tf.add(tf.mul(rng.normal([n, dim]), Math.sqrt(v)), mu));
  const exact = gaussianLogDensity(await x0.data() as Float32Array, dim, mu, v);
  const before = tf.memory().numTensors;
  const r = await chainLogLikelihood(net, st, x0, rng, opts);
  const leaked = tf.memory().numTensors - before;
  tf.dispose(x0);
  net.dispose();
  st.dispose();
  return { r, exact, leaked };
}

Deno.test("a chain of Gaussians: the AIS log-likelihood is log N(x_0) within its error bars", async () => {
  // The levels are the exact marginals, so every trajectory's sum is exactly log p(x_0). Few
  // temperatures and many particles: a lost AIS weight moves the sum by many standard errors.
  const { r, exact, leaked } = await gaussianChain(DRL6, 32, { aisSteps: 10, particles: 128 });
  assert.equal(leaked, 0, "no tensor leaks");
  const diff = summarizeLogLik(Array.from(r.perPoint, (p, i) => p - exact[i]), r.aisSe);
  assert.ok(diff.aisSe < 0.05, `AIS error ${diff.aisSe}`);
  assert.ok(
    Math.abs(diff.mean) < 4 * diff.aisSe,
    `mean error ${diff.mean} vs AIS se ${diff.aisSe}`,
  );
  assert.equal(r.levels.length, DRL6.T);
  for (const l of r.levels) assert.ok(l.acceptance > 0.4 && l.acceptance < 0.8, `${l.acceptance}`);
});

Deno.test("the estimate works for any T: a chain of Gaussians at T = 1000 (cosine)", async () => {
  const schedule = makeSchedule({ kind: "cosine", T: 1000, b2: 2e-4 });
  const { r, exact, leaked } = await gaussianChain(schedule, 2, { aisSteps: 4, particles: 4 });
  assert.equal(leaked, 0, "no tensor leaks");
  assert.equal(r.levels.length, 1000);
  for (let i = 0; i < exact.length; i++) {
    const err = Math.abs(r.perPoint[i] - exact[i]);
    assert.ok(
      err < 5 * r.aisSe[i],
      `point ${i}: ${r.perPoint[i]} vs ${exact[i]} (se ${r.aisSe[i]})`,
    );
  }
});

Deno.test("the same seed gives the same estimate; another seed does not", async () => {
  const opts = { aisSteps: 5, particles: 2 };
  const a = await gaussianChain(DRL6, 4, opts, 7);
  const b = await gaussianChain(DRL6, 4, opts, 7);
  const c = await gaussianChain(DRL6, 4, opts, 8);
  assert.deepEqual(a.r.perPoint, b.r.perPoint);
  assert.notDeepEqual(a.r.perPoint, c.r.perPoint);
});

// The 8 Gaussians' centres with std 0.1 (the data set's 0.05 halved the conditionals' width at
// level 0: the same checks, with twice the AIS steps for the same error).
const EIGHT = getToy2d("8gaussians");
const CENTRES = EIGHT.modes!.centres;
const MODE_STD = 0.1;

/** The mixture's log-density and n draws from it. */
function mixtureLogDensity(x: number, y: number): number {
  const K = CENTRES.length / 2;
  const e = Array.from(
    { length: K },
    (_, k) => -((x - CENTRES[2 * k]) ** 2 + (y - CENTRES[2 * k + 1]) ** 2) / (2 * MODE_STD ** 2),
  );
  return logSumExp(e) - Math.log(K) - Math.log(2 * Math.PI * MODE_STD ** 2);
}

function mixtureSample(n: number, rng: Rng): Float32Array {
  const js = rng.js();
  const out = new Float32Array(2 * n);
  for (let i = 0; i < n; i++) {
    const k = js.int(CENTRES.length / 2);
    out[2 * i] = CENTRES[2 * k] + MODE_STD * js.normal();
    out[2 * i + 1] = CENTRES[2 * k + 1] + MODE_STD * js.normal();
  }
  return out;
}

Deno.test("2D mixture: the level-0 conditional's AIS log normaliser equals the grid's", async () => {
  const st = scheduleTensors(DRL6);
  const net = mixtureChainNet(DRL6, CENTRES, MODE_STD ** 2);
  const rng = new Rng(3);
  const sigma = DRL6.sigmas[1];
  // x_1 from the forward process of data points: the conditionals the chain meets.
  const points = mixtureSample(4, rng);
  const xNext = tf.tidy(() =>
    tf.add(tf.mul(tf.tensor2d(points, [4, 2]), DRL6.alphas[1]), tf.mul(rng.normal([4, 2]), sigma))
  );
  const anchors = await xNext.data();
  const r = await levelLogNormaliser(net, st, 0, xNext, [4, 2], rng, {
    aisSteps: 100,
    particles: 128,
  });
  const level0 = levelLogDensity(net, st, 0);
  for (let i = 0; i < 4; i++) {
    const [ax, ay] = [anchors[2 * i], anchors[2 * i + 1]];
    // The conditional's log-density at y = x_1 + p, on a box of +-6 sigma around x_1.
    const conditional = async (p: Float32Array) => {
      const y = p.map((v, j) => v + (j % 2 === 0 ? ax : ay));
      const f = await level0(y);
      return f.map((v, j) => v - (p[2 * j] ** 2 + p[2 * j + 1] ** 2) / (2 * sigma * sigma));
    };
    const grid = await gridLogLikelihood(conditional, new Float32Array(2), {
      lo: -6 * sigma,
      hi: 6 * sigma,
      n: 160,
    });
    assertWithin([r.logZ[i]], [r.se[i]], [grid.logZ], `anchor ${i}`);
  }
  xNext.dispose();
  net.dispose();
  st.dispose();
});

Deno.test("2D mixture: log-likelihood over the levels = grid-normalised level 0 = the true density", async () => {
  const st = scheduleTensors(DRL6);
  const net = mixtureChainNet(DRL6, CENTRES, MODE_STD ** 2);
  const rng = new Rng(4);
  const n = 16;
  const points = mixtureSample(n, rng);
  const truth = Array.from(
    { length: n },
    (_, i) => mixtureLogDensity(points[2 * i], points[2 * i + 1]),
  );
  const x0 = tf.tensor2d(points, [n, 2]);
  const r = await chainLogLikelihood(net, st, x0, rng, { aisSteps: 100, particles: 8 });
  x0.dispose();
  const ais = summarizeLogLik(Array.from(r.perPoint, (p, i) => p - truth[i]), r.aisSe);
  assert.ok(ais.aisSe < 0.1, `AIS error ${ais.aisSe}`);
  assert.ok(Math.abs(ais.mean) < 4 * ais.aisSe, `AIS - truth ${ais.mean} (se ${ais.aisSe})`);
  // The grid normalises level 0's marginal exp(f(a_1 x, 0) / s_0^2) alone.
  const grid = await gridLogLikelihood(levelLogDensity(net, st, 0), points, {
    lo: -1.5,
    hi: 1.5,
    n: 200,
    scale: DRL6.alphas[1],
  });
  const trueMean = truth.reduce((a, b) => a + b, 0) / n;
  assert.ok(Math.abs(grid.avgLogLik - trueMean) < 1e-3, `grid ${grid.avgLogLik} vs ${trueMean}`);
  const aisMean = Array.from(r.perPoint).reduce((a, b) => a + b, 0) / n;
  assert.ok(
    Math.abs(aisMean - grid.avgLogLik) < 4 * ais.aisSe,
    `AIS ${aisMean} vs grid ${grid.avgLogLik}`,
  );
  net.dispose();
  st.dispose();
});

Deno.test("2D curve sets: every level of the exact chain is the data set's diffused density", async () => {
  // The quadrature's mixture (lib/data/curve_density.ts) through mixtureChainNet. Level t's
  // marginal is x_t = c_t x_0 + n_t eps (from the clean data: c_t, n_t from levels 1..t); its
  // net reads y = a x_t and f(y, t) / s_t^2 is the mixture's log-density in y without the
  // components' normaliser -log(2 pi a^2 V_t), V_t = c_t^2 std^2 + n_t^2: with the Jacobian a^2,
  // log p_t(x) = f(a x, t) / s_t^2 - log(2 pi V_t), pointwise, once the weights sum to 1.
  const schedule = makeSchedule({ kind: "cosine", T: 20, b2: 1 });
  const st = scheduleTensors(schedule);
  const rng = new Rng(6);
  for (const name of ["2moons", "swissroll"]) {
    const dataset = getToy2d(name);
    const mixture = dataset.mixture!();
    const weight = Array.from(mixture.logWeights).reduce((a, w) => a + Math.exp(w), 0);
    assert.ok(Math.abs(weight - 1) < 1e-6, `${name}: weights sum to ${weight}`);
    const net = mixtureChainNet(schedule, mixture.centres, mixture.std ** 2, mixture.logWeights);
    let c = 1, noiseVar = 0;
    for (let t = 0; t < schedule.T; t++) {
      if (t > 0) {
        c *= schedule.alphas[t];
        noiseVar = schedule.alphas[t] ** 2 * noiseVar + schedule.sigmas[t] ** 2;
      }
      const js = rng.js();
      const xt = dataset.sample(8, rng).map((v) => c * v + Math.sqrt(noiseVar) * js.normal());
      const density = t === 0 ? dataset.logDensity : dataset.diffused(c, Math.sqrt(noiseVar));
      const a = levelInputScale(st, t);
      const f = await levelLogDensity(net, st, t)(xt.map((v) => a * v));
      const logNorm = Math.log(2 * Math.PI * (c * c * mixture.std ** 2 + noiseVar));
      for (let i = 0; i < 8; i++) {
        const want = density(xt[2 * i], xt[2 * i + 1]);
        assert.ok(
          Math.abs(f[i] - logNorm - want) < 1e-3,
          `${name} level ${t} point ${i}: chain ${f[i] - logNorm} vs diffused density ${want}`,
        );
      }
    }
    net.dispose();
  }
  st.dispose();
});

const ONEDNN: Need = {
  what: "oneDNN (libdnnl.so.2)",
  present: loadDnnl() !== null,
  install: "apt-get install -y libdnnl2",
};

/** The estimate for a seeded MLP at T = 4, on the active backend. */
async function mlpEstimate(): Promise<{ perPoint: Float64Array; leaked: number }> {
  // b2 = 1 keeps f / s_t^2 of an untrained net moderate.
  const schedule = makeSchedule({ kind: "cosine", T: 4, b2: 1 });
  const st = scheduleTensors(schedule);
  const net = createMlp({
    kind: "mlp",
    inputDim: 2,
    width: 16,
    depth: 2,
    tembDim: 8,
    activation: "swish",
    spectralNorm: false,
  }, new Rng(5));
  const x0 = tf.tensor2d(EIGHT.sample(8, new Rng(6)), [8, 2]);
  const before = tf.memory().numTensors;
  const r = await chainLogLikelihood(net, st, x0, new Rng(7), { aisSteps: 10, particles: 2 });
  const leaked = tf.memory().numTensors - before;
  tf.dispose(x0);
  net.dispose();
  st.dispose();
  return { perPoint: r.perPoint, leaked };
}

testNeeding(ONEDNN, {
  name: "the MLP's native f-and-gradient kernel gives the estimate of tfjs's autodiff",
  fn: async () => {
    const want = await mlpEstimate();
    assert.equal(want.leaked, 0);
    let got: { perPoint: Float64Array; leaked: number };
    try {
      enableNativeKernels();
      await initBackend("wasm");
      got = await mlpEstimate();
    } finally {
      disableNativeKernels();
      await initBackend("cpu");
    }
    assert.equal(got.leaked, 0);
    for (let i = 0; i < want.perPoint.length; i++) {
      const scale = Math.max(1, Math.abs(want.perPoint[i]));
      assert.ok(
        Math.abs(got.perPoint[i] - want.perPoint[i]) < 1e-3 * scale,
        `point ${i}: native ${got.perPoint[i]} vs autodiff ${want.perPoint[i]}`,
      );
    }
  },
});

Deno.test("logMeanExp: the log of the mean weight and its delta-method variance", () => {
  const { value, variance } = logMeanExp([Math.log(1), Math.log(3)]);
  assert.ok(Math.abs(value - Math.log(2)) < 1e-12);
  // Var(w) = 2, M = 2, mean 2: 2 / (2 * 4).
  assert.ok(Math.abs(variance - 0.25) < 1e-12);
  assert.ok(Number.isNaN(logMeanExp([0.5]).variance));
  assert.ok(Math.abs(logSumExp([0, 0]) - Math.log(2)) < 1e-12);
});

Deno.test("dequantisation: bins of 1/127.5 centred on the training values; bits/dim", () => {
  const pixels = new Uint8Array(4000).map((_, i) => i % 256);
  const out = new Float32Array(4000);
  dequantize(pixels, new JsRandom(1), out);
  for (let i = 0; i < pixels.length; i++) {
    const centre = pixels[i] / 127.5 - 1;
    assert.ok(Math.abs(out[i] - centre) <= PIXEL_BIN / 2 + 1e-6, `${out[i]} vs ${centre}`);
  }
  // The uniform density on [-1 - 1/255, 1 + 1/255)^D is exactly 8 bits/dim.
  const D = 3072;
  const logp = -D * Math.log(2 + 2 / 255);
  assert.ok(Math.abs(bitsPerDim(logp, D, PIXEL_BIN) - 8) < 1e-9);
  assert.ok(Math.abs(bitsPerDim(-2 * Math.LN2, 2) - 1) < 1e-12);
});

Deno.test("deno task loglik: scores a trained 2D run (recorded), its file and a shipped model (printed); bad sources in one line", async () => {
  const dir = await Deno.makeTempDir();
  const s = await train({
    config: buildConfig("8gaussians", TINY_TOY),
    backend: "cpu",
    resultsDir: dir,
    log: () => {},
  });
  const db = `${dir}/results.db`;
  const args = ["--db", db, "--n", "8", "--ais-steps", "3", "--particles", "2", "--backend", "cpu"];
  const ok = await runScript("loglik.ts", ["--run", String(s.runId), ...args, "--json"]);
  assert.equal(ok.code, 0, ok.stderr);
  const out = JSON.parse(ok.stdout.trim().split("\n").at(-1)!);
  assert.equal(out.n, 8);
  assert.equal(out.T, 4);
  assert.ok(Number.isFinite(out.loglik) && Number.isFinite(out.bits_per_dim));
  assert.ok(Math.abs(out.bits_per_dim + out.loglik / (2 * Math.LN2)) < 1e-9);
  const results = await openResultsDb({ path: db });
  const rows = await results.evaluations(s.runId);
  const ll = rows.find((e) => e.name === "ais_loglik")!;
  assert.equal(ll.value, out.loglik);
  assert.equal((ll.details as { levels: { term: number[] } }).levels.term.length, 4);
  assert.ok(rows.some((e) => e.name === "ais_bits_per_dim"));
  // The same checkpoint as a file: the same numbers (same seed), printed, nothing recorded.
  const file = await runScript("loglik.ts", [
    "--checkpoint",
    runCheckpointPath(s.runDir),
    ...args,
    "--json",
  ]);
  assert.equal(file.code, 0, file.stderr);
  const fromFile = JSON.parse(file.stdout.trim().split("\n").at(-1)!);
  assert.equal(fromFile.run, null);
  assert.equal(fromFile.loglik, out.loglik);
  assert.equal(fromFile.bits_per_dim, out.bits_per_dim);
  assert.equal((await results.evaluations(s.runId)).length, rows.length);
  // --exact: the data's exact chain on the same points and draws, printed and recorded.
  const exact = await runScript("loglik.ts", [
    "--run",
    String(s.runId),
    ...args,
    "--exact",
    "--json",
  ]);
  assert.equal(exact.code, 0, exact.stderr);
  const withExact = JSON.parse(exact.stdout.trim().split("\n").at(-1)!);
  assert.equal(withExact.loglik, out.loglik, "the model's estimate is unchanged by --exact");
  assert.ok(Number.isFinite(withExact.exact_loglik) && withExact.exact_loglik !== out.loglik);
  const exactRow = (await results.evaluations(s.runId)).find((e) =>
    e.name === "ais_loglik_exact_model"
  )!;
  assert.equal(exactRow.value, withExact.exact_loglik);
  assert.equal((exactRow.details as { levels: { term: number[] } }).levels.term.length, 4);
  // A shipped model scores on a fresh clone, without a database.
  const shipped = await runScript("loglik.ts", ["--model", "8gaussians", ...args, "--json"]);
  assert.equal(shipped.code, 0, shipped.stderr);
  const model = JSON.parse(shipped.stdout.trim().split("\n").at(-1)!);
  assert.equal(model.T, 6);
  assert.ok(Number.isFinite(model.loglik) && model.checkpoint.endsWith("model.ckpt"));
  // A training run without a checkpoint yet, and a run that is no model at all.
  const row = { preset: "8gaussians", gitCommit: null, backend: "cpu", adapter: "", seed: 0 };
  const untrained = await results.createRun({
    ...row,
    task: "toy2d",
    config: { task: "toy2d", dataset: "8gaussians" },
    dir: `${dir}/never-trained`,
  });
  const sampling = await results.createRun({ ...row, task: "sample", config: {}, dir: null });
  await results.close();
  for (
    const [bad, message] of [
      ["99", "no run 99"],
      ["x", "--run needs an integer"],
      [String(untrained), `run ${untrained} has no checkpoint`],
      [String(sampling), `run ${sampling} is a 'sample' run, not a trained model`],
    ]
  ) {
    const r = await runScript("loglik.ts", ["--run", bad, ...args]);
    assert.equal(r.code, 2);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.ok(r.stderr.includes(message), r.stderr);
  }
  for (
    const [bad, message] of [
      [["--run", "1", "--model", "8gaussians"], "give exactly one of --run ID"],
      [["--model", "8gaussians", "--step", "5"], "--step picks a checkpoint of a run"],
      [["--model", "nope"], "unknown model 'nope'"],
      [
        ["--model", "fashion-mnist", "--exact"],
        "--exact needs a 2D data set whose density is a Gaussian mixture",
      ],
      [["--checkpoint", "models/classifiers/fashion-mnist.ckpt"], "holds no DRL energy model"],
    ]
  ) {
    const r = await runScript("loglik.ts", [...bad, ...args]);
    assert.equal(r.code, 2);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.ok(r.stderr.includes(message as string), r.stderr);
  }
  await Deno.remove(dir, { recursive: true });
});
