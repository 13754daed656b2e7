/**
 * deno task fid A B [--features inception|fmnist] [--inception PATH] [--classifier PATH]
 *   [--batch 50] [--n 1000] [--seed 0] [--db PATH] [--backend B] [--json]
 * The Frechet distance (FID) between two image sets, each a folder of PNG images, an .npz
 * statistics file (pytorch-fid / TTUR format, or one this project wrote), run:ID or model:NAME
 * (--n samples drawn from that training run's checkpoint or shipped model with its EMA weights)
 * or data:DATASET[:SPLIT] (a data set's images, e.g. data:fashion-mnist:test). Prints
 * {"fid", "n_a", "n_b", "features"}; two .npz files need no feature extractor.
 */
import { Command } from "commander";
import { applyThreads, intOption, parseCommand, THREADS_HELP } from "../lib/cli.ts";
import { BACKEND_CHOICES, type BackendChoice, initBackend } from "../lib/backend.ts";
import { runMain, UserError } from "../lib/errors.ts";
import { createProgress } from "../lib/io/progress.ts";
import { loadFeatureExtractor } from "../lib/metrics/extractors.ts";
import { extractFeatures, type FeatureExtractor, featureStats } from "../lib/metrics/features.ts";
import { frechetDistance } from "../lib/metrics/frechet.ts";
import { datasetImageSource, pngFolderDataset } from "../lib/metrics/image_sources.ts";
import { dbOptionsFor, openResultsDb } from "../lib/db/mod.ts";
import { loadSamplingModel, runCheckpoint, sampleSource } from "../lib/tasks/eval.ts";
import type { ImageSource } from "../lib/metrics/features.ts";
import { openImageDataset } from "../lib/data/images/mod.ts";
import { shippedModelPath } from "../lib/models.ts";
import { type FidStats, readFidStats } from "../lib/metrics/npz.ts";

const INPUT_HELP =
  "folder of PNG images, .npz statistics (mu, sigma), run:ID, model:NAME or data:DATASET[:SPLIT]";

await runMain(async () => {
  const program = new Command("fid")
    .description("Frechet distance between two image folders or .npz statistics files")
    .argument("<a>", INPUT_HELP)
    .argument("<b>", INPUT_HELP)
    .option("--features <name>", "inception | fmnist", "inception")
    .option("--inception <path>", "classify_image_graph_def.pb (default ~/.cache/drl/)")
    .option("--classifier <path>", "Fashion-MNIST classifier checkpoint (--features fmnist)")
    .option("--batch <n>", "images per forward pass", "50")
    .option("--n <n>", "samples drawn for a run:ID input", "1000")
    .option("--seed <s>", "sampling seed for a run:ID input", "0")
    .option("--db <path>", "results database for run:ID (default results/results.db)")
    .option("--backend <b>", BACKEND_CHOICES.join(" | "), "auto")
    .option("--threads <n>", THREADS_HELP)
    .option("--json", "print only the JSON result");
  if (!parseCommand(program, Deno.args)) return;
  const o = program.opts<{
    features: string;
    inception?: string;
    classifier?: string;
    batch: string;
    n: string;
    seed: string;
    db?: string;
    backend: string;
    threads?: string;
    json?: boolean;
  }>();
  applyThreads(o.threads);
  const batchSize = intOption("batch", o.batch, 1);
  if (!BACKEND_CHOICES.includes(o.backend as BackendChoice)) {
    throw new UserError(`--backend is one of ${BACKEND_CHOICES.join(", ")}`);
  }

  let extractor: FeatureExtractor | null = null;
  const ensureExtractor = async (): Promise<FeatureExtractor> => {
    if (!extractor) {
      await initBackend(o.backend as BackendChoice);
      extractor = await loadFeatureExtractor(o.features, {
        inceptionPath: o.inception,
        classifierPath: o.classifier,
      });
    }
    return extractor;
  };
  const statsOfSource = async (source: ImageSource, label: string): Promise<FidStats> => {
    if (source.count < 2) {
      throw new UserError(
        `${label} has ${source.count} image${source.count === 1 ? "" : "s"}; the Frechet ` +
          "distance needs a covariance, so at least 2 (thousands for a meaningful FID)",
      );
    }
    const ex = await ensureExtractor();
    const progress = createProgress(source.count, 0);
    const t0 = performance.now();
    const set = await extractFeatures(ex, source, {
      batchSize,
      onProgress: (done) => progress.update(done, label),
    });
    progress.stop();
    const seconds = (performance.now() - t0) / 1000;
    console.error(
      `${label}: ${source.count} images, ${ex.name} features in ${seconds.toFixed(1)} s`,
    );
    return featureStats(set);
  };
  const statsOf = async (input: string): Promise<FidStats> => {
    if (input.startsWith("data:")) {
      const [name, split] = input.slice(5).split(":");
      const ds = await openImageDataset(name, { split: split || "train" });
      try {
        return await statsOfSource(datasetImageSource(ds), input);
      } finally {
        ds.close();
      }
    }
    if (input.startsWith("run:") || input.startsWith("model:")) {
      let path: string;
      if (input.startsWith("model:")) {
        path = await shippedModelPath(input.slice(6));
      } else {
        const id = intOption("run", input.slice(4), 1);
        const db = await openResultsDb(dbOptionsFor(o.db));
        try {
          path = (await runCheckpoint(db, id)).path;
        } finally {
          await db.close();
        }
      }
      await ensureExtractor();
      const model = await loadSamplingModel(path);
      try {
        return await statsOfSource(
          sampleSource(model, intOption("n", o.n, 2), intOption("seed", o.seed), batchSize),
          input,
        );
      } finally {
        model.net.dispose();
        model.st.dispose();
      }
    }
    if (/\.npz$/i.test(input)) return await readFidStats(input);
    return await statsOfSource(datasetImageSource(pngFolderDataset(input)), input);
  };

  try {
    const [a, b] = program.args;
    const statsA = await statsOf(a);
    const statsB = await statsOf(b);
    const labels = [statsA.features, statsB.features].filter((f): f is string => f !== undefined);
    if (new Set(labels).size > 1) {
      throw new UserError(
        `the inputs hold different features (${labels.join(" vs ")}); compare like with like`,
      );
    }
    const fid = frechetDistance(statsA, statsB);
    const result = {
      fid,
      n_a: statsA.n ?? null,
      n_b: statsB.n ?? null,
      features: labels[0] ?? null,
    };
    if (o.json) console.log(JSON.stringify(result));
    else {
      console.log(
        `FID ${fid.toFixed(4)} (n_a ${result.n_a ?? "?"}, n_b ${result.n_b ?? "?"}, features ${
          result.features ?? "unknown"
        })`,
      );
    }
  } finally {
    (extractor as FeatureExtractor | null)?.dispose();
  }
});
