/**
 * A small, dependency-free SVG line chart for the self-contained HTML report: one line per series,
 * "nice" axis ticks, a legend, gaps where values are not finite. Output is a string of SVG.
 */

export interface Series {
  label: string;
  /** [x, y] pairs in increasing x; non-finite y values leave a gap in the line. */
  points: ReadonlyArray<readonly [number, number]>;
}

export interface LineChartOptions {
  title: string;
  xLabel: string;
  yLabel?: string;
  width?: number;
  height?: number;
}

/** Line colours (Tableau 10) for up to 10 series; tests look for them on screen. */
export const PALETTE = [
  "#1f77b4",
  "#ff7f0e",
  "#2ca02c",
  "#d62728",
  "#9467bd",
  "#8c564b",
  "#e377c2",
  "#7f7f7f",
  "#bcbd22",
  "#17becf",
] as const;

/** Viridis anchors: for more series than PALETTE has colours, levels get a sequential ramp. */
const RAMP = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];

/** Series i of n: the palette while it lasts, else evenly spaced along the ramp (0 to n-1). */
export function seriesColour(i: number, n: number): string {
  if (n <= PALETTE.length) return PALETTE[i];
  const t = (i / (n - 1)) * (RAMP.length - 1);
  const k = Math.min(Math.floor(t), RAMP.length - 2), u = t - k;
  const rgb = RAMP[k].map((c, j) => Math.round(c + (RAMP[k + 1][j] - c) * u));
  return `#${rgb.map((c) => c.toString(16).padStart(2, "0")).join("")}`;
}

/** Lines with this many points or fewer also mark each point (a single point has no line). */
const MARKER_MAX_POINTS = 40;

export function escapeXml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!,
  );
}

