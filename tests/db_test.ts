/**
 * The results database (lib/db): the same tests run on SQLite and, when TEST_DATABASE_URL names a
 * PostgreSQL server (.ci/start-postgres.sh prints one), on PostgreSQL; there each test works in
 * its own fresh schema, dropped afterwards.
 */
import assert from "node:assert/strict";
import { runScript } from "./helpers/script.ts";
import { sql } from "kysely";
import postgres from "postgres";
import { UserError } from "../lib/errors.ts";
import {
  DatabaseUnavailableError,
  dbOptionsFor,
  type MetricRow,
  openResultsDb,
  openResultsDbOrFallback,
  redactUrl,
  resolveDbTarget,
  type ResultsDb,
  SCHEMA_VERSION,
} from "../lib/db/mod.ts";
import { MIGRATIONS } from "../lib/db/migrations.ts";
import type { KyselyResultsDb } from "../lib/db/results_db.ts";
import { hostName, RunLeaseHolder } from "../lib/db/lease.ts";
import { type Need, testNeeding } from "./helpers/needs.ts";

// These tests pick their databases explicitly; a DATABASE_URL in the developer's environment
// (say, the lab's shared server) must neither receive test rows nor change what is tested.
Deno.env.delete("DATABASE_URL");

const PG_URL = Deno.env.get("TEST_DATABASE_URL");
const POSTGRES: Need = {
  what: "PostgreSQL (TEST_DATABASE_URL)",
  present: PG_URL !== undefined,
  install: "bash .ci/start-postgres.sh prints the URL to export",
};

interface Place {
  /** What openResultsDb gets: {path} for SQLite, {url} for PostgreSQL. */
  opts: { path?: string; url?: string };
  /** The same place as one string, for the writer processes. */
  target: string;
  cleanup(): Promise<void>;
}

interface Backend {
  name: "sqlite" | "postgres";
  need: Need;
  fresh(): Promise<Place>;
}

const sqliteBackend: Backend = {
  name: "sqlite",
  need: { what: "SQLite", present: true, install: "built into Deno" },
  async fresh() {
    const dir = await Deno.makeTempDir({ prefix: "drl-db-test-" });
    const path = `${dir}/results/results.db`; // a folder that does not exist yet
    return { opts: { path }, target: path, cleanup: () => Deno.remove(dir, { recursive: true }) };
  },
};

const postgresBackend: Backend = {
  name: "postgres",
  need: POSTGRES,
  async fresh() {
    const schema = `t_${crypto.randomUUID().replaceAll("-", "")}`;
    const admin = postgres(PG_URL!, { max: 1, onnotice: () => {} });
    await admin.unsafe(`create schema ${schema}`);
    const url = new URL(PG_URL!);
    url.searchParams.set("search_path", schema); // postgres.js passes it as a session setting
    return {
      opts: { url: url.toString() },
      target: url.toString(),
      async cleanup() {
        await admin.unsafe(`drop schema ${schema} cascade`);
        await admin.end();
      },
    };
  },
};

const BACKENDS = [sqliteBackend, postgresBackend];

/** Runs body against a fresh database of the backend, closing and cleaning up afterwards. */
async function withDb(b: Backend, body: (db: ResultsDb, place: Place) => Promise<void>) {
  const place = await b.fresh();
  const db = await openResultsDb(place.opts);
  try {
    await body(db, place);
  } finally {
    await db.close();
    await place.cleanup();
  }
}

const SAMPLE_RUN = {
  task: "train",
  preset: "8gaussians",
  config: { dataset: "8gaussians", lr: 1e-3, levels: [1, 2], nested: { ok: true } },
  gitCommit: "abc123",
  backend: "wasm",
  adapter: "XNNPACK",
  seed: 4294967295, // the largest unsigned 32-bit seed: beyond a PostgreSQL integer
  dir: "results/runs/x",
};

