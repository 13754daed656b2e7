/**
 * Comparison tables: one row per run, or per preset aggregated over seeds (mean, sample standard
 * deviation, n), with columns for the config fields that differ between the rows and for the
 * metrics, sorted by one metric, with the published reference rows of the same data set beside
 * them. Pure functions over records read from the results database.
 */
import { lowerIsBetter } from "../metric_names.ts";
import { UserError } from "../errors.ts";
import type { ResultsDb, RunRecord } from "../db/mod.ts";
import referencesFile from "./references.json" with { type: "json" };

export interface Reference {
  method: string;
  /** Normalized data set name (see normalizeDataset). */
  dataset: string;
  aliases: string[];
  /** Published values as printed in the source (e.g. "8.30"). */
  metrics: Record<string, string>;
  /** Where the numbers are printed: paper, arXiv id and table. */
  citation: string;
  /** The method's own paper, when the numbers are quoted from another one. */
  original?: string;
}

interface ReferencesFile {
  sources: Record<string, { title: string; authors: string; venue: string; arxiv: string }>;
  references: {
    method: string;
    dataset: string;
    aliases?: string[];
    metrics: Record<string, string>;
    source: string;
    table: string;
    original?: string;
  }[];
}

/** The checked-in published results (lib/report/references.json). */
export function loadReferences(
  file: ReferencesFile = referencesFile as unknown as ReferencesFile,
): Reference[] {
  return file.references.map((r) => {
    const s = file.sources[r.source];
    if (!s) throw new Error(`references.json: unknown source '${r.source}'`);
    return {
      method: r.method,
      dataset: normalizeDataset(r.dataset),
      aliases: (r.aliases ?? []).map(normalizeDataset),
      metrics: r.metrics,
      citation: `${s.authors}, "${s.title}", ${s.venue}, arXiv:${s.arxiv}, ${r.table}`,
      original: r.original,
    };
  });
}

/** "CIFAR-10" and "cifar_10" are the same data set. */
export function normalizeDataset(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]/g, "");
}

/** The run's data set: config.dataset when the config has one, else its preset. */
export function datasetOfRun(run: RunRecord): string {
  const config = run.config as Record<string, unknown> | null;
  const dataset = config && typeof config === "object" ? config.dataset : undefined;
  return typeof dataset === "string" && dataset !== "" ? dataset : run.preset;
}

export interface RunResult {
  run: RunRecord;
  dataset: string;
  /** The latest evaluation of each metric name. */
  metrics: Record<string, number>;
}

/** Runs with at least one evaluation (optionally of one data set or task), with their metrics. */
export async function collectRunResults(
  db: ResultsDb,
  opts: { dataset?: string; task?: string } = {},
): Promise<{ results: RunResult[]; skippedWithoutEvaluations: number }> {
  const results: RunResult[] = [];
  let skipped = 0;
  for (const run of await db.listRuns(opts.task === undefined ? {} : { task: opts.task })) {
    const dataset = datasetOfRun(run);
    if (opts.dataset && normalizeDataset(dataset) !== normalizeDataset(opts.dataset)) continue;
    const metrics: Record<string, number> = {};
    for (const e of await db.evaluations(run.id)) metrics[e.name] = e.value; // ordered: last wins
    if (Object.keys(metrics).length === 0) {
      skipped++;
      continue;
    }
    results.push({ run, dataset, metrics });
  }
  return { results, skippedWithoutEvaluations: skipped };
}

/** For ranking: the direction of the one table of metric names (unknown names: lower). */
export { lowerIsBetter };

/** Metric columns come in this order first, then alphabetically. */
const PREFERRED_METRICS = ["fid", "is", "kid", "energy_distance", "mmd"];

function metricOrder(a: string, b: string): number {
  const ia = PREFERRED_METRICS.indexOf(a), ib = PREFERRED_METRICS.indexOf(b);
  if (ia !== ib) return (ia === -1 ? Infinity : ia) - (ib === -1 ? Infinity : ib) || 0;
  return a.localeCompare(b);
}

