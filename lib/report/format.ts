/** Text renderings of comparison tables: markdown (for papers and issues), CSV and JSON. */
import type { ComparisonTable, MetricCell, TableRow } from "./compare.ts";

/** Four significant digits; exponents for very large or small magnitudes. */
export function formatNumber(x: number): string {
  if (Number.isNaN(x)) return "NaN";
  if (!Number.isFinite(x)) return x > 0 ? "inf" : "-inf";
  const a = Math.abs(x);
  if (a !== 0 && (a >= 1e5 || a < 1e-3)) return x.toExponential(2);
  return String(Number(x.toPrecision(4)));
}

/** "9.58", "9.58 ± 0.12" (several runs), "(n=2)" appended when fewer runs than the row has. */
export function formatCell(cell: MetricCell | undefined, rowRuns: number): string {
  if (!cell) return "";
  if (cell.published !== undefined) return cell.published;
  let text = formatNumber(cell.mean);
  if (cell.std !== null) text += ` ± ${formatNumber(cell.std)}`;
  if (rowRuns > 1 && cell.n !== rowRuns) text += ` (n=${cell.n})`;
  return text;
}

export function sortNote(t: ComparisonTable): string {
  if (t.sortMetric === null) return "";
  return `sorted by ${t.sortMetric}, ${t.lowerIsBetter ? "lower" : "higher"} is better`;
}

/** The cells of one row in column order, shared by every format. */
export interface TableLayout {
  header: string[];
  cells(row: TableRow): string[];
}

export function tableLayout(t: ComparisonTable): TableLayout {
  const grouped = t.groupBy !== "run";
  const header = [
    grouped ? "preset" : "run",
    ...(grouped ? ["runs"] : ["preset"]),
    ...t.configColumns,
    ...t.metricColumns,
  ];
  return {
    header,
    cells(row) {
      const label = row.kind === "reference"
        ? `${row.label} (reference [${row.citation! + 1}])`
        : row.label;
      const second = row.kind === "reference"
        ? ""
        : grouped
        ? String(row.runIds.length)
        : row.preset;
      return [
        label,
        second,
        ...t.configColumns.map((k) => row.config[k] ?? ""),
        ...t.metricColumns.map((m) => formatCell(row.metrics[m], row.runIds.length)),
      ];
    },
  };
}

function mdEscape(text: string): string {
  return text.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

export function toMarkdown(tables: ComparisonTable[], note?: string): string {
  const out: string[] = [];
  if (tables.length === 0) out.push("No evaluated runs.", "");
  for (const t of tables) {
    const layout = tableLayout(t);
    const sorted = sortNote(t);
    out.push(`## ${t.dataset}${sorted ? ` (${sorted})` : ""}`, "");
    out.push(`| ${layout.header.map(mdEscape).join(" | ")} |`);
    out.push(
      `|${
        layout.header.map((
          _,
          i,
        ) => (i >= layout.header.length - t.metricColumns.length ? " ---: " : " --- ")).join("|")
      }|`,
    );
    for (const row of t.rows) {
      const cells = layout.cells(row).map(mdEscape);
      if (row.kind === "reference") cells[0] = `*${cells[0]}*`;
      out.push(`| ${cells.join(" | ")} |`);
    }
    if (t.rows.every((r) => r.kind === "reference")) {
      out.push("", "No measured runs of this data set yet.");
    }
    if (t.citations.length) {
      out.push("", ...t.citations.map((c, i) => `[${i + 1}] ${c}`));
    }
    out.push("");
  }
  if (note) out.push(note, "");
  return out.join("\n");
}

function csvField(text: string): string {
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** Full precision, without float noise such as 8.200000000000001. */
function csvNumber(x: number): string {
  return Number.isFinite(x) ? String(Number(x.toPrecision(12))) : String(x);
}

/** One CSV for all tables: fixed columns, then the union of config and metric columns. */
export function toCsv(tables: ComparisonTable[]): string {
  const configColumns = [...new Set(tables.flatMap((t) => t.configColumns))];
  const metricColumns = [...new Set(tables.flatMap((t) => t.metricColumns))];
  const header = [
    "dataset",
    "kind",
    "label",
    "preset",
    "run_ids",
    ...configColumns,
    ...metricColumns.flatMap((m) => [`${m}_mean`, `${m}_std`, `${m}_n`]),
    "source",
  ];
  const lines = [header.map(csvField).join(",")];
  for (const t of tables) {
    for (const row of t.rows) {
      const fields = [
        t.dataset,
        row.kind,
        row.label,
        row.preset,
        row.runIds.join(" "),
        ...configColumns.map((k) => row.config[k] ?? ""),
        ...metricColumns.flatMap((m) => {
          const cell = row.metrics[m];
          if (!cell) return ["", "", ""];
          return [
            cell.published ?? csvNumber(cell.mean),
            cell.std === null ? "" : csvNumber(cell.std),
            String(cell.n),
          ];
        }),
        row.citation === undefined ? "" : t.citations[row.citation],
      ];
      lines.push(fields.map(csvField).join(","));
    }
  }
  return lines.join("\n") + "\n";
}

/** The tables as data; non-finite means become null (JSON has no NaN). */
export function toJson(tables: ComparisonTable[]): string {
  return JSON.stringify({ tables }, null, 2) + "\n";
}