for (const b of BACKENDS) {
  testNeeding(b.need, {
    name: `db[${b.name}]: runs round trip, status changes, filters`,
    fn: () =>
      withDb(b, async (db) => {
        assert.equal(db.kind, b.name);
        const before = Date.now();
        const id = await db.createRun(SAMPLE_RUN);
        const id2 = await db.createRun({
          ...SAMPLE_RUN,
          preset: "checkerboard",
          seed: 0,
          dir: null,
        });
        assert.notEqual(id, id2);
        const run = await db.getRun(id);
        assert.ok(run);
        assert.equal(run.id, id);
        assert.equal(run.task, "train");
        assert.equal(run.preset, "8gaussians");
        assert.deepEqual(run.config, SAMPLE_RUN.config);
        assert.equal(run.gitCommit, "abc123");
        assert.equal(run.backend, "wasm");
        assert.equal(run.adapter, "XNNPACK");
        assert.equal(run.seed, 4294967295);
        assert.equal(run.status, "running");
        assert.equal(run.message, null);
        assert.equal(run.dir, "results/runs/x");
        assert.equal(run.updatedAt, null);
        assert.match(run.uid, /^[0-9a-f-]{36}$/);
        assert.ok(Date.parse(run.createdAt) >= before - 1000);

        await db.setRunStatus(id, "failed", "loss became NaN at step 12");
        const failed = await db.getRun(id);
        assert.equal(failed?.status, "failed");
        assert.equal(failed?.message, "loss became NaN at step 12");
        assert.ok(failed?.updatedAt);
        await db.setRunStatus(id2, "completed");
        assert.equal((await db.getRun(id2))?.message, null);
        await assert.rejects(() => db.setRunStatus(id + id2 + 100, "completed"), /no run/);
        await db.setRunDir(id2, "results/runs/2");
        assert.equal((await db.getRun(id2))?.dir, "results/runs/2");
        assert.equal((await db.getRun(id))?.dir, "results/runs/x");
        await assert.rejects(() => db.setRunDir(id + id2 + 100, "x"), /no run/);

        assert.equal(await db.getRun(id + id2 + 100), null);
        assert.deepEqual((await db.listRuns()).map((r) => r.id), [id, id2]);
        assert.deepEqual((await db.listRuns({ preset: "checkerboard" })).map((r) => r.id), [id2]);
        assert.deepEqual(
          (await db.listRuns({ task: "train", preset: "8gaussians" })).map((r) => r.id),
          [id],
        );
        assert.deepEqual(await db.listRuns({ task: "sample" }), []);
        assert.equal((await db.getRunByUid(run.uid))?.id, id);
      }),
  });

  testNeeding(b.need, {
    name: `db[${b.name}]: metrics, evaluations and artifacts round trip`,
    fn: () =>
      withDb(b, async (db) => {
        const runId = await db.createRun(SAMPLE_RUN);
        const other = await db.createRun(SAMPLE_RUN);
        // Given out of order, with a run-wide (null level) row and non-finite values.
        const rows: MetricRow[] = [
          { runId, step: 2, level: 1, name: "loss", value: 0.25 },
          { runId, step: 1, level: 1, name: "loss", value: -1.5e-7 },
          { runId, step: 1, level: 0, name: "loss", value: 3.125 },
          { runId, step: 1, level: null, name: "loss", value: 1.5 },
          { runId, step: 1, level: 0, name: "f_pos", value: Infinity },
          { runId, step: 2, level: 0, name: "loss", value: NaN },
          { runId: other, step: 1, level: 0, name: "loss", value: 99 },
        ];
        await db.logMetrics(rows);
        await db.logMetrics([]);
        const got = await db.metrics(runId);
        assert.deepEqual(got.map((r) => [r.step, r.level, r.name]), [
          [1, null, "loss"],
          [1, 0, "f_pos"],
          [1, 0, "loss"],
          [1, 1, "loss"],
          [2, 0, "loss"],
          [2, 1, "loss"],
        ]);
        assert.deepEqual(got.map((r) => r.value), [1.5, Infinity, 3.125, -1.5e-7, NaN, 0.25]);
        assert.ok(got.every((r) => r.runId === runId));
        assert.deepEqual((await db.metrics(runId, "f_pos")).map((r) => r.value), [Infinity]);
        assert.deepEqual((await db.metrics(other)).map((r) => r.value), [99]);
        // A resumed run drops the rows past its checkpoint's step, and only its own.
        await db.deleteMetricsAfter(runId, 1);
        assert.deepEqual((await db.metrics(runId)).map((r) => r.step), [1, 1, 1, 1]);
        await db.logMetrics(rows.slice(0, 1).concat(rows.slice(5, 6))); // step 2 again
        assert.deepEqual((await db.metrics(runId)).map((r) => r.step), [1, 1, 1, 1, 2, 2]);
        assert.deepEqual((await db.metrics(other)).map((r) => r.value), [99]);

        // A big batch crosses the insert chunk size and still arrives whole and in order.
        const many = Array.from({ length: 1234 }, (_, i) => ({
          runId: other,
          step: i + 2,
          level: i % 6,
          name: "f_neg" as const,
          value: i / 7,
        }));
        await db.logMetrics(many);
        const back = await db.metrics(other, "f_neg");
        assert.equal(back.length, 1234);
        assert.deepEqual(back.map((r) => r.value), many.map((r) => r.value));

        await db.addEvaluation({
          runId,
          name: "energy_distance",
          value: 0.0123,
          n: 2000,
          details: { baseline: 0.004, modes: [0.12, 0.13] },
        });
        await db.addEvaluation({ runId, name: "fid", value: 9.58, features: "inception-v3" });
        assert.deepEqual(await db.evaluations(runId), [
          {
            runId,
            name: "energy_distance",
            value: 0.0123,
            n: 2000,
            features: null,
            details: { baseline: 0.004, modes: [0.12, 0.13] },
          },
          { runId, name: "fid", value: 9.58, n: null, features: "inception-v3", details: null },
        ]);
        assert.deepEqual(await db.evaluations(other), []);

        await db.addArtifact({ runId, kind: "grid", path: "results/runs/x/grid.png", step: 100 });
        await db.addArtifact({ runId, kind: "checkpoint", path: "results/runs/x/ckpt" });
        assert.deepEqual(await db.artifacts(runId), [
          { runId, kind: "grid", path: "results/runs/x/grid.png", step: 100 },
          { runId, kind: "checkpoint", path: "results/runs/x/ckpt", step: null },
        ]);
        // Rows must point at an existing run (foreign key on both engines).
        await assert.rejects(() => db.addArtifact({ runId: 10_000, kind: "grid", path: "p" }));
      }),
  });

  testNeeding(b.need, {
    name: `db[${b.name}]: migrations apply once and refuse a newer schema`,
    fn: async () => {
      const place = await b.fresh();
      try {
        const first = await openResultsDb(place.opts);
        const runId = await first.createRun(SAMPLE_RUN);
        const kdb = (first as KyselyResultsDb).db;
        const versions = await kdb.selectFrom("schema_migrations").select("version").execute();
        // Every migration once, in order, the last one this code's version.
        assert.deepEqual(
          versions.map((v) => Number(v.version)),
          MIGRATIONS.map((m) => m.version),
        );
        assert.equal(MIGRATIONS.at(-1)!.version, SCHEMA_VERSION);
        await first.close();

        // Reopening keeps the data and applies nothing twice.
        const second = await openResultsDb(place.opts);
        assert.equal((await second.getRun(runId))?.preset, SAMPLE_RUN.preset);
        const k2 = (second as KyselyResultsDb).db;
        assert.equal(
          (await k2.selectFrom("schema_migrations").selectAll().execute()).length,
          MIGRATIONS.length,
        );
        await k2.insertInto("schema_migrations").values({
          version: SCHEMA_VERSION + 1,
          name: "from the future",
          applied_at: new Date().toISOString(),
        }).execute();
        await second.close();

        await assert.rejects(() => openResultsDb(place.opts), (err: unknown) => {
          assert.ok(err instanceof UserError);
          assert.match(err.message, /newer than this code/);
          return true;
        });
      } finally {
        await place.cleanup();
      }
    },
  });

  testNeeding(b.need, {
    name: `db[${b.name}]: export then import is lossless and idempotent`,
    fn: () =>
      withDb(b, async (source) => {
        const runId = await source.createRun(SAMPLE_RUN);
        await source.logMetrics([
          { runId, step: 0, level: 0, name: "loss", value: NaN },
          { runId, step: 0, level: null, name: "loss", value: 2 },
        ]);
        await source.addEvaluation({ runId, name: "fid", value: 12.5, n: 50000, details: [1, 2] });
        await source.addArtifact({ runId, kind: "grid", path: "g.png", step: 3 });
        await source.setRunStatus(runId, "completed", "done");
        const bundle = await source.exportRun(runId);
        assert.ok(bundle);
        assert.equal(await source.exportRun(runId + 1000), null);

        // Into a second, independent SQLite database (and back into the source: a no-op).
        await withDb(sqliteBackend, async (target) => {
          await target.createRun({ ...SAMPLE_RUN, preset: "occupies id 1" });
          const first = await target.importRun(bundle);
          assert.equal(first.created, true);
          const again = await target.importRun(bundle);
          assert.deepEqual(again, { id: first.id, created: false });
          assert.equal((await target.listRuns()).length, 2);
          assert.deepEqual(await target.exportRun(first.id), bundle);
        });
        assert.deepEqual(await source.importRun(bundle), { id: runId, created: false });
        assert.equal((await source.listRuns()).length, 1);
      }),
  });

  testNeeding(b.need, {
    name: `db[${b.name}]: 4 writer processes at once lose and corrupt nothing`,
    fn: async () => {
      const place = await b.fresh();
      const writers = 4, transactions = 30, rowsPerTx = 20;
      try {
        // The database does not exist yet: the writers also race to create and migrate it.
        const helper = new URL("./helpers/db_writer.ts", import.meta.url).pathname;
        const barrier = await Deno.makeTempDir({ prefix: "drl-db-barrier-" });
        const running = Array.from(
          { length: writers },
          (_, w) =>
            new Deno.Command(Deno.execPath(), {
              args: [
                "run",
                "-A",
                helper,
                place.target,
                String(w),
                String(transactions),
                String(rowsPerTx),
                barrier,
              ],
              stdout: "piped",
              stderr: "piped",
            }).output(),
        );
        // Release the writers together once all have opened the database.
        const deadline = Date.now() + 60_000;
        while ((await Array.fromAsync(Deno.readDir(barrier))).length < writers) {
          if (Date.now() > deadline) break; // a writer died: its output below says why
          await new Promise((ok) => setTimeout(ok, 10));
        }
        await Deno.writeTextFile(`${barrier}/go`, "");
        const outputs = await Promise.all(running);
        await Deno.remove(barrier, { recursive: true });
        const runIds: number[] = outputs.map((out, w) => {
          const stderr = new TextDecoder().decode(out.stderr);
          assert.equal(out.code, 0, `writer ${w} failed: ${stderr}`);
          return JSON.parse(new TextDecoder().decode(out.stdout)).runId;
        });
        assert.equal(new Set(runIds).size, writers);

        const db = await openResultsDb(place.opts);
        try {
          for (const [w, runId] of runIds.entries()) {
            const run = await db.getRun(runId);
            assert.equal(run?.preset, `writer-${w}`);
            assert.equal(run?.status, "completed");
            const metrics = await db.metrics(runId, "loss");
            assert.equal(metrics.length, transactions * rowsPerTx);
            const expected = [];
            for (let tx = 0; tx < transactions; tx++) {
              for (let i = 0; i < rowsPerTx; i++) expected.push(w * 1e6 + tx * 1e3 + i);
            }
            assert.deepEqual(metrics.map((m) => m.value), expected);
            assert.equal((await db.evaluations(runId)).length, transactions / 5);
            assert.deepEqual(await db.artifacts(runId), [
              { runId, kind: "checkpoint", path: `w${w}.ckpt`, step: transactions },
            ]);
          }
          const kdb = (db as KyselyResultsDb).db;
          // The writes really overlapped: one writer after another would switch runs only 3 times.
          const order = await kdb.selectFrom("metrics").select("run_id").orderBy("id").execute();
          const switches = order.filter((r, i) => i > 0 && r.run_id !== order[i - 1].run_id).length;
          assert.ok(switches > writers - 1, `writers did not overlap (${switches} switches)`);
          const versions = await kdb.selectFrom("schema_migrations").selectAll().execute();
          assert.equal(
            versions.length,
            MIGRATIONS.length,
            "the racing writers applied each migration exactly once",
          );
          if (b.name === "sqlite") {
            const check = await sql<{ integrity_check: string }>`PRAGMA integrity_check`.execute(
              kdb,
            );
            assert.deepEqual(check.rows, [{ integrity_check: "ok" }]);
          }
        } finally {
          await db.close();
        }
      } finally {
        await place.cleanup();
      }
    },
  });
}

