/**
 * The sweep part of the HTML report (`deno task compare --sweep ID --format html`): one heat map
 * per final metric over the sweep's grid axes, each cell the mean over the setting's seeds with
 * its n. Plain HTML tables with inline colours, like the rest of the report: no scripts, so the
 * page stays self-contained and still reads when printed or opened offline.
 *
 * The cells come from the runs' grid settings (sweep_jobs.setting), not from the comparison
 * table's rows: the table may be grouped otherwise (--group-by) and names config paths, while the
 * axes are the spec's grid keys in the order and with the values the user gave.
 */
import { lowerIsBetter, metricInfo } from "../metric_names.ts";
import { formatNumber } from "./format.ts";
import { escapeXml as h } from "./svg_chart.ts";

export interface SweepAxis {
  key: string;
  /** As the sweep's settings spell them (String(value) of the spec's grid). */
  values: string[];
}

/** One completed run of the sweep: its grid setting and final metrics. */
export interface SweepRun {
  setting: Record<string, string>;
  metrics: Record<string, number>;
}

/** The axes of a spec's grid, in the spec's order (lib/sweep/spec.ts gridSettings spells them). */
export function gridAxes(grid: Record<string, (string | number | boolean)[]>): SweepAxis[] {
  return Object.entries(grid).map(([key, values]) => ({ key, values: values.map(String) }));
}

interface Cell {
  mean: number;
  n: number;
  std: number | null;
}

/**
 * Light for the worst value, dark for the best: one sequential ramp (not red-green), so the best
 * cell reads at a glance for colour-blind readers and in greyscale print too.
 */
const WORST_RGB = [0xf7, 0xfb, 0xff] as const;
export const BEST_RGB = [0x08, 0x30, 0x6b] as const;
const NO_VALUE_BG = "#e6e6e6";

function hex(rgb: readonly number[]): string {
  return "#" + rgb.map((c) => Math.round(c).toString(16).padStart(2, "0")).join("");
}

/** t = 0 worst, 1 best. */
function ramp(t: number): { bg: string; fg: string } {
  const rgb = WORST_RGB.map((w, i) => w + (BEST_RGB[i] - w) * t);
  return { bg: hex(rgb), fg: t > 0.55 ? "#fff" : "#222" };
}

function aggregate(values: number[]): Cell {
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const std = n < 2 ? null : Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1));
  return { mean, n, std };
}

const settingKey = (axes: SweepAxis[], s: Record<string, string>) =>
  JSON.stringify(axes.map((a) => s[a.key] ?? ""));

function combinations(axes: SweepAxis[]): Record<string, string>[] {
  let out: Record<string, string>[] = [{}];
  for (const a of axes) out = out.flatMap((s) => a.values.map((v) => ({ ...s, [a.key]: v })));
  return out;
}

function renderMap(
  metric: string,
  cells: Map<string, Cell>,
  axes: SweepAxis[],
  rowAxis: SweepAxis | null,
  colAxis: SweepAxis,
  fixed: Record<string, string>,
  scale: { best: number; worst: number },
): string {
  const rows = rowAxis ? rowAxis.values : [""];
  const head = `<tr><th>${rowAxis ? `${h(rowAxis.key)} \\ ${h(colAxis.key)}` : h(colAxis.key)}` +
    `</th>${colAxis.values.map((v) => `<th class="num">${h(v)}</th>`).join("")}</tr>`;
  const body = rows.map((rv) => {
    const tds = colAxis.values.map((cv) => {
      const setting = { ...fixed, ...(rowAxis ? { [rowAxis.key]: rv } : {}), [colAxis.key]: cv };
      const cell = cells.get(settingKey(axes, setting));
      const where = `data-row="${h(rv)}" data-col="${h(cv)}"`;
      if (!cell) return `<td class="hm-cell" ${where} style="background:${NO_VALUE_BG}">—</td>`;
      const finite = Number.isFinite(cell.mean);
      // The one best setting is marked by a class and a star, not by colour alone.
      const best = finite && cell.mean === scale.best;
      const span = scale.worst - scale.best;
      const t = !finite ? null : span === 0 ? 1 : (scale.worst - cell.mean) / span;
      const { bg, fg } = t === null ? { bg: NO_VALUE_BG, fg: "#222" } : ramp(t);
      const tip = `${metric} = ${formatNumber(cell.mean)}` +
        (cell.std === null ? "" : ` ± ${formatNumber(cell.std)}`) + ` over ${cell.n} seed(s)`;
      return `<td class="hm-cell${best ? " best" : ""}" ${where} data-mean="${cell.mean}" ` +
        `style="background:${bg};color:${fg}" title="${h(tip)}">` +
        `<span class="v">${best ? "★ " : ""}${h(formatNumber(cell.mean))}</span>` +
        `<span class="n">n=${cell.n}</span></td>`;
    }).join("");
    return `<tr>${rowAxis ? `<th>${h(rv)}</th>` : "<th></th>"}${tds}</tr>`;
  }).join("\n");
  return `<table class="heatmap" data-metric="${h(metric)}"><thead>${head}</thead>` +
    `<tbody>\n${body}\n</tbody></table>`;
}

