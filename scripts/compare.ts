/**
 * Comparison tables of the runs in the results database, with published reference rows.
 *
 *   deno task compare [--dataset D] [--task T] [--metric M] [--group-by run|preset]
 *                     [--format md|csv|json|html] [--out FILE] [--db URL|PATH]
 *
 * md, csv and json go to standard output (or --out); html writes a self-contained page with the
 * tables, sample grids and training curves to results/report.html (or --out).
 */
import { dirname } from "node:path";
import { Command, Option } from "commander";
import { runMain, UserError } from "../lib/errors.ts";
import { dbOptionsFor, DEFAULT_DB_PATH, openResultsDb } from "../lib/db/mod.ts";
import {
  buildComparison,
  collectRunResults,
  type GroupBy,
  loadReferences,
} from "../lib/report/compare.ts";
import { toCsv, toJson, toMarkdown } from "../lib/report/format.ts";
import { gatherRunDetails, renderReport } from "../lib/report/html.ts";

type Format = "md" | "csv" | "json" | "html";

interface CompareOptions {
  dataset?: string;
  task?: string;
  metric?: string;
  groupBy: GroupBy;
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
    const { results, skippedWithoutEvaluations } = await collectRunResults(db, opts);
    const tables = buildComparison(results, loadReferences(), opts);
    const skipped = skippedWithoutEvaluations
      ? `${skippedWithoutEvaluations} run(s) without evaluations left out.`
      : undefined;
    let text: string;
    if (opts.format === "html") {
      const runIds = [...new Set(tables.flatMap((t) => t.rows.flatMap((r) => r.runIds)))];
      text = renderReport(tables, await gatherRunDetails(db, runIds), { source: db.location });
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
        new Option("--group-by <what>", "one row per run, or per preset over seeds")
          .choices(["run", "preset"]).default("run"),
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
