import assert from "node:assert/strict";

import { ROOT as root, runScript } from "./helpers/script.ts";

/** The one run folder under `${results}/runs` (named by the run's uid), or null before it exists. */
function onlyRunDir(results: string): string | null {
  try {
    const dirs = [...Deno.readDirSync(`${results}/runs`)].filter((e) => e.isDirectory);
    return dirs.length === 1 ? `${results}/runs/${dirs[0].name}` : null;
  } catch {
    return null;
  }
}

function assertOneClearLine(r: { code: number; stderr: string }, pattern: RegExp) {
  assert.equal(r.code, 2, r.stderr);
  const lines = r.stderr.trim().split("\n");
  assert.equal(lines.length, 1, `one line expected, got:\n${r.stderr}`);
  assert.match(lines[0], pattern);
  assert.doesNotMatch(r.stderr, /^\s+at /m, "no stack trace");
}

Deno.test("bad input: one clear line, exit code 2, no stack trace", async (t) => {
  const dir = await Deno.makeTempDir();
  await t.step("unknown preset", async () => {
    assertOneClearLine(
      await runScript("train.ts", ["cifar11", `--results=${dir}`]),
      /unknown preset 'cifar11'; available: /,
    );
  });
  await t.step("mistyped override", async () => {
    assertOneClearLine(
      await runScript("train.ts", ["--lr=abc", `--results=${dir}`]),
      /--optim.lr=abc: expected a number/,
    );
  });
  await t.step("unknown override", async () => {
    assertOneClearLine(
      await runScript("train.ts", ["--learning-rate=1", `--results=${dir}`]),
      /unknown option --learning-rate/,
    );
  });
  await t.step("unwritable results folder", async () => {
    const file = `${dir}/not-a-folder`;
    await Deno.writeTextFile(file, "");
    assertOneClearLine(
      await runScript("train.ts", [`--results=${file}/sub`]),
      /cannot write to the results folder .*--results DIR/,
    );
  });
  await t.step("resume of a missing run", async () => {
    assertOneClearLine(
      await runScript("train.ts", ["--resume", "999", `--results=${dir}`]),
      /no run 999 in .*deno task compare/,
    );
  });
  await t.step("train with a T the drl schedule cannot make", async () => {
    assertOneClearLine(
      await runScript("train.ts", ["--T=600", `--results=${dir}`]),
      /the drl schedule needs an integer T in \[2, 501\] \(got 600\); use the cosine schedule/,
    );
  });
  await t.step("FID of a folder with one image", async () => {
    const one = `${dir}/one`;
    await Deno.mkdir(one);
    const { writePng } = await import("../lib/io/png.ts");
    await writePng(`${one}/a.png`, new Uint8Array(28 * 28), 28, 28, 1);
    assertOneClearLine(
      await runScript("fid.ts", [one, one, "--features", "fmnist", "--backend", "cpu"]),
      /has 1 image; the Frechet distance needs a covariance, so at least 2/,
    );
  });
  await t.step("schedule with a bad T", async () => {
    assertOneClearLine(
      await runScript("schedule.ts", ["--kind", "drl", "--T", "600"]),
      /drl schedule needs an integer T in \[2, 501\]/,
    );
  });
  await Deno.remove(dir, { recursive: true });
});

Deno.test("schedule CLI prints the documented JSON", async () => {
  const r = await runScript("schedule.ts", [
    "--kind",
    "cosine",
    "--T",
    "10",
    "--b2",
    "1e-3",
    "--json",
  ]);
  assert.equal(r.code, 0, r.stderr);
  const s = JSON.parse(r.stdout);
  assert.deepEqual(Object.keys(s), [
    "T",
    "sigmas",
    "alphas",
    "alphasCum",
    "sigmasCum",
    "stepSizes",
  ]);
  assert.equal(s.T, 10);
  for (const k of ["sigmas", "alphas", "alphasCum", "sigmasCum"]) assert.equal(s[k].length, 11);
  assert.equal(s.stepSizes.length, 10);
});

