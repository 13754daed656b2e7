/// <reference lib="dom" />
/**
 * The row of level panels, x_T (noise) down to x_0 (samples), fed by a run (RunSink): images
 * for an image model, heat maps with chains for a 2D model. The panel whose chain is running is
 * marked, and its caption counts the steps.
 */
import { levelInputScale, levelLogDensity } from "../../lib/level_density.ts";
import type { SamplingModel } from "../../lib/sampling_model.ts";
import { DensityPanel, heatGrid, type PointSet } from "./density_view.ts";
import { ImagePanel } from "./image_view.ts";
import type { RunSink } from "./run.ts";
import { addStatsRow, ui } from "./page.ts";

/** The chains of the main run, and those dropped by a click (drawn over them). */
export type Layer = "chains" | "dropped";
const COLOURS: Record<Layer, string> = { chains: "rgba(255,255,255,0.85)", dropped: "#ff5a36" };

interface Panel {
  figure: HTMLElement;
  caption: HTMLElement;
  draw(layer: Layer, x: Float32Array): void;
  clear(layer: Layer): void;
}

function figure(
  level: number,
  T: number,
): { figure: HTMLElement; canvas: HTMLCanvasElement; caption: HTMLElement } {
  const fig = document.createElement("figure");
  fig.dataset.level = String(level);
  const canvas = document.createElement("canvas");
  const caption = document.createElement("figcaption");
  caption.textContent = baseCaption(level, T);
  fig.append(canvas, caption);
  ui.levels.append(fig);
  return { figure: fig, canvas, caption };
}

function baseCaption(level: number, T: number): string {
  return level === T
    ? `x${level}: noise`
    : level === 0
    ? "x0: samples"
    : `level ${level}: x${level}`;
}

/** The learned log-density of every level on an n x n heat map grid (levels 0..T-1). */
export async function heatMaps(model: SamplingModel, n: number): Promise<Float32Array[]> {
  const grid = heatGrid(n);
  const maps: Float32Array[] = [];
  for (let t = 0; t < model.st.schedule.T; t++) {
    // The grid is in x_t coordinates; the net sees y = a_{t+1} x_t.
    const a = levelInputScale(model.st, t);
    maps.push(await levelLogDensity(model.net, model.st, t)(grid.map((v) => v * a)));
  }
  return maps;
}

export class LevelPanels {
  readonly #T: number;
  readonly #K: () => number;
  readonly #panels = new Map<number, Panel>();

  /**
   * Panels for T..0. For a 2D model `heat` holds each level's log-density and `onClick` gets the
   * level and data point of a click; for an image model `image` is one image's [H, W, C].
   */
  constructor(
    T: number,
    K: () => number,
    opts:
      | { heat: Float32Array[]; onClick: (level: number, point: [number, number]) => void }
      | { image: readonly [number, number, number]; chains: number },
  ) {
    this.#T = T;
    this.#K = K;
    ui.levels.replaceChildren();
    for (let level = T; level >= 0; level--) {
      const f = figure(level, T);
      if ("heat" in opts) {
        const view = new DensityPanel(f.canvas, 240);
        // x_0's panel shows level 0's density too: the samples should sit on its modes.
        view.setHeat(level === T ? null : opts.heat[level]);
        const layers: Record<Layer, Float32Array | null> = { chains: null, dropped: null };
        const redraw = () => {
          const sets: PointSet[] = [];
          for (const l of ["chains", "dropped"] as const) {
            const points = layers[l];
            if (points) sets.push({ points, colour: COLOURS[l] });
          }
          view.draw(sets);
        };
        redraw();
        if (level < T) {
          f.figure.classList.add("clickable");
          f.canvas.addEventListener("click", (ev) => opts.onClick(level, view.toData(ev)));
        }
        this.#panels.set(level, {
          ...f,
          draw: (layer, x) => {
            layers[layer] = x;
            redraw();
          },
          clear: (layer) => {
            layers[layer] = null;
            redraw();
          },
        });
      } else {
        const view = new ImagePanel(f.canvas, opts.chains, opts.image);
        // Small images: shown at twice their size (CSS, without smoothing).
        f.canvas.style.width = `${f.canvas.width * 2}px`;
        this.#panels.set(level, {
          ...f,
          draw: (_layer, x) => view.draw(x),
          clear: () => {},
        });
      }
    }
  }

  /** Clears one layer from `level` down to 0 (a new click replaces the last dropped chains). */
  clearBelow(level: number, layer: Layer): void {
    for (let t = level; t >= 0; t--) this.#panels.get(t)?.clear(layer);
  }

  /** A RunSink drawing into `layer`; finished levels also go to the statistics table. */
  sink(layer: Layer): RunSink {
    const mark = (level: number | null) => {
      for (const [t, p] of this.#panels) {
        p.figure.classList.toggle("forming", t === level);
        p.caption.textContent = baseCaption(t, this.#T);
      }
    };
    return {
      start: (level, x) => {
        this.#panels.get(level)?.draw(layer, x);
        mark(null);
      },
      step: (level, step, x) => {
        const p = this.#panels.get(level);
        if (!p) return;
        if (!p.figure.classList.contains("forming")) mark(level);
        p.draw(layer, x);
        p.caption.textContent = `level ${level}: step ${step} of ${this.#K()}`;
      },
      level: (level, x, stats, ms) => {
        this.#panels.get(level)?.draw(layer, x);
        mark(null);
        addStatsRow(stats, ms);
      },
    };
  }
}
