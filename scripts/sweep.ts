/**
 * Sweeps: grids of training runs on the shared PostgreSQL, trained by `deno task worker`s.
 *
 *   deno task sweep create SPEC.json [--db URL]
 *   deno task sweep create --preset P --grid KEY=V1,V2 [--grid ...] [--seeds 0,1] [--set KEY=V ...]
 *                          --store DIR [--name N] [--retries N] [--heartbeat S] [--db URL]
 *   deno task sweep status ID [--json] [--db URL]
 *   deno task sweep cancel ID [--db URL]
 *
 * --db defaults to DATABASE_URL. The spec file's fields: lib/sweep/spec.ts; how it works and
 * scales: docs/sweeps.md.
 */
import { Command, InvalidArgumentError } from "commander";
import { runMain, UserError } from "../lib/errors.ts";
import { cancelSweep, createSweep, openSharedDb } from "../lib/sweep/manage.ts";
import { openQueue } from "../lib/sweep/queue.ts";
import {
  checkSpec,
  parseGridOption,
  parseSeedsOption,
  parseSetOption,
  settingLabel,
} from "../lib/sweep/spec.ts";
import { formatStatus, plural, sweepStatus } from "../lib/sweep/status.ts";

function dbUrl(value: string | undefined): string | undefined {
  return value ?? Deno.env.get("DATABASE_URL");
}

function sweepId(value: string): number {
  const id = Number(value);
  if (!Number.isInteger(id) || id < 1) {
    throw new InvalidArgumentError(`'${value}' is not a sweep id (a positive integer)`);
  }
  return id;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

interface CreateOptions {
  preset?: string;
  grid?: string[];
  seeds?: string;
  set?: string[];
  store?: string;
  name?: string;
  retries?: string;
  heartbeat?: string;
  db?: string;
}

async function readSpecFile(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (err) {
    throw new UserError(`cannot read ${file} (${(err as Error).message}): check the path`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UserError(`${file} is not JSON (${(err as Error).message})`);
  }
}

/** The spec from a file, with command-line options over its fields; or from the options alone. */
async function specFrom(file: string | undefined, o: CreateOptions) {
  const base = (file ? await readSpecFile(file) : {}) as Record<string, unknown>;
  if (typeof base !== "object" || base === null || Array.isArray(base)) {
    throw new UserError(`${file}: expected a JSON object`);
  }
  const raw: Record<string, unknown> = { ...base };
  if (o.preset) raw.preset = o.preset;
  if (o.grid?.length) raw.grid = Object.fromEntries(o.grid.map(parseGridOption));
  raw.grid ??= {};
  if (o.seeds) raw.seeds = parseSeedsOption(o.seeds);
  if (o.set?.length) {
    raw.overrides = {
      ...(raw.overrides as Record<string, unknown> | undefined),
      ...Object.fromEntries(o.set.map(parseSetOption)),
    };
  }
  if (o.store) raw.store = o.store;
  if (o.name) raw.name = o.name;
  if (o.retries !== undefined) raw.retries = Number(o.retries);
  if (o.heartbeat !== undefined) raw.heartbeatSeconds = Number(o.heartbeat);
  return checkSpec(raw, file ?? "the sweep");
}

async function createCommand(file: string | undefined, o: CreateOptions) {
  const url = dbUrl(o.db);
  const spec = await specFrom(file, o);
  const { sweep, jobs } = await createSweep(url!, spec);
  const settings = new Set(jobs.map((j) => settingLabel(j.setting)));
  console.log(
    `sweep ${sweep.id}: ${plural(jobs.length, "job")} (${plural(settings.size, "setting")} x ` +
      `${
        plural(spec.seeds.length, "seed")
      }) of ${spec.preset} queued; checkpoints in ${spec.store}`,
  );
  console.log(`  workers:  deno task worker --db <the same URL>`);
  console.log(`  progress: deno task sweep status ${sweep.id}`);
  console.log(`  results:  deno task compare --sweep ${sweep.id}`);
}

async function statusCommand(id: number, o: { json?: boolean; db?: string }) {
  const url = dbUrl(o.db);
  const db = await openSharedDb(url);
  try {
    const boss = await openQueue(url!);
    try {
      const report = await sweepStatus(db, boss, id);
      console.log(o.json ? JSON.stringify(report, null, 2) : formatStatus(report));
    } finally {
      await boss.stop({ graceful: false }).catch(() => {});
    }
  } finally {
    await db.close();
  }
}

async function cancelCommand(id: number, o: { db?: string }) {
  const { sweep, cancelled } = await cancelSweep(dbUrl(o.db)!, id);
  const running = cancelled.filter((j) => j.state === "running").length;
  console.log(
    `sweep ${sweep.id} cancelled: ${cancelled.length} unfinished job(s) taken off the queue` +
      (running ? ` (${running} in training stop at their worker's next queue heartbeat)` : ""),
  );
}

function buildProgram(): Command {
  const program = new Command("sweep")
    .description(
      "grids of training runs, handed out to workers by a queue on the shared PostgreSQL",
    )
    .exitOverride((err) => Deno.exit(err.exitCode === 0 ? 0 : 2));
  const dbOption = "--db <url>";
  const dbHelp = "the shared database, postgres://... (default: DATABASE_URL)";
  program.command("create")
    .description("expand a spec into jobs on the queue, recorded as a sweep")
    .argument("[spec]", "a JSON spec file (fields: lib/sweep/spec.ts); options override it")
    .option("--preset <name>", "the preset every job starts from")
    .option(
      "--grid <key=v1,v2>",
      "a grid axis (repeatable): every combination is a setting",
      collect,
    )
    .option("--seeds <list>", "seeds of each setting, e.g. 0,1,2 (default 0)")
    .option("--set <key=value>", "an override every job shares (repeatable)", collect)
    .option("--store <dir>", "the folder all workers share for checkpoints (required)")
    .option("--name <text>", "a label for the sweep")
    .option("--retries <n>", "how often a job is handed out again (default 10)")
    .option("--heartbeat <seconds>", "a worker silent this long has lost its job (default 30)")
    .option(dbOption, dbHelp)
    .action(createCommand);
  program.command("status")
    .description("each job's state, worker, step and last metrics")
    .argument("<id>", "the sweep", sweepId)
    .option("--json", "as JSON")
    .option(dbOption, dbHelp)
    .action(statusCommand);
  program.command("cancel")
    .description("take the sweep's unfinished jobs off the queue (jobs in training stop)")
    .argument("<id>", "the sweep", sweepId)
    .option(dbOption, dbHelp)
    .action(cancelCommand);
  return program;
}

if (import.meta.main) {
  await runMain(async () => {
    await buildProgram().parseAsync(Deno.args, { from: "user" });
  });
}
