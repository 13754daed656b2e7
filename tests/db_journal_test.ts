/**
 * A run that loses its results database keeps its rows: writes from the failure on go to a journal
 * in the run folder, training completes, and `deno task db replay` loads the journal once the
 * database is back, giving the same rows as a run whose database never failed; replaying twice
 * changes nothing, and a write that committed before its connection died is not duplicated.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { buildConfig } from "../lib/presets.ts";
import {
  decodeJournal,
  JOURNAL_FILE,
  openResultsDb,
  replayJournal,
  type ResultsDb,
  RunRecorder,
} from "../lib/db/mod.ts";
import { train } from "../lib/tasks/train.ts";
import { runScript } from "./helpers/script.ts";
import { TINY_TOY } from "./helpers/tiny_toy.ts";

/** A database whose every call throws once `kill` is set; "afterCommit" lets the next call run first. */
class Flaky {
  state: "up" | "afterCommit" | "down" = "up";
  constructor(readonly inner: ResultsDb, private dieAfterMetricsCalls = Infinity) {}

  db(): ResultsDb {
    let metricsCalls = 0;
    return new Proxy(this.inner, {
      get: (target, prop, receiver) => {
        const value = Reflect.get(target, prop, receiver);
        if (typeof value !== "function" || prop === "close") return value;
        return async (...args: unknown[]) => {
          if (prop === "logMetrics" && ++metricsCalls > this.dieAfterMetricsCalls) {
            this.state = "down";
          }
          if (this.state === "down") throw new Error("connection terminated unexpectedly");
          const result = await value.apply(target, args);
          if (this.state === "afterCommit") {
            this.state = "down";
            throw new Error("connection terminated unexpectedly");
          }
          return result;
        };
      },
    }) as ResultsDb;
  }
}

const RUN = {
  task: "train",
  preset: "8gaussians",
  config: {},
  gitCommit: null,
  backend: "cpu",
  adapter: "test",
  seed: 0,
  dir: null,
};

