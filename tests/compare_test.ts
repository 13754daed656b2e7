/** Comparison tables (lib/report/compare.ts, format.ts) and `deno task compare` end to end. */
import assert from "node:assert/strict";
import { runScript } from "./helpers/script.ts";
import type { RunRecord } from "../lib/db/mod.ts";
import { lowerIsBetter, METRICS } from "../lib/metric_names.ts";
import { openResultsDb } from "../lib/db/mod.ts";
import { UserError } from "../lib/errors.ts";
import {
  buildComparison,
  collectRunResults,
  flattenConfig,
  loadReferences,
  normalizeDataset,
  type RunResult,
} from "../lib/report/compare.ts";
import { formatNumber, toCsv, toJson, toMarkdown } from "../lib/report/format.ts";
import { CIFAR_RUNS, type Fixture, makeResultsFixture } from "./helpers/results_fixture.ts";

// These tests pick their databases explicitly; a DATABASE_URL in the developer's environment
// (say, the lab's shared server) must neither receive test rows nor change what is tested.
Deno.env.delete("DATABASE_URL");

async function withFixture(
  body: (f: Fixture, results: RunResult[]) => void | Promise<void>,
) {
  const f = await makeResultsFixture();
  try {
    const db = await openResultsDb({ path: f.dbPath });
    let results: RunResult[];
    try {
      const collected = await collectRunResults(db);
      assert.equal(collected.skippedWithoutEvaluations, 1); // the failed checkerboard run
      results = collected.results;
    } finally {
      await db.close();
    }
    await body(f, results);
  } finally {
    await f.cleanup();
  }
}

Deno.test("compare: the checked-in references are the published numbers with their sources", () => {
  const refs = loadReferences();
  const find = (method: string, dataset: string) =>
    refs.find((r) => r.method === method && r.dataset === dataset);
  assert.deepEqual(find("WGAN-GP", "cifar10")?.metrics, { fid: "36.4", is: "7.86" });
  assert.deepEqual(find("SNGAN-DDLS", "cifar10")?.metrics, { fid: "15.42", is: "9.09" });
  assert.deepEqual(find("StyleGAN2-ADA", "cifar10")?.metrics, { fid: "3.26", is: "9.74" });
  assert.deepEqual(find("DRL (T=6)", "cifar10")?.metrics, { fid: "9.58", is: "8.30" });
  assert.deepEqual(find("DRL (T=6)", "celeba64")?.metrics, { fid: "5.98" });
  for (const r of refs) assert.match(r.citation, /arXiv:2012\.08125/);
  assert.match(find("DRL (T=6)", "cifar10")!.citation, /Table 1/);
  assert.ok(find("DRL (T=6)", "celeba64")!.aliases.includes("celeba"));
});

Deno.test("compare: one row per run, sorted by FID, references interleaved, differing config only", () =>
  withFixture((f, results) => {
    const tables = buildComparison(results, loadReferences());
    assert.deepEqual(tables.map((t) => t.dataset), ["8gaussians", "cifar10"]);
    const cifar = tables[1];
    assert.equal(cifar.sortMetric, "fid");
    assert.equal(cifar.lowerIsBetter, true);
    // lr, net.blocks and the seed are equal or ignored; out is a path; only net.ch differs.
    assert.deepEqual(cifar.configColumns, ["net.ch"]);
    assert.deepEqual(cifar.metricColumns, ["fid", "is"]);
    const id = (i: number) => `#${f.cifarIds[i]}`;
    assert.deepEqual(cifar.rows.map((r) => r.label), [
      "StyleGAN2-ADA",
      "DRL (T=6)",
      id(0),
      id(1),
      id(2),
      "SNGAN-DDLS",
      id(3),
      id(4),
      "WGAN-GP",
    ]);
    const first = cifar.rows[2];
    assert.equal(first.kind, "run");
    // The latest evaluation of a name wins over an earlier one (fid 110 was superseded).
    assert.deepEqual(first.metrics.fid, { mean: 10, std: null, n: 1 });
    assert.equal(first.config["net.ch"], "128");
    assert.equal(cifar.rows[0].kind, "reference");
    assert.equal(cifar.rows[0].metrics.is.published, "9.74");
    // No references exist for the 2D data set.
    assert.deepEqual(tables[0].rows.map((r) => r.kind), ["run"]);
    assert.equal(tables[0].sortMetric, "energy_distance");
  }));

