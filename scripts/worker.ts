/**
 * A sweep worker: takes jobs from the queue on the shared PostgreSQL and trains them, on any
 * machine that reaches the database and the sweep's shared folder.
 *
 *   deno task worker --db URL [--concurrency N] [--backend auto|webgpu|wasm|cpu] [--store DIR]
 *                    [--threads N]
 *
 * Runs until SIGINT or SIGTERM, which checkpoint the jobs under way and hand them back to the
 * queue. --db defaults to DATABASE_URL. How it works: docs/sweeps.md.
 */
import { Command, Option } from "commander";
import type { BackendChoice } from "../lib/backend.ts";
import { applyThreads, intOption, THREADS_HELP } from "../lib/cli.ts";
import { runMain } from "../lib/errors.ts";
import { runWorker } from "../lib/sweep/worker.ts";

interface WorkerCliOptions {
  db?: string;
  concurrency: string;
  backend: BackendChoice;
  store?: string;
  threads?: string;
  progressSeconds: string;
  superviseSeconds: string;
}

async function worker(o: WorkerCliOptions): Promise<void> {
  applyThreads(o.threads);
  await runWorker({
    url: o.db ?? Deno.env.get("DATABASE_URL") ?? "",
    concurrency: intOption("concurrency", o.concurrency, 1),
    backend: o.backend,
    store: o.store,
    progressSeconds: intOption("progress-seconds", o.progressSeconds, 1),
    superviseSeconds: intOption("supervise-seconds", o.superviseSeconds, 1),
  });
}

if (import.meta.main) {
  await runMain(async () => {
    const program = new Command("worker")
      .description("take sweep jobs from the queue on the shared PostgreSQL and train them")
      .option("--db <url>", "the shared database, postgres://... (default: DATABASE_URL)")
      .option("--concurrency <n>", "jobs trained side by side in this process", "1")
      .addOption(
        new Option("--backend <name>", "chosen once for all jobs (auto: a hardware GPU, else wasm)")
          .choices(["auto", "webgpu", "wasm", "cpu"]).default("auto"),
      )
      .option("--store <dir>", "this machine's path of the sweeps' shared folder (default: theirs)")
      .option("--threads <n>", THREADS_HELP)
      .option("--progress-seconds <s>", "seconds between a job's progress writes", "5")
      .option("--supervise-seconds <s>", "how often to look for jobs whose worker vanished", "5")
      .exitOverride((err) => Deno.exit(err.exitCode === 0 ? 0 : 2))
      .action(worker);
    await program.parseAsync(Deno.args, { from: "user" });
  });
}
