/**
 * deno task export-model (--run ID [--step N] | --checkpoint PATH) --out PATH [--db PATH]
 * Writes a training checkpoint's EMA weights, config and provenance as a model file that
 * `deno task sample --checkpoint PATH` and `deno task eval --checkpoint PATH` read (the shipped
 * models in models/ are made this way).
 */
import { Command } from "commander";
import { intOption, optionalInt, parseCommand } from "../lib/cli.ts";
import { dbOptionsFor, openResultsDb } from "../lib/db/mod.ts";
import { runMain, UserError } from "../lib/errors.ts";
import { exportModel } from "../lib/models.ts";
// Any run kind (the 2D models are shipped too), not eval's image-only lookup.
import { runCheckpoint } from "../lib/run_files.ts";

await runMain(async () => {
  const program = new Command("export-model")
    .description("write a checkpoint's EMA weights and config as a model file")
    .option("--run <id>", "a training run of the results database")
    .option("--step <n>", "with --run: the checkpoint kept at this step (--keep-every)")
    .option("--checkpoint <path>", "a training checkpoint file")
    .requiredOption("--out <path>", "the model file to write")
    .option("--db <path>", "results database (SQLite path or postgres:// URL)");
  if (!parseCommand(program, Deno.args)) return;
  const o = program.opts<
    { run?: string; step?: string; checkpoint?: string; out: string; db?: string }
  >();
  if ((o.run === undefined) === (o.checkpoint === undefined)) {
    throw new UserError("give exactly one of --run ID or --checkpoint PATH");
  }
  let checkpoint = o.checkpoint;
  const provenance: Record<string, unknown> = {};
  if (o.run !== undefined) {
    const db = await openResultsDb(dbOptionsFor(o.db));
    try {
      const { run, path } = await runCheckpoint(
        db,
        intOption("run", o.run, 1),
        optionalInt("step", o.step, 0),
      );
      checkpoint = path;
      Object.assign(provenance, { runUid: run.uid, runHost: run.host ?? null });
    } finally {
      await db.close();
    }
  }
  const m = await exportModel(checkpoint!, o.out, provenance);
  console.log(
    `${m.path}: EMA weights of step ${m.step} (${m.tensors} tensors, ${
      (m.bytes / 2 ** 20).toFixed(2)
    } MiB)`,
  );
});