Deno.test("compare: per preset over seeds gives mean, sample standard deviation and n", () =>
  withFixture((_f, results) => {
    const [cifar] = buildComparison(results, loadReferences(), {
      groupBy: "preset",
      dataset: "CIFAR-10",
    }).filter((t) => normalizeDataset(t.dataset) === "cifar10");
    const group = (preset: string) =>
      cifar.rows.find((r) => r.kind === "group" && r.label === preset)!;
    const full = group("cifar10");
    assert.deepEqual(full.runIds.length, 3);
    assert.equal(full.metrics.fid.mean, 12);
    assert.equal(full.metrics.fid.std, 2); // sqrt(((10-12)^2 + 0 + (14-12)^2) / 2)
    assert.equal(full.metrics.fid.n, 3);
    assert.ok(Math.abs(full.metrics.is.mean - 8.2) < 1e-12);
    assert.ok(Math.abs(full.metrics.is.std! - 0.2) < 1e-12);
    const small = group("cifar10-small");
    assert.equal(small.metrics.fid.mean, 21);
    assert.ok(Math.abs(small.metrics.fid.std! - Math.SQRT2) < 1e-12);
    // Sorted: DRL 9.58 < cifar10 12 < SNGAN-DDLS 15.42 < cifar10-small 21.
    const labels = cifar.rows.map((r) => r.label);
    assert.ok(labels.indexOf("DRL (T=6)") < labels.indexOf("cifar10"));
    assert.ok(labels.indexOf("cifar10") < labels.indexOf("SNGAN-DDLS"));
    assert.ok(labels.indexOf("SNGAN-DDLS") < labels.indexOf("cifar10-small"));
  }));

Deno.test("compare: a higher-is-better metric sorts descending; an unknown metric is refused", () =>
  withFixture((f, results) => {
    const cifar = buildComparison(results, loadReferences(), { metric: "is" })
      .find((t) => t.dataset === "cifar10")!;
    assert.equal(cifar.lowerIsBetter, false);
    const values = cifar.rows.map((r) => r.metrics.is.mean);
    assert.deepEqual(values, [...values].sort((a, b) => b - a));
    assert.equal(cifar.rows[0].label, "StyleGAN2-ADA"); // IS 9.74
    assert.equal(cifar.rows.at(-1)!.label, `#${f.cifarIds[3]}`); // IS 7.0
    assert.throws(() => buildComparison(results, [], { metric: "fdi" }), (err) => {
      assert.ok(err instanceof UserError);
      assert.match(err.message, /no run has the metric 'fdi'.*fid, is/);
      return true;
    });
  }));

Deno.test("compare: metric directions come from the one table of names (min_mode_share: higher)", () => {
  // The bug this guards: compare kept its own list, without min_mode_share, and ranked the
  // worst 8 Gaussians run first.
  const run = (id: number, share: number) => ({
    run: {
      id,
      uid: `u${id}`,
      task: "toy2d",
      preset: "8gaussians",
      config: { dataset: "8gaussians" },
      status: "completed",
      createdAt: "2026-01-01T00:00:00Z",
    } as unknown as RunRecord,
    dataset: "8gaussians",
    metrics: { min_mode_share: share },
  });
  const table = buildComparison([run(1, 0.02), run(2, 0.11), run(3, 0.07)], [], {
    metric: "min_mode_share",
  })[0];
  assert.equal(table.lowerIsBetter, false);
  assert.deepEqual(table.rows.map((r) => r.label), ["#2", "#3", "#1"]);
  for (const [name, info] of Object.entries(METRICS)) {
    assert.equal(lowerIsBetter(name), info.direction !== "higher", name);
  }
  assert.equal(lowerIsBetter("ratio_iters_per_s"), false);
  assert.equal(lowerIsBetter("train_iter.peak_tensor_bytes"), true);
});

Deno.test("compare: references of an asked-for data set show even without runs (CelebA aliases)", () => {
  const [table] = buildComparison([], loadReferences(), { dataset: "celeba" });
  assert.deepEqual(table.rows.map((r) => [r.kind, r.label, r.metrics.fid.published]), [
    ["reference", "DRL (T=6)", "5.98"],
  ]);
  assert.match(toMarkdown([table]), /No measured runs of this data set yet/);
});

