/**
 * The self-contained HTML report: comparison tables, each run's sample grids (inlined as data
 * URIs) and SVG curves of its logged metrics per noise level. No scripts, no network: the file
 * opens anywhere, offline, and can be mailed or archived as is.
 */
import type { MetricName } from "../metric_names.ts";
import { basename, extname, isAbsolute, join } from "node:path";
import { Buffer } from "node:buffer";
import type { ResultsDb, RunRecord } from "../db/mod.ts";
import { type ComparisonTable, datasetOfRun } from "./compare.ts";
import { formatNumber, sortNote, tableLayout } from "./format.ts";
import { downsample, escapeXml, lineChartSvg, type Series } from "./svg_chart.ts";
import { SWEEP_STYLE } from "./sweep_page.ts";

const IMAGE_TYPES: Record<string, string> = {
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".webp": "image/webp",
  ".svg": "image/svg+xml",
};

/** Larger pictures are listed, not inlined, so the report stays a reasonable size. */
const MAX_IMAGE_BYTES = 8 * 1024 * 1024;
const MAX_POINTS_PER_LINE = 400;
const MAX_CHARTS_PER_RUN = 12;

export interface ReportImage {
  kind: string;
  path: string;
  step: number | null;
  /** data: URI, or null when the file could not be inlined (see note). */
  dataUri: string | null;
  note?: string;
}

export interface RunDetails {
  run: RunRecord;
  evaluations: { name: string; value: number; n: number | null }[];
  images: ReportImage[];
  /** SVG charts, one per metric name. */
  charts: string[];
}

/** The places an artifact path may point to: as stored, or inside the run's folder. */
function candidatePaths(path: string, run: RunRecord): string[] {
  const paths = [path];
  if (run.dir && !isAbsolute(path)) paths.push(join(run.dir, path));
  if (run.dir) paths.push(join(run.dir, basename(path)));
  return paths;
}

async function inlineImage(path: string, run: RunRecord, mime: string): Promise<
  { dataUri: string } | { note: string }
> {
  for (const candidate of candidatePaths(path, run)) {
    let info: Deno.FileInfo;
    try {
      info = await Deno.stat(candidate);
    } catch {
      continue;
    }
    if (!info.isFile) continue;
    if (info.size > MAX_IMAGE_BYTES) {
      return { note: `not inlined: ${(info.size / 2 ** 20).toFixed(1)} MiB is too large` };
    }
    const bytes = await Deno.readFile(candidate);
    return { dataUri: `data:${mime};base64,${Buffer.from(bytes).toString("base64")}` };
  }
  return { note: "file not found on this machine" };
}

/** Sample grids first (they are what a reader looks for), then other pictures. */
function imageRank(kind: string): number {
  return kind === "grid" ? 0 : kind === "samples" ? 1 : 2;
}

/** Chart order: the training metrics in the order of the table of names, then the rest. */
const CHART_ORDER: readonly MetricName[] = ["loss", "f_pos", "f_neg", "acceptance", "displacement"];

function metricRank(name: string): number {
  const i = CHART_ORDER.indexOf(name as MetricName);
  return i === -1 ? CHART_ORDER.length : i;
}

export async function gatherRunDetails(db: ResultsDb, runIds: number[]): Promise<RunDetails[]> {
  const details: RunDetails[] = [];
  for (const id of runIds) {
    const run = await db.getRun(id);
    if (!run) continue;
    const images: ReportImage[] = [];
    const artifacts = (await db.artifacts(id))
      .filter((a) => IMAGE_TYPES[extname(a.path).toLowerCase()] !== undefined)
      .sort((a, b) => imageRank(a.kind) - imageRank(b.kind));
    for (const a of artifacts) {
      const inlined = await inlineImage(a.path, run, IMAGE_TYPES[extname(a.path).toLowerCase()]);
      images.push({
        kind: a.kind,
        path: a.path,
        step: a.step ?? null,
        dataUri: "dataUri" in inlined ? inlined.dataUri : null,
        note: "note" in inlined ? inlined.note : undefined,
      });
    }

    const byName = new Map<string, Map<number | null, Array<[number, number]>>>();
    for (const m of await db.metrics(id)) {
      const levels = byName.get(m.name) ?? new Map();
      byName.set(m.name, levels);
      const points = levels.get(m.level) ?? [];
      levels.set(m.level, points);
      points.push([m.step, m.value]);
    }
    const names = [...byName.keys()].sort((a, b) =>
      metricRank(a) - metricRank(b) || a.localeCompare(b)
    );
    const charts = names.slice(0, MAX_CHARTS_PER_RUN).map((name) => {
      const levels = [...byName.get(name)!].sort(([a], [b]) =>
        a === null ? -1 : b === null ? 1 : a - b
      );
      const series: Series[] = levels.map(([level, points]) => ({
        label: level === null ? "all levels" : `level ${level}`,
        points: downsample(points, MAX_POINTS_PER_LINE),
      }));
      const longest = Math.max(...levels.map(([, p]) => p.length));
      const averaged = longest > MAX_POINTS_PER_LINE
        ? ` (means over ${Math.ceil(longest / MAX_POINTS_PER_LINE)} steps)`
        : "";
      return lineChartSvg(series, {
        title: `${name} per noise level${averaged}`,
        xLabel: "training step",
        yLabel: name,
      });
    });
    const evaluations = (await db.evaluations(id)).map((e) => ({
      name: e.name,
      value: e.value,
      n: e.n ?? null,
    }));
    details.push({ run, evaluations, images, charts });
  }
  return details;
}

