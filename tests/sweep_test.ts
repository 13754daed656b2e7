/**
 * Sweeps (lib/sweep): specs expand into checked configs; and against the real PostgreSQL, a 2D
 * sweep of 6 short jobs run by 3 worker processes, one of them SIGKILLed mid-job: every job
 * completes exactly once (one run each, no metric row lost or doubled), the job the queue handed
 * out again resumes from its checkpoint to the numbers of an undisturbed run with its seed, and
 * status, compare --sweep and cancel say so. A worker given a wrong password or an unreachable
 * server says so in one line. A summary (jobs, workers, kills, retries, rows lost, database
 * writes) is printed.
 */
import assert from "node:assert/strict";
import { openResultsDb, type ResultsDb } from "../lib/db/mod.ts";
import { UserError } from "../lib/errors.ts";
import { loadCheckpoint } from "../lib/io/checkpoint.ts";
import { openQueue, queueStates } from "../lib/sweep/queue.ts";
import { checkSpec, expandSpec, gridSettings } from "../lib/sweep/spec.ts";
import { kyselyOf, type SweepJobRecord, sweepJobs } from "../lib/sweep/store.ts";
import { IN_CI, type Need, testNeeding } from "./helpers/needs.ts";
import { runScript } from "./helpers/script.ts";
import { freshSchema, type Proc, spawnScript, waitFor } from "./helpers/sweep_env.ts";

// These tests pick their databases explicitly; a DATABASE_URL in the developer's environment
// (say, the lab's shared server) must neither receive test rows nor change what is tested.
Deno.env.delete("DATABASE_URL");

const PG_URL = Deno.env.get("TEST_DATABASE_URL");
const POSTGRES: Need = {
  what: "PostgreSQL (TEST_DATABASE_URL)",
  present: PG_URL !== undefined,
  install: "bash .ci/start-postgres.sh prints the URL to export",
};

const ITERATIONS = 240;
/** A 2D job of about two seconds: checkpoints every 20 steps, so a kill mid-job leaves one. */
const TINY: Record<string, string> = {
  iterations: String(ITERATIONS),
  batch: "16",
  K: "2",
  T: "4",
  width: "8",
  depth: "1",
  "log-every": "20",
  "checkpoint-every": "20",
  samples: "64",
  "eval.gridSize": "16",
};

Deno.test("sweep spec: grid x seeds, first axis slowest, each config built and checked", () => {
  const spec = checkSpec({
    preset: "8gaussians",
    overrides: { iterations: 50 },
    grid: { lr: [0.001, 0.002], K: [2, 3, 4] },
    seeds: [0, 7],
    store: "relative/store",
  });
  assert.equal(spec.store, `${Deno.cwd()}/relative/store`);
  assert.equal(spec.retries, 10);
  assert.equal(spec.heartbeatSeconds, 30);
  assert.deepEqual(gridSettings(spec.grid).slice(0, 4), [
    { lr: "0.001", K: "2" },
    { lr: "0.001", K: "3" },
    { lr: "0.001", K: "4" },
    { lr: "0.002", K: "2" },
  ]);
  const jobs = expandSpec(spec);
  assert.equal(jobs.length, 12);
  assert.deepEqual(jobs.map((j) => j.index), [...Array(12).keys()]);
  assert.deepEqual([jobs[0].seed, jobs[1].seed, jobs[2].seed], [0, 7, 0]);
  assert.equal(jobs[11].config.optim.lr, 0.002);
  assert.equal(jobs[11].config.langevin.steps, 4);
  assert.equal(jobs[11].config.seed, 7);
  assert.equal(jobs[11].config.train.iterations, 50);
  assert.ok(Object.isFrozen(jobs[0].config));
});

