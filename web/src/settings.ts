/**
 * What the user asks for (K, chains, seed, sampler, backend, model), read from the form or from
 * the address (?model=8gaussians&K=20&chains=64&seed=3&sampler=mala: a run is a link to share),
 * and checked against limits a browser tab can hold, with one clear sentence per refusal.
 */
import { SAMPLER_KINDS, type SamplerKind } from "../../lib/samplers/langevin.ts";
import { WEB_BACKENDS, type WebBackendName } from "./backend.ts";

export interface RunSettings {
  K: number;
  chains: number;
  seed: number;
  sampler: SamplerKind;
}

/** Per kind of model: a 2D chain is two numbers, an image chain a ResNet pass per step. */
export const LIMITS = {
  toy2d: { K: 2000, chains: 4096 },
  images: { K: 500, chains: 64 },
} as const;

export type ModelKind = keyof typeof LIMITS;

/** An integer in [lo, hi] from text, or a sentence saying what is wrong. */
function intIn(label: string, text: string, lo: number, hi: number, why: string): number | string {
  const v = Number(text.trim());
  if (text.trim() === "" || !Number.isInteger(v)) return `${label} must be a whole number`;
  if (v < lo) return `${label} must be at least ${lo}`;
  if (v > hi) return `${label} = ${v} is too large: at most ${hi} ${why}`;
  return v;
}

/** The settings, or every problem found (each a sentence for the page's message). */
export function checkSettings(
  raw: { K: string; chains: string; seed: string; sampler: string },
  kind: ModelKind,
  T: number,
): RunSettings | { problems: string[] } {
  const lim = LIMITS[kind];
  const K = intIn(
    "K",
    raw.K,
    1,
    lim.K,
    `Langevin steps per level here (${T} levels would make ${T * Number(raw.K)} steps)`,
  );
  const chains = intIn("the number of chains", raw.chains, 1, lim.chains, "for this model");
  const seed = intIn("the seed", raw.seed, 0, 2 ** 32 - 1, "(a 32-bit seed)");
  const problems = [K, chains, seed].filter((x): x is string => typeof x === "string");
  if (!(SAMPLER_KINDS as readonly string[]).includes(raw.sampler)) {
    problems.push(`the sampler must be ${SAMPLER_KINDS.join(" or ")}, not '${raw.sampler}'`);
  }
  if (problems.length) return { problems };
  return {
    K: K as number,
    chains: chains as number,
    seed: seed as number,
    sampler: raw.sampler as SamplerKind,
  };
}

/** Heat map cells per side from the address (?heat=N), or a sentence saying what is wrong. */
export function heatCells(param: string | null, fallback: number): number | string {
  if (param === null) return fallback;
  const n = intIn("heat (cells per side)", param, 8, 256, "in the address");
  return typeof n === "string" ? `${n}; the heat maps use ${fallback}` : n;
}

/** The backends to try, in order: all (auto), or the one the address names first. */
export function backendOrder(param: string | null): WebBackendName[] | string {
  if (param === null || param === "" || param === "auto") return [...WEB_BACKENDS];
  if (!(WEB_BACKENDS as readonly string[]).includes(param)) {
    return `unknown backend '${param}' in the address; use one of auto, ${WEB_BACKENDS.join(", ")}`;
  }
  return [param as WebBackendName];
}