Deno.test("db[sqlite]: an unusable results folder or file is one clear UserError", async () => {
  const dir = await Deno.makeTempDir({ prefix: "drl-db-test-" });
  try {
    // A folder path that runs through a plain file cannot be created (not even by root).
    await Deno.writeTextFile(`${dir}/plain-file`, "x");
    await assert.rejects(() => openResultsDb({ path: `${dir}/plain-file/results.db` }), (err) => {
      assert.ok(err instanceof UserError);
      assert.match(err.message, /cannot create the results folder .*plain-file/);
      assert.match(err.message, /writable or choose another/);
      return true;
    });
    // A file that is not a SQLite database.
    await Deno.writeTextFile(`${dir}/garbage.db`, "not a database, ".repeat(200));
    await assert.rejects(() => openResultsDb({ path: `${dir}/garbage.db` }), (err) => {
      assert.ok(err instanceof UserError);
      assert.match(err.message, /garbage\.db.*not a SQLite file/);
      return true;
    });
    // A folder where the database file should be.
    await Deno.mkdir(`${dir}/a-folder.db`);
    await assert.rejects(() => openResultsDb({ path: `${dir}/a-folder.db` }), UserError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("db: which database the options and DATABASE_URL designate", () => {
  assert.deepEqual(resolveDbTarget({}), { kind: "sqlite", path: "results/results.db" });
  assert.deepEqual(resolveDbTarget({}, ""), { kind: "sqlite", path: "results/results.db" });
  const pg = "postgres://u:secret@db.lab:5432/results";
  assert.deepEqual(resolveDbTarget({}, pg), { kind: "postgres", url: pg });
  // DATABASE_URL wins over the default path a training run passes (its fallback file)...
  assert.deepEqual(resolveDbTarget({ path: "x.db" }, pg), { kind: "postgres", url: pg });
  assert.deepEqual(resolveDbTarget({ path: "x.db" }), { kind: "sqlite", path: "x.db" });
  // ...and an explicit --db value wins over DATABASE_URL.
  assert.deepEqual(resolveDbTarget(dbOptionsFor("local/r.db"), pg), {
    kind: "sqlite",
    path: "local/r.db",
  });
  assert.deepEqual(resolveDbTarget(dbOptionsFor("postgres://h/db"), "sqlite:a.db"), {
    kind: "postgres",
    url: "postgres://h/db",
  });
  assert.deepEqual(dbOptionsFor(undefined), {});
  assert.deepEqual(resolveDbTarget({ url: "sqlite:/tmp/a.db" }, pg), {
    kind: "sqlite",
    path: "/tmp/a.db",
  });
  assert.throws(() => resolveDbTarget({ url: "mysql://u:secret@h/db" }), (err) => {
    assert.ok(err instanceof UserError);
    assert.doesNotMatch(err.message, /secret/);
    return true;
  });
});

Deno.test("db: a PostgreSQL server that is down is one clear error, and runs fall back to SQLite", async () => {
  // A port nothing listens on: bind one, note it, close it.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const url = `postgres://drl:topsecret@127.0.0.1:${port}/drl`;
  await assert.rejects(() => openResultsDb({ url, connectTimeoutS: 5 }), (err) => {
    assert.ok(err instanceof DatabaseUnavailableError);
    assert.ok(err instanceof UserError);
    assert.match(err.message, new RegExp(`cannot reach the PostgreSQL server at .*:${port}`));
    assert.doesNotMatch(err.message, /topsecret/);
    return true;
  });

  const dir = await Deno.makeTempDir({ prefix: "drl-db-test-" });
  const warnings: string[] = [];
  const db = await openResultsDbOrFallback({
    url,
    path: `${dir}/local.db`,
    connectTimeoutS: 5,
    warn: (line) => warnings.push(line),
  });
  try {
    assert.equal(db.kind, "sqlite");
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /^warning: cannot reach .*local\.db.*db sync/);
    const runId = await db.createRun(SAMPLE_RUN);
    assert.equal((await db.getRun(runId))?.seed, SAMPLE_RUN.seed);
  } finally {
    await db.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("db: DATABASE_URL redirects a run's default path; an unreachable one falls back to it", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const dir = await Deno.makeTempDir({ prefix: "drl-db-test-" });
  Deno.env.set("DATABASE_URL", `postgres://drl:pw@127.0.0.1:${port}/drl`);
  try {
    await assert.rejects(
      () => openResultsDb({ path: `${dir}/local.db`, connectTimeoutS: 5 }),
      DatabaseUnavailableError,
    );
    const warnings: string[] = [];
    const db = await openResultsDbOrFallback({
      path: `${dir}/local.db`,
      connectTimeoutS: 5,
      warn: (line) => warnings.push(line),
    });
    try {
      assert.equal(db.kind, "sqlite");
      assert.equal(db.location, `${dir}/local.db`);
      assert.equal(warnings.length, 1);
    } finally {
      await db.close();
    }
  } finally {
    Deno.env.delete("DATABASE_URL");
    await Deno.remove(dir, { recursive: true });
  }
});

testNeeding(POSTGRES, {
  name: "db[postgres]: a refused login is one clear error, and runs fall back to SQLite",
  fn: async () => {
    const url = new URL(PG_URL!);
    url.password = "wrong-password-for-the-test";
    await assert.rejects(() => openResultsDb({ url: url.toString() }), (err) => {
      assert.ok(err instanceof DatabaseUnavailableError);
      assert.match(err.message, /refused the login/);
      assert.doesNotMatch(err.message, /wrong-password/);
      return true;
    });
    const dir = await Deno.makeTempDir({ prefix: "drl-db-test-" });
    const warnings: string[] = [];
    const db = await openResultsDbOrFallback({
      url: url.toString(),
      path: `${dir}/local.db`,
      warn: (line) => warnings.push(line),
    });
    try {
      assert.equal(db.kind, "sqlite");
      assert.match(warnings[0], /refused the login/);
    } finally {
      await db.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

const runDbCli = (args: string[]) => runScript("db.ts", args);

for (const b of BACKENDS) {
  testNeeding(b.need, {
    name: `db CLI[${b.name}]: export, import and sync move runs without duplicates`,
    fn: async () => {
      const source = await sqliteBackend.fresh();
      const target = await b.fresh();
      try {
        const src = await openResultsDb(source.opts);
        const done = await src.createRun(SAMPLE_RUN);
        await src.logMetrics([{ runId: done, step: 1, level: 0, name: "loss", value: NaN }]);
        await src.addEvaluation({ runId: done, name: "fid", value: 33.3, n: 100 });
        await src.addArtifact({ runId: done, kind: "grid", path: "grid.png", step: 1 });
        await src.setRunStatus(done, "completed");
        const running = await src.createRun({ ...SAMPLE_RUN, preset: "still-going" });
        const bundles = [await src.exportRun(done), await src.exportRun(running)];
        await src.close();

        const file = `${source.target}.export.json`;
        let r = await runDbCli([
          "export",
          "--run",
          String(done),
          "--db",
          source.target,
          "--out",
          file,
        ]);
        assert.equal(r.code, 0, r.stderr);
        r = await runDbCli(["import", file, "--db", target.target]);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /^imported 1 run\(s\) into .*; 0 already there/);
        r = await runDbCli(["import", file, "--db", target.target]);
        assert.match(r.stdout, /^imported 0 run\(s\) into .*; 1 already there/);

        r = await runDbCli(["sync", "--from", source.target, "--to", target.target]);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /^pushed 0 run\(s\) .*1 already there; 1 still running/);
        r = await runDbCli([
          "sync",
          "--from",
          source.target,
          "--to",
          target.target,
          "--include-running",
        ]);
        assert.match(r.stdout, /^pushed 1 run\(s\)/);
        r = await runDbCli([
          "sync",
          "--from",
          source.target,
          "--to",
          target.target,
          "--include-running",
        ]);
        assert.match(r.stdout, /^pushed 0 run\(s\) .*2 already there$/m);

        const dst = await openResultsDb(target.opts);
        try {
          const runs = await dst.listRuns();
          assert.equal(runs.length, 2);
          for (const [i, run] of runs.entries()) {
            assert.deepEqual(await dst.exportRun(run.id), bundles[i]);
          }
        } finally {
          await dst.close();
        }

        r = await runDbCli(["export", "--run", "99", "--db", source.target]);
        assert.equal(r.code, 2);
        assert.match(r.stderr, /^error: there is no run 99 in /);
        r = await runDbCli(["import", source.target]); // a database, not an export file
        assert.equal(r.code, 2);
        assert.match(r.stderr, /is not valid JSON/);
      } finally {
        await target.cleanup();
        await source.cleanup();
      }
    },
  });
}

for (const b of BACKENDS) {
  testNeeding(b.need, {
    name:
      `db[${b.name}]: one trainer per run: a live lease refuses, a dead or stale one is taken over`,
    fn: () =>
      withDb(b, async (db) => {
        const runId = await db.createRun(SAMPLE_RUN);
        const first = await RunLeaseHolder.acquire(db, runId);
        assert.equal(first.tookOver, null);
        // A second process (here: a second acquire in this one) is refused, naming the holder.
        await assert.rejects(() => RunLeaseHolder.acquire(db, runId), (err) => {
          assert.ok(err instanceof UserError);
          assert.match(
            err.message,
            new RegExp(`run ${runId} is being trained by process ${Deno.pid} on `),
          );
          return true;
        });
        // Heartbeats move the lease's time; a lease 6 minutes silent is stale and taken over.
        const later = Date.now() + 6 * 60_000;
        const second = await RunLeaseHolder.acquire(db, runId, { now: () => later });
        assert.match(second.tookOver ?? "", /last heartbeat is \d+ s old/);
        // The first holder learns it lost the run at its next heartbeat and stops.
        await assert.rejects(
          () => first.heartbeat(Date.now() + 10 * 60_000),
          /its lease was taken/,
        );
        await second.release();
        assert.equal(await db.getLease(runId), null);
        // A holder whose process is gone from this host is taken over at once.
        const child = new Deno.Command("true").spawn();
        await child.status;
        const now = new Date().toISOString();
        assert.ok(
          await db.insertLease({
            runId,
            token: "dead",
            pid: child.pid,
            host: hostName(),
            acquiredAt: now,
            heartbeatAt: now,
          }),
        );
        const third = await RunLeaseHolder.acquire(db, runId);
        assert.match(third.tookOver ?? "", new RegExp(`process ${child.pid} on this host is gone`));
        await third.release();
      }),
  });
}

Deno.test("two trainings of one run at once: the second is refused with who holds it", async () => {
  const dir = await Deno.makeTempDir();
  const args = [`--results=${dir}`, "--backend=cpu"];
  const first = await runScript("train.ts", [
    "8gaussians",
    ...args,
    "--iterations=2",
    "--width=8",
    "--depth=1",
    "--K=1",
    "--batch=8",
  ]);
  assert.equal(first.code, 0, first.stderr);
  // A live holder: this test process, as if it were training run 1.
  const db = await openResultsDb({ path: `${dir}/results.db` });
  const holder = await RunLeaseHolder.acquire(db, 1);
  try {
    const second = await runScript("train.ts", ["--resume", "1", ...args, "--iterations=4"]);
    assert.equal(second.code, 2, second.stderr);
    assert.match(second.stderr, new RegExp(`run 1 is being trained by process ${Deno.pid}`));
    assert.equal((await db.getRun(1))!.status, "completed", "the refused resume changed nothing");
  } finally {
    await holder.release();
    await db.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a password in a database URL is never printed, in any URL form", () => {
  const cases: [string, string][] = [
    ["postgres://drl:s3cret@127.0.0.1:5432/drl", "postgres://drl:***@127.0.0.1:5432/drl"],
    // '@', ':', '/' and '%' in the password; a username with no password.
    ["postgres://u:p@ss:w/rd%40x@db.example:5432/r", "postgres://u:***@db.example:5432/r"],
    ["postgresql://only-user@host/db", "postgresql://only-user@host/db"],
    // Query parameters that carry secrets (libpq's password, sslpassword), others kept.
    [
      "postgres://host/db?user=u&password=hunter2&sslmode=require&sslpassword=x%20y",
      "postgres://host/db?user=u&password=***&sslmode=require&sslpassword=***",
    ],
    ["postgres://u:%E0%A4%A@host/db", "postgres://u:***@host/db"],
    ["not a url u:pw@host", "not a url u:pw@host"],
  ];
  for (const [url, want] of cases) {
    const got = redactUrl(url);
    assert.equal(got, want, url);
    for (const secret of ["s3cret", "p@ss", "rd%40x", "hunter2", "x%20y", "%E0%A4%A"]) {
      if (url.includes(secret) && want !== url) assert.ok(!got.includes(secret), `${url}: ${got}`);
    }
  }
});