Deno.test("compare: markdown, CSV and JSON renderings", () =>
  withFixture((f, results) => {
    const tables = buildComparison(results, loadReferences(), { dataset: "cifar10" })
      .filter((t) => t.dataset === "cifar10");
    const md = toMarkdown(tables);
    const lines = md.split("\n");
    assert.ok(lines.includes("## cifar10 (sorted by fid, lower is better)"));
    assert.ok(lines.includes("| run | preset | net.ch | fid | is |"));
    assert.ok(lines.includes("| --- | --- | --- | ---: | ---: |"));
    assert.ok(lines.includes(`| #${f.cifarIds[1]} | cifar10 | 128 | 12 | 8.2 |`));
    assert.ok(lines.includes("| *DRL (T=6) (reference [1])* |  |  | 9.58 | 8.30 |"));
    assert.ok(lines.some((l) => /^\[1\] .*arXiv:2012\.08125, Table 1/.test(l)));

    const grouped = buildComparison(results, loadReferences(), { groupBy: "preset" })
      .filter((t) => t.dataset === "cifar10");
    assert.ok(
      toMarkdown(grouped).split("\n").includes("| cifar10 | 3 | 128 | 12 ± 2 | 8.2 ± 0.2 |"),
    );

    const csv = toCsv(grouped).trim().split("\n");
    const header = csv[0].split(",");
    const groupLine = csv.find((l) => l.startsWith("cifar10,group,cifar10,"))!.split(",");
    const col = (name: string) => groupLine[header.indexOf(name)];
    assert.equal(col("fid_mean"), "12");
    assert.equal(col("fid_std"), "2");
    assert.equal(col("fid_n"), "3");
    assert.equal(col("is_mean"), "8.2");
    assert.equal(csv.length, 1 + CIFAR_RUNS.length - 3 + 4); // header, 2 groups, 4 references

    const json = JSON.parse(toJson(grouped));
    assert.equal(json.tables[0].rows.length, 6);
    assert.equal(formatNumber(0.000012345), "1.23e-5");
    assert.equal(formatNumber(9.5812), "9.581");
    assert.equal(formatNumber(NaN), "NaN");
  }));

Deno.test("compare: config flattening keeps nested keys and JSON-encodes leaves", () => {
  assert.deepEqual(flattenConfig({ a: 1, b: { c: "x", d: [1, 2] }, e: null }), {
    a: "1",
    "b.c": "x",
    "b.d": "[1,2]",
    e: "null",
  });
});

const runCompare = (args: string[]) => runScript("compare.ts", args);

Deno.test("compare CLI: tables from a database file; bad input exits 2 with one line", () =>
  withFixture(async (f) => {
    const md = await runCompare(["--db", f.dbPath, "--dataset", "cifar10", "--group-by", "preset"]);
    assert.equal(md.code, 0, md.stderr);
    assert.ok(md.stdout.includes("| cifar10 | 3 | 128 | 12 ± 2 | 8.2 ± 0.2 |"));
    assert.ok(md.stdout.includes("| *WGAN-GP (reference [1])* |  |  | 36.4 | 7.86 |"));
    assert.doesNotMatch(md.stdout, /8gaussians/);

    const json = await runCompare(["--db", f.dbPath, "--format", "json", "--metric", "is"]);
    assert.equal(json.code, 0, json.stderr);
    assert.equal(
      JSON.parse(json.stdout).tables.find((t: { dataset: string }) => t.dataset === "cifar10")
        .sortMetric,
      "is",
    );

    const none = await runCompare(["--db", f.dbPath, "--task", "sample"]);
    assert.equal(none.code, 0, none.stderr);
    assert.match(none.stdout, /^No evaluated runs\./);

    const out = `${f.dir}/table.csv`;
    const csv = await runCompare(["--db", f.dbPath, "--format", "csv", "--out", out]);
    assert.equal(csv.code, 0, csv.stderr);
    assert.match(await Deno.readTextFile(out), /^dataset,kind,label,preset,run_ids,/);

    for (
      const [args, message] of [
        [["--db", f.dbPath, "--format", "pdf"], /argument 'pdf' is invalid/],
        [["--db", f.dbPath, "--metric", "nope"], /no run has the metric 'nope'/],
        [["--db", `${f.dir}/absent.db`], /there is no results database at .*absent\.db/],
      ] as const
    ) {
      const bad = await runCompare([...args]);
      assert.equal(bad.code, 2, bad.stderr);
      assert.match(bad.stderr, message);
      assert.doesNotMatch(bad.stderr, /\n\s+at /); // no stack trace
    }
  }));
