/**
 * The 2D evaluation figure: a scatter of the data, a scatter of the samples, and a heatmap of the
 * learned density of each noise level, drawn pixel by pixel into one RGB image.
 */
import { viridisInto } from "./colormap.ts";
import { drawText, GLYPH_HEIGHT, textWidth } from "./bitmap_font.ts";
import { type Image8, writePng } from "./png.ts";

type Points = Float32Array | Float64Array;
type Rgb = readonly [number, number, number];

/** A log-density (normalised or not) on the n x n grid of lib/metrics/toy2d.ts gridPoints. */
export interface LevelDensity {
  label: string;
  /** Index iy * n + ix, x = lo + (ix + 1/2) h, y = lo + (iy + 1/2) h: y grows with iy. */
  grid: Float32Array;
  n: number;
}

export interface Toy2dFigureOptions {
  data: Points;
  samples: Points;
  /** Heat maps after the two scatters, in order; null leaves a panel's place empty. */
  levelDensities?: readonly (LevelDensity | null)[];
  /** Every panel shows [lo, hi]^2 (the grids must cover the same box). */
  lo: number;
  hi: number;
  /** Side of each square panel in pixels. Default 256. */
  panelSize?: number;
  /** Panels per row. Default: all panels, at most 5. */
  columns?: number;
  /**
   * "density" (default) colours exp(v - max v), the density scaled to [0, 1], as the FFJORD and
   * DRL figures do; "log" colours v over [max v - logRange, max v], which shows the tails.
   */
  heatmap?: "density" | "log";
  /** Nats shown by the "log" heatmap. Default 10. */
  logRange?: number;
  /** A line above all panels, e.g. the run id and data set. */
  title?: string;
  dataLabel?: string;
  samplesLabel?: string;
}

const BACKGROUND: Rgb = [255, 255, 255];
const BORDER: Rgb = [90, 90, 90];
const TEXT: Rgb = [20, 20, 20];
const DATA_COLOR: Rgb = [31, 78, 160];
const SAMPLE_COLOR: Rgb = [200, 50, 30];
const MISSING: Rgb = [255, 0, 255]; // NaN in a density grid: impossible to miss

interface Canvas {
  rgb: Uint8Array;
  width: number;
  height: number;
}

function fillRect(c: Canvas, x0: number, y0: number, w: number, h: number, color: Rgb): void {
  for (let y = Math.max(0, y0); y < Math.min(c.height, y0 + h); y++) {
    for (let x = Math.max(0, x0); x < Math.min(c.width, x0 + w); x++) {
      const o = 3 * (y * c.width + x);
      c.rgb[o] = color[0];
      c.rgb[o + 1] = color[1];
      c.rgb[o + 2] = color[2];
    }
  }
}

/** A one-pixel frame just outside the panel [x0, x0 + size) x [y0, y0 + size). */
function frame(c: Canvas, x0: number, y0: number, size: number): void {
  fillRect(c, x0 - 1, y0 - 1, size + 2, 1, BORDER);
  fillRect(c, x0 - 1, y0 + size, size + 2, 1, BORDER);
  fillRect(c, x0 - 1, y0 - 1, 1, size + 2, BORDER);
  fillRect(c, x0 + size, y0 - 1, 1, size + 2, BORDER);
}

/**
 * Points as small dots, alpha-blended so dense regions read darker; the opacity falls with the
 * number of points so a few thousand do not saturate into a blob.
 */
function scatter(
  c: Canvas,
  x0: number,
  y0: number,
  size: number,
  points: Points,
  lo: number,
  hi: number,
  color: Rgb,
): void {
  const n = points.length / 2;
  const alpha = Math.min(0.8, Math.max(0.08, 400 / Math.max(n, 1)));
  const dot = Math.max(2, Math.round(size / 128));
  const scale = size / (hi - lo);
  for (let i = 0; i < n; i++) {
    const px = Math.floor((points[2 * i] - lo) * scale);
    const py = Math.floor((hi - points[2 * i + 1]) * scale); // y up
    if (!(px >= 0 && py >= 0 && px < size && py < size)) continue; // also skips NaN
    for (let dy = 0; dy < dot; dy++) {
      for (let dx = 0; dx < dot; dx++) {
        const x = px + dx, y = py + dy;
        if (x >= size || y >= size) continue;
        const o = 3 * ((y0 + y) * c.width + x0 + x);
        for (let k = 0; k < 3; k++) {
          c.rgb[o + k] = Math.round(c.rgb[o + k] * (1 - alpha) + color[k] * alpha);
        }
      }
    }
  }
}

