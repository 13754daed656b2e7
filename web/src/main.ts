/// <reference lib="dom" />
/**
 * The page: starts a backend, loads a shipped model, and runs progressive sampling with the
 * user's settings (or the address's:
 * ?model=&K=&chains=&seed=&sampler=&backend=&heat=&density=learned|true&autorun=0).
 * Every failure ends as a sentence in the message box, never a blank page.
 */
import type { ResNetConfig } from "../../lib/nets/types.ts";
import type { SamplingModel } from "../../lib/sampling_model.ts";
import { startBackend } from "./backend.ts";
import { isToy2d, listModels, loadModel, type ModelEntry } from "./model.ts";
import { type HeatMaps, heatMaps, LevelPanels, trueHeatMaps } from "./panels.ts";
import { clearStats, type PageState, setStatus, showBackend, showMessage, ui } from "./page.ts";
import { runProgressive } from "./run.ts";
import { backendOrder, checkSettings, heatCells, LIMITS, type ModelKind } from "./settings.ts";
import { HEAT_CELLS } from "./density_view.ts";

// Tells index.html's watchdog that the app started (no "did not load" message then).
(globalThis as { drlStarted?: boolean }).drlStarted = true;

const params = new URLSearchParams(location.search);

/** Chains a first run uses when the address does not say: a full picture, quickly. */
const DEFAULT_CHAINS: Record<ModelKind, number> = { toy2d: 512, images: 16 };

interface Loaded {
  entry: ModelEntry;
  model: SamplingModel;
  kind: ModelKind;
  /** Per panel level, for 2D models. */
  heat: HeatMaps | null;
  /** Per panel level, the data diffused to it: 2D models of a data set with a known density. */
  trueHeat: HeatMaps | null;
}

/** The heat maps the density control asks for: learned, unless truth is chosen and known. */
function shownHeat(l: Loaded): HeatMaps | null {
  return ui.density.value === "true" && l.trueHeat ? l.trueHeat : l.heat;
}

let loaded: Loaded | null = null;
let panels: LevelPanels | null = null;
let running = false;
let stopRequested = false;

function fail(err: unknown): void {
  const text = err instanceof Error ? err.message : String(err);
  showMessage(text, "error");
  setStatus("error", "Stopped by an error (see above).");
  running = false;
}

// Anything that escapes (a WebGPU device lost, a bug) still reaches the user.
addEventListener("error", (ev) => fail(ev.error ?? ev.message));
addEventListener("unhandledrejection", (ev) => fail(ev.reason));

function exampleShape(m: SamplingModel): number[] {
  if (isToy2d(m.config)) return [2];
  const net = m.config.net as ResNetConfig;
  return [net.imageSize, net.imageSize, net.channels];
}

async function selectModel(entry: ModelEntry, fromAddress: boolean): Promise<void> {
  setStatus("loading", `Loading ${entry.name} (${(entry.bytes / 2 ** 20).toFixed(2)} MiB)…`);
  if (loaded) {
    loaded.model.net.dispose();
    loaded.model.st.dispose();
    loaded = null;
  }
  ui.levels.replaceChildren();
  clearStats();
  const model = await loadModel(entry);
  const kind: ModelKind = isToy2d(model.config) ? "toy2d" : "images";
  const c = model.config;
  const net = c.net.kind === "mlp"
    ? `MLP ${c.net.width} x ${c.net.depth}`
    : `ResNet ch ${c.net.ch}, ch_mult ${c.net.chMult.join(",")}`;
  ui.modelInfo.replaceChildren(
    `${c.preset}: ${net}, trained ${model.step} steps; T = ${c.schedule.T} levels, ` +
      `trained with K = ${c.langevin.steps} (${c.langevin.sampler}). `,
  );
  const card = document.createElement("a");
  card.href = entry.card;
  card.textContent = "model card";
  ui.modelInfo.append(card);
  // Defaults: the model's own K and sampler, unless the address sets them (first load only).
  const pick = (name: string, fallback: string) =>
    (fromAddress ? params.get(name) : null) ?? fallback;
  ui.K.value = pick("K", String(c.langevin.steps));
  ui.sampler.value = pick("sampler", c.langevin.sampler);
  ui.chains.value = pick("chains", String(DEFAULT_CHAINS[kind]));
  ui.seed.value = pick("seed", ui.seed.value || "0");
  ui.K.max = String(LIMITS[kind].K);
  ui.chains.max = String(LIMITS[kind].chains);
  const cells = heatCells(params.get("heat"), HEAT_CELLS);
  if (typeof cells === "string") showMessage(cells, "notice");
  setStatus("loading", "Computing each level's density…");
  const n = typeof cells === "number" ? cells : HEAT_CELLS;
  const heat = kind === "toy2d" ? await heatMaps(model, n) : null;
  const trueHeat = kind === "toy2d" ? trueHeatMaps(model, n) : null;
  loaded = { entry, model, kind, heat, trueHeat };
  ui.densityLabel.hidden = trueHeat === null;
  if (fromAddress) ui.density.value = params.get("density") === "true" ? "true" : "learned";
  ui.hint.textContent = kind === "toy2d"
    ? "Heat maps: each level's learned log-density (viridis, scaled per level), or with " +
      '"true density" the data diffused to that level, to compare. Click one to drop chains ' +
      "there and watch them run that level and every level below."
    : "Each panel is one level's chains; the level being sampled updates as its chain moves.";
  setStatus("ready", "Ready.");
}