/**
 * The heat maps of a sweep as an HTML fragment (with `SWEEP_STYLE` for its classes). Axes with a
 * single value are constant and only named; of the varying ones the first gives the rows and the
 * second the columns (one axis: a one-row map), and each combination of any further axes gets its
 * own map, so every setting shows. Each metric's colours span all of its maps, so they compare.
 */
export function renderSweepHeatmaps(
  axes: SweepAxis[],
  runs: SweepRun[],
  opts: { metrics?: string[] } = {},
): string {
  const varying = axes.filter((a) => a.values.length > 1);
  const constant = axes.filter((a) => a.values.length === 1);
  const out = [`<section class="sweep"><h2>Sweep heat maps</h2>`];
  const constNote = constant.length
    ? `; fixed: ${constant.map((a) => `${a.key}=${a.values[0]}`).join(", ")}`
    : "";
  if (varying.length === 0) {
    out.push(
      `<p class="note">No grid axis with more than one value${h(constNote)}: see the table.</p>`,
      `</section>`,
    );
    return out.join("\n");
  }
  const [first, second, ...rest] = varying;
  const rowAxis = second ? first : null, colAxis = second ?? first;
  const layout = (rowAxis ? `Rows: ${rowAxis.key}, columns: ` : "Columns: ") + colAxis.key +
    (rest.length ? `, one map per ${rest.map((a) => a.key).join(" × ")}` : "") + constNote;
  out.push(
    `<p class="note">Each cell: the mean over the setting's seeds and their number n; darker is ` +
      `better, ★ marks the best setting (ties: each). ${h(layout)}.</p>`,
  );

  const present = [...new Set(runs.flatMap((r) => Object.keys(r.metrics)))];
  const metrics = (opts.metrics ?? [...present].sort()).filter((m) => present.includes(m));
  for (const metric of metrics) {
    const bySetting = new Map<string, number[]>();
    for (const r of runs) {
      const v = r.metrics[metric];
      if (v === undefined) continue;
      const key = settingKey(axes, r.setting);
      bySetting.set(key, [...(bySetting.get(key) ?? []), v]);
    }
    const cells = new Map([...bySetting].map(([k, vs]) => [k, aggregate(vs)]));
    const lower = lowerIsBetter(metric);
    const means = [...cells.values()].map((c) => c.mean).filter(Number.isFinite);
    const lo = Math.min(...means), hi = Math.max(...means);
    const scale = lower ? { best: lo, worst: hi } : { best: hi, worst: lo };
    // Names the table gives no direction (loss, ...) are ranked as compare ranks them: lower.
    const direction = metricInfo(metric)?.direction === "none"
      ? "coloured as lower is better (no better direction is known)"
      : `${lower ? "lower" : "higher"} is better`;
    out.push(`<h3>${h(metric)} <span class="note">(${h(direction)})</span></h3>`);
    const constants = Object.fromEntries(constant.map((a) => [a.key, a.values[0]]));
    const maps = combinations(rest).map((fixed) => {
      const caption = Object.entries(fixed).map(([k, v]) => `${k}=${v}`).join(" ");
      const table = renderMap(metric, cells, axes, rowAxis, colAxis, {
        ...constants,
        ...fixed,
      }, scale);
      return caption ? `<figure><figcaption>${h(caption)}</figcaption>${table}</figure>` : table;
    });
    out.push(`<div class="heatmaps">${maps.join("\n")}</div>`);
  }
  out.push(`</section>`);
  return out.join("\n");
}

export const SWEEP_STYLE = `
.heatmaps { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; }
table.heatmap td.hm-cell { text-align: center; min-width: 72px; font-variant-numeric: tabular-nums; }
table.heatmap td.hm-cell .n { display: block; font-size: 11px; opacity: 0.8; }
table.heatmap td.best { outline: 3px solid #e08214; outline-offset: -3px; font-weight: bold; }
`;