Deno.test("sweep spec: mistakes are refused when the sweep is made, naming them", () => {
  const base = { preset: "8gaussians", grid: { lr: [0.001] }, seeds: [0], store: "/tmp/x" };
  const refused = (raw: unknown, pattern: RegExp) =>
    assert.throws(
      () => expandSpec(checkSpec(raw)),
      (e) => e instanceof UserError && pattern.test(e.message),
    );
  refused({ ...base, store: undefined }, /'store' must name the folder/);
  refused({ ...base, grid: { seed: [0, 1] } }, /seeds/);
  refused({ ...base, heartbeatSeconds: 5 }, /heartbeatSeconds.*>= 10/);
  refused({ ...base, colour: "red" }, /unknown field\(s\) colour/);
  refused({ ...base, grid: { lr: [0.001, 0.001] } }, /lists a value twice/);
  refused({ ...base, grid: { lrr: [0.001] } }, /setting lrr=0.001: unknown option --lrr/);
  refused({ ...base, preset: "no-such" }, /unknown preset 'no-such'/);
});

interface Outcome {
  /** "step/level/name=value" per metric row (timings by name only). */
  rows: string[];
  evaluations: string[];
  artifacts: string[];
}

async function outcomeOf(db: ResultsDb, runId: number): Promise<Outcome> {
  return {
    rows: (await db.metrics(runId)).map((m) =>
      m.name === "seconds_per_step"
        ? `${m.step}/${m.level}/${m.name}`
        : `${m.step}/${m.level}/${m.name}=${m.value}`
    ).sort(),
    evaluations: (await db.evaluations(runId)).map((e) => `${e.name}=${e.value}`).sort(),
    artifacts: (await db.artifacts(runId)).map((a) =>
      `${a.kind}:${a.path.split("/").pop()}@${a.step}`
    ).sort(),
  };
}

