/**
 * The sweep page of the HTML report (lib/report/sweep_page.ts), built from in-memory runs: no
 * database needed, since the heat maps are a pure function of the runs' settings and metrics.
 */
import assert from "node:assert/strict";
import { renderReport } from "../lib/report/html.ts";
import {
  BEST_RGB,
  gridAxes,
  renderSweepHeatmaps,
  type SweepRun,
} from "../lib/report/sweep_page.ts";

// A 2 x 2 grid, given in an order that is not the sorted one ("0.001" > "0.0003", "10" < "5" as
// strings), so the test sees the spec's order is kept.
const AXES = gridAxes({ lr: [0.001, 0.0003], K: [5, 10] });

/** Per setting, the final values of its seeds; one setting has a single seed (n = 1). */
const SEEDS: [lr: string, K: string, fid: number[], is: number[]][] = [
  ["0.0003", "10", [15], [8]],
  ["0.001", "5", [10, 12], [7, 7]],
  ["0.0003", "5", [20, 22], [9, 9.5]], // worst FID, best IS
  ["0.001", "10", [8, 9], [6, 6.5]], // best FID, worst IS
];

const RUNS: SweepRun[] = SEEDS.flatMap(([lr, K, fid, is]) =>
  fid.map((f, i) => ({ setting: { lr, K }, metrics: { fid: f, is: is[i] } }))
);

interface ParsedCell {
  row: string;
  col: string;
  mean: number;
  bg: string;
  best: boolean;
  text: string;
}

/** The cells of the heat map of `metric`, in document order (rows top down, columns left right). */
function cellsOf(html: string, metric: string): ParsedCell[] {
  const table = html.match(
    new RegExp(`<table class="heatmap" data-metric="${metric}">([\\s\\S]*?)</table>`),
  );
  assert.ok(table, `no heat map for ${metric}`);
  return [
    ...table[1].matchAll(
      /<td class="hm-cell( best)?" data-row="([^"]*)" data-col="([^"]*)" data-mean="([^"]*)" style="background:(#[0-9a-f]{6})[^"]*"[^>]*>(.*?)<\/td>/g,
    ),
  ].map((m) => ({
    best: m[1] !== undefined,
    row: m[2],
    col: m[3],
    mean: Number(m[4]),
    bg: m[5],
    text: m[6].replace(/<[^>]+>/g, " ").replace(/\s+/g, " ").trim(),
  }));
}

const hexOf = (rgb: readonly number[]) =>
  "#" + rgb.map((c) => c.toString(16).padStart(2, "0")).join("");

/** Relative darkness of a background: the ramp goes from light (worst) to dark (best). */
const lightness = (bg: string) =>
  [1, 3, 5].reduce((a, i) => a + parseInt(bg.slice(i, i + 2), 16), 0);

