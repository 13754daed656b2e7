/**
 * Fault injection: a small 2D training is killed, signalled, starved of disk, cut off from its
 * PostgreSQL server and raced by a second process, at seeded random points (and at failpoints:
 * half-way through a checkpoint write, between a checkpoint's rows and the checkpoint, inside a
 * database transaction), then resumed to the end. Every case must end with the weights, the
 * evaluations and the metric rows of the run that was never disturbed: no row lost, none doubled.
 * A summary table of the cases is printed at the end.
 */
import assert from "node:assert/strict";
import { loadCheckpoint } from "../lib/io/checkpoint.ts";
import { openResultsDb, type ResultsDb } from "../lib/db/mod.ts";
import { JsRandom } from "../lib/rng.ts";
import { IN_CI, type Need, testNeeding } from "./helpers/needs.ts";
import { ROOT } from "./helpers/script.ts";

const TRAIN_ARGS = [
  "8gaussians",
  "--backend=cpu",
  "--iterations=24",
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

interface Outcome {
  params: Float32Array[];
  /** "step/level/name=value" per metric row (timings by name only), sorted. */
  rows: string[];
  evaluations: string[];
}

interface CaseReport {
  name: string;
  faults: number;
  processes: number;
  rowsLost: number;
  rowsDoubled: number;
}
const REPORTS: CaseReport[] = [];

/** One training process; resolves with its exit code and output. */
function spawnTrain(
  args: string[],
  opts: {
    env?: Record<string, string>;
    onStdout?: (text: string, child: Deno.ChildProcess) => void;
  } = {},
) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}scripts/train.ts`, ...args],
    cwd: ROOT,
    env: { XDG_RUNTIME_DIR: "/tmp", ...opts.env },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const text = (stream: ReadableStream<Uint8Array>, each?: (t: string) => void) =>
    (async () => {
      let all = "";
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
        all += chunk;
        each?.(all);
      }
      return all;
    })();
  const stdout = text(child.stdout, (t) => opts.onStdout?.(t, child));
  const stderr = text(child.stderr);
  return {
    child,
    done: (async () => ({
      code: (await child.status).code,
      stdout: await stdout,
      stderr: await stderr,
    }))(),
  };
}

/** The outcome of run 1 of the database at `db` (a SQLite path or a PostgreSQL URL). */
async function outcomeOf(dbSpec: string): Promise<Outcome> {
  const db: ResultsDb = await openResultsDb(
    dbSpec.startsWith("postgres") ? { url: dbSpec } : { path: dbSpec },
  );
  try {
    const run = (await db.getRun(1))!;
    assert.equal(run.status, "completed", `run status ${run.status}: ${run.message}`);
    const ckpt = await loadCheckpoint(`${run.dir}/checkpoint.ckpt`);
    const params = [...ckpt.tensors.get("params")!.values()].map((t) => t.values);
    const rows = (await db.metrics(1)).map((m) =>
      m.name === "seconds_per_step"
        ? `${m.step}/${m.level}/${m.name}`
        : `${m.step}/${m.level}/${m.name}=${m.value}`
    ).sort();
    const evaluations = (await db.evaluations(1)).map((e) => `${e.name}=${e.value}`).sort();
    return { params, rows, evaluations };
  } finally {
    await db.close();
  }
}

let referencePromise: Promise<Outcome> | null = null;
/** The run that was never disturbed. */
function reference(): Promise<Outcome> {
  referencePromise ??= (async () => {
    const dir = await Deno.makeTempDir({ prefix: "drl_faults_ref_" });
    try {
      const r = await spawnTrain([...TRAIN_ARGS, `--results=${dir}`]).done;
      assert.equal(r.code, 0, r.stderr);
      return await outcomeOf(`${dir}/results.db`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  })();
  return referencePromise;
}

/** Compares with the reference and records the case for the summary table. */
async function judge(name: string, got: Outcome, faults: number, processes: number) {
  const want = await reference();
  const have = new Map<string, number>();
  for (const r of got.rows) have.set(r, (have.get(r) ?? 0) + 1);
  const lost = want.rows.filter((r) => !have.has(r)).length;
  const doubled = [...have.values()].reduce((s, n) => s + Math.max(0, n - 1), 0);
  REPORTS.push({ name, faults, processes, rowsLost: lost, rowsDoubled: doubled });
  assert.equal(lost, 0, `${name}: ${lost} metric rows lost`);
  assert.equal(doubled, 0, `${name}: ${doubled} metric rows doubled`);
  assert.deepEqual(got.rows, want.rows, `${name}: metric rows differ`);
  assert.deepEqual(got.evaluations, want.evaluations, `${name}: evaluations differ`);
  assert.equal(got.params.length, want.params.length);
  got.params.forEach((p, i) => assert.deepEqual(p, want.params[i], `${name}: parameter ${i}`));
}

/** Resumes run 1 until it completes; returns the number of processes that took. */
async function resumeToEnd(results: string, extra: string[] = []): Promise<number> {
  for (let n = 1; n <= 10; n++) {
    const r = await spawnTrain(["--resume", "1", `--results=${results}`, ...extra]).done;
    if (r.code === 0 && /completed after/.test(r.stdout)) return n;
    assert.ok(r.code === 0 || r.code === 137 || r.code === -1, `resume failed: ${r.stderr}`);
  }
  throw new Error("the run did not complete in 10 resumes");
}

Deno.test("faults: kill -9 at seeded random moments, then resume: the undisturbed run", async () => {
  const rnd = new JsRandom(2026);
  for (let c = 0; c < 3; c++) {
    const dir = await Deno.makeTempDir({ prefix: "drl_faults_kill_" });
    let faults = 0;
    // Two kills per case, each after a random number of logged steps.
    for (let k = 0; k < 2; k++) {
      const after = 2 + Math.floor(rnd.float() * 16);
      let killed = false;
      const args = k === 0
        ? [...TRAIN_ARGS, `--results=${dir}`]
        : ["--resume", "1", `--results=${dir}`];
      const r = await spawnTrain(args, {
        onStdout: (text, child) => {
          const steps = (text.match(/^step \d+\//gm) ?? []).length;
          if (!killed && steps >= after) {
            killed = true;
            child.kill("SIGKILL");
          }
        },
      }).done;
      if (killed) faults++;
      else assert.equal(r.code, 0, r.stderr);
    }
    const processes = 2 + await resumeToEnd(dir);
    await judge(
      `kill -9 at random steps #${c + 1}`,
      await outcomeOf(`${dir}/results.db`),
      faults,
      processes,
    );
    await Deno.remove(dir, { recursive: true });
  }
});

