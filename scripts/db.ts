/**
 * Moving runs between results databases.
 *
 *   deno task db export --run ID [--run ID ...] [--out FILE] [--db URL|PATH]
 *   deno task db import FILE [--db URL|PATH]
 *   deno task db sync --to URL [--from PATH] [--include-running]
 *   deno task db replay FILE [--db URL|PATH]
 *
 * --db defaults to DATABASE_URL, else results/results.db. Runs keep a unique id (uid) across
 * databases, so import and sync never duplicate a run. replay loads the journal a training run
 * wrote when it lost its database mid-run (results/runs/<uid>/db_journal.json).
 */
import { Command, InvalidArgumentError } from "commander";
import { runMain, UserError } from "../lib/errors.ts";
import {
  dbOptionsFor,
  decodeExportFile,
  decodeJournal,
  DEFAULT_DB_PATH,
  encodeExportFile,
  exportRuns,
  importBundles,
  openResultsDb,
  replayJournal,
  type ResultsDb,
  syncRuns,
} from "../lib/db/mod.ts";

function collectRunId(value: string, previous: number[] = []): number[] {
  const id = Number(value);
  if (!Number.isInteger(id) || id < 1) {
    throw new InvalidArgumentError(`'${value}' is not a run id (a positive integer)`);
  }
  return [...previous, id];
}

async function withDb<T>(value: string | undefined, body: (db: ResultsDb) => Promise<T>) {
  const db = await openResultsDb(dbOptionsFor(value));
  try {
    return await body(db);
  } finally {
    await db.close();
  }
}

async function readInput(file: string): Promise<string> {
  try {
    return await Deno.readTextFile(file);
  } catch (err) {
    throw new UserError(`cannot read ${file} (${(err as Error).message}): check the path`);
  }
}

function ids(list: number[]): string {
  return list.length ? ` (ids ${list.join(", ")})` : "";
}

async function exportCommand(opts: { run?: number[]; all?: boolean; out?: string; db?: string }) {
  if (!opts.run?.length && !opts.all) {
    throw new UserError("say which runs to export: --run ID (repeatable) or --all");
  }
  const text = await withDb(opts.db, async (db) => {
    const runIds = opts.all ? (await db.listRuns()).map((r) => r.id) : opts.run!;
    return { count: runIds.length, json: encodeExportFile(await exportRuns(db, runIds)) };
  });
  if (opts.out === undefined) {
    await Deno.stdout.write(new TextEncoder().encode(text.json));
    return;
  }
  try {
    await Deno.writeTextFile(opts.out, text.json);
  } catch (err) {
    throw new UserError(
      `cannot write ${opts.out} (${(err as Error).message}): choose another --out`,
    );
  }
  console.error(`exported ${text.count} run(s) to ${opts.out}`);
}

async function importCommand(file: string, opts: { db?: string }) {
  const text = await readInput(file);
  const bundles = decodeExportFile(text, file);
  const summary = await withDb(opts.db, async (db) => {
    const s = await importBundles(db, bundles);
    return { ...s, location: db.location };
  });
  console.log(
    `imported ${summary.created.length} run(s) into ${summary.location}${ids(summary.created)}; ` +
      `${summary.existing.length} already there${ids(summary.existing)}`,
  );
}

async function replayCommand(file: string, opts: { db?: string }) {
  const text = await readInput(file);
  const journal = decodeJournal(text, file);
  const summary = await withDb(opts.db, async (db) => ({
    ...(await replayJournal(db, journal)),
    location: db.location,
  }));
  console.log(
    `replayed ${file} into run ${summary.runId} of ${summary.location}: ` +
      `${summary.metrics} metric row(s), ${summary.evaluations} evaluation(s), ` +
      `${summary.artifacts} artifact(s) added` +
      (summary.status ? `; status ${summary.status}` : "") +
      " (rows already there were kept; replaying again changes nothing)",
  );
}

async function syncCommand(opts: { to: string; from: string; includeRunning?: boolean }) {
  try {
    await Deno.stat(opts.from);
  } catch {
    throw new UserError(`there is no local results database at ${opts.from}: check --from`);
  }
  const summary = await withDb(opts.from, (from) =>
    withDb(opts.to, async (to) => {
      if (to.kind === from.kind && to.location === from.location) {
        throw new UserError("--to names the same database as --from: nothing to sync");
      }
      return { ...(await syncRuns(from, to, opts)), location: to.location };
    }));
  console.log(
    `pushed ${summary.created.length} run(s) to ${summary.location}${ids(summary.created)}; ` +
      `${summary.existing.length} already there` +
      (summary.skippedRunning.length
        ? `; ${summary.skippedRunning.length} still running, left for a later sync` +
          ` (local ids ${summary.skippedRunning.join(", ")}; --include-running pushes them now)`
        : ""),
  );
}

function buildProgram(): Command {
  const program = new Command("db")
    .description("move runs between results databases (SQLite file or PostgreSQL)")
    .exitOverride((err) => Deno.exit(err.exitCode === 0 ? 0 : 2));
  const dbOption = "--db <url-or-path>";
  const dbHelp =
    `database: postgres://... or a SQLite file (default: DATABASE_URL, else ${DEFAULT_DB_PATH})`;
  program.command("export")
    .description("write runs (rows and artifact references) to a JSON file")
    .option("--run <id>", "run id to export (repeatable)", collectRunId)
    .option("--all", "export every run")
    .option("--out <file>", "output file (default: standard output)")
    .option(dbOption, dbHelp)
    .action(exportCommand);
  program.command("import")
    .description("add the runs of an export file (runs already there are skipped)")
    .argument("<file>", "a file written by db export")
    .option(dbOption, dbHelp)
    .action(importCommand);
  program.command("replay")
    .description("load the journal of a run that lost its database mid-run")
    .argument("<file>", "the run's db_journal.json (in its run folder)")
    .option(dbOption, dbHelp)
    .action(replayCommand);
  program.command("sync")
    .description("push local SQLite runs to another database (e.g. the lab's PostgreSQL)")
    .requiredOption("--to <url>", 'target database, e.g. "$DATABASE_URL"')
    .option("--from <path>", "local SQLite file", DEFAULT_DB_PATH)
    .option("--include-running", "also push runs still marked running")
    .action(syncCommand);
  return program;
}

if (import.meta.main) {
  await runMain(async () => {
    await buildProgram().parseAsync(Deno.args, { from: "user" });
  });
}