Deno.test("RunRecorder: writes after a failure go to the journal; replay restores them once", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const inner = await openResultsDb({ path: join(dir, "results.db") });
    const runId = await inner.createRun(RUN);
    const uid = (await inner.getRun(runId))!.uid;
    const flaky = new Flaky(inner);
    const lines: string[] = [];
    const rec = new RunRecorder(
      flaky.db(),
      runId,
      uid,
      join(dir, JOURNAL_FILE),
      (l) => lines.push(l),
    );
    await rec.logMetrics([{ runId, step: 1, level: 0, name: "loss", value: 0.5 }]);
    // This write commits, then its connection dies: the journal gets it too.
    flaky.state = "afterCommit";
    await rec.logMetrics([{ runId, step: 2, level: 0, name: "loss", value: 0.25 }]);
    assert.ok(rec.lost);
    assert.equal(lines.length, 1);
    assert.match(lines[0], /lost the results database .* deno task db replay/);
    await rec.logMetrics([{ runId, step: 3, level: null, name: "loss", value: NaN }]);
    await rec.addEvaluation({ name: "energy_distance", value: 0.01, n: 2000 });
    await rec.addArtifact({ kind: "figure", path: "x.png", step: 3 });
    await rec.setRunStatus("completed");
    assert.equal(rec.status, "completed");
    assert.equal(lines.length, 1, "warned once");

    const journal = decodeJournal(await Deno.readTextFile(join(dir, JOURNAL_FILE)), "journal");
    assert.equal(journal.runUid, uid);
    assert.deepEqual(journal.entries.map((e) => e.op), [
      "logMetrics",
      "logMetrics",
      "addEvaluation",
      "addArtifact",
      "setRunStatus",
    ]);
    // The database holds what reached it: steps 1 and 2 (committed before the failure).
    assert.deepEqual((await inner.metrics(runId)).map((m) => m.step), [1, 2]);
    assert.equal((await inner.getRun(runId))!.status, "running");

    const first = await replayJournal(inner, journal);
    assert.deepEqual(first, {
      runId,
      metrics: 1,
      evaluations: 1,
      artifacts: 1,
      status: "completed",
    });
    const metrics = await inner.metrics(runId);
    assert.deepEqual(metrics.map((m) => m.step), [1, 2, 3]);
    assert.ok(Number.isNaN(metrics[2].value));
    assert.equal((await inner.evaluations(runId)).length, 1);
    assert.equal((await inner.artifacts(runId)).length, 1);
    assert.equal((await inner.getRun(runId))!.status, "completed");
    const again = await replayJournal(inner, journal);
    assert.deepEqual(again, {
      runId,
      metrics: 0,
      evaluations: 0,
      artifacts: 0,
      status: "completed",
    });
    assert.equal((await inner.metrics(runId)).length, 3);
    await inner.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// Two checkpoints: the first one's rows reach the database, the second one's do not.
const TINY = { ...TINY_TOY, iterations: "8", "checkpoint-every": "4" };

async function rowsOf(db: ResultsDb, runId: number) {
  // Wall-clock rows differ between any two runs: compare their keys, not their values.
  const metrics = (await db.metrics(runId)).map(({ runId: _, ...m }) =>
    m.name === "seconds_per_step" ? { ...m, value: 0 } : m
  );
  const evaluations = (await db.evaluations(runId)).map((e) => [e.name, e.value]);
  const artifacts = (await db.artifacts(runId)).map((a) => [a.kind, a.step]);
  return { metrics, evaluations, artifacts, status: (await db.getRun(runId))!.status };
}

Deno.test("a training whose database dies mid-run completes; db replay gives the rows of a healthy run", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const config = buildConfig("8gaussians", TINY);
    const healthyDb = await openResultsDb({ path: join(dir, "healthy.db") });
    const healthy = await train({
      config,
      backend: "cpu",
      resultsDir: join(dir, "healthy"),
      db: healthyDb,
      log: () => {},
    });
    assert.equal(healthy.journal, null);

    const inner = await openResultsDb({ path: join(dir, "flaky.db") });
    const lines: string[] = [];
    const s = await train({
      config,
      backend: "cpu",
      resultsDir: join(dir, "flaky"),
      db: new Flaky(inner, 1).db(), // the first checkpoint's rows arrive, then the server is gone
      log: (l) => lines.push(l),
    });
    assert.equal(s.status, "completed");
    assert.equal(s.journal, join(s.runDir, JOURNAL_FILE));
    assert.ok(lines.some((l) => /lost the results database/.test(l)));
    assert.equal((await inner.getRun(s.runId))!.status, "running");
    const partial = (await inner.metrics(s.runId)).length;
    assert.ok(partial > 0);

    const out = await runScript("db.ts", ["replay", s.journal!, "--db", join(dir, "flaky.db")]);
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /replayed .* status completed/);

    const want = await rowsOf(healthyDb, healthy.runId);
    const got = await rowsOf(inner, s.runId);
    assert.ok(got.metrics.length > partial);
    assert.deepEqual(got, want);
    await healthyDb.close();
    await inner.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("db replay: a file that is not a journal, or a run the database lacks, is one clear error", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const replay = (file: string) =>
      runScript("db.ts", ["replay", file, "--db", join(dir, "r.db")]);
    await Deno.writeTextFile(join(dir, "x.json"), "{}");
    const notJournal = await replay(join(dir, "x.json"));
    assert.equal(notJournal.code, 2);
    assert.match(notJournal.stderr, /is not a run journal/);
    const text = JSON.stringify({
      format: "drl-run-journal",
      version: 1,
      runUid: "nope",
      database: "elsewhere",
      since: "2026-11-29T00:00:00Z",
      reason: "test",
      entries: [],
    });
    await Deno.writeTextFile(join(dir, "j.json"), text);
    const missing = await replay(join(dir, "j.json"));
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /run nope is not in .*elsewhere/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