/** Round numbers 1, 2 or 5 times a power of ten covering [lo, hi] with about `count` ticks. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const rough = (hi - lo) / count;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= rough) ?? 10 * power;
  const ticks: number[] = [];
  // Multiply rather than accumulate, and round, so ticks read 0.6 rather than 0.6000000000000001.
  for (let k = Math.ceil(lo / step - 1e-9); k * step <= hi + step * 1e-9; k++) {
    ticks.push(Number((k * step).toPrecision(12)) || 0);
  }
  return ticks;
}

function tickText(v: number): string {
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e5 || a < 1e-3)) return v.toExponential(1);
  return String(Number(v.toPrecision(6)));
}

/** The value range of the finite points, widened when flat so the line sits mid-chart. */
function extent(values: number[]): [number, number] {
  const finite = values.filter(Number.isFinite);
  if (finite.length === 0) return [0, 1];
  let lo = Math.min(...finite), hi = Math.max(...finite);
  if (lo === hi) {
    const pad = lo === 0 ? 1 : Math.abs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  return [lo, hi];
}

export function lineChartSvg(series: readonly Series[], opts: LineChartOptions): string {
  const width = opts.width ?? 520, height = opts.height ?? 300;
  const legendWidth = 110;
  const m = { top: 30, right: 12 + legendWidth, bottom: 42, left: 64 };
  const plotW = width - m.left - m.right, plotH = height - m.top - m.bottom;
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = series.flatMap((s) => s.points.map((p) => p[1]));
  const [x0, x1] = extent(xs);
  const [y0, y1] = extent(ys);
  const sx = (x: number) => m.left + ((x - x0) / (x1 - x0)) * plotW;
  const sy = (y: number) => m.top + plotH - ((y - y0) / (y1 - y0)) * plotH;
  const f = (v: number) => v.toFixed(1);

  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" ` +
      `viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeXml(opts.title)}">`,
    `<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${m.left}" y="18" font-size="13" font-weight="bold" font-family="sans-serif">` +
      `${escapeXml(opts.title)}</text>`,
  );
  for (const t of niceTicks(y0, y1)) {
    parts.push(
      `<line x1="${m.left}" x2="${m.left + plotW}" y1="${f(sy(t))}" y2="${f(sy(t))}" ` +
        `stroke="#e6e6e6"/>`,
      `<text x="${m.left - 6}" y="${f(sy(t) + 4)}" font-size="10" text-anchor="end" ` +
        `font-family="sans-serif">${tickText(t)}</text>`,
    );
  }
  for (const t of niceTicks(x0, x1)) {
    parts.push(
      `<line x1="${f(sx(t))}" x2="${f(sx(t))}" y1="${m.top + plotH}" y2="${m.top + plotH + 4}" ` +
        `stroke="#444"/>`,
      `<text x="${f(sx(t))}" y="${m.top + plotH + 16}" font-size="10" text-anchor="middle" ` +
        `font-family="sans-serif">${tickText(t)}</text>`,
    );
  }
  parts.push(
    `<rect x="${m.left}" y="${m.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#444"/>`,
    `<text x="${m.left + plotW / 2}" y="${height - 6}" font-size="11" text-anchor="middle" ` +
      `font-family="sans-serif">${escapeXml(opts.xLabel)}</text>`,
  );
  if (opts.yLabel) {
    parts.push(
      `<text transform="translate(13 ${m.top + plotH / 2}) rotate(-90)" font-size="11" ` +
        `text-anchor="middle" font-family="sans-serif">${escapeXml(opts.yLabel)}</text>`,
    );
  }
  // The legend shrinks its rows so that every series fits beside the plot.
  const rowH = Math.min(16, (plotH - 4) / Math.max(1, series.length));
  const legendFont = Math.max(7, Math.min(11, rowH - 2));
  series.forEach((s, i) => {
    const colour = seriesColour(i, series.length);
    // A non-finite value ends the current segment: "M" starts a new one after the gap.
    let d = "", pen = "M";
    const finite: [number, number][] = [];
    for (const [x, y] of s.points) {
      if (!Number.isFinite(y) || !Number.isFinite(x)) {
        pen = "M";
        continue;
      }
      d += `${pen}${f(sx(x))},${f(sy(y))}`;
      finite.push([x, y]);
      pen = "L";
    }
    if (d) {
      parts.push(
        `<path d="${d}" fill="none" stroke="${colour}" stroke-width="2" ` +
          `stroke-linejoin="round"/>`,
      );
    }
    if (finite.length <= MARKER_MAX_POINTS) {
      for (const [x, y] of finite) {
        parts.push(`<circle cx="${f(sx(x))}" cy="${f(sy(y))}" r="3" fill="${colour}"/>`);
      }
    }
    const ly = m.top + 6 + i * rowH;
    parts.push(
      `<line x1="${width - legendWidth}" x2="${width - legendWidth + 18}" y1="${f(ly)}" ` +
        `y2="${f(ly)}" stroke="${colour}" stroke-width="3"/>`,
      `<text x="${width - legendWidth + 24}" y="${f(ly + legendFont / 3)}" ` +
        `font-size="${f(legendFont)}" font-family="sans-serif">${escapeXml(s.label)}</text>`,
    );
  });
  parts.push("</svg>");
  return parts.join("\n");
}

/**
 * At most maxPoints points per series, each the mean of a bucket of consecutive points (keeps the
 * trend of a long, noisy training curve; non-finite values are skipped within a bucket).
 */
export function downsample(
  points: ReadonlyArray<readonly [number, number]>,
  maxPoints: number,
): Array<[number, number]> {
  if (points.length <= maxPoints) return points.map(([x, y]) => [x, y]);
  const size = Math.ceil(points.length / maxPoints);
  const out: Array<[number, number]> = [];
  for (let start = 0; start < points.length; start += size) {
    const bucket = points.slice(start, start + size);
    const finite = bucket.filter(([, y]) => Number.isFinite(y));
    const x = bucket.reduce((a, [bx]) => a + bx, 0) / bucket.length;
    const y = finite.length ? finite.reduce((a, [, by]) => a + by, 0) / finite.length : NaN;
    out.push([x, y]);
  }
  return out;
}