/** Keys without values, each with how often it occurs. */
function keyCounts(rows: string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of rows) {
    const key = r.split("=")[0];
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

/** The undisturbed run of a job's setting and seed: `deno task train` in a folder of its own. */
async function referenceRun(job: SweepJobRecord, dirs: string[]) {
  const dir = await Deno.makeTempDir({ prefix: "drl_sweep_ref_" });
  dirs.push(dir);
  const overrides = { ...TINY, ...job.setting, seed: String(job.seed) };
  const r = await runScript("train.ts", [
    "8gaussians",
    "--backend=wasm",
    `--results=${dir}`,
    ...Object.entries(overrides).map(([k, v]) => `--${k}=${v}`),
  ]);
  assert.equal(r.code, 0, r.stderr);
  const db = await openResultsDb({ path: `${dir}/results.db` });
  try {
    const run = (await db.getRun(1))!;
    assert.deepEqual(run.config, job.config, "the reference trains the job's very config");
    return { outcome: await outcomeOf(db, 1), checkpoint: `${run.dir}/checkpoint.ckpt` };
  } finally {
    await db.close();
  }
}

async function params(path: string): Promise<Float32Array[]> {
  return [...(await loadCheckpoint(path)).tensors.get("params")!.values()].map((t) => t.values);
}

/** Rows inserted, updated and deleted per table of the test's schemas (PostgreSQL's counters). */
async function tableWrites(db: ResultsDb, schemas: string[]): Promise<Map<string, number>> {
  const { sql } = await import("kysely");
  const rows = await sql<{ name: string; writes: string }>`
    select schemaname || '.' || relname as name, n_tup_ins + n_tup_upd + n_tup_del as writes
    from pg_stat_user_tables where schemaname = any(${schemas})`.execute(kyselyOf(db));
  return new Map(rows.rows.map((r) => [r.name, Number(r.writes)]));
}

testNeeding(POSTGRES, {
  name: "sweep: 6 jobs on 3 workers, one SIGKILLed mid-job: each job once, the retried one " +
    "resumes to the undisturbed numbers",
  fn: async () => {
    const t0 = Date.now();
    const place = await freshSchema(PG_URL!);
    const store = await Deno.makeTempDir({ prefix: "drl_sweep_store_" });
    const workers: Proc[] = [];
    let db: ResultsDb | undefined;
    const refDirs: string[] = [];
    try {
      const specPath = `${store}/spec.json`;
      await Deno.writeTextFile(
        specPath,
        JSON.stringify({
          name: "test sweep",
          preset: "8gaussians",
          overrides: TINY,
          grid: { lr: [0.001, 0.002] },
          seeds: [0, 1, 2],
          store: `${store}/shared`,
          retries: 3,
          heartbeatSeconds: 10,
        }),
      );
      const created = await runScript("sweep.ts", ["create", specPath, "--db", place.url]);
      assert.equal(created.code, 0, created.stderr);
      const sweepId = Number(/^sweep (\d+): 6 jobs/m.exec(created.stdout)?.[1]);
      assert.ok(sweepId > 0, created.stdout);
      db = await openResultsDb({ url: place.url });
      const k = kyselyOf(db);
      const schemas = [place.schema, `${place.schema}_queue`];
      const writesBefore = await tableWrites(db, schemas);

      // Three workers; the first to report a step past the middle of a job is killed there.
      const kill: { worker?: number; job?: number; step?: number } = {};
      for (let w = 0; w < 3; w++) {
        workers.push(spawnScript(
          "worker.ts",
          [
            "--db",
            place.url,
            "--backend",
            "wasm",
            "--threads",
            "1",
            "--supervise-seconds",
            "1",
            "--progress-seconds",
            "1",
            ...(w === 2 ? ["--concurrency", "2"] : []),
          ],
          (line, child) => {
            const m = /^\[sweep \d+ job (\d+)\] step (\d+)\//.exec(line);
            // Worker 2 trains two jobs side by side; one of the others is the one killed.
            if (m && w < 2 && kill.worker === undefined && Number(m[2]) >= ITERATIONS / 2) {
              Object.assign(kill, { worker: w, job: Number(m[1]), step: Number(m[2]) });
              child.kill("SIGKILL");
            }
          },
        ));
      }
      const jobs = await waitFor("all 6 jobs completed", async () => {
        const jobs = await sweepJobs(k, sweepId);
        return jobs.every((j) => j.state === "completed") ? jobs : undefined;
      }, 240_000);
      const wallSeconds = (Date.now() - t0) / 1000;
      assert.ok(kill.worker !== undefined, "no worker was killed mid-job");
      for (const [i, w] of workers.entries()) {
        if (i !== kill.worker) w.child.kill("SIGTERM");
      }
      const ends = await Promise.all(workers.map((w) => w.done));
      for (const [i, end] of ends.entries()) {
        if (i === kill.worker) assert.equal(end.signal, "SIGKILL");
        else assert.equal(end.code, 0, `worker ${i} did not stop cleanly:\n${end.output}`);
      }
      const output = ends.map((e) => e.output).join("\n");

      // Exactly once: one run per job, each completed; the killed job took two attempts.
      const killedJob = jobs[kill.job!];
      assert.equal(jobs.length, 6);
      for (const j of jobs) assert.equal(j.attempts, j === killedJob ? 2 : 1, `job ${j.index}`);
      const runs = await db.listRuns();
      assert.equal(runs.length, 6, "one run per job, no more");
      assert.deepEqual(runs.map((r) => r.uid).sort(), jobs.map((j) => j.runUid).sort());
      assert.ok(runs.every((r) => r.status === "completed"));
      const boss = await openQueue(place.url);
      let queue;
      try {
        queue = await queueStates(boss, sweepId);
      } finally {
        await boss.stop({ graceful: false });
      }
      assert.deepEqual([...queue.values()].map((q) => q.state), Array(6).fill("completed"));
      const retries = [...queue.values()].reduce((s, q) => s + q.retryCount, 0);
      assert.equal(retries, 1, "the queue handed out the killed job once more, and nothing else");
      assert.equal(queue.get(killedJob.queueJobId!)?.retryCount, 1);

      // The retry went on from the killed attempt's checkpoint, taking over its lease.
      const resumed = new RegExp(
        `^\\[sweep ${sweepId} job ${killedJob.index}\\] run \\d+ resumed from \\S+ at step (\\d+)`,
        "m",
      ).exec(output);
      assert.ok(resumed, `the retried job did not resume from a checkpoint:\n${output}`);
      const resumedAt = Number(resumed[1]);
      assert.ok(resumedAt >= 20 && resumedAt <= kill.step!, `resumed at step ${resumedAt}`);

      // Every job has the numbers of the undisturbed run of its setting and seed (the retried one
      // too, and those trained two at a time in one worker): no row lost, doubled or changed.
      let lost = 0, doubled = 0;
      const lanes = [jobs.filter((j) => j.index % 2 === 0), jobs.filter((j) => j.index % 2 === 1)];
      const references = new Map<number, Awaited<ReturnType<typeof referenceRun>>>();
      await Promise.all(lanes.map(async (lane) => {
        for (const j of lane) references.set(j.index, await referenceRun(j, refDirs));
      }));
      for (const j of jobs) {
        const ref = references.get(j.index)!;
        const run = runs.find((r) => r.uid === j.runUid)!;
        const got = await outcomeOf(db, run.id);
        const want = keyCounts(ref.outcome.rows);
        const have = keyCounts(got.rows);
        lost += [...want.keys()].filter((key) => !have.has(key)).length;
        doubled += [...have.values()].reduce((s, n) => s + n - 1, 0);
        const which = `job ${j.index}${j === killedJob ? " (killed and retried)" : ""}`;
        assert.deepEqual(got.rows, ref.outcome.rows, `${which}: metric rows differ`);
        assert.deepEqual(got.evaluations, ref.outcome.evaluations, `${which}: evaluations differ`);
        assert.deepEqual(got.artifacts, ref.outcome.artifacts, `${which}: artifacts differ`);
        const mine = await params(`${store}/shared/runs/${run.uid}/checkpoint.ckpt`);
        const theirs = await params(ref.checkpoint);
        mine.forEach((p, i) => assert.deepEqual(p, theirs[i], `${which}: parameter ${i}`));
      }
      assert.equal(lost, 0, "metric rows lost");
      assert.equal(doubled, 0, "metric rows doubled");

      // What the database saw, per table.
      const writesAfter = await tableWrites(db, schemas);
      const writes = [...writesAfter].map(([t, n]) => [t, n - (writesBefore.get(t) ?? 0)] as const)
        .filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1]);
      const total = writes.reduce((s, [, n]) => s + n, 0);
      console.log(
        `\nsweep test${IN_CI ? " (CI)" : ""}: jobs 6, workers 3, kills 1, retries ${retries}, ` +
          `rows lost ${lost}, rows doubled ${doubled}, resumed at step ${resumedAt} ` +
          `(killed at ${kill.step}), ${wallSeconds.toFixed(1)} s to the last job, every job's ` +
          `numbers equal to its undisturbed run\n` +
          `database rows written by the workers: ${total} (${(total / 6).toFixed(0)} per job of ` +
          `${ITERATIONS} steps): ` + writes.map(([t, n]) =>
            `${t.split(".").pop()} ${n}`
          ).join(", "),
      );

      // status: every job's state, worker, step and last metrics.
      const status = await runScript("sweep.ts", [
        "status",
        String(sweepId),
        "--json",
        "--db",
        place.url,
      ]);
      assert.equal(status.code, 0, status.stderr);
      const report = JSON.parse(status.stdout);
      assert.equal(report.jobs.length, 6);
      for (const j of report.jobs) {
        assert.equal(j.state, "completed");
        assert.equal(j.queueState, "completed");
        assert.match(j.worker, /:\d+$/);
        assert.equal(j.step, ITERATIONS);
        assert.equal(j.loss.step, ITERATIONS);
        assert.ok(Number.isFinite(j.evaluations.energy_distance));
      }
      const text = await runScript("sweep.ts", ["status", String(sweepId), "--db", place.url]);
      assert.match(text.stdout, /6 jobs \(6 completed\)/);

      // compare --sweep: one row per setting, mean/std/n over its 3 seeds.
      const cmp = await runScript("compare.ts", [
        "--sweep",
        String(sweepId),
        "--format",
        "json",
        "--db",
        place.url,
      ]);
      assert.equal(cmp.code, 0, cmp.stderr);
      const table = JSON.parse(cmp.stdout).tables[0];
      const rows = table.rows.filter((r: { kind: string }) => r.kind === "group");
      assert.equal(rows.length, 2);
      assert.deepEqual(table.configColumns, ["optim.lr"]);
      for (const r of rows) {
        assert.equal(r.runIds.length, 3);
        assert.equal(r.metrics.energy_distance.n, 3);
        assert.ok(r.metrics.energy_distance.std > 0);
        assert.equal(r.metrics.loss.n, 3);
      }

      // compare --sweep --format html: the sweep page, one heat-map cell per lr (one axis: one
      // row), each the mean over the 3 seeds. Checks the settings reach the page from the jobs.
      const page = await runScript("compare.ts", [
        "--sweep",
        String(sweepId),
        "--format",
        "html",
        "--out",
        `${store}/report.html`,
        "--db",
        place.url,
      ]);
      assert.equal(page.code, 0, page.stderr);
      const html = await Deno.readTextFile(`${store}/report.html`);
      const heatmap = html.match(
        /<table class="heatmap" data-metric="energy_distance">([\s\S]*?)<\/table>/,
      );
      assert.ok(heatmap, "no energy_distance heat map on the sweep page");
      const cells = [...heatmap[1].matchAll(/data-col="([^"]*)" data-mean="[^"]*"[^>]*>.*?n=3</g)];
      assert.deepEqual(cells.map((c) => c[1]), ["0.001", "0.002"]);
    } finally {
      for (const w of workers) {
        try {
          w.child.kill("SIGKILL");
        } catch { /* already ended */ }
        await w.done.catch(() => {});
      }
      await db?.close();
      await place.cleanup();
      await Deno.remove(store, { recursive: true });
      for (const dir of refDirs) await Deno.remove(dir, { recursive: true });
    }
  },
});