Deno.test("a training killed at any moment resumes with nothing lost in the database", async () => {
  const dir = await Deno.makeTempDir();
  const args = [
    "8gaussians",
    `--results=${dir}`,
    "--backend=cpu",
    "--iterations=400",
    "--batch=16",
    "--K=2",
    "--T=4",
    "--width=8",
    "--depth=1",
    "--log-every=1",
    "--checkpoint-every=3",
    "--samples=64",
    "--eval.gridSize=16",
  ];
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${root}scripts/train.ts`, ...args],
    cwd: root,
    stdout: "null",
    stderr: "null",
  }).spawn();
  // Kill it (SIGKILL: no chance to clean up) once it has written a checkpoint and kept going.
  let ckpt = "";
  for (let i = 0; i < 600 && !ckpt; i++) {
    await new Promise((r) => setTimeout(r, 100));
    const runDir = onlyRunDir(dir);
    try {
      if (runDir && (await Deno.stat(`${runDir}/checkpoint.ckpt`)).isFile) {
        ckpt = `${runDir}/checkpoint.ckpt`;
      }
    } catch { /* not yet */ }
  }
  await new Promise((r) => setTimeout(r, 300));
  child.kill("SIGKILL");
  await child.status;
  const { loadCheckpoint } = await import("../lib/io/checkpoint.ts");
  const saved = (await loadCheckpoint(ckpt)).meta.step;
  const target = saved + 10;
  const r = await runScript("train.ts", [
    "--resume",
    "1",
    `--results=${dir}`,
    "--backend=cpu",
    `--iterations=${target}`,
  ]);
  assert.equal(r.code, 0, r.stderr);
  const { openResultsDb } = await import("../lib/db/mod.ts");
  const db = await openResultsDb({ path: `${dir}/results.db` });
  const run = (await db.getRun(1))!;
  assert.equal(run.status, "completed");
  const steps = (await db.metrics(1, "loss")).filter((m) => m.level === null).map((m) => m.step);
  // Every step logged exactly once, from the first to the last: nothing lost, nothing doubled.
  assert.deepEqual(steps, Array.from({ length: target }, (_, i) => i + 1));
  await db.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("SIGTERM stops a training within a step: checkpoint, status stopped, resumable; stale temporaries go", async () => {
  const dir = await Deno.makeTempDir();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${root}scripts/train.ts`, "8gaussians", `--results=${dir}`]
      .concat(["--backend=cpu", "--iterations=100000", "--checkpoint-every=100000"])
      .concat(["--batch=16", "--K=2", "--width=8", "--depth=1", "--log-every=1"]),
    cwd: root,
    stdout: "piped",
    stderr: "null",
  }).spawn();
  // Wait for the fifth step's log line, then ask it to stop.
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  while (!/^step 5\//m.test(out)) {
    const { value, done } = await reader.read();
    if (done) break;
    out += value;
  }
  child.kill("SIGTERM");
  // Bounded: a training that ignores the signal is killed and the test fails, never hangs.
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<"late">((resolve) => {
    timer = setTimeout(() => resolve("late"), 60_000);
  });
  const drained = (async () => {
    while (!(await reader.read()).done) { /* drain */ }
    return "exited" as const;
  })();
  const outcome = await Promise.race([drained, late]);
  clearTimeout(timer);
  if (outcome === "late") child.kill("SIGKILL");
  const status = await child.status;
  assert.equal(outcome, "exited", "the training did not stop within 60 s of SIGTERM");
  assert.equal(status.code, 0);
  const { loadCheckpoint } = await import("../lib/io/checkpoint.ts");
  const runDir = onlyRunDir(dir)!;
  const ckpt = `${runDir}/checkpoint.ckpt`;
  const stoppedAt = (await loadCheckpoint(ckpt)).meta.step;
  // Stopped at the step the signal arrived in, not at the next periodic checkpoint (100,000).
  assert.ok(stoppedAt >= 5 && stoppedAt < 100, `stopped at step ${stoppedAt}`);
  const { openResultsDb } = await import("../lib/db/mod.ts");
  let db = await openResultsDb({ path: `${dir}/results.db` });
  assert.equal((await db.getRun(1))!.status, "stopped");
  await db.close();
  // A write killed mid-way leaves its temporary file; the next start of the run removes it.
  const stale = `${runDir}/.checkpoint.ckpt.abc123.tmp`;
  await Deno.writeTextFile(stale, "half a checkpoint");
  const r = await runScript("train.ts", [
    "--resume",
    "1",
    `--results=${dir}`,
    "--backend=cpu",
    `--iterations=${stoppedAt + 2}`,
  ]);
  assert.equal(r.code, 0, r.stderr);
  await assert.rejects(() => Deno.stat(stale), Deno.errors.NotFound);
  db = await openResultsDb({ path: `${dir}/results.db` });
  assert.equal((await db.getRun(1))!.status, "completed");
  await db.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a run that fails after its row exists is marked failed with the reason", async () => {
  const dir = await Deno.makeTempDir();
  const r = await runScript("train.ts", [
    "fashion-mnist-tiny",
    `--results=${dir}`,
    "--backend=cpu",
    "--data=/nonexistent/fashion",
  ]);
  assert.equal(r.code, 2, r.stderr);
  const { openResultsDb } = await import("../lib/db/mod.ts");
  const db = await openResultsDb({ path: `${dir}/results.db` });
  const run = (await db.getRun(1))!;
  assert.equal(run.status, "failed");
  assert.match(run.message ?? "", /not found/);
  await db.close();
  await Deno.remove(dir, { recursive: true });
});
