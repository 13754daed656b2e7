/// <reference lib="dom" />
/**
 * One panel of a 2D model: a level's learned log-density as a heat map (viridis, the colormap of
 * the CLI's figures) with the chains drawn on top, in the box the CLI's figures use. Clicks are
 * reported in data coordinates.
 */
import { viridisInto } from "../../lib/io/colormap.ts";
import { TOY_BOX } from "../../lib/level_density.ts";

/**
 * Cells per side of a heat map by default: 4,096 energy evaluations per level, a blink on a GPU or
 * in WebAssembly, seconds on a software WebGPU adapter (the page's ?heat=N changes it).
 */
export const HEAT_CELLS = 64;

/** The cell centres of an n x n heat map grid, row iy from the bottom: x = lo + (ix + 1/2) h. */
export function heatGrid(n: number): Float32Array {
  const { lo, hi } = TOY_BOX;
  const h = (hi - lo) / n;
  const points = new Float32Array(n * n * 2);
  for (let iy = 0; iy < n; iy++) {
    for (let ix = 0; ix < n; ix++) {
      const o = 2 * (iy * n + ix);
      points[o] = lo + (ix + 0.5) * h;
      points[o + 1] = lo + (iy + 0.5) * h;
    }
  }
  return points;
}

/**
 * Colours of a log-density grid: each level is scaled to its own range, from its 5th percentile to
 * its maximum, because f / s_t^2 spans wildly different magnitudes across levels (s_0^2 is tiny).
 */
function heatImage(logDensity: Float32Array): ImageData {
  const n = Math.round(Math.sqrt(logDensity.length));
  const finite = Array.from(logDensity).filter(Number.isFinite).sort((a, b) => a - b);
  const lo = finite[Math.floor(0.05 * (finite.length - 1))] ?? 0;
  const hi = finite[finite.length - 1] ?? 1;
  const img = new ImageData(n, n);
  const rgb = new Uint8Array(3);
  for (let iy = 0; iy < n; iy++) {
    for (let ix = 0; ix < n; ix++) {
      const v = logDensity[iy * n + ix];
      viridisInto(hi > lo ? (v - lo) / (hi - lo) : 0.5, rgb, 0);
      // Canvas rows run downwards; the grid's y grows upwards.
      const o = 4 * ((n - 1 - iy) * n + ix);
      img.data.set(Number.isFinite(v) ? rgb : [255, 0, 255], o);
      img.data[o + 3] = 255;
    }
  }
  return img;
}

export interface PointSet {
  /** x, y pairs. */
  points: Float32Array;
  colour: string;
}

export class DensityPanel {
  readonly canvas: HTMLCanvasElement;
  readonly #ctx: CanvasRenderingContext2D;
  #heat: HTMLCanvasElement | null = null;

  constructor(canvas: HTMLCanvasElement, size: number) {
    canvas.width = size;
    canvas.height = size;
    this.canvas = canvas;
    this.#ctx = canvas.getContext("2d")!;
  }

  /** Sets the heat map (an n x n log-density grid of heatGrid); null: a plain background (x_T). */
  setHeat(logDensity: Float32Array | null): void {
    if (!logDensity) {
      this.#heat = null;
      return;
    }
    const heat = document.createElement("canvas");
    heat.width = heat.height = Math.round(Math.sqrt(logDensity.length));
    heat.getContext("2d")!.putImageData(heatImage(logDensity), 0, 0);
    this.#heat = heat;
  }

  /** Heat map (or background), then each set of points on top, later sets over earlier ones. */
  draw(sets: readonly PointSet[]): void {
    const ctx = this.#ctx, size = this.canvas.width;
    if (this.#heat) {
      ctx.imageSmoothingEnabled = true;
      ctx.drawImage(this.#heat, 0, 0, size, size);
    } else {
      ctx.fillStyle = "#20163a";
      ctx.fillRect(0, 0, size, size);
    }
    const { lo, hi } = TOY_BOX;
    const scale = size / (hi - lo);
    for (const set of sets) {
      ctx.fillStyle = set.colour;
      for (let i = 0; i < set.points.length; i += 2) {
        const px = (set.points[i] - lo) * scale, py = size - (set.points[i + 1] - lo) * scale;
        if (px < -2 || py < -2 || px > size + 2 || py > size + 2) continue;
        ctx.fillRect(px - 1.5, py - 1.5, 3, 3);
      }
    }
  }

  /** A click's position in data coordinates. */
  toData(ev: MouseEvent): [number, number] {
    const r = this.canvas.getBoundingClientRect();
    const { lo, hi } = TOY_BOX;
    const fx = (ev.clientX - r.left) / r.width, fy = (ev.clientY - r.top) / r.height;
    return [lo + fx * (hi - lo), hi - fy * (hi - lo)];
  }
}
