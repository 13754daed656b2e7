/**
 * The export file format: JSON holding run bundles. JSON has no NaN or Infinity, so non-finite
 * metric and evaluation values are written as the strings "NaN", "Infinity" and "-Infinity".
 */
import { storedName } from "../metric_names.ts";
import { UserError } from "../errors.ts";
import { RUN_STATUSES, type RunBundle } from "./types.ts";

export const EXPORT_FORMAT = "drl-results-export";
export const EXPORT_VERSION = 1;

export interface ExportFile {
  format: typeof EXPORT_FORMAT;
  version: number;
  exportedAt: string;
  runs: RunBundle[];
}

export type JsonNumber = number | "NaN" | "Infinity" | "-Infinity";

export function encodeNumber(value: number): JsonNumber {
  if (Number.isFinite(value)) return value;
  if (Number.isNaN(value)) return "NaN";
  return value > 0 ? "Infinity" : "-Infinity";
}

export function decodeNumber(value: unknown, where: string): number {
  if (typeof value === "number") return value;
  if (value === "NaN") return NaN;
  if (value === "Infinity") return Infinity;
  if (value === "-Infinity") return -Infinity;
  throw new UserError(`${where}: expected a number, got ${JSON.stringify(value)}`);
}

/** Serializes bundles as the export file's JSON text. */
export function encodeExportFile(runs: RunBundle[]): string {
  const file = {
    format: EXPORT_FORMAT,
    version: EXPORT_VERSION,
    exportedAt: new Date().toISOString(),
    runs: runs.map((b) => ({
      ...b,
      metrics: b.metrics.map((m) => ({ ...m, value: encodeNumber(m.value) })),
      evaluations: b.evaluations.map((e) => ({ ...e, value: encodeNumber(e.value) })),
    })),
  };
  return JSON.stringify(file, null, 1) + "\n";
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function need<T>(ok: boolean, value: T, what: string): T {
  if (!ok) throw new UserError(`${what}: missing or of the wrong type`);
  return value;
}

/** Parses and checks an export file; `source` names it in error messages. */
export function decodeExportFile(text: string, source: string): RunBundle[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new UserError(`${source} is not valid JSON (${(err as Error).message})`);
  }
  if (!isObject(data) || data.format !== EXPORT_FORMAT) {
    throw new UserError(
      `${source} is not a results export (no "format": "${EXPORT_FORMAT}"): ` +
        `make one with: deno task db export --run ID --out FILE`,
    );
  }
  if (typeof data.version !== "number" || data.version > EXPORT_VERSION) {
    throw new UserError(
      `${source} has export version ${data.version}; this code reads up to ${EXPORT_VERSION}: ` +
        `update the code`,
    );
  }
  if (!Array.isArray(data.runs)) throw new UserError(`${source}: "runs" must be a list`);
  return data.runs.map((raw, i) => decodeBundle(raw, `${source}: run ${i + 1}`));
}

function decodeBundle(raw: unknown, where: string): RunBundle {
  if (!isObject(raw) || !isObject(raw.run)) throw new UserError(`${where}: not a run bundle`);
  const r = raw.run;
  const str = (k: string) => need(typeof r[k] === "string", r[k] as string, `${where}: run.${k}`);
  const strOrNull = (k: string) =>
    need(
      r[k] === null || typeof r[k] === "string",
      (r[k] ?? null) as string | null,
      `${where}: run.${k}`,
    );
  const status = str("status");
  if (!(RUN_STATUSES as readonly string[]).includes(status)) {
    throw new UserError(`${where}: unknown status '${status}'`);
  }
  const list = (k: string) =>
    need(Array.isArray(raw[k]), raw[k] as unknown[], `${where}: ${k}`).map((item, j) => {
      if (!isObject(item)) throw new UserError(`${where}: ${k}[${j}] is not an object`);
      return item;
    });
  const intOrNull = (v: unknown, what: string) =>
    need(v === null || v === undefined || Number.isInteger(v), (v ?? null) as number | null, what);
  return {
    run: {
      uid: str("uid"),
      createdAt: str("createdAt"),
      updatedAt: strOrNull("updatedAt"),
      task: str("task"),
      preset: str("preset"),
      config: r.config ?? null,
      gitCommit: strOrNull("gitCommit"),
      backend: str("backend"),
      adapter: str("adapter"),
      seed: need(Number.isInteger(r.seed), r.seed as number, `${where}: run.seed`),
      status: status as RunBundle["run"]["status"],
      message: strOrNull("message"),
      dir: strOrNull("dir"),
      host: strOrNull("host"),
    },
    metrics: list("metrics").map((m, j) => ({
      step: need(Number.isInteger(m.step), m.step as number, `${where}: metrics[${j}].step`),
      level: intOrNull(m.level, `${where}: metrics[${j}].level`),
      name: storedName(
        need(typeof m.name === "string", m.name as string, `${where}: metrics[${j}].name`),
      ),
      value: decodeNumber(m.value, `${where}: metrics[${j}].value`),
    })),
    evaluations: list("evaluations").map((e, j) => ({
      name: storedName(
        need(typeof e.name === "string", e.name as string, `${where}: evaluations[${j}].name`),
      ),
      value: decodeNumber(e.value, `${where}: evaluations[${j}].value`),
      n: intOrNull(e.n, `${where}: evaluations[${j}].n`),
      features: (e.features ?? null) as string | null,
      details: e.details ?? null,
      createdAt: typeof e.createdAt === "string" ? e.createdAt : undefined,
    })),
    artifacts: list("artifacts").map((a, j) => ({
      kind: need(typeof a.kind === "string", a.kind as string, `${where}: artifacts[${j}].kind`),
      path: need(typeof a.path === "string", a.path as string, `${where}: artifacts[${j}].path`),
      step: intOrNull(a.step, `${where}: artifacts[${j}].step`),
      createdAt: typeof a.createdAt === "string" ? a.createdAt : undefined,
    })),
  };
}