export interface MetricCell {
  mean: number;
  /** Sample standard deviation (n - 1); null for a single value or a reference. */
  std: number | null;
  n: number;
  /** A reference's value exactly as published. */
  published?: string;
}

export interface TableRow {
  kind: "run" | "group" | "reference";
  label: string;
  preset: string;
  runIds: number[];
  /** Values of the table's config columns (missing keys as ""). */
  config: Record<string, string>;
  metrics: Record<string, MetricCell>;
  /** Index into the table's citations, for references. */
  citation?: number;
}

/** One row per run, per preset, or per config (runs whose configs differ only by the seed). */
export type GroupBy = "run" | "preset" | "config";

export interface ComparisonTable {
  dataset: string;
  groupBy: GroupBy;
  sortMetric: string | null;
  lowerIsBetter: boolean;
  configColumns: string[];
  metricColumns: string[];
  rows: TableRow[];
  citations: string[];
}

/** Keys that never make a row different in a meaningful way: the seed, the data set, paths. */
function ignoredConfigKey(path: string): boolean {
  const last = path.split(".").pop()!;
  return path === "seed" || path === "dataset" ||
    /^(out|outdir|rundir|dir|resume|resumefrom|logdir|checkpointdir)$/i.test(last);
}

/** Leaves of a config as dot paths; arrays and scalars become their JSON text (strings as is). */
export function flattenConfig(value: unknown, prefix = "", out: Record<string, string> = {}) {
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      flattenConfig(v, prefix ? `${prefix}.${k}` : k, out);
    }
  } else if (prefix !== "") {
    out[prefix] = typeof value === "string" ? value : JSON.stringify(value);
  }
  return out;
}

const VARIES = "(varies)";

