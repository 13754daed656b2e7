/**
 * deno task sample (--run ID | --model NAME | --checkpoint PATH) [--n 64] [--seed S]
 *   [--out grid.png] [--png-dir DIR] [--long-run N] [--snapshots S1,S2,...] [--noise-scale X]
 *   [--K K] [--sampler ula|mala]
 *   [--weights ema|params] [--batch B] [--backend B] [--db PATH]
 * Progressive sampling (Algorithm 3) from a checkpoint; recorded in the results database.
 */
import { Command } from "commander";
import { applyThreads, intOption, parseCommand, THREADS_HELP } from "../lib/cli.ts";
import { BACKEND_CHOICES, type BackendChoice } from "../lib/backend.ts";
import { dbOptionsFor, openResultsDb } from "../lib/db/mod.ts";
import { runMain, UserError } from "../lib/errors.ts";
import { checkpointOfRun, sampleFromCheckpoint } from "../lib/tasks/sample.ts";
import { SHIPPED_MODELS, shippedModelPath } from "../lib/models.ts";
import { dirname } from "node:path";
import { SAMPLER_KINDS, type SamplerKind } from "../lib/samplers/langevin.ts";

await runMain(async () => {
  const program = new Command("sample")
    .description("draw samples from a DRL checkpoint by progressive sampling")
    .option("--run <id>", "a training run id from the results database")
    .option("--model <name>", `a model shipped in models/ (${SHIPPED_MODELS.join(", ")})`)
    .option("--checkpoint <path>", "a checkpoint file")
    .option("--n <n>", "number of samples", "64")
    .option("--seed <s>", "sampling seed", "0")
    .option(
      "--out <path>",
      "grid PNG (default: <run folder>/sample_seed<S>.png; results/samples/<model>_seed<S>.png)",
    )
    .option("--png-dir <dir>", "also write every sample as a PNG in this folder (images)")
    .option("--long-run <n>", "continue the level-0 chains for N steps, with snapshots", "0")
    .option("--snapshots <list>", "long-run snapshot steps, e.g. 30,300,3000 (default log-spaced)")
    .option("--noise-scale <x>", "Langevin noise scale (official evaluation: 0.99)", "1")
    .option("--K <k>", "Langevin steps per level (default: the model's training K)")
    .option("--sampler <s>", `${SAMPLER_KINDS.join(" | ")} (default: the model's training sampler)`)
    .option("--weights <w>", "ema | params", "ema")
    .option("--batch <b>", "samples per batch", "64")
    .option("--backend <b>", BACKEND_CHOICES.join(" | "), "auto")
    .option("--threads <n>", THREADS_HELP)
    .option("--db <path>", "SQLite results file (default results/results.db; DATABASE_URL wins)");
  if (!parseCommand(program, Deno.args)) return;
  const o = program.opts<Record<string, string | undefined>>();
  applyThreads(o.threads);
  if ([o.run, o.model, o.checkpoint].filter((x) => x !== undefined).length !== 1) {
    throw new UserError("give exactly one of --run ID, --model NAME or --checkpoint PATH");
  }
  const noiseScale = Number(o.noiseScale);
  if (!(noiseScale > 0 && noiseScale <= 10)) {
    throw new UserError(`--noise-scale must be a number in (0, 10] (got '${o.noiseScale}')`);
  }
  if (o.sampler !== undefined && !(SAMPLER_KINDS as readonly string[]).includes(o.sampler)) {
    throw new UserError(`--sampler is ${SAMPLER_KINDS.join(" or ")} (got '${o.sampler}')`);
  }
  const langevin = {
    ...(o.K !== undefined ? { steps: intOption("K", o.K, 1) } : {}),
    ...(o.sampler !== undefined ? { sampler: o.sampler as SamplerKind } : {}),
  };
  const snapshots = o.snapshots?.split(",").map((x) => intOption("snapshots", x.trim(), 1));
  if (o.weights !== "ema" && o.weights !== "params") {
    throw new UserError("--weights is ema or params");
  }
  const db = await openResultsDb(dbOptionsFor(o.db));
  try {
    const sourceRun = o.run !== undefined ? intOption("run", o.run, 1) : null;
    const checkpoint = o.checkpoint ??
      (o.model !== undefined
        ? await shippedModelPath(o.model)
        : await checkpointOfRun(db, sourceRun!));
    const seed = intOption("seed", o.seed!);
    // Never write into the repository's models/ by default.
    const out = o.out ??
      (o.model !== undefined
        ? `results/samples/${o.model}_seed${seed}.png`
        : checkpoint.replace(/[^/]*$/, `sample_seed${seed}.png`));
    await Deno.mkdir(dirname(out), { recursive: true });
    const s = await sampleFromCheckpoint({
      checkpoint,
      sourceRun,
      n: intOption("n", o.n!, 1),
      seed,
      out,
      pngDir: o.pngDir ?? null,
      longRun: intOption("long-run", o.longRun!),
      snapshots,
      noiseScale,
      langevin,
      weights: o.weights,
      backend: o.backend as BackendChoice,
      batch: intOption("batch", o.batch!, 1),
    }, db);
    const finals = s.finals ? ` (every level of up to 16 chains), ${s.finals} (final samples)` : "";
    console.log(
      `sample run ${s.runId}: ${s.out}${finals}${s.pngDir ? `, PNGs in ${s.pngDir}` : ""}`,
    );
    if (s.longRunDir) {
      console.log(
        `  long-run grids in ${s.longRunDir}` +
          (s.pngDir ? `, every chain's PNGs in ${s.longRunDir}/step_N/` : ""),
      );
    }
    for (const l of s.levelStats) {
      console.log(
        `  level ${l.level}: acceptance ${l.acceptance.toFixed(3)}, displacement ${
          l.displacement.toFixed(4)
        }`,
      );
    }
    if (s.longRun.length) {
      console.log(
        "  long run: step, mean energy, pixel mean, pixel std, share outside [-1,1], acceptance",
      );
      for (const r of s.longRun) {
        console.log(
          `  ${String(r.step).padStart(7)} ${r.energy.toFixed(4)} ${r.mean.toFixed(4)} ${
            r.std.toFixed(4)
          } ` +
            `${r.outside.toFixed(4)} ${Number.isNaN(r.acceptance) ? "-" : r.acceptance.toFixed(3)}`,
        );
      }
    }
  } finally {
    await db.close();
  }
});
