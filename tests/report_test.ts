/**
 * The HTML report (lib/report/html.ts, svg_chart.ts): self-contained page, charts and inlined
 * sample grids; rendered in headless Chromium, whose screenshot must show the chart lines and
 * the grid. The Chromium test is ignored when no chromium is installed (apt-get install chromium).
 */
import assert from "node:assert/strict";
import { decode } from "fast-png";
import { openResultsDb } from "../lib/db/mod.ts";
import { buildComparison, collectRunResults, loadReferences } from "../lib/report/compare.ts";
import { gatherRunDetails, renderReport } from "../lib/report/html.ts";
import {
  downsample,
  lineChartSvg,
  niceTicks,
  PALETTE,
  seriesColour,
} from "../lib/report/svg_chart.ts";
import { type Fixture, GRID_RGB, makeResultsFixture } from "./helpers/results_fixture.ts";
import { testNeeding } from "./helpers/needs.ts";
import { findChromium } from "./helpers/chromium.ts";

// These tests pick their databases explicitly; a DATABASE_URL in the developer's environment
// (say, the lab's shared server) must neither receive test rows nor change what is tested.
Deno.env.delete("DATABASE_URL");

Deno.test("svg chart: one path per series in palette colours, gaps at non-finite values", () => {
  const svg = lineChartSvg([
    { label: "level 0", points: [[0, 1], [1, 2], [2, NaN], [3, 4], [4, 5]] },
    { label: "level <1>", points: [[0, 3], [4, 3]] },
  ], { title: "loss & more", xLabel: "step" });
  assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  const paths = [...svg.matchAll(/<path d="([^"]+)" fill="none" stroke="(#[0-9a-f]{6})"/g)];
  assert.equal(paths.length, 2);
  assert.equal(paths[0][2], PALETTE[0]);
  assert.equal(paths[1][2], PALETTE[1]);
  // The NaN at x=2 splits the first line into two segments.
  assert.equal(paths[0][1].match(/M/g)?.length, 2);
  assert.equal(paths[0][1].match(/L/g)?.length, 2);
  // Text is escaped (the title and a label carry XML metacharacters).
  assert.ok(svg.includes("loss &amp; more"));
  assert.ok(svg.includes("level &lt;1&gt;"));
  // The lowest point sits on the plot's bottom edge and the highest on its top edge.
  const ys = [...paths[0][1].matchAll(/[ML][\d.]+,([\d.]+)/g)].map((m) => Number(m[1]));
  assert.equal(Math.max(...ys), 300 - 42); // height - bottom margin
  assert.equal(Math.min(...ys), 30); // top margin
});

Deno.test("svg chart: many levels get a sequential ramp; a lone point still shows", () => {
  assert.equal(seriesColour(3, 10), PALETTE[3]);
  assert.equal(seriesColour(0, 16), "#440154"); // viridis ends
  assert.equal(seriesColour(15, 16), "#fde725");
  const colours = Array.from({ length: 16 }, (_, i) => seriesColour(i, 16));
  assert.equal(new Set(colours).size, 16);
  const svg = lineChartSvg(
    Array.from({ length: 16 }, (_, level) => ({ label: `level ${level}`, points: [[20, level]] })),
    { title: "one logged step", xLabel: "step" },
  );
  assert.equal((svg.match(/<circle /g) ?? []).length, 16);
  // Every legend row stays inside the 300 px tall chart.
  const legendYs = [...svg.matchAll(/<line x1="410" x2="428" y1="([\d.]+)"/g)].map((m) => +m[1]);
  assert.equal(legendYs.length, 16);
  assert.ok(Math.max(...legendYs) < 300 - 42, `legend runs to y=${Math.max(...legendYs)}`);
});

Deno.test("svg chart: nice ticks and bucket-mean downsampling", () => {
  assert.deepEqual(niceTicks(0, 1), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assert.deepEqual(niceTicks(3, 97), [20, 40, 60, 80]);
  assert.deepEqual(niceTicks(-2.5, 2.5), [-2, -1, 0, 1, 2]);
  const points = Array.from({ length: 10 }, (_, i) => [i, i * 2] as [number, number]);
  assert.deepEqual(downsample(points, 5), [[0.5, 1], [2.5, 5], [4.5, 9], [6.5, 13], [8.5, 17]]);
  assert.equal(downsample(points, 20).length, 10);
  assert.deepEqual(downsample([[0, NaN], [1, 4], [2, NaN], [3, NaN]], 2), [[0.5, 4], [2.5, NaN]]);
});

async function renderFixture(f: Fixture): Promise<string> {
  const db = await openResultsDb({ path: f.dbPath });
  try {
    const { results } = await collectRunResults(db, { dataset: "cifar10" });
    const tables = buildComparison(results, loadReferences(), { dataset: "cifar10" });
    const runIds = tables.flatMap((t) => t.rows.flatMap((r) => r.runIds));
    return renderReport(tables, await gatherRunDetails(db, runIds), { source: db.location });
  } finally {
    await db.close();
  }
}

Deno.test("report: a self-contained page with tables, inlined grids and per-level curves", async () => {
  const f = await makeResultsFixture();
  try {
    const html = await renderFixture(f);
    assert.match(html, /^<!DOCTYPE html>/);
    // Nothing is fetched: no external scripts, styles or images.
    assert.doesNotMatch(html, /<script|<link|src="(?!data:)/);
    assert.doesNotMatch(html.replaceAll('xmlns="http://www.w3.org/2000/svg"', ""), /https?:\/\//);
    // The grid is the fixture's PNG, inlined byte for byte.
    const png = await Deno.readFile(`${f.dir}/runs/cifar10-0/grid.png`);
    const b64 = btoa(String.fromCharCode(...png));
    assert.ok(html.includes(`src="data:image/png;base64,${b64}"`));
    // A missing picture is named, not silently dropped.
    assert.match(html, /missing\.png \(file not found on this machine\)/);
    // One chart per logged metric of the first run, one line per level (+ the run-wide line).
    assert.equal((html.match(/<svg /g) ?? []).length, 2);
    assert.ok(html.includes("loss per noise level"));
    assert.ok(html.includes("f_pos per noise level"));
    for (const label of ["all levels", "level 0", "level 1", "level 2"]) {
      assert.ok(html.includes(`>${label}<`));
    }
    // The tables: five measured rows and four references.
    assert.equal((html.match(/<tr class="run"/g) ?? []).length, 5);
    assert.equal((html.match(/<tr class="reference"/g) ?? []).length, 4);
    assert.ok(html.includes("arXiv:2012.08125"));
  } finally {
    await f.cleanup();
  }
});

const CHROMIUM = await findChromium();

function countPixels(
  png: { data: ArrayLike<number>; channels: number },
  rgb: readonly number[],
  tolerance = 6,
): number {
  let n = 0;
  for (let i = 0; i < png.data.length; i += png.channels) {
    if (
      Math.abs(png.data[i] - rgb[0]) <= tolerance &&
      Math.abs(png.data[i + 1] - rgb[1]) <= tolerance &&
      Math.abs(png.data[i + 2] - rgb[2]) <= tolerance
    ) n++;
  }
  return n;
}

function hexRgb(hex: string): number[] {
  return [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
}

testNeeding({
  what: "chromium",
  present: CHROMIUM !== null,
  install: "apt-get install -y chromium",
}, {
  name: "report: renders in headless Chromium with charts and grids on screen",
  async fn() {
    const f = await makeResultsFixture();
    try {
      const htmlPath = `${f.dir}/report.html`;
      await Deno.writeTextFile(htmlPath, await renderFixture(f));
      const shot = `${f.dir}/shot.png`;
      const out = await new Deno.Command(CHROMIUM!, {
        args: [
          "--headless",
          "--no-sandbox",
          "--disable-gpu",
          "--disable-background-networking",
          "--disable-component-update",
          "--disable-sync",
          "--no-first-run",
          `--user-data-dir=${f.dir}/chromium-profile`,
          `--screenshot=${shot}`,
          "--window-size=1200,1600",
          `file://${htmlPath}`,
        ],
        stdout: "piped",
        stderr: "piped",
        signal: AbortSignal.timeout(60_000),
      }).output();
      assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
      const png = decode(await Deno.readFile(shot));
      assert.equal(png.width, 1200);
      assert.equal(png.height, 1600);
      const total = png.width * png.height;

      // Not blank: a good share of non-white pixels.
      const white = countPixels(png, [255, 255, 255], 3);
      assert.ok(total - white > total * 0.03, `only ${total - white} non-white pixels`);
      // The grid: magenta squares, a quarter or more of the (at least 192 px wide) image.
      const magenta = countPixels(png, GRID_RGB, 10);
      assert.ok(magenta > 192 * 192 / 4, `grid not on screen (${magenta} magenta pixels)`);
      // The charts: every level's line colour is there, each over many pixels.
      for (const colour of PALETTE.slice(0, 4)) {
        const n = countPixels(png, hexRgb(colour));
        assert.ok(n > 300, `chart line ${colour} not on screen (${n} pixels)`);
      }
      // ...and a colour no series uses is not (the count above means something).
      assert.equal(countPixels(png, hexRgb(PALETTE[9]), 2), 0);
    } finally {
      await f.cleanup();
    }
  },
});
