/**
 * Comparison tables of the runs in the results database, with published reference rows.
 *
 *   deno task compare [--dataset D] [--task T] [--metric M] [--group-by run|preset|config]
 *                     [--format md|csv|json|html] [--out FILE] [--db URL|PATH]
 *   deno task compare --sweep ID [...]   one row per setting of the sweep (mean, std, n over seeds)
 *
 * md, csv and json go to standard output (or --out); html writes a self-contained page with the
 * tables, sample grids and training curves to results/report.html (or --out); with --sweep it
 * also shows a heat map per final metric over the sweep's grid axes (lib/report/sweep_page.ts).
 */
import { dirname } from "node:path";
import { Command, InvalidArgumentError, Option } from "commander";
import { runMain, UserError } from "../lib/errors.ts";
import { dbOptionsFor, DEFAULT_DB_PATH, openResultsDb } from "../lib/db/mod.ts";
import {
  buildComparison,
  collectRunResults,
  type GroupBy,
  loadReferences,
  type RunResult,
} from "../lib/report/compare.ts";
import { collectSweepResults } from "../lib/sweep/results.ts";
import { toCsv, toJson, toMarkdown } from "../lib/report/format.ts";
import { escapeXml } from "../lib/report/svg_chart.ts";
import { gatherRunDetails, renderReport } from "../lib/report/html.ts";
import { gridAxes, renderSweepHeatmaps, type SweepAxis } from "../lib/report/sweep_page.ts";

type Format = "md" | "csv" | "json" | "html";

interface CompareOptions {
  dataset?: string;
  task?: string;
  metric?: string;
  /** Default: run, or config with --sweep. */
  groupBy?: GroupBy;
  sweep?: number;
  format: Format;
  out?: string;
  db?: string;
}

async function writeOutput(path: string, text: string): Promise<void> {
  try {
    await Deno.mkdir(dirname(path), { recursive: true });
    await Deno.writeTextFile(path, text);
  } catch (err) {
    throw new UserError(`cannot write ${path} (${(err as Error).message}): choose another --out`);
  }
}

async function compare(opts: CompareOptions): Promise<void> {
  const db = await openResultsDb({ ...dbOptionsFor(opts.db), mustExist: true });
  try {
    let results: RunResult[];
    let skipped: string | undefined;
    let sweepGrid: { axes: SweepAxis[]; settings: Map<number, Record<string, string>> } | undefined;
    if (opts.sweep !== undefined) {
      const collected = await collectSweepResults(db, opts.sweep);
      results = collected.results;
      const s = collected.sweep;
      skipped = `Sweep ${s.id}${s.name ? ` "${s.name}"` : ""}: ${results.length} completed ` +
        `run(s)` +
        (collected.unfinished ? `; ${collected.unfinished} not completed, left out.` : ".");
      sweepGrid = { axes: gridAxes(s.spec.grid), settings: collected.settings };
    } else {
      const collected = await collectRunResults(db, opts);
      results = collected.results;
      skipped = collected.skippedWithoutEvaluations
        ? `${collected.skippedWithoutEvaluations} run(s) without evaluations left out.`
        : undefined;
    }
    const groupBy = opts.groupBy ?? (opts.sweep === undefined ? "run" : "config");
    const tables = buildComparison(results, loadReferences(), { ...opts, groupBy });
    let text: string;
    if (opts.format === "html") {
      const runIds = [...new Set(tables.flatMap((t) => t.rows.flatMap((r) => r.runIds)))];
      // A sweep's page: its runs over the grid axes, whatever the table's --group-by.
      const grid = sweepGrid;
      const sweepSection = grid === undefined
        ? undefined
        : `<p class="note">${escapeXml(skipped ?? "")}</p>\n` + renderSweepHeatmaps(
          grid.axes,
          results.map((r) => ({ setting: grid.settings.get(r.run.id) ?? {}, metrics: r.metrics })),
          // The table's metric order (fid, is, kid, ... first).
          { metrics: [...new Set(tables.flatMap((t) => t.metricColumns))] },
        );
      text = renderReport(tables, await gatherRunDetails(db, runIds), {
        source: db.location,
        sweepSection,
      });
    } else {
      text = opts.format === "csv"
        ? toCsv(tables)
        : opts.format === "json"
        ? toJson(tables)
        : toMarkdown(tables, skipped);
    }
    const out = opts.out ?? (opts.format === "html" ? "results/report.html" : undefined);
    if (out === undefined) {
      await Deno.stdout.write(new TextEncoder().encode(text));
    } else {
      await writeOutput(out, text);
      console.error(`wrote ${out}`);
    }
  } finally {
    await db.close();
  }
}

if (import.meta.main) {
  await runMain(async () => {
    const program = new Command("compare")
      .description("comparison tables of the recorded runs, beside published results")
      .option("--dataset <name>", "only runs of this data set (config.dataset, e.g. cifar10)")
      .option("--task <name>", "only runs of this task (e.g. toy2d, images, sample)")
      .option("--metric <name>", "sort by this metric (default: fid, is, kid, ... as present)")
      .addOption(
        new Option(
          "--group-by <what>",
          "one row per run, per preset, or per config over seeds (default: run; config with --sweep)",
        ).choices(["run", "preset", "config"]),
      )
      .addOption(
        new Option("--sweep <id>", "the runs of one sweep, one row per setting")
          .argParser((v) => {
            const id = Number(v);
            if (!Number.isInteger(id) || id < 1) {
              throw new InvalidArgumentError(`'${v}' is not a sweep id (a positive integer)`);
            }
            return id;
          }),
      )
      .addOption(
        new Option("--format <format>", "output format").choices(["md", "csv", "json", "html"])
          .default("md"),
      )
      .option("--out <file>", "output file (html default: results/report.html)")
      .option(
        "--db <url-or-path>",
        `database: postgres://... or a SQLite file (default: DATABASE_URL, else ${DEFAULT_DB_PATH})`,
      )
      .exitOverride((err) => Deno.exit(err.exitCode === 0 ? 0 : 2))
      .action(compare);
    await program.parseAsync(Deno.args, { from: "user" });
  });
}
