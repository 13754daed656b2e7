/**
 * deno task train [PRESET] [--backend auto|webgpu|wasm|cpu] [--resume RUN_ID | --continue CKPT]
 *                 [--results DIR]
 *                 [--db PATH] [--threads N] [--workers N] [--KEY=VALUE ...]
 * Trains a DRL model on a preset (default: the 2D 8 Gaussians), records it in the results database.
 */
import { type BackendChoice } from "../lib/backend.ts";
import { intFlag, parseArgs } from "../lib/cli.ts";
import { describeFields } from "../lib/config.ts";
import { runMain, UserError } from "../lib/errors.ts";
import { buildConfig, DEFAULT_PRESET, presetNames, PRESETS } from "../lib/presets.ts";
import { installFastKernels } from "../lib/kernels/mod.ts";
import { train } from "../lib/tasks/train.ts";

const USAGE =
  `usage: deno task train [PRESET] [--backend auto|webgpu|wasm|cpu] [--resume RUN_ID | --continue CKPT]
                       [--results DIR] [--db PATH] [--threads N] [--workers N] [--KEY=VALUE ...]
--threads: CPU threads of the native kernels (default: every core; the numbers do not change).
--workers: processes computing a step's shards (train.shards > 1; default one per core, 0: none).
--continue: a training checkpoint file (e.g. models/fashion-mnist/train_state.ckpt) continued as a
            new run of this results database.
presets: ${presetNames().join(", ")} (default ${DEFAULT_PRESET})
deno task train PRESET --help lists the preset's fields (each can be set with --KEY=VALUE).`;

await runMain(async () => {
  const args = parseArgs(
    Deno.args,
    ["backend", "resume", "continue", "results", "db", "threads", "workers"],
    ["help"],
  );
  if (args.positional.length > 1) {
    throw new UserError(`one preset at a time (got ${args.positional.join(", ")})\n${USAGE}`);
  }
  const preset = args.positional[0] ?? DEFAULT_PRESET;
  if (args.flags.help) {
    console.log(USAGE);
    if (PRESETS[preset]) {
      console.log(`\nfields of ${preset}:\n${describeFields(PRESETS[preset]).join("\n")}`);
    }
    return;
  }
  const resume = intFlag("resume", args.flags.resume);
  const continueFrom = args.flags.continue as string | undefined;
  if (resume !== undefined && continueFrom !== undefined) {
    throw new UserError("--resume ID and --continue PATH are alternatives; give one");
  }
  const threads = intFlag("threads", args.flags.threads);
  if (threads !== undefined) {
    if (threads < 1) throw new UserError(`--threads must be at least 1 (got ${threads})`);
    installFastKernels({ threads });
  }
  const results = (args.flags.results as string | undefined) ?? "results";
  let iterations: number | undefined;
  let config;
  if (resume !== undefined || continueFrom !== undefined) {
    const { iterations: it, ...rest } = args.overrides;
    if (Object.keys(rest).length || args.positional.length) {
      throw new UserError(
        "--resume and --continue go on with the run's own config; only --iterations may be given",
      );
    }
    iterations = intFlag("iterations", it);
  } else {
    config = buildConfig(preset, args.overrides);
  }
  const summary = await train({
    config,
    resume,
    continueFrom,
    iterations,
    // Absent: "auto" for a new run, the run's own backend for --resume.
    backend: args.flags.backend as BackendChoice | undefined,
    resultsDir: results,
    dbPath: args.flags.db as string | undefined,
    workers: intFlag("workers", args.flags.workers),
  });
  console.log(
    `\nrun ${summary.runId} ${summary.status} after ${summary.steps} steps ` +
      `(${summary.secondsPerStep.toFixed(3)} s/step on ${summary.backend.backend})`,
  );
  for (const e of summary.evaluation) console.log(`  ${e.name.padEnd(36)} ${e.value.toFixed(4)}`);
  for (const f of summary.figures) console.log(`  figure: ${f}`);
  console.log(`  checkpoint: ${summary.checkpoint}`);
});
