/**
 * deno task eval --run ID [--n N] [--metrics fid,is,kid] [--features inception|fmnist]
 *   [--inception PATH] [--classifier PATH] [--seed S] [--batch B] [--n-ref N] [--cache DIR]
 *   [--no-cache] [--backend B] [--db PATH] [--json]
 * Samples N images from a run's checkpoint (EMA weights, progressive sampling), computes FID, IS
 * and KID against the data set's training split and adds them to the results database.
 */
import { Command } from "commander";
import { intOption, optionalInt, parseCommand } from "../lib/cli.ts";
import { BACKEND_CHOICES, type BackendChoice, initBackend } from "../lib/backend.ts";
import { openImageDataset } from "../lib/data/images/mod.ts";
import { dbOptionsFor, openResultsDb } from "../lib/db/mod.ts";
import { runMain, UserError } from "../lib/errors.ts";
import {
  DEFAULT_CACHE_DIR,
  defaultFeaturesFor,
  evaluateRun,
  openExtractor,
  parseMetrics,
  phaseProgress,
  runCheckpoint,
} from "../lib/metrics/eval.ts";
import { FEATURE_CHOICES } from "../lib/metrics/extractors.ts";

interface Opts {
  run: string;
  n: string;
  metrics: string;
  features?: string;
  inception?: string;
  classifier?: string;
  seed: string;
  batch: string;
  nRef?: string;
  cache: string | false;
  backend: string;
  db?: string;
  json?: boolean;
}

await runMain(async () => {
  const program = new Command("eval")
    .description("FID, IS and KID of a trained image model, written to the results database")
    .requiredOption("--run <id>", "the run to evaluate (deno task compare lists them)")
    .option("--n <n>", "number of samples", "10000")
    .option("--metrics <list>", "comma-separated: fid, is, kid", "fid,is,kid")
    .option(
      "--features <name>",
      `${FEATURE_CHOICES.join(" | ")} (default: fmnist for fashion-mnist)`,
    )
    .option("--inception <path>", "classify_image_graph_def.pb (default ~/.cache/drl/)")
    .option("--classifier <path>", "Fashion-MNIST classifier checkpoint")
    .option("--seed <s>", "seed of the samples and of KID's subsets", "0")
    .option("--batch <b>", "images per sampling and feature batch", "100")
    .option("--n-ref <n>", "reference images, the first of the training split (default: all)")
    .option("--cache <dir>", "folder of cached reference statistics", DEFAULT_CACHE_DIR)
    .option("--no-cache", "recompute the reference statistics and keep no cache")
    .option("--backend <b>", BACKEND_CHOICES.join(" | "), "auto")
    .option("--db <path>", "results database (SQLite path or postgres:// URL)")
    .option("--json", "print the results as one JSON line");
  if (!parseCommand(program, Deno.args)) return;
  const o = program.opts<Opts>();
  const runId = intOption("run", o.run, 1);
  const n = intOption("n", o.n, 2);
  const seed = intOption("seed", o.seed, 0);
  const batchSize = intOption("batch", o.batch, 1);
  const referenceCount = optionalInt("n-ref", o.nRef, 2);
  const metrics = parseMetrics(o.metrics);
  if (!BACKEND_CHOICES.includes(o.backend as BackendChoice)) {
    throw new UserError(`--backend is one of ${BACKEND_CHOICES.join(", ")}`);
  }

  const db = await openResultsDb(dbOptionsFor(o.db));
  try {
    // Check the run before the slow parts (backend start, extractor loading).
    const { run } = await runCheckpoint(db, runId);
    const dataset = (run.config as { dataset: string }).dataset;
    const features = o.features ?? defaultFeaturesFor(dataset);
    const backend = await initBackend(o.backend as BackendChoice);
    const { extractor, version } = await openExtractor(features, {
      inceptionPath: o.inception,
      classifierPath: o.classifier,
    });
    const progress = phaseProgress((line) => console.error(line));
    if (!o.json) {
      console.log(
        `run ${runId} (${run.preset}, ${dataset}): ${n} samples, ${extractor.name} features, ` +
          `backend ${backend.backend}`,
      );
    }
    try {
      const result = await evaluateRun({
        db,
        runId,
        n,
        metrics,
        extractor,
        extractorVersion: version,
        openReference: (config) =>
          openImageDataset(config.dataset, { split: "train", data: config.data.path ?? undefined }),
        referenceCount,
        seed,
        batchSize,
        cacheDir: o.cache === false ? null : o.cache,
        onProgress: progress,
      });
      progress.stop();
      const ref = result.reference;
      if (o.json) {
        console.log(JSON.stringify({
          run: runId,
          step: result.step,
          features: extractor.name,
          n,
          n_ref: ref?.n ?? null,
          ...Object.fromEntries(result.values.map((v) => [v.name, v.value])),
          ...Object.fromEntries(
            result.values.filter((v) => "std" in v.details).map((
              v,
            ) => [`${v.name}_std`, v.details.std]),
          ),
        }));
        return;
      }
      if (ref) {
        console.log(
          `reference: ${ref.n} training images, ` +
            (ref.fromCache ? `from ${ref.cachePath}` : `features in ${ref.seconds.toFixed(1)} s`),
        );
      }
      console.log(
        `samples: ${n} in ${result.sampleSeconds.toFixed(1)} s (checkpoint step ${result.step})`,
      );
      for (const v of result.values) {
        const std = typeof v.details.std === "number" ? ` +- ${v.details.std.toPrecision(3)}` : "";
        console.log(`  ${v.name.padEnd(4)} ${v.value.toPrecision(6)}${std}`);
      }
      console.log(`written to ${db.location} as evaluations of run ${runId}`);
    } finally {
      extractor.dispose();
    }
  } finally {
    await db.close();
  }
});