function mean(values: number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

function sampleStd(values: number[]): number | null {
  if (values.length < 2) return null;
  const m = mean(values);
  return Math.sqrt(values.reduce((a, v) => a + (v - m) ** 2, 0) / (values.length - 1));
}

/** A run's preset and config without its seed: the runs of one sweep setting share it. */
function settingKey(r: RunResult): string {
  const config = flattenConfig(r.run.config);
  delete config.seed;
  return JSON.stringify([r.run.preset, Object.entries(config).sort()]);
}

interface Draft {
  kind: "run" | "group";
  label: string;
  preset: string;
  members: RunResult[];
  config: Record<string, string>;
}

function draftRows(results: RunResult[], groupBy: GroupBy): Draft[] {
  if (groupBy === "run") {
    return results.map((r) => ({
      kind: "run",
      label: `#${r.run.id}`,
      preset: r.run.preset,
      members: [r],
      config: flattenConfig(r.run.config),
    }));
  }
  const groups = new Map<string, RunResult[]>();
  for (const r of results) {
    const key = groupBy === "preset" ? r.run.preset : settingKey(r);
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  return [...groups].map(([, members]) => {
    const preset = members[0].run.preset;
    const configs = members.map((m) => flattenConfig(m.run.config));
    const keys = new Set(configs.flatMap((c) => Object.keys(c)));
    const config: Record<string, string> = {};
    for (const k of keys) {
      const values = new Set(configs.map((c) => c[k] ?? ""));
      config[k] = values.size === 1 ? [...values][0] : VARIES;
    }
    return { kind: "group", label: preset, preset, members, config };
  });
}

function sortValue(row: TableRow, metric: string | null): number | undefined {
  if (metric === null) return undefined;
  const cell = row.metrics[metric];
  return cell && Number.isFinite(cell.mean) ? cell.mean : undefined;
}

/**
 * One table per data set (of the results, plus opts.dataset when given): measured rows and the
 * references of that data set, sorted by opts.metric (default: fid, is, ... whichever is there).
 */
export function buildComparison(
  results: RunResult[],
  references: Reference[],
  opts: { metric?: string; groupBy?: GroupBy; dataset?: string } = {},
): ComparisonTable[] {
  const groupBy = opts.groupBy ?? "run";
  if (opts.metric && results.length > 0 && !results.some((r) => opts.metric! in r.metrics)) {
    const present = [...new Set(results.flatMap((r) => Object.keys(r.metrics)))].sort(metricOrder);
    throw new UserError(
      `no run has the metric '${opts.metric}': choose one of ${present.join(", ")}`,
    );
  }
  const byDataset = new Map<string, RunResult[]>();
  if (opts.dataset) byDataset.set(normalizeDataset(opts.dataset), []);
  for (const r of results) {
    const key = normalizeDataset(r.dataset);
    byDataset.set(key, [...(byDataset.get(key) ?? []), r]);
  }

  return [...byDataset].sort(([a], [b]) => a.localeCompare(b)).map(([key, members]) => {
    const drafts = draftRows(members, groupBy);
    const configKeys = new Set(drafts.flatMap((d) => Object.keys(d.config)));
    const configColumns = [...configKeys].filter((k) =>
      !ignoredConfigKey(k) && new Set(drafts.map((d) => d.config[k] ?? "")).size > 1
    ).sort();
    const rows: TableRow[] = drafts.map((d) => {
      const names = new Set(d.members.flatMap((m) => Object.keys(m.metrics)));
      const metrics: Record<string, MetricCell> = {};
      for (const name of names) {
        const values = d.members.map((m) => m.metrics[name]).filter((v) => v !== undefined);
        metrics[name] = { mean: mean(values), std: sampleStd(values), n: values.length };
      }
      return {
        kind: d.kind,
        label: d.label,
        preset: d.preset,
        runIds: d.members.map((m) => m.run.id),
        config: Object.fromEntries(configColumns.map((k) => [k, d.config[k] ?? ""])),
        metrics,
      };
    });

    // One footnote per source table, listing the original papers of the methods it quotes.
    const citations: string[] = [];
    const originals: string[][] = [];
    for (const ref of references) {
      if (ref.dataset !== key && !ref.aliases.includes(key)) continue;
      let citation = citations.indexOf(ref.citation);
      if (citation === -1) citation = citations.push(ref.citation) - 1;
      if (ref.original) (originals[citation] ??= []).push(`${ref.method}: ${ref.original}`);
      rows.push({
        kind: "reference",
        label: ref.method,
        preset: "",
        runIds: [],
        config: Object.fromEntries(configColumns.map((k) => [k, ""])),
        metrics: Object.fromEntries(
          Object.entries(ref.metrics).map(([name, text]) => [
            name,
            { mean: Number(text), std: null, n: 1, published: text },
          ]),
        ),
        citation,
      });
    }

    const measuredNames = new Set(
      rows.filter((r) => r.kind !== "reference").flatMap((r) => Object.keys(r.metrics)),
    );
    const allNames = new Set(rows.flatMap((r) => Object.keys(r.metrics)));
    const metricColumns = [...allNames].sort(metricOrder);
    const sortMetric = opts.metric ??
      [...measuredNames].sort(metricOrder)[0] ?? metricColumns[0] ?? null;
    const lower = sortMetric === null ? true : lowerIsBetter(sortMetric);
    rows.sort((a, b) => {
      const va = sortValue(a, sortMetric), vb = sortValue(b, sortMetric);
      if (va === undefined || vb === undefined) {
        if (va !== vb) return va === undefined ? 1 : -1; // rows without the metric go last
      } else if (va !== vb) return lower ? va - vb : vb - va;
      return a.label.localeCompare(b.label, undefined, { numeric: true });
    });
    const dataset = members[0]?.dataset ?? opts.dataset ?? key;
    return {
      dataset,
      groupBy,
      sortMetric,
      lowerIsBetter: lower,
      configColumns,
      metricColumns,
      rows,
      citations: citations.map((c, i) =>
        originals[i] ? `${c} (quoting ${originals[i].join("; ")})` : c
      ),
    };
  });
}
