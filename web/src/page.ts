/// <reference lib="dom" />
/**
 * The page's fixed elements (index.html) and what is written into them: the backend line, the
 * message box, the status line and the per-level table. Numbers are also kept unrounded in data-
 * attributes, so a test (tests/web_test.ts) reads exactly what the page computed.
 */
import type { LevelChainStats } from "../../lib/samplers/progressive.ts";
import type { WebBackend } from "./backend.ts";

function byId<T extends HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`index.html lacks #${id}`);
  return el as T;
}

export const ui = {
  backend: byId<HTMLParagraphElement>("backend"),
  message: byId<HTMLDivElement>("message"),
  form: byId<HTMLFormElement>("controls"),
  model: byId<HTMLSelectElement>("model"),
  K: byId<HTMLInputElement>("K"),
  chains: byId<HTMLInputElement>("chains"),
  seed: byId<HTMLInputElement>("seed"),
  sampler: byId<HTMLSelectElement>("sampler"),
  densityLabel: byId<HTMLLabelElement>("density-label"),
  density: byId<HTMLSelectElement>("density"),
  run: byId<HTMLButtonElement>("run"),
  stop: byId<HTMLButtonElement>("stop"),
  modelInfo: byId<HTMLParagraphElement>("model-info"),
  status: byId<HTMLParagraphElement>("status"),
  hint: byId<HTMLParagraphElement>("hint"),
  levels: byId<HTMLElement>("levels"),
  stats: byId<HTMLTableSectionElement>("stats").querySelector("tbody")!,
};

/** An error (red) or a notice (amber) above the controls; null hides it. */
export function showMessage(text: string | null, kind: "error" | "notice" = "error"): void {
  ui.message.hidden = text === null;
  ui.message.textContent = text ?? "";
  ui.message.className = `message ${kind}`;
}

export type PageState = "loading" | "ready" | "running" | "done" | "stopped" | "error";

export function setStatus(state: PageState, text: string): void {
  ui.status.dataset.state = state;
  ui.status.textContent = text;
  const busy = state === "loading" || state === "running";
  ui.run.disabled = busy || (state === "error" && ui.model.options.length === 0);
  ui.stop.disabled = state !== "running";
  ui.model.disabled = busy;
}

export function showBackend(b: WebBackend): void {
  ui.backend.dataset.backend = b.name;
  ui.backend.textContent = `backend: ${b.name}: ${b.detail}`;
  if (b.skipped.length) {
    showMessage(
      `Not on WebGPU: ${b.skipped.join("; ")}. Sampling runs on ${b.name}, which is slower ` +
        `but computes the same chains.`,
      "notice",
    );
  }
}

export function clearStats(): void {
  ui.stats.replaceChildren();
}

/** A table row for a finished level; data-* hold the unrounded numbers. */
export function addStatsRow(s: LevelChainStats, ms: number): void {
  const tr = document.createElement("tr");
  tr.dataset.level = String(s.level);
  tr.dataset.acceptance = String(s.acceptance);
  tr.dataset.displacement = String(s.displacement);
  tr.dataset.ms = String(ms);
  // The CLI prints acceptance to 3 decimals and displacement to 4 (scripts/sample.ts).
  for (
    const text of [
      String(s.level),
      s.acceptance.toFixed(3),
      s.displacement.toFixed(4),
      `${ms < 1000 ? ms.toFixed(0) + " ms" : (ms / 1000).toFixed(2) + " s"}`,
    ]
  ) {
    const td = document.createElement("td");
    td.textContent = text;
    tr.append(td);
  }
  ui.stats.append(tr);
}
