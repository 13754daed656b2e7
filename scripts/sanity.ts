/**
 * deno task sanity fashion-mnist [--n N] [--n-ref N] [--seed S] [--batch B] [--classifier PATH]
 *   [--cache DIR] [--backend B] [--db PATH]
 * The FID paper's disturbance checks for the Fashion-MNIST classifier features: the training split
 * against the test split, blurred and noised training images, and noise images. Prints a markdown
 * table and stores the rows as evaluations of a run with task "sanity".
 */
import { Command } from "commander";
import { applyThreads, intOption, optionalInt, parseCommand, THREADS_HELP } from "../lib/cli.ts";
import { BACKEND_CHOICES, type BackendChoice, initBackend } from "../lib/backend.ts";
import { openImageDataset } from "../lib/data/images/mod.ts";
import { dbOptionsFor, openResultsDb } from "../lib/db/mod.ts";
import { runMain, UserError } from "../lib/errors.ts";
import { gitCommit } from "../lib/git.ts";
import {
  DEFAULT_CACHE_DIR,
  openExtractor,
  phaseProgress,
  referenceFeatures,
} from "../lib/tasks/eval.ts";
import {
  DEFAULT_BLUR_SIGMAS,
  DEFAULT_NOISE_ALPHAS,
  increasesWithLevel,
  sanityEvaluations,
  sanityMarkdown,
  sanityRows,
} from "../lib/tasks/sanity.ts";

interface Opts {
  n: string;
  nRef?: string;
  seed: string;
  batch: string;
  classifier?: string;
  cache: string;
  backend: string;
  db?: string;
  threads?: string;
}

await runMain(async () => {
  const program = new Command("sanity")
    .description("FID disturbance checks of the Fashion-MNIST classifier features")
    .argument("<dataset>", "fashion-mnist")
    .option("--n <n>", "images per row (the first of each split)", "10000")
    .option("--n-ref <n>", "reference images, the first of the training split (default: all)")
    .option("--seed <s>", "seed of the noise", "0")
    .option("--batch <b>", "images per feature batch", "200")
    .option("--classifier <path>", "Fashion-MNIST classifier checkpoint")
    .option("--cache <dir>", "folder of cached reference statistics", DEFAULT_CACHE_DIR)
    .option("--backend <b>", BACKEND_CHOICES.join(" | "), "auto")
    .option("--threads <n>", THREADS_HELP)
    .option("--db <path>", "results database (SQLite path or postgres:// URL)");
  if (!parseCommand(program, Deno.args)) return;
  const o = program.opts<Opts>();
  applyThreads(o.threads);
  const dataset = program.args[0];
  if (dataset !== "fashion-mnist") {
    throw new UserError(
      `sanity rows need the project's classifier, which exists for fashion-mnist only`,
    );
  }
  const n = intOption("n", o.n, 2);
  const referenceCount = optionalInt("n-ref", o.nRef, 2);
  const seed = intOption("seed", o.seed, 0);
  const batchSize = intOption("batch", o.batch, 1);
  if (!BACKEND_CHOICES.includes(o.backend as BackendChoice)) {
    throw new UserError(`--backend is one of ${BACKEND_CHOICES.join(", ")}`);
  }

  const train = await openImageDataset(dataset, { split: "train" });
  const test = await openImageDataset(dataset, { split: "test" });
  const backend = await initBackend(o.backend as BackendChoice);
  const { extractor, version } = await openExtractor("fmnist", { classifierPath: o.classifier });
  const db = await openResultsDb(dbOptionsFor(o.db));
  const progress = phaseProgress((line) => console.error(line));
  try {
    console.log(`${extractor.name} features (classifier ${version}) on ${backend.backend}`);
    const reference = await referenceFeatures({
      dataset: train,
      extractor,
      extractorVersion: version,
      count: referenceCount,
      batchSize,
      cacheDir: o.cache,
      onProgress: progress,
    });
    progress.stop();
    console.log(
      `reference: ${reference.n} training images, ` +
        (reference.fromCache
          ? `from ${reference.cachePath}`
          : `features in ${reference.seconds.toFixed(1)} s ` +
            `(${(reference.n / reference.seconds).toFixed(0)} images/s)`),
    );
    const rows = await sanityRows({
      extractor,
      reference,
      train,
      test,
      n,
      seed,
      batchSize,
      onProgress: progress,
      onRow: (r) =>
        console.error(
          `${r.key}: FID ${r.fid.toFixed(3)} (${r.n} images, features in ${
            r.seconds.toFixed(1)
          } s)`,
        ),
    });
    progress.stop();
    const config = {
      dataset,
      n,
      nRef: reference.n,
      seed,
      features: extractor.name,
      classifier: version,
      blurSigmas: DEFAULT_BLUR_SIGMAS,
      noiseAlphas: DEFAULT_NOISE_ALPHAS,
    };
    const runId = await db.createRun({
      task: "sanity",
      preset: dataset,
      config,
      gitCommit: await gitCommit(),
      backend: backend.backend,
      adapter: backend.adapter,
      seed,
      dir: null,
    });
    for (const row of sanityEvaluations(runId, rows, extractor.name)) await db.addEvaluation(row);
    await db.setRunStatus(runId, "completed");

    console.log("\n" + sanityMarkdown(rows, extractor.name) + "\n");
    console.log(
      `blur increasing: ${increasesWithLevel(rows, "blur") ? "yes" : "NO"}; ` +
        `noise increasing: ${increasesWithLevel(rows, "noise") ? "yes" : "NO"}`,
    );
    const testRow = rows.find((r) => r.disturbance === "test_split")!;
    console.log(
      `speed: ${testRow.n} test images read and featurised in ${testRow.seconds.toFixed(1)} s ` +
        `(${
          (testRow.n / testRow.seconds).toFixed(0)
        } images/s, batch ${batchSize}, ${backend.backend})`,
    );
    console.log(`stored as run ${runId} (task sanity) in ${db.location}`);
  } finally {
    extractor.dispose();
    train.close();
    test.close();
    await db.close();
  }
});