function heatmap(
  c: Canvas,
  x0: number,
  y0: number,
  size: number,
  level: LevelDensity,
  mode: "density" | "log",
  logRange: number,
): void {
  const { grid, n } = level;
  if (grid.length !== n * n) {
    throw new RangeError(
      `density grid "${level.label}" has ${grid.length} values, expected ${n}^2`,
    );
  }
  let max = -Infinity;
  for (const v of grid) if (v > max) max = v;
  for (let py = 0; py < size; py++) {
    const iy = n - 1 - Math.floor((py * n) / size); // image rows go down, grid rows go up
    for (let px = 0; px < size; px++) {
      const v = grid[iy * n + Math.floor((px * n) / size)];
      const o = 3 * ((y0 + py) * c.width + x0 + px);
      if (Number.isNaN(v)) {
        c.rgb.set(MISSING, o);
        continue;
      }
      // An all -Infinity (or +Infinity) grid has no scale: draw it at the bottom of the map.
      const t = !Number.isFinite(max)
        ? 0
        : mode === "density"
        ? Math.exp(v - max)
        : (v - (max - logRange)) / logRange;
      viridisInto(t, c.rgb, o);
    }
  }
}

/** Draws the figure; write it with writePng(path, fig.pixels, fig.width, fig.height, 3). */
export function plotToy2dFigure(opts: Toy2dFigureOptions): Image8 {
  const { lo, hi } = opts;
  if (!(hi > lo)) throw new RangeError(`plot box needs lo < hi, got [${lo}, ${hi}]`);
  const size = opts.panelSize ?? 256;
  const levels = opts.levelDensities ?? [];
  const panels = 2 + levels.length;
  const columns = Math.max(1, Math.min(opts.columns ?? Math.min(panels, 5), panels));
  const rows = Math.ceil(panels / columns);
  const textScale = size >= 192 ? 2 : 1;
  const labelHeight = GLYPH_HEIGHT * textScale + 6;
  const margin = 8;
  const titleHeight = opts.title ? labelHeight + 2 : 0;
  const width = margin + columns * (size + margin);
  const height = margin + titleHeight + rows * (labelHeight + size + margin);
  const canvas: Canvas = { rgb: new Uint8Array(width * height * 3), width, height };
  fillRect(canvas, 0, 0, width, height, BACKGROUND);
  if (opts.title) drawText(canvas.rgb, width, height, opts.title, margin, margin, TEXT, textScale);

  const placeAt = (index: number) => {
    const x0 = margin + (index % columns) * (size + margin);
    const top = margin + titleHeight + Math.floor(index / columns) * (labelHeight + size + margin);
    return { x0, labelY: top, y0: top + labelHeight };
  };
  const label = (text: string, x0: number, y: number) => {
    // Centred, and shortened to fit the panel.
    const fit = Math.floor((size + 1) / (6 * textScale));
    const shown = text.length > fit ? text.slice(0, fit) : text;
    const x = x0 + Math.floor((size - textWidth(shown, textScale)) / 2);
    drawText(canvas.rgb, width, height, shown, x, y, TEXT, textScale);
  };

  const scatters: [string, Points, Rgb][] = [
    [opts.dataLabel ?? "data", opts.data, DATA_COLOR],
    [opts.samplesLabel ?? "samples", opts.samples, SAMPLE_COLOR],
  ];
  scatters.forEach(([text, points, color], i) => {
    const { x0, y0, labelY } = placeAt(i);
    label(text, x0, labelY);
    scatter(canvas, x0, y0, size, points, lo, hi, color);
    frame(canvas, x0, y0, size);
  });
  levels.forEach((level, i) => {
    if (level === null) return;
    const { x0, y0, labelY } = placeAt(2 + i);
    label(level.label, x0, labelY);
    heatmap(canvas, x0, y0, size, level, opts.heatmap ?? "density", opts.logRange ?? 10);
    frame(canvas, x0, y0, size);
  });
  return { pixels: canvas.rgb, width, height, channels: 3 };
}

/** Draws the figure and writes it as a PNG (atomically); returns the image. */
export async function writeToy2dFigure(path: string, opts: Toy2dFigureOptions): Promise<Image8> {
  const figure = plotToy2dFigure(opts);
  await writePng(path, figure.pixels, figure.width, figure.height, 3);
  return figure;
}