Deno.test("sweep page: a 2x2 heat map per metric, means and n per cell, the best marked", () => {
  const html = renderSweepHeatmaps(AXES, RUNS, { metrics: ["fid", "is"] });

  for (const metric of ["fid", "is"]) {
    const cells = cellsOf(html, metric);
    // Rows lr, columns K, both in the spec's order.
    assert.deepEqual(cells.map((c) => [c.row, c.col]), [
      ["0.001", "5"],
      ["0.001", "10"],
      ["0.0003", "5"],
      ["0.0003", "10"],
    ]);
    assert.match(html, /<th>lr \\ K<\/th><th class="num">5<\/th><th class="num">10<\/th>/);
  }

  const fid = cellsOf(html, "fid");
  assert.deepEqual(fid.map((c) => c.mean), [11, 8.5, 21, 15]);
  assert.deepEqual(fid.map((c) => c.text), ["11 n=2", "★ 8.5 n=2", "21 n=2", "15 n=1"]);
  const is = cellsOf(html, "is");
  assert.deepEqual(is.map((c) => c.mean), [7, 6.25, 9.25, 8]);
  assert.deepEqual(is.map((c) => c.text), ["7 n=2", "6.25 n=2", "★ 9.25 n=2", "8 n=1"]);

  // FID: lower is better, so the smallest mean is the one marked cell, in the darkest colour, and
  // the largest the lightest. IS: the other way round. (Inverting either direction fails here.)
  const check = (cells: ParsedCell[], bestAt: number, worstAt: number) => {
    assert.deepEqual(cells.map((c) => c.best), cells.map((_, i) => i === bestAt));
    assert.equal(cells[bestAt].bg, hexOf(BEST_RGB));
    assert.equal(cells[worstAt].bg, "#f7fbff");
    // Between them the colour follows the value: darker is better throughout.
    const byGoodness = [...cells].sort((a, b) => lightness(a.bg) - lightness(b.bg));
    return byGoodness.map((c) => c.mean);
  };
  assert.deepEqual(check(fid, 1, 2), [8.5, 11, 15, 21]);
  assert.deepEqual(check(is, 2, 1), [9.25, 8, 7, 6.25]);
  assert.match(html, /fid <span class="note">\(lower is better\)/);
  assert.match(html, /is <span class="note">\(higher is better\)/);
});

Deno.test("sweep page: a missing setting, one axis, and more than two axes", () => {
  // A setting without a completed run is a grey, empty cell, not left out.
  const partial = renderSweepHeatmaps(AXES, RUNS.filter((r) => r.setting.lr !== "0.0003"));
  assert.equal(cellsOf(partial, "fid").length, 2);
  assert.equal(
    (partial.match(/data-row="0.0003" data-col="[^"]*" style="[^"]*">—</g) ?? []).length,
    4,
  );

  // One varying axis (the other fixed at one value): a one-row map, the fixed axis named.
  const one = renderSweepHeatmaps(
    gridAxes({ lr: [0.001], K: [5, 10] }),
    [
      { setting: { lr: "0.001", K: "5" }, metrics: { fid: 3 } },
      { setting: { lr: "0.001", K: "10" }, metrics: { fid: 2 } },
    ],
  );
  assert.deepEqual(cellsOf(one, "fid").map((c) => [c.col, c.mean, c.best]), [
    ["5", 3, false],
    ["10", 2, true],
  ]);
  assert.match(one, /fixed: lr=0\.001/);

  // Three axes: one lr x K map per value of T, on one colour scale (the best of all marked once).
  const three = renderSweepHeatmaps(
    gridAxes({ lr: [1, 2], K: [5, 10], T: [2, 6] }),
    [1, 2].flatMap((lr) =>
      [5, 10].flatMap((K) =>
        [2, 6].map((T) => ({
          setting: { lr: String(lr), K: String(K), T: String(T) },
          metrics: { fid: lr * K * T },
        }))
      )
    ),
  );
  assert.equal((three.match(/<table class="heatmap" data-metric="fid">/g) ?? []).length, 2);
  assert.match(three, /<figcaption>T=2<\/figcaption>[\s\S]*<figcaption>T=6<\/figcaption>/);
  assert.match(three, /one map per T/);
  assert.equal((three.match(/class="hm-cell best"/g) ?? []).length, 1);
  assert.match(three, /class="hm-cell best" data-row="1" data-col="5" data-mean="10"/);
});

Deno.test("sweep page: inside the self-contained report, after the table", () => {
  const section = renderSweepHeatmaps(AXES, RUNS);
  const page = renderReport([], [], { source: "memory", sweepSection: section });
  assert.ok(page.includes(section));
  assert.match(page, /<style>[\s\S]*table\.heatmap[\s\S]*<\/style><\/head>/);
  assert.doesNotMatch(page, /<script|<link|src="|https?:\/\//);
  // Without a sweep the report is as before: no heat-map styles.
  assert.doesNotMatch(renderReport([], [], { source: "memory" }), /heatmap/);
});
