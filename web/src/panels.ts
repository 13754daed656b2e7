/// <reference lib="dom" />
/**
 * The row of level panels, x_T (noise) down to x_0 (samples), fed by a run (RunSink): images
 * for an image model, heat maps with chains for a 2D model. The panel whose chain is running is
 * marked, and its caption counts the steps.
 */
import { getToy2d, isToy2dName, logDensities } from "../../lib/data/toy2d.ts";
import { levelInputScale, levelLogDensity } from "../../lib/level_density.ts";
import type { SamplingModel } from "../../lib/sampling_model.ts";
import { figureLevels } from "../../lib/schedule.ts";
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

/**
 * The levels with a panel, the noise x_T first, down to the samples x_0: below the noise the CLI
 * figure's levels, not a row of 101 panels for a T = 100 model. Every level is still sampled, and
 * each one's numbers go to the table.
 */
function panelLevels(T: number): number[] {
  return [T, ...figureLevels(T).reverse()];
}

/** Heat maps by level (figureLevels). */
export type HeatMaps = Map<number, Float32Array>;

/**
 * The true log-density of each panel's x_t on the same grid: the data set diffused to the level,
 * abar_t x_0 + sigmabar_t eps (exact, lib/data/toy2d.ts), as the CLI's figures draw it under the
 * learned one; null for a data set without a known density.
 */
export function trueHeatMaps(model: SamplingModel, n: number): HeatMaps | null {
  if (!isToy2dName(model.config.dataset)) return null;
  const data = getToy2d(model.config.dataset);
  const grid = heatGrid(n);
  const { T, alphasCum, sigmasCum } = model.st.schedule;
  return new Map(
    figureLevels(T).map((t) => [
      t,
      Float32Array.from(
        logDensities({ logDensity: data.diffused(alphasCum[t], sigmasCum[t]) }, grid),
      ),
    ]),
  );
}

/** The learned log-density of each panel's level on an n x n heat map grid. */
export async function heatMaps(model: SamplingModel, n: number): Promise<HeatMaps> {
  const grid = heatGrid(n);
  const maps: HeatMaps = new Map();
  for (const t of figureLevels(model.st.schedule.T)) {
    // The grid is in x_t coordinates; the net sees y = a_{t+1} x_t.
    const a = levelInputScale(model.st, t);
    maps.set(t, await levelLogDensity(model.net, model.st, t)(grid.map((v) => v * a)));
  }
  return maps;
}

export class LevelPanels {
  readonly #T: number;
  readonly #K: () => number;
  readonly #panels = new Map<number, Panel>();
  /** The 2D panels' heat map setters, by level (images have none). */
  readonly #heatSetters = new Map<number, (maps: HeatMaps) => void>();

  /**
   * Panels for panelLevels(T). For a 2D model `heat` holds each panel level's log-density and
   * `onClick` gets the level and data point of a click; for an image model `image` is one image's
   * [H, W, C]. Levels without a panel are sampled but not drawn.
   */
  constructor(
    T: number,
    K: () => number,
    opts:
      | { heat: HeatMaps; onClick: (level: number, point: [number, number]) => void }
      | { image: readonly [number, number, number]; chains: number },
  ) {
    this.#T = T;
    this.#K = K;
    ui.levels.replaceChildren();
    for (const level of panelLevels(T)) {
      const f = figure(level, T);
      if ("heat" in opts) {
        const view = new DensityPanel(f.canvas, 240);
        const layers: Record<Layer, Float32Array | null> = { chains: null, dropped: null };
        const redraw = () => {
          const sets: PointSet[] = [];
          for (const l of ["chains", "dropped"] as const) {
            const points = layers[l];
            if (points) sets.push({ points, colour: COLOURS[l] });
          }
          view.draw(sets);
        };
        // x_0's panel shows level 0's density too: the samples should sit on its modes.
        const setHeat = (maps: HeatMaps) => {
          view.setHeat(maps.get(level) ?? null);
          redraw();
        };
        this.#heatSetters.set(level, setHeat);
        setHeat(opts.heat);
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

  /** Redraws every 2D panel over other heat maps (the chains stay). */
  showHeat(maps: HeatMaps): void {
    for (const set of this.#heatSetters.values()) set(maps);
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