const h = escapeXml;

function renderTable(t: ComparisonTable): string {
  const layout = tableLayout(t);
  const metricStart = layout.header.length - t.metricColumns.length;
  const head = layout.header.map((c, i) =>
    `<th${i >= metricStart ? ' class="num"' : ""}>${h(c)}</th>`
  ).join("");
  const body = t.rows.map((row) => {
    const cells = layout.cells(row).map((c, i) =>
      `<td${i >= metricStart ? ' class="num"' : ""}>${h(c)}</td>`
    ).join("");
    const target = row.kind === "run" ? ` id="row-${row.runIds[0]}"` : "";
    return `<tr class="${row.kind}"${target}>${cells}</tr>`;
  }).join("\n");
  const citations = t.citations.map((c, i) => `<li value="${i + 1}">${h(c)}</li>`).join("");
  const sorted = sortNote(t);
  return [
    `<h2>${h(t.dataset)}</h2>`,
    sorted ? `<p class="note">${h(sorted)}; references in italics.</p>` : "",
    `<div class="scroll"><table><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody>` +
    `</table></div>`,
    citations ? `<ol class="citations">${citations}</ol>` : "",
  ].join("\n");
}

function renderRun(d: RunDetails): string {
  const r = d.run;
  const facts: [string, string][] = [
    ["data set", datasetOfRun(r)],
    ["preset", r.preset],
    ["status", r.status + (r.message ? ` (${r.message})` : "")],
    ["seed", String(r.seed)],
    ["backend", `${r.backend} (${r.adapter})`],
    ["git commit", r.gitCommit ?? "unknown"],
    ["created", r.createdAt],
    ["host", r.host ?? ""],
    ["folder", r.dir ?? ""],
  ];
  const evals = d.evaluations.map((e) =>
    `<li>${h(e.name)} = ${h(formatNumber(e.value))}${e.n === null ? "" : ` (n=${e.n})`}</li>`
  ).join("");
  const images = d.images.map((img) => {
    const caption = `${img.kind}${img.step === null ? "" : ` at step ${img.step}`}: ${img.path}`;
    return img.dataUri
      ? `<figure><img src="${img.dataUri}" alt="${h(caption)}"><figcaption>${h(caption)}` +
        `</figcaption></figure>`
      : `<p class="note">${h(caption)} (${h(img.note ?? "")})</p>`;
  }).join("\n");
  return [
    `<section class="run" id="run-${r.id}">`,
    `<h3>Run #${r.id}: ${h(r.preset)}</h3>`,
    `<dl>${facts.map(([k, v]) => `<dt>${h(k)}</dt><dd>${h(v)}</dd>`).join("")}</dl>`,
    evals ? `<ul class="evals">${evals}</ul>` : "",
    images ? `<div class="images">${images}</div>` : `<p class="note">No sample pictures.</p>`,
    d.charts.length
      ? `<div class="charts">${d.charts.join("\n")}</div>`
      : `<p class="note">No training metrics logged.</p>`,
    `</section>`,
  ].join("\n");
}

const STYLE = `
body { font-family: sans-serif; margin: 24px; color: #222; background: #fff; }
table { border-collapse: collapse; margin: 8px 0; }
.scroll { overflow-x: auto; }
th, td { border: 1px solid #ccc; padding: 3px 8px; font-size: 13px; }
th { background: #f3f3f3; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.reference td { font-style: italic; color: #555; background: #fafafa; }
.note { color: #666; font-size: 13px; }
.citations { font-size: 12px; color: #555; }
section.run { border-top: 2px solid #ddd; margin-top: 24px; padding-top: 8px; }
dl { display: grid; grid-template-columns: max-content auto; gap: 2px 12px; font-size: 13px; }
dt { font-weight: bold; }
dd { margin: 0; }
.images, .charts { display: flex; flex-wrap: wrap; gap: 12px; align-items: flex-start; }
figure { margin: 0; }
figure img { min-width: 192px; max-width: 520px; image-rendering: pixelated; border: 1px solid #ccc; }
figcaption { font-size: 12px; color: #555; }
`;

export function renderReport(
  tables: ComparisonTable[],
  details: RunDetails[],
  meta: {
    source: string;
    generatedAt?: string;
    /** The sweep's heat maps (sweep_page.ts renderSweepHeatmaps), shown after the tables. */
    sweepSection?: string;
  },
): string {
  const generated = meta.generatedAt ?? new Date().toISOString();
  return [
    "<!DOCTYPE html>",
    '<html lang="en"><head><meta charset="utf-8">',
    "<title>DRL results report</title>",
    `<style>${STYLE}${meta.sweepSection ? SWEEP_STYLE : ""}</style></head><body>`,
    "<h1>DRL results report</h1>",
    `<p class="note">From ${h(meta.source)}, generated ${h(generated)}.</p>`,
    tables.length ? tables.map(renderTable).join("\n") : `<p>No evaluated runs.</p>`,
    meta.sweepSection ?? "",
    details.length ? "<h2>Runs</h2>" : "",
    ...details.map(renderRun),
    "</body></html>",
    "",
  ].join("\n");
}