async function sample(drop?: { level: number; point: [number, number] }): Promise<void> {
  if (running) return;
  if (!loaded) {
    showMessage("No model is loaded: pick one in the model list.", "error");
    return;
  }
  const { model, kind } = loaded;
  const T = model.st.schedule.T;
  const settings = checkSettings(
    { K: ui.K.value, chains: ui.chains.value, seed: ui.seed.value, sampler: ui.sampler.value },
    kind,
    T,
  );
  if ("problems" in settings) {
    showMessage(`Cannot sample: ${settings.problems.join("; ")}.`, "error");
    setStatus("ready", "Fix the settings above and press Sample.");
    return;
  }
  if (ui.message.classList.contains("error")) showMessage(null);
  const shape = exampleShape(model);
  if (!drop || !panels) {
    panels = new LevelPanels(
      T,
      () => settings.K,
      loaded.heat
        ? {
          heat: shownHeat(loaded)!,
          onClick: (level, point) => sample({ level, point }).catch(fail),
        }
        : { image: shape as [number, number, number], chains: settings.chains },
    );
  }
  clearStats();
  if (drop) panels.clearBelow(drop.level, "dropped");
  running = true;
  stopRequested = false;
  const t0 = performance.now();
  const what = drop
    ? `${settings.chains} chains dropped at (${drop.point.map((v) => v.toFixed(2)).join(", ")}) ` +
      `into level ${drop.level}`
    : `${settings.chains} chains, K = ${settings.K}, ${settings.sampler.toUpperCase()}, ` +
      `seed ${settings.seed}`;
  setStatus("running", `Sampling: ${what}…`);
  const finished = await runProgressive({
    model,
    settings,
    exampleShape: shape,
    // A click sets x_{t+1} at the point: level t's chain starts there (y_0 = a x_{t+1}).
    start: drop ? { level: drop.level + 1, example: Float32Array.from(drop.point) } : undefined,
    drawEveryMs: kind === "toy2d" ? 50 : 250,
    stopRequested: () => stopRequested,
  }, panels.sink(drop ? "dropped" : "chains"));
  running = false;
  const secs = ((performance.now() - t0) / 1000).toFixed(2);
  const state: PageState = finished ? "done" : "stopped";
  setStatus(state, `${finished ? "Done" : "Stopped"} in ${secs} s: ${what}.`);
}

async function main(): Promise<void> {
  setStatus("loading", "Starting a backend…");
  const order = backendOrder(params.get("backend"));
  if (typeof order === "string") throw new Error(order);
  showBackend(await startBackend(order, "wasm/"));
  const models = await listModels();
  for (const m of models) ui.model.append(new Option(m.name, m.name));
  // Listening before the first model loads: if that one fails, another can still be picked.
  ui.form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    sample().catch(fail);
  });
  ui.stop.addEventListener("click", () => (stopRequested = true));
  ui.density.addEventListener("change", () => {
    const maps = loaded && shownHeat(loaded);
    if (maps) panels?.showHeat(maps);
  });
  ui.model.addEventListener("change", () => {
    const next = models.find((m) => m.name === ui.model.value)!;
    selectModel(next, false).then(() => sample()).catch(fail);
  });
  const wanted = params.get("model");
  const entry = wanted === null ? models[0] : models.find((m) => m.name === wanted);
  if (!entry) {
    throw new Error(
      `no model '${wanted}' here; the shipped models are ${models.map((m) => m.name).join(", ")}`,
    );
  }
  ui.model.value = entry.name;
  await selectModel(entry, true);
  if (params.get("autorun") !== "0") await sample();
}

main().catch(fail);
