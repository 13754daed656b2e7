/**
 * The benchmark: the peer's output parsed and run through a subprocess, ratios, database rows, an
 * end-to-end run on a tiny preset (cpu backend), and memory: 1,000 Langevin steps on a tiny net
 * leave tf.memory() where it was.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend.ts";
import { openResultsDb } from "../lib/db/mod.ts";
import { parsePeerOutput, type PeerLine, runPeer } from "../lib/tasks/bench/peer.ts";
import {
  BENCH_PRESETS,
  type BenchPreset,
  benchTrainConfig,
  defaultMcmcSteps,
} from "../lib/tasks/bench/presets.ts";
import { benchEvaluations, recordBench } from "../lib/tasks/bench/record.ts";
import {
  type BenchLine,
  type RatioLine,
  ratiosOf,
  runBench,
  summarizeRatios,
} from "../lib/tasks/bench/run.ts";
import { benchBatch, makeLangevinStep } from "../lib/tasks/bench/workloads.ts";
import { countParams } from "../lib/nets/mod.ts";
import { sampleRecovery } from "../lib/recovery.ts";
import { scheduleTensors } from "../lib/schedule.ts";
import { Rng } from "../lib/rng.ts";
import { createTrainState, type TrainState } from "../lib/train_state.ts";
import { testNeeding } from "./helpers/needs.ts";
import { loadDnnl } from "../lib/kernels/dnnl_ffi.ts";
import { buildConfig, DEFAULT_PRESET } from "../lib/presets.ts";
import { exists } from "../lib/io/exists.ts";

const ONEDNN = {
  what: "oneDNN (libdnnl.so.2)",
  present: loadDnnl() !== null,
  install: "apt-get install -y libdnnl2",
};

await initBackend("cpu");

const TINY: BenchPreset = {
  name: "tiny-bench",
  imageSize: 4,
  channels: 1,
  ch: 4,
  chMult: [1, 2],
  numResBlocks: 1,
  batch: 2,
};

function disposeState(s: TrainState): void {
  s.net.dispose();
  s.adam.dispose();
  s.ema.dispose();
  s.st.dispose();
}

const PEER_OUTPUT = [
  "some warning from torch",
  '{"peer": "pytorch-x-cpu", "threads": 2, "preset": "cifar10-bench", "batch": 16, ' +
  '"workload": "langevin_step", "seconds": 0.05, "image_steps_per_s": 320.0}',
  '{"peer": "pytorch-x-cpu", "threads": 2, "preset": "cifar10-bench", "batch": 16, ' +
  '"workload": "train_iter", "mcmc_steps": 30, "seconds": 2.0, "iters_per_s": 0.5}',
  "{not json",
].join("\n");

Deno.test("peer output: JSON workload lines are kept, everything else is skipped", () => {
  const lines = parsePeerOutput(PEER_OUTPUT);
  assert.equal(lines.length, 2);
  assert.deepEqual(lines.map((l) => l.workload), ["langevin_step", "train_iter"]);
  assert.equal(lines[1].iters_per_s, 0.5);
});

function ourLine(workload: "langevin_step" | "train_iter", rate: number): BenchLine {
  return {
    impl: "test",
    backend: "cpu",
    adapter: "cpu",
    kernels: "tfjs",
    preset: "cifar10-bench",
    batch: 16,
    params: 1,
    workload,
    seconds: 1,
    median_seconds: 1,
    min_seconds: 1,
    reps: 1,
    ...(workload === "langevin_step" ? { image_steps_per_s: rate } : { iters_per_s: rate }),
    peak_tensor_bytes: 0,
    leaked_tensors: 0,
    peak_rss_bytes: null,
    wasm_heap_bytes: null,
  };
}

Deno.test("ratios: ours / peer per workload, only where both have a number", () => {
  const peer = parsePeerOutput(PEER_OUTPUT);
  const ratios = ratiosOf([ourLine("langevin_step", 160), ourLine("train_iter", 1)], peer);
  assert.deepEqual(ratios.map((r) => [r.workload, r.value]), [["langevin_step", 0.5], [
    "train_iter",
    2,
  ]]);
  assert.equal(ratios[0].peer_threads, 2);
  const onlyOne: PeerLine[] = peer.slice(0, 1);
  assert.equal(
    ratiosOf([ourLine("langevin_step", 160), ourLine("train_iter", 1)], onlyOne).length,
    1,
  );
  const otherPreset = peer.map((l) => ({ ...l, preset: "fmnist-bench" }));
  assert.equal(ratiosOf([ourLine("langevin_step", 160)], otherPreset).length, 0);
});

testNeeding({
  what: "python3",
  present: await exists("/usr/bin/python3"),
  install: "apt-get install -y python3",
}, {
  name: "peer subprocess: arguments passed through, lines parsed, failures are one clear line",
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      const fake = join(dir, "peer.py");
      // Echoes its arguments as the numbers, so the test sees what the peer was asked.
      await Deno.writeTextFile(
        fake,
        [
          "import json, sys",
          "a = sys.argv[1:]",
          "opt = lambda k: a[a.index(k) + 1]",
          "print('noise')",
          "print(json.dumps({'peer': 'fake', 'threads': int(opt('--threads')), " +
          "'preset': opt('--preset'), 'batch': 2, 'workload': 'train_iter', " +
          "'mcmc_steps': int(opt('--mcmc-steps')), 'seconds': 1.0, 'iters_per_s': int(opt('--reps'))}))",
        ].join("\n"),
      );
      const lines = await runPeer({
        path: fake,
        python: "/usr/bin/python3",
        preset: "fmnist-bench",
        reps: 7,
        threads: 1,
        mcmcSteps: 3,
      });
      assert.equal(lines.length, 1);
      assert.equal(lines[0].preset, "fmnist-bench");
      assert.equal(lines[0].threads, 1);
      assert.equal(lines[0].mcmc_steps, 3);
      assert.equal(lines[0].iters_per_s, 7);
      const failing = join(dir, "fail.py");
      await Deno.writeTextFile(failing, "raise SystemExit('boom')");
      await assert.rejects(
        runPeer({ path: failing, python: "/usr/bin/python3", preset: "x", reps: 1, mcmcSteps: 1 }),
        /the peer failed.*boom/,
      );
      await assert.rejects(
        runPeer({
          path: join(dir, "absent.py"),
          python: "/usr/bin/python3",
          preset: "x",
          reps: 1,
          mcmcSteps: 1,
        }),
        /does not exist/,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("presets: SPEC.md's three nets, no spectral norm, no attention, T=6 drl, K=30", () => {
  assert.deepEqual(Object.keys(BENCH_PRESETS), [
    "cifar10-bench",
    "fmnist-bench",
    "cifar10-official",
    "toy2d",
  ]);
  const c = benchTrainConfig(BENCH_PRESETS["fmnist-bench"]);
  assert.equal(c.net.kind, "resnet");
  if (c.net.kind !== "resnet") return;
  assert.deepEqual([c.net.imageSize, c.net.channels, c.net.ch, c.net.chMult], [28, 1, 32, [
    1,
    2,
    2,
  ]]);
  assert.equal(c.net.spectralNorm, false);
  assert.equal(c.net.attention, false);
  assert.deepEqual(c.schedule, { kind: "drl", T: 6, b2: 2e-4 });
  assert.equal(c.langevin.steps, 30);
  assert.equal(c.train.batch, 32);
});

Deno.test("presets: toy2d is the default 2D training preset (MLP 128 x 3, batch 256, K=10, T=6)", () => {
  const p = BENCH_PRESETS["toy2d"];
  assert.equal(defaultMcmcSteps(p), 10);
  const c = benchTrainConfig(p);
  assert.deepEqual(c, buildConfig(DEFAULT_PRESET));
  assert.equal(c.net.kind, "mlp");
  if (c.net.kind !== "mlp") return;
  assert.deepEqual([c.net.width, c.net.depth, c.train.batch, c.schedule.T], [128, 3, 256, 6]);
  // The parameter count bench/peer_torch.py --preset toy2d prints for its MLP.
  const s = createTrainState(c);
  assert.equal(countParams(s.net), 50976);
  disposeState(s);
  assert.equal(benchTrainConfig(p, 3).langevin.steps, 3);
});

testNeeding(ONEDNN, {
  name: "runBench toy2d on wasm: the MLP's native kernels (step, whole chain), nothing leaked",
  fn: async () => {
    const result = await runBench({
      preset: { kind: "toy2d", name: "toy2d", dataset: "8gaussians", batch: 32 },
      backend: "wasm",
      reps: 2,
      profile: true,
    });
    try {
      assert.deepEqual(result.lines.map((l) => l.workload), ["langevin_step", "train_iter"]);
      assert.equal(result.lines[1].mcmc_steps, 10);
      assert.match(result.lines[0].kernels, /oneDNN/);
      for (const l of result.lines) assert.equal(l.leaked_tensors, 0, `${l.workload} leaks`);
      const [step, iter] = result.profiles.map((p) => p.profile.kernels.map((k) => k.kernel));
      assert.ok(step.includes("DrlMlpEnergyGrad"), "a Langevin step runs the MLP kernel");
      assert.ok(iter.includes("DrlMlpLangevin"), "the training step's chain is one kernel");
      assert.ok(iter.includes("DrlAdamUpdate"), "so is each parameter's Adam update");
    } finally {
      await initBackend("cpu");
    }
  },
});

Deno.test("runBench end to end on a tiny preset (cpu): lines, memory, rows in the database", async () => {
  const result = await runBench({
    preset: TINY,
    backend: "cpu",
    reps: 2,
    mcmcSteps: 2,
    native: false,
    profile: true,
  });
  assert.equal(result.backend.backend, "cpu");
  assert.deepEqual(result.lines.map((l) => l.workload), ["langevin_step", "train_iter"]);
  const [step, iter] = result.lines;
  assert.ok(step.image_steps_per_s! > 0 && Number.isFinite(step.image_steps_per_s!));
  assert.ok(Math.abs(step.image_steps_per_s! - TINY.batch / step.seconds) < 1e-9);
  assert.ok(Math.abs(iter.iters_per_s! - 1 / iter.seconds) < 1e-9);
  assert.equal(iter.mcmc_steps, 2);
  assert.equal(iter.reps, 1); // half of --reps, at least 1
  assert.equal(step.kernels, "tfjs");
  for (const l of result.lines) {
    assert.ok(l.peak_tensor_bytes > 0);
    assert.equal(l.leaked_tensors, 0, `${l.workload} leaks tensors`);
  }
  const s = createTrainState(benchTrainConfig(TINY));
  assert.equal(step.params, countParams(s.net));
  disposeState(s);
  assert.equal(result.profiles.length, 2);
  assert.ok(result.profiles[0].profile.kernels.some((k) => k.kernel === "DrlConv2DSame"));

  const dir = await Deno.makeTempDir();
  try {
    const db = await openResultsDb({ path: join(dir, "results.db") });
    const withPeer = {
      ...result,
      peer: parsePeerOutput(PEER_OUTPUT).map((l) => ({ ...l, preset: TINY.name })),
    };
    withPeer.ratios = ratiosOf(withPeer.lines, withPeer.peer);
    const runId = await recordBench(db, withPeer, { gitCommit: null, config: { reps: 2 } });
    const run = await db.getRun(runId);
    assert.equal(run?.task, "bench");
    assert.equal(run?.preset, TINY.name);
    assert.equal(run?.status, "completed");
    const rows = await db.evaluations(runId);
    const names = rows.map((r) => r.name).sort();
    assert.deepEqual(names, [
      "image_steps_per_s",
      "iters_per_s",
      "langevin_step.peak_tensor_bytes",
      "peer_image_steps_per_s",
      "peer_iters_per_s",
      "ratio_image_steps_per_s",
      "ratio_iters_per_s",
      "train_iter.peak_tensor_bytes",
    ]);
    const ratio = rows.find((r) => r.name === "ratio_image_steps_per_s")!.value;
    assert.ok(Math.abs(ratio - step.image_steps_per_s! / 320) < 1e-9);
    assert.equal(benchEvaluations(withPeer).length, rows.length);
    await db.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("memory: 1,000 Langevin steps on a tiny net do not grow tf.memory()", async () => {
  const s = createTrainState(benchTrainConfig({ ...TINY, chMult: [1], batch: 1 }));
  const xNext = benchBatch(s, 1);
  const langevin = makeLangevinStep(s, xNext);
  let y: tf.Tensor = tf.clone(xNext);
  const step = () => {
    const next = langevin.step(y);
    y.dispose();
    y = next;
  };
  step(); // first-call allocations (e.g. cached constants) happen here
  const before = tf.memory();
  for (let k = 1; k < 1000; k++) step();
  const after = tf.memory();
  assert.equal(after.numTensors, before.numTensors);
  assert.equal(after.numBytes, before.numBytes);
  assert.ok((await y.data()).every(Number.isFinite));
  langevin.dispose();
  tf.dispose([y, xNext]);
  disposeState(s);
});

Deno.test("memory: the project's sampler, 1,000 steps, leaves only its outputs; peak as at 10", async () => {
  const s = createTrainState(benchTrainConfig({ ...TINY, chMult: [1], batch: 1 }));
  const st = scheduleTensors(s.st.schedule);
  const xNext = benchBatch(s, 1);
  const t = tf.tensor1d([2], "int32");
  const chain = (steps: number) => {
    const r = sampleRecovery(s.net, xNext, t, st, new Rng(3), { steps, sampler: "ula" });
    return [r.x, r.acceptance, r.displacement];
  };
  const before = tf.memory();
  const outputs = chain(1000);
  const after = tf.memory();
  assert.equal(
    after.numTensors,
    before.numTensors + 3,
    "only x, acceptance and displacement remain",
  );
  const outputBytes = outputs.reduce((n, x) => n + 4 * x.size, 0);
  assert.equal(after.numBytes, before.numBytes + outputBytes);
  tf.dispose(outputs);
  // The peak inside a chain (tf.profile records every kernel, so chains stay short here).
  const peak = async (steps: number) => {
    const info = await tf.profile(() => chain(steps));
    tf.dispose(info.result as tf.Tensor[]);
    return info.peakBytes;
  };
  assert.equal(await peak(100), await peak(10));
  tf.dispose([xNext, t]);
  st.dispose();
  disposeState(s);
});

Deno.test("interleaved rounds: the median ratio per workload, with its spread", () => {
  const round = (step: number, iter: number): RatioLine[] =>
    [["langevin_step", step], ["train_iter", iter]].map(([workload, value]) => ({
      ratio: "ours/peer" as const,
      preset: "p",
      workload: workload as string,
      metric: workload === "langevin_step" ? "image_steps_per_s" as const : "iters_per_s" as const,
      ours: value as number,
      peer: 1,
      value: value as number,
      min: value as number,
      max: value as number,
      pairs: 1,
    }));
  const s = summarizeRatios([round(1.1, 0.8), round(0.9, 1.3), round(1.4, 1.0)]);
  assert.deepEqual(
    s.map((r) => [r.workload, r.value, r.min, r.max, r.pairs]),
    [["langevin_step", 1.1, 0.9, 1.4, 3], ["train_iter", 1.0, 0.8, 1.3, 3]],
  );
});

testNeeding({
  what: "python3",
  present: await exists("/usr/bin/python3"),
  install: "apt-get install -y python3",
}, {
  name: "runBench with a peer: ours and the peer interleaved for each round, the batch passed on",
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      const fake = join(dir, "peer.py");
      await Deno.writeTextFile(
        fake,
        [
          "import json, sys",
          "a = sys.argv[1:]",
          "b = int(a[a.index('--batch') + 1])",
          "for w, k in [('langevin_step', 'image_steps_per_s'), ('train_iter', 'iters_per_s')]:",
          "    print(json.dumps({'peer': 'fake', 'preset': a[a.index('--preset') + 1], 'batch': b,",
          "        'workload': w, 'seconds': 1.0, k: 10.0 * b}))",
        ].join("\n"),
      );
      const result = await runBench({
        preset: TINY,
        backend: "cpu",
        reps: 1,
        mcmcSteps: 1,
        native: false,
        batch: 3,
        pairs: 2,
        peer: { path: fake, python: "/usr/bin/python3" },
      });
      assert.equal(result.lines.length, 4, "two rounds of two workloads");
      assert.equal(result.peer.length, 4, "the peer ran once per round");
      assert.ok(result.peer.every((l) => l.batch === 3));
      assert.ok(result.lines.every((l) => l.batch === 3));
      assert.deepEqual(result.ratios.map((r) => r.pairs), [2, 2]);
      for (const r of result.ratios) assert.ok(r.min <= r.value && r.value <= r.max);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
