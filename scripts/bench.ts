/**
 * The benchmark of bench/SPEC.md, beside the PyTorch peer in the same run.
 *
 *   deno task bench [--preset cifar10-bench|fmnist-bench|cifar10-official|toy2d]
 *                   [--backend auto|webgpu|wasm|cpu] [--json] [--peer [PATH]] [--peer-threads N]
 *                   [--reps N] [--mcmc-steps K] [--workload langevin_step|train_iter] [--profile]
 *                   [--conv]
 *                   [--native on|off] [--threads N]
 *                   [--db URL|PATH] [--no-record]
 *
 * Prints one JSON line per workload (the peer's fields plus backend, adapter and memory), the
 * peer's lines and the ratios ours / peer with --json; a readable summary otherwise. Every run
 * is recorded in the results database (task "bench").
 */
import { Command, Option } from "commander";
import { BACKEND_CHOICES, type BackendChoice } from "../lib/backend.ts";
import { dbOptionsFor, DEFAULT_DB_PATH, openResultsDbOrFallback } from "../lib/db/mod.ts";
import { runMain, UserError } from "../lib/errors.ts";
import { gitCommit } from "../lib/git.ts";
import { DEFAULT_PEER_PATH, DEFAULT_PYTHON } from "../lib/tasks/bench/peer.ts";
import {
  BENCH_MCMC_STEPS,
  BENCH_PRESET_NAMES,
  defaultMcmcSteps,
} from "../lib/tasks/bench/presets.ts";
import { recordBench } from "../lib/tasks/bench/record.ts";
import { formatSummary } from "../lib/tasks/bench/format.ts";
import { formatProfile } from "../lib/tasks/bench/profile.ts";
import { runBench } from "../lib/tasks/bench/run.ts";
import { WORKLOAD_NAMES, type WorkloadName } from "../lib/tasks/bench/workloads.ts";

interface CliOptions {
  preset: string;
  backend: BackendChoice;
  json?: boolean;
  peer?: string | boolean;
  peerThreads?: string;
  peerDevice: "cpu" | "cuda";
  python: string;
  reps: string;
  mcmcSteps?: string;
  workload?: WorkloadName;
  db?: string;
  record: boolean;
  profile?: boolean;
  conv?: boolean;
  native: "on" | "off";
  threads?: string;
  pairs?: string;
  batch?: string;
}

function positiveInt(name: string, raw: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) {
    throw new UserError(`--${name} needs a positive integer (got '${raw}')`);
  }
  return n;
}

async function bench(opts: CliOptions): Promise<void> {
  const reps = positiveInt("reps", opts.reps);
  const mcmcSteps = opts.mcmcSteps === undefined
    ? undefined
    : positiveInt("mcmc-steps", opts.mcmcSteps);
  const peer = opts.peer === undefined || opts.peer === false ? null : {
    path: typeof opts.peer === "string" ? opts.peer : DEFAULT_PEER_PATH,
    python: opts.python,
    threads: opts.peerThreads === undefined
      ? undefined
      : positiveInt("peer-threads", opts.peerThreads),
    device: opts.peerDevice,
  };
  // Progress goes to stderr in both modes: with --json, stdout holds only the JSON lines.
  const log = (line: string) => console.error(line);
  const result = await runBench({
    preset: opts.preset,
    backend: opts.backend,
    reps,
    mcmcSteps,
    workloads: opts.workload ? [opts.workload] : WORKLOAD_NAMES,
    peer,
    profile: opts.profile,
    conv: opts.conv,
    native: opts.native === "on",
    threads: opts.threads === undefined ? undefined : positiveInt("threads", opts.threads),
    pairs: opts.pairs === undefined ? undefined : positiveInt("pairs", opts.pairs),
    batch: opts.batch === undefined ? undefined : positiveInt("batch", opts.batch),
  }, log);
  if (opts.json) {
    for (const line of [...result.lines, ...result.peer, ...result.ratios]) {
      console.log(JSON.stringify(line));
    }
    for (const p of result.profiles) {
      console.log(JSON.stringify({ profile: p.workload, ...p.profile }));
    }
    for (const k of result.convKernels) console.log(JSON.stringify(k));
  } else {
    console.log(formatSummary(result));
    for (const p of result.profiles) {
      console.log(`profile of ${p.workload}: ${formatProfile(p.profile)}`);
    }
    for (const k of result.convKernels) {
      console.log(
        `  conv ${k.conv_kernel.padEnd(11)} ${k.median_ms.toFixed(1)} ms (median of ${k.reps}; ` +
          `${k.shape}; ${k.impl})`,
      );
    }
  }
  if (opts.record) {
    const db = await openResultsDbOrFallback({ ...dbOptionsFor(opts.db), warn: log });
    try {
      const runId = await recordBench(db, result, {
        gitCommit: await gitCommit(),
        config: {
          reps,
          mcmcSteps: mcmcSteps ?? defaultMcmcSteps(result.preset),
          backendChoice: opts.backend,
          peer,
          reason: result.backend.reason,
        },
      });
      log(`recorded as run ${runId} in ${db.location}`);
    } finally {
      await db.close();
    }
  }
}

if (import.meta.main) {
  await runMain(async () => {
    const program = new Command("bench")
      .description("SPEC.md's DRL workloads (langevin_step, train_iter), beside the PyTorch peer")
      .addOption(
        new Option("--preset <name>", "benchmark preset").choices(BENCH_PRESET_NAMES)
          .default("cifar10-bench"),
      )
      .addOption(
        new Option("--backend <name>", "tfjs backend (auto: fastest measured)")
          .choices([...BACKEND_CHOICES]).default("auto"),
      )
      .option("--json", "print JSON lines only (ours, the peer's, the ratios)")
      .option("--peer [path]", `also run the PyTorch peer (default ${DEFAULT_PEER_PATH})`)
      .option("--peer-threads <n>", "torch threads for the peer (default: the peer's own, 2)")
      .addOption(
        new Option("--peer-device <d>", "where the peer computes (cuda: a GPU, fp32 eager)")
          .choices(["cpu", "cuda"]).default("cpu"),
      )
      .option("--python <path>", "python with torch for the peer", DEFAULT_PYTHON)
      .option("--reps <n>", "timed langevin steps (train_iter: half as many)", "10")
      .option(
        "--mcmc-steps <k>",
        `Langevin steps per train_iter (default ${BENCH_MCMC_STEPS}; toy2d: its preset's K)`,
      )
      .addOption(
        new Option("--workload <name>", "run only this workload").choices([...WORKLOAD_NAMES]),
      )
      .option(
        "--db <url-or-path>",
        `database: postgres://... or a SQLite file (default: DATABASE_URL, else ${DEFAULT_DB_PATH})`,
      )
      .addOption(
        new Option(
          "--native <on|off>",
          "the project's kernels: oneDNN (Debian libdnnl2) on wasm, fused WGSL on webgpu; " +
            "off = tfjs's stock kernels",
        )
          .choices(["on", "off"]).default("on"),
      )
      .option("--threads <n>", "oneDNN threads (default: every core)")
      .option("--pairs <n>", "with --peer: interleaved rounds of ours and the peer (default 5)")
      .option("--batch <n>", "overrides the preset's batch (for memory and scaling)")
      .option("--profile", "also profile one run of each workload by kernel (tf.profile)")
      .option("--conv", "also time one convolution's forward and two gradients alone")
      .option("--no-record", "do not record the results in the database")
      .exitOverride((err) => Deno.exit(err.exitCode === 0 ? 0 : 2))
      .action(bench);
    await program.parseAsync(Deno.args, { from: "user" });
  });
}