testNeeding(POSTGRES, {
  name: "sweep: cancel takes the queued jobs off the queue; status says so",
  fn: async () => {
    const place = await freshSchema(PG_URL!);
    try {
      const args = [
        "--preset",
        "8gaussians",
        "--grid",
        "K=2,3",
        "--store",
        "/tmp/unused",
        "--db",
        place.url,
      ];
      const created = await runScript("sweep.ts", ["create", ...args]);
      assert.equal(created.code, 0, created.stderr);
      const cancel = await runScript("sweep.ts", ["cancel", "1", "--db", place.url]);
      assert.equal(cancel.code, 0, cancel.stderr);
      assert.match(cancel.stdout, /sweep 1 cancelled: 2 unfinished job\(s\)/);
      const status = await runScript("sweep.ts", ["status", "1", "--json", "--db", place.url]);
      const report = JSON.parse(status.stdout);
      assert.equal(report.sweep.status, "cancelled");
      assert.deepEqual(report.jobs.map((j: { state: string }) => j.state), [
        "cancelled",
        "cancelled",
      ]);
      assert.deepEqual(report.jobs.map((j: { queueState: string }) => j.queueState), [
        "cancelled",
        "cancelled",
      ]);
      const missing = await runScript("sweep.ts", ["status", "7", "--db", place.url]);
      assert.equal(missing.code, 2);
      assert.match(missing.stderr, /^error: no sweep 7 in postgres:\/\/drl:\*\*\*@/);
    } finally {
      await place.cleanup();
    }
  },
});

/** A worker that cannot start says why in one line (exit code 2), never printing the password. */
async function oneLineRefusal(url: string, pattern: RegExp, secret: string) {
  const r = await runScript("worker.ts", ["--db", url, "--backend", "cpu"]);
  assert.equal(r.code, 2, r.stdout + r.stderr);
  const lines = r.stderr.trim().split("\n");
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0], pattern);
  assert.ok(!r.stderr.includes(secret) && !r.stdout.includes(secret), "the password was printed");
}

testNeeding(POSTGRES, {
  name: "sweep: a worker with a wrong password gives one clear line",
  fn: async () => {
    const url = new URL(PG_URL!);
    url.password = "not-the-password-9f3";
    await oneLineRefusal(
      url.toString(),
      /^error: the PostgreSQL server .* refused the login/,
      "9f3",
    );
  },
});

Deno.test("sweep: a worker whose server cannot be reached gives one clear line", async () => {
  await oneLineRefusal(
    "postgres://drl:secret-pw-77@127.0.0.1:1/drl_test",
    /^error: cannot reach the PostgreSQL server at postgres:\/\/drl:\*\*\*@127\.0\.0\.1:1/,
    "secret-pw-77",
  );
});