for (const point of ["atomic-write", "after-rows", "db-transaction"]) {
  Deno.test(`faults: kill -9 at the failpoint ${point}, then resume: the undisturbed run`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "drl_faults_point_" });
    // The third time the point is reached: past the first checkpoint, mid-run.
    const r = await spawnTrain([...TRAIN_ARGS, `--results=${dir}`], {
      env: { DRL_FAILPOINT: `${point}:3` },
    }).done;
    assert.notEqual(r.code, 0, "the failpoint was never reached");
    // Nothing half-written is left under a real name; the next start removes the temporary.
    const processes = 1 + await resumeToEnd(dir);
    const runs = [...Deno.readDirSync(`${dir}/runs`)];
    for (const e of Deno.readDirSync(`${dir}/runs/${runs[0].name}`)) {
      assert.ok(!e.name.endsWith(".tmp"), `left behind: ${e.name}`);
    }
    await judge(`kill -9 at ${point}`, await outcomeOf(`${dir}/results.db`), 1, processes);
    await Deno.remove(dir, { recursive: true });
  });
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.test(`faults: ${signal} at seeded random moments stops cleanly; resume gives the undisturbed run`, async () => {
    const rnd = new JsRandom(signal === "SIGINT" ? 7 : 8);
    const dir = await Deno.makeTempDir({ prefix: "drl_faults_signal_" });
    let faults = 0;
    let processes = 0;
    for (let k = 0; k < 2; k++) {
      const after = 2 + Math.floor(rnd.float() * 10);
      let sent = false;
      const args = k === 0
        ? [...TRAIN_ARGS, `--results=${dir}`]
        : ["--resume", "1", `--results=${dir}`];
      const r = await spawnTrain(args, {
        onStdout: (text, child) => {
          if (!sent && (text.match(/^step \d+\//gm) ?? []).length >= after) {
            sent = true;
            child.kill(signal);
          }
        },
      }).done;
      processes++;
      assert.equal(r.code, 0, r.stderr);
      if (sent) {
        faults++;
        assert.match(
          r.stdout,
          new RegExp(`stopped by ${signal} at step \\d+; resume with --resume 1`),
        );
      }
    }
    processes += await resumeToEnd(dir);
    await judge(
      `${signal} at random steps`,
      await outcomeOf(`${dir}/results.db`),
      faults,
      processes,
    );
    await Deno.remove(dir, { recursive: true });
  });
}

Deno.test("faults: a second process resuming a run in training is refused; the run ends undisturbed", async () => {
  const dir = await Deno.makeTempDir({ prefix: "drl_faults_two_" });
  let second: Promise<{ code: number; stdout: string; stderr: string }> | null = null;
  const first = spawnTrain([...TRAIN_ARGS, `--results=${dir}`], {
    onStdout: (text) => {
      if (!second && /^step 3\//m.test(text)) {
        second = spawnTrain(["--resume", "1", `--results=${dir}`]).done;
      }
    },
  }).done;
  const r1 = await first;
  assert.equal(r1.code, 0, r1.stderr);
  const r2 = await second!;
  assert.equal(r2.code, 2, r2.stderr);
  assert.match(r2.stderr, /run 1 is being trained by process \d+ on /);
  await judge("two processes on one run", await outcomeOf(`${dir}/results.db`), 1, 2);
  await Deno.remove(dir, { recursive: true });
});

/** Whether this process may mount a tmpfs (root on Linux). */
function canMount(): boolean {
  try {
    return Deno.uid() === 0 && Deno.build.os === "linux";
  } catch {
    return false;
  }
}

const TMPFS: Need = {
  what: "a tmpfs this process can mount (root on Linux)",
  present: canMount(),
  install: "run the tests as root, as .ci/run does",
};

/** Fills the file system holding `path` with one file; returns its name (to delete it). */
function fillDisk(dir: string): string {
  const filler = `${dir}/filler`;
  const f = Deno.openSync(filler, { write: true, create: true });
  const chunk = new Uint8Array(64 * 1024);
  try {
    for (;;) f.writeSync(chunk);
  } catch {
    // full
  } finally {
    f.close();
  }
  return filler;
}

testNeeding(TMPFS, {
  name:
    "faults: a disk that fills mid-run fails it with one clear line; with space again it resumes undisturbed",
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "drl_faults_disk_" });
    const mounted = await new Deno.Command("mount", {
      args: ["-t", "tmpfs", "-o", "size=8m", "tmpfs", dir],
    }).output();
    assert.ok(mounted.success, "mount tmpfs");
    try {
      // The disk fills up once the run is past its first checkpoints.
      let filler = "";
      const r = await spawnTrain([...TRAIN_ARGS, `--results=${dir}`], {
        onStdout: (text) => {
          if (!filler && /^step 7\//m.test(text)) filler = fillDisk(dir);
        },
      }).done;
      assert.ok(filler, "the disk was never filled");
      assert.equal(r.code, 2, r.stdout + r.stderr);
      const lines = r.stderr.trim().split("\n");
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0], /the disk is full/);
      // Space again: the same run resumes from its last complete checkpoint.
      await Deno.remove(filler);
      const processes = 1 + await resumeToEnd(dir);
      await judge(
        "disk full mid-run, then space",
        await outcomeOf(`${dir}/results.db`),
        1,
        processes,
      );
    } finally {
      await new Deno.Command("umount", { args: [dir] }).output();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

function pgInstalled(): boolean {
  try {
    return [...Deno.readDirSync("/usr/lib/postgresql")].length > 0;
  } catch {
    return false;
  }
}

const OWN_POSTGRES: Need = {
  what: "a PostgreSQL server this test can start and stop (Debian postgresql, root)",
  present: pgInstalled() && canMount(),
  install: "apt-get install -y postgresql; run the tests as root, as .ci/run does",
};

/** A private PostgreSQL instance of this test (not the shared one other tests use). */
function ownPostgres(port: number, data: string) {
  const env = { PG_PORT: String(port), PG_DATA: data };
  const script = async (arg?: string) => {
    const out = await new Deno.Command("bash", {
      args: [`${ROOT}.ci/start-postgres.sh`, ...(arg ? [arg] : [])],
      env,
    }).output();
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
    return new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!;
  };
  return {
    start: async () => (/TEST_DATABASE_URL=(\S+)/.exec(await script())!)[1],
    stop: () => script("stop"),
    /** Stops the server and deletes its data folder (47 MB a run, left in /tmp before). */
    discard: async () => {
      await script("stop");
      await Deno.remove(data, { recursive: true });
    },
  };
}

testNeeding(OWN_POSTGRES, {
  name:
    "faults: its PostgreSQL server stops mid-run and comes back: journal, replay, the undisturbed run",
  fn: async () => {
    const pg = ownPostgres(5439, `/tmp/drl-pgdata-faults-${Deno.pid}`);
    const base = await pg.start();
    const dir = await Deno.makeTempDir({ prefix: "drl_faults_pg_" });
    // A schema of its own, so the run is run 1.
    const schema = `f_${crypto.randomUUID().replaceAll("-", "")}`;
    const { default: postgres } = await import("postgres");
    const admin = postgres(base, { max: 1, onnotice: () => {} });
    await admin.unsafe(`create schema ${schema}`);
    await admin.end();
    const url = new URL(base);
    url.searchParams.set("search_path", schema);
    try {
      // The trainer is paused (SIGSTOP) while the server goes down at step 5 and while it
      // comes back at step 14: the run writes rows at steps 6 to 12 with no server.
      let phase = 0;
      let control: Promise<unknown> = Promise.resolve();
      const r = await spawnTrain([...TRAIN_ARGS, `--results=${dir}`, `--db=${url}`], {
        onStdout: (text, child) => {
          const steps = (text.match(/^step \d+\//gm) ?? []).length;
          const at = (step: number, action: () => Promise<unknown>) => {
            child.kill("SIGSTOP");
            control = control.then(action).finally(() => child.kill("SIGCONT"));
            phase = step;
          };
          if (phase === 0 && steps >= 5) at(5, () => pg.stop());
          else if (phase === 5 && steps >= 14) at(14, () => pg.start());
        },
      }).done;
      await control;
      assert.equal(phase, 14, "the server was not stopped and restarted mid-run");
      assert.equal(r.code, 0, r.stdout.split("\n").slice(-12).join("\n") + r.stderr);
      const journal = /deno task db replay (\S+) --db/.exec(r.stdout)?.[1];
      assert.ok(journal, `the run named no journal to replay:\n${r.stdout}`);
      const replay = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", `${ROOT}scripts/db.ts`, "replay", journal!, "--db", url.toString()],
        cwd: ROOT,
      }).output();
      assert.ok(replay.success, new TextDecoder().decode(replay.stderr));
      await judge("PostgreSQL stopped and restarted", await outcomeOf(url.toString()), 1, 1);
    } finally {
      await pg.discard();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "faults: summary of the cases (rows lost and doubled must be 0)",
  // Runs after the cases of this file (tests of one file run in order).
  fn: () => {
    if (REPORTS.length === 0) return;
    const lines = [
      "| case | faults injected | processes | rows lost | rows doubled |",
      "| --- | ---: | ---: | ---: | ---: |",
      ...REPORTS.map((r) =>
        `| ${r.name} | ${r.faults} | ${r.processes} | ${r.rowsLost} | ${r.rowsDoubled} |`
      ),
    ];
    console.log(`\nfault-injection cases${IN_CI ? " (CI)" : ""}:\n${lines.join("\n")}`);
    assert.ok(REPORTS.every((r) => r.rowsLost === 0 && r.rowsDoubled === 0));
  },
});
