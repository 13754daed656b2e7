import assert from "node:assert/strict";
import { buildConfig } from "../lib/presets.ts";
import { openResultsDb } from "../lib/db/mod.ts";
import { loadCheckpoint } from "../lib/io/checkpoint.ts";
import { train } from "../lib/tasks/train.ts";
import { evaluateToy2dCheckpoint, isToy2dRun } from "../lib/tasks/eval_toy2d.ts";
import { TINY_TOY } from "./helpers/tiny_toy.ts";

const TINY = TINY_TOY;

const quiet = () => {};

async function paramsOf(path: string): Promise<Float32Array[]> {
  const ckpt = await loadCheckpoint(path);
  return [...ckpt.tensors.get("params")!.values()].map((t) => t.values);
}

Deno.test("same seed and config give the same run; another seed does not", async () => {
  const dir = await Deno.makeTempDir();
  const run = (seed: string, sub: string) =>
    train({
      config: buildConfig("8gaussians", { ...TINY, seed }),
      backend: "cpu",
      resultsDir: `${dir}/${sub}`,
      log: quiet,
    });
  const a = await run("1", "a");
  const b = await run("1", "b");
  const c = await run("2", "c");
  assert.deepEqual(await paramsOf(a.checkpoint), await paramsOf(b.checkpoint));
  assert.notDeepEqual(await paramsOf(a.checkpoint), await paramsOf(c.checkpoint));
  assert.deepEqual(a.evaluation, b.evaluation);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a run records config, metrics per level, evaluations and artifacts", async () => {
  const dir = await Deno.makeTempDir();
  const s = await train({
    config: buildConfig("checkerboard", TINY),
    backend: "cpu",
    resultsDir: dir,
    log: quiet,
  });
  const db = await openResultsDb({ path: `${dir}/results.db` });
  const run = (await db.getRun(s.runId))!;
  assert.equal(run.status, "completed");
  assert.equal(run.backend, "cpu");
  assert.equal((run.config as { dataset: string }).dataset, "checkerboard");
  const losses = await db.metrics(s.runId, "loss");
  assert.deepEqual([...new Set(losses.filter((m) => m.level === null).map((m) => m.step))], [
    2,
    4,
    6,
  ]);
  assert.ok(losses.some((m) => m.level !== null), "per-level losses");
  const evals: string[] = (await db.evaluations(s.runId)).map((e) => e.name);
  for (
    const name of [
      "energy_distance",
      "energy_distance_data_baseline",
      "checkerboard_share",
      "heldout_loglik",
      "heldout_loglik_true",
      "marginal_kl",
    ]
  ) {
    assert.ok(evals.includes(name), name);
  }
  const kinds = (await db.artifacts(s.runId)).map((a) => a.kind);
  assert.ok(kinds.includes("figure") && kinds.includes("checkpoint"));
  await Deno.stat(s.figures[0]);
  await db.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("eval --run of a 2D run repeats its end-of-run evaluation, same numbers, per-level KL", async () => {
  const dir = await Deno.makeTempDir();
  const s = await train({
    config: buildConfig("8gaussians", TINY),
    backend: "cpu",
    resultsDir: dir,
    log: quiet,
  });
  const db = await openResultsDb({ path: `${dir}/results.db` });
  try {
    assert.ok(await isToy2dRun(db, s.runId));
    const r = await evaluateToy2dCheckpoint(db, s.runId);
    assert.equal(r.step, 6);
    // The training's own evaluation used the same seed and weights: identical values.
    for (const e of s.evaluation) {
      const again = r.rows.find((row) => row.name === e.name);
      assert.ok(again, e.name);
      assert.equal(again.value, e.value, e.name);
    }
    const T = buildConfig("8gaussians", TINY).schedule.T;
    assert.deepEqual(r.marginalKl.map((l) => l.level), Array.from({ length: T }, (_, t) => t));
    assert.ok(r.marginalKl.every((l) => Number.isFinite(l.kl) && l.kl >= 0));
    await Deno.stat(r.figurePath);
    assert.match(r.figurePath, /figure_step6\.png$/);
    const kl = (await db.evaluations(s.runId)).filter((e) => e.name === "marginal_kl");
    assert.equal(kl.length, 2, "one row from training, one from the evaluation");
    assert.deepEqual((kl[1].details as { step: number }).step, 6);
  } finally {
    await db.close();
    await Deno.remove(dir, { recursive: true });
  }
});

/** A run of TINY's 6 steps and a run of its first 4, in their own results folders under `dir`. */
async function wholeAndHalf(dir: string) {
  const whole = await train({
    config: buildConfig("8gaussians", TINY),
    backend: "cpu",
    resultsDir: `${dir}/w`,
    log: quiet,
  });
  const half = await train({
    config: buildConfig("8gaussians", { ...TINY, iterations: "4" }),
    backend: "cpu",
    resultsDir: `${dir}/h`,
    log: quiet,
  });
  return { whole, half };
}

Deno.test("resuming gives exactly the run that was never interrupted", async () => {
  const dir = await Deno.makeTempDir();
  const { whole, half } = await wholeAndHalf(dir);
  const resumed = await train({
    resume: half.runId,
    iterations: 6,
    backend: "cpu",
    resultsDir: `${dir}/h`,
    log: quiet,
  });
  assert.equal(resumed.runId, half.runId);
  assert.equal(resumed.steps, 6);
  assert.deepEqual(await paramsOf(resumed.checkpoint), await paramsOf(whole.checkpoint));
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a checkpoint file continues as a new run elsewhere, exactly as the run would have", async () => {
  const dir = await Deno.makeTempDir();
  const { whole, half } = await wholeAndHalf(dir);
  // As a fresh clone would: another results folder and database, only the checkpoint file.
  const carried = `${dir}/carried.ckpt`;
  await Deno.copyFile(half.checkpoint, carried);
  const continued = await train({
    continueFrom: carried,
    iterations: 6,
    backend: "cpu",
    resultsDir: `${dir}/elsewhere`,
    log: quiet,
  });
  assert.equal(continued.steps, 6);
  assert.deepEqual(await paramsOf(continued.checkpoint), await paramsOf(whole.checkpoint));
  const db = await openResultsDb({ path: `${dir}/elsewhere/results.db` });
  const run = (await db.getRun(continued.runId))!;
  assert.equal(run.status, "completed");
  await db.close();
  // A model file (EMA weights only) cannot be continued.
  const { exportModel } = await import("../lib/models.ts");
  await exportModel(half.checkpoint, `${dir}/model.ckpt`);
  await assert.rejects(
    () =>
      train({
        continueFrom: `${dir}/model.ckpt`,
        backend: "cpu",
        resultsDir: `${dir}/x`,
        log: quiet,
      }),
    /not a training checkpoint/,
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("run identity: runs of two databases sharing a results folder never mix their files", async () => {
  const dir = await Deno.makeTempDir();
  const run = (db: string) =>
    train({
      config: buildConfig("8gaussians", TINY),
      backend: "cpu",
      resultsDir: dir,
      dbPath: `${dir}/${db}`,
      log: quiet,
    });
  const a = await run("a.db");
  const b = await run("b.db");
  // Both are run 1 of their database; their folders are their uids, so nothing is overwritten.
  assert.equal(a.runId, 1);
  assert.equal(b.runId, 1);
  assert.notEqual(a.runDir, b.runDir);
  const dbA = await openResultsDb({ path: `${dir}/a.db` });
  const runA = (await dbA.getRun(1))!;
  assert.equal(a.runDir, `${dir}/runs/${runA.uid}`);
  assert.equal((await loadCheckpoint(a.checkpoint)).meta.extra?.runUid, runA.uid);
  // Another run's checkpoint in A's folder (a copy, a second database's run 1 of the old
  // layout): resume and sampling refuse it, naming the owner.
  await Deno.copyFile(b.checkpoint, a.checkpoint);
  await assert.rejects(
    () => train({ resume: 1, iterations: 8, backend: "cpu", resultsDir: dir, db: dbA, log: quiet }),
    /belongs to another run/,
  );
  const { runCheckpoint } = await import("../lib/run_files.ts");
  await assert.rejects(() => runCheckpoint(dbA, 1), /belongs to another run/);
  // A run folder outside the results folder, or a symbolic link, is refused for training.
  const elsewhere = await Deno.makeTempDir();
  await assert.rejects(
    () =>
      train({
        resume: 1,
        iterations: 8,
        backend: "cpu",
        resultsDir: elsewhere,
        db: dbA,
        log: quiet,
      }),
    /outside the results folder/,
  );
  await dbA.setRunDir(1, `${dir}/runs/link`);
  await Deno.symlink(b.runDir, `${dir}/runs/link`);
  await assert.rejects(
    () => train({ resume: 1, iterations: 8, backend: "cpu", resultsDir: dir, db: dbA, log: quiet }),
    /is a symbolic link/,
  );
  await dbA.close();
  await Deno.remove(dir, { recursive: true });
  await Deno.remove(elsewhere, { recursive: true });
});
