/**
 * deno task fid A B [--features inception|fmnist] [--inception PATH] [--classifier PATH]
 *   [--batch 50] [--backend B] [--json]
 * The Frechet distance (FID) between two image sets, each a folder of PNG images or an .npz
 * statistics file (pytorch-fid / TTUR format, or one this project wrote). Prints
 * {"fid", "n_a", "n_b", "features"}; two .npz files need no feature extractor.
 */
import { Command } from "commander";
import { BACKEND_CHOICES, type BackendChoice, initBackend } from "../lib/backend.ts";
import { runMain, UserError } from "../lib/errors.ts";
import { createProgress } from "../lib/io/progress.ts";
import { loadFeatureExtractor } from "../lib/metrics/extractors.ts";
import { extractFeatures, type FeatureExtractor, featureStats } from "../lib/metrics/features.ts";
import { frechetDistance } from "../lib/metrics/frechet.ts";
import { datasetImageSource, pngFolderDataset } from "../lib/metrics/image_sources.ts";
import { type FidStats, readFidStats } from "../lib/metrics/npz.ts";

function int(name: string, v: string, min = 0): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) {
    throw new UserError(`--${name} needs an integer >= ${min} (got '${v}')`);
  }
  return n;
}

await runMain(async () => {
  const program = new Command("fid")
    .description("Frechet distance between two image folders or .npz statistics files")
    .argument("<a>", "folder of PNG images, or .npz statistics (mu, sigma)")
    .argument("<b>", "folder of PNG images, or .npz statistics (mu, sigma)")
    .option("--features <name>", "inception | fmnist", "inception")
    .option("--inception <path>", "classify_image_graph_def.pb (default ~/.cache/drl/)")
    .option("--classifier <path>", "Fashion-MNIST classifier checkpoint (--features fmnist)")
    .option("--batch <n>", "images per forward pass", "50")
    .option("--backend <b>", BACKEND_CHOICES.join(" | "), "auto")
    .option("--json", "print only the JSON result")
    .exitOverride()
    .configureOutput({ writeErr: () => {} });
  try {
    program.parse(Deno.args, { from: "user" });
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === "commander.helpDisplayed" || code === "commander.version") return;
    throw new UserError((err as Error).message.replace(/^error: /, ""));
  }
  const o = program.opts<{
    features: string;
    inception?: string;
    classifier?: string;
    batch: string;
    backend: string;
    json?: boolean;
  }>();
  const batchSize = int("batch", o.batch, 1);
  if (!BACKEND_CHOICES.includes(o.backend as BackendChoice)) {
    throw new UserError(`--backend is one of ${BACKEND_CHOICES.join(", ")}`);
  }

  let extractor: FeatureExtractor | null = null;
  const statsOf = async (input: string): Promise<FidStats> => {
    if (input.startsWith("run:")) {
      throw new UserError(
        `'${input}': run:ID inputs are not yet supported; sample the run to a folder first`,
      );
    }
    if (/\.npz$/i.test(input)) return await readFidStats(input);
    const ds = pngFolderDataset(input);
    if (!extractor) {
      await initBackend(o.backend as BackendChoice);
      extractor = await loadFeatureExtractor(o.features, {
        inceptionPath: o.inception,
        classifierPath: o.classifier,
      });
    }
    const progress = createProgress(ds.count, 0);
    const t0 = performance.now();
    const set = await extractFeatures(extractor, datasetImageSource(ds), {
      batchSize,
      onProgress: (done) => progress.update(done, input),
    });
    progress.stop();
    const seconds = (performance.now() - t0) / 1000;
    console.error(
      `${input}: ${ds.count} images, ${extractor.name} features in ${seconds.toFixed(1)} s`,
    );
    return featureStats(set);
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
