/**
 * Images end to end on the project's own fixtures: train cifar10-tiny on the committed CIFAR-10
 * binary fixture, sample from its checkpoint twice with one seed (identical images), score the run with
 * `deno task fid run:ID`, and run a long chain.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { FIXTURES_DIR } from "../scripts/make_fixtures.ts";
import { buildConfig } from "../lib/presets.ts";
import { openResultsDb } from "../lib/db/mod.ts";
import { train } from "../lib/tasks/train.ts";
import { sampleFromCheckpoint } from "../lib/tasks/sample.ts";
import { readPng } from "../lib/io/png.ts";
import { encodeGraphDef } from "../lib/metrics/inception/graphdef.ts";
import { buildGraph } from "./helpers/tiny_inception_graph.ts";
import { runScript } from "./helpers/script.ts";

Deno.test("cifar10-tiny trains on the fixture; sampling is reproducible; long runs are recorded", async () => {
  const dir = await Deno.makeTempDir();
  const config = buildConfig("cifar10-tiny", {
    data: join(FIXTURES_DIR, "cifar10"),
    iterations: "3",
    batch: "4",
    K: "2",
    "sample-every": "0",
    samples: "4",
  });
  const s = await train({ config, backend: "cpu", resultsDir: join(dir, "r"), log: () => {} });
  assert.equal(s.status, "completed");
  const db = await openResultsDb({ path: join(dir, "r", "results.db") });
  const opts = {
    checkpoint: s.checkpoint,
    sourceRun: s.runId,
    n: 3,
    seed: 7,
    pngDir: null,
    longRun: 0,
    weights: "ema" as const,
    backend: "cpu" as const,
    batch: 3,
  };
  const a = await sampleFromCheckpoint({
    ...opts,
    out: join(dir, "a.png"),
    pngDir: join(dir, "pngs"),
  }, db);
  const b = await sampleFromCheckpoint({ ...opts, out: join(dir, "b.png") }, db);
  const c = await sampleFromCheckpoint({ ...opts, seed: 8, out: join(dir, "c.png") }, db);
  const bytes = (p: string) => Deno.readFile(p);
  assert.deepEqual(await bytes(a.out), await bytes(b.out), "same checkpoint and seed, same images");
  assert.notDeepEqual(await bytes(a.out), await bytes(c.out));
  const grid = await readPng(a.out);
  // One row per chain, one tile per level (T + 1 = 7 tiles of 32 px with 2 px padding).
  assert.equal(grid.width, 7 * 32 + 8 * 2);
  assert.equal(grid.height, 3 * 32 + 4 * 2);
  assert.equal([...Deno.readDirSync(join(dir, "pngs"))].length, 3);
  // `deno task fid run:ID` draws the same images as `sample` with that seed: its FID against the
  // PNGs just written is ~0 (8-bit rounding only), far below another seed's.
  const graphPath = join(dir, "tiny.pb");
  await Deno.writeFile(graphPath, encodeGraphDef(buildGraph()));
  const fidOf = async (seed: number) => {
    const out = await runScript(
      "fid.ts",
      [`run:${s.runId}`, join(dir, "pngs"), "--inception", graphPath]
        .concat(["--n", "3", "--seed", String(seed), "--batch", "3", "--backend", "cpu"])
        .concat(["--db", join(dir, "r", "results.db"), "--json"]),
    );
    assert.equal(out.code, 0, out.stderr);
    return JSON.parse(out.stdout).fid as number;
  };
  const same = await fidOf(7), other = await fidOf(8);
  assert.ok(other > 0 && same < 0.01 * other, `FID same seed ${same}, other seed ${other}`);
  const long = await sampleFromCheckpoint({ ...opts, longRun: 10, out: join(dir, "l.png") }, db);
  assert.deepEqual(long.longRun.map((r) => r.step), [0, 1, 2, 5, 10]);
  assert.ok(long.longRun.every((r) => Number.isFinite(r.energy) && r.std > 0));
  const rows = await db.metrics(long.runId, "longrun_energy");
  assert.equal(rows.length, 5);
  assert.equal((await db.getRun(a.runId))!.task, "sample");
  // Every chain continues in a long run (here in two batches), and with a PNG folder each
  // snapshot's images are written for metrics; the snapshot steps may be given.
  const lp = await sampleFromCheckpoint({
    ...opts,
    batch: 2,
    longRun: 6,
    snapshots: [3],
    pngDir: join(dir, "lp"),
    out: join(dir, "lp.png"),
  }, db);
  assert.deepEqual(lp.longRun.map((r) => r.step), [0, 3, 6]);
  for (const step of ["0000000", "0000003", "0000006"]) {
    assert.equal([...Deno.readDirSync(join(dir, "lp_longrun", `step_${step}`))].length, 3);
  }
  // The exported model (EMA weights only) samples exactly as its training checkpoint.
  const model = join(dir, "model.ckpt");
  const exported = await runScript(
    "export_model.ts",
    ["--run", String(s.runId), "--out", model, "--db", join(dir, "r", "results.db")],
  );
  assert.equal(exported.code, 0, exported.stderr);
  assert.match(exported.stdout, /EMA weights of step 3/);
  assert.ok((await Deno.stat(model)).size < (await Deno.stat(s.checkpoint)).size / 2);
  const m = await sampleFromCheckpoint({ ...opts, checkpoint: model, out: join(dir, "m.png") }, db);
  assert.deepEqual(await bytes(m.out), await bytes(a.out));
  await assert.rejects(
    () => sampleFromCheckpoint({ ...opts, checkpoint: model, weights: "params", out: "x.png" }, db),
    /has no 'params' tensors/,
  );
  await db.close();
  await Deno.remove(dir, { recursive: true });
});
