/**
 * deno task eval (--run ID [--step N] | --model NAME | --checkpoint PATH | --data DATASET:SPLIT)
 *   [--n N]
 *   [--metrics fid,is,kid] [--features inception|fmnist] [--ref-split train|test]
 *   [--noise-scale S] [--inception PATH] [--classifier PATH] [--seed S] [--batch B] [--n-ref N]
 *   [--cache DIR] [--no-cache] [--backend B] [--db PATH] [--json]
 * Samples N images from a checkpoint (EMA weights, progressive sampling), computes FID, IS and
 * KID against a split of the data set and adds them to the results database.
 */
import { Command } from "commander";
import { applyThreads, intOption, optionalInt, parseCommand, THREADS_HELP } from "../lib/cli.ts";
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
} from "../lib/tasks/eval.ts";
import type { EvalTarget } from "../lib/tasks/eval.ts";
import type { ResultsDb } from "../lib/db/mod.ts";
import { loadCheckpoint } from "../lib/io/checkpoint.ts";
import { SHIPPED_MODELS, shippedModelPath } from "../lib/models.ts";
import { evaluateToy2dCheckpoint, isToy2dRun } from "../lib/tasks/eval_toy2d.ts";
import { FEATURE_CHOICES } from "../lib/metrics/extractors.ts";

/** `--data fashion-mnist:test` (the split defaults to test). */
function dataTarget(text: string): EvalTarget {
  const [data, split = "test"] = text.split(":");
  if (!data) throw new UserError(`--data needs DATASET[:SPLIT] (got '${text}')`);
  return { data, split };
}

/** The target's data set and a label for the first line, checked before any slow work. */
async function describeTarget(
  db: ResultsDb,
  target: EvalTarget,
): Promise<{ dataset: string; label: string }> {
  if ("runId" in target) {
    const { run } = await runCheckpoint(db, target.runId, target.step);
    const at = target.step === undefined ? "" : ` at step ${target.step}`;
    return {
      dataset: (run.config as { dataset: string }).dataset,
      label: `run ${run.id} (${run.preset})${at}`,
    };
  }
  if ("data" in target) {
    return { dataset: target.data, label: `${target.data} ${target.split} images` };
  }
  const meta = (await loadCheckpoint(target.checkpoint)).meta;
  const config = meta.config as { dataset?: string; preset?: string };
  if (!config?.dataset) throw new UserError(`${target.checkpoint} has no model config`);
  return {
    dataset: config.dataset,
    label: `${target.checkpoint} (${config.preset}, step ${meta.step})`,
  };
}

/**
 * A 2D run: its end-of-run evaluation again (on the run's own sample count and grid; the image
 * options do not apply), printed and recorded.
 */
async function evaluateToy2d(
  db: ResultsDb,
  runId: number,
  step: number | undefined,
  o: Opts,
): Promise<void> {
  const backend = await initBackend(o.backend as BackendChoice); // checked with the other options
  const r = await evaluateToy2dCheckpoint(db, runId, step);
  if (o.json) {
    console.log(JSON.stringify({
      run: r.run.id,
      step: r.step,
      ...Object.fromEntries(r.rows.map((row) => [row.name, row.value])),
      marginal_kl_per_level: r.marginalKl,
      figure: r.figurePath,
    }));
    return;
  }
  console.log(`run ${r.run.id} (${r.run.preset}) at step ${r.step}, backend ${backend.backend}:`);
  for (const row of r.rows) console.log(`  ${row.name.padEnd(36)} ${row.value.toFixed(4)}`);
  const kls = r.marginalKl.map((l) => `${l.level}: ${l.kl.toFixed(3)}`).join(", ");
  console.log(`  KL(true || learned) per level (nats): ${kls}`);
  console.log(`figure: ${r.figurePath}`);
}

interface Opts {
  run?: string;
  step?: string;
  model?: string;
  checkpoint?: string;
  data?: string;
  refSplit: string;
  noiseScale: string;
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
  threads?: string;
  json?: boolean;
}

await runMain(async () => {
  const program = new Command("eval")
    .description(
      "FID, IS and KID of a trained image model (a 2D run: its end-of-run evaluation again), " +
        "written to the results database",
    )
    .option("--run <id>", "the run to evaluate (deno task compare lists them)")
    .option("--step <n>", "with --run: the checkpoint the run kept at this step (--keep-every)")
    .option("--model <name>", `a shipped model (${SHIPPED_MODELS.join(", ")})`)
    .option("--checkpoint <path>", "a checkpoint file")
    .option("--data <dataset:split>", "the first --n images of a data split instead of samples")
    .option("--ref-split <split>", "reference split of the data set: train | test", "train")
    .option("--noise-scale <s>", "Langevin noise scale (official evaluation: 0.99)", "1")
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
    .option("--threads <n>", THREADS_HELP)
    .option("--db <path>", "results database (SQLite path or postgres:// URL)")
    .option("--json", "print the results as one JSON line");
  if (!parseCommand(program, Deno.args)) return;
  const o = program.opts<Opts>();
  applyThreads(o.threads);
  const chosen = [o.run, o.model, o.checkpoint, o.data].filter((x) => x !== undefined);
  if (chosen.length !== 1) {
    throw new UserError(
      "give exactly one of --run ID, --model NAME, --checkpoint PATH or --data DATASET:SPLIT",
    );
  }
  if (o.step !== undefined && o.run === undefined) throw new UserError("--step needs --run");
  const noiseScale = Number(o.noiseScale);
  if (!(noiseScale > 0 && noiseScale <= 10)) {
    throw new UserError(`--noise-scale must be a number in (0, 10] (got '${o.noiseScale}')`);
  }
  if (!["train", "test"].includes(o.refSplit)) {
    throw new UserError(`--ref-split is train or test (got '${o.refSplit}')`);
  }
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
    const runId = o.run === undefined ? undefined : intOption("run", o.run, 1);
    if (runId !== undefined && await isToy2dRun(db, runId)) {
      await evaluateToy2d(db, runId, optionalInt("step", o.step, 0), o);
      return;
    }
    // Check the target before the slow parts (backend start, extractor loading).
    const target: EvalTarget = runId !== undefined
      ? { runId, step: optionalInt("step", o.step, 0) }
      : o.data !== undefined
      ? dataTarget(o.data)
      : { checkpoint: o.model !== undefined ? await shippedModelPath(o.model) : o.checkpoint! };
    const { dataset, label } = await describeTarget(db, target);
    const features = o.features ?? defaultFeaturesFor(dataset);
    const backend = await initBackend(o.backend as BackendChoice);
    const { extractor, version } = await openExtractor(features, {
      inceptionPath: o.inception,
      classifierPath: o.classifier,
    });
    const progress = phaseProgress((line) => console.error(line));
    if (!o.json) {
      console.log(
        `${label} (${dataset}): ${n} samples, ${extractor.name} features, ` +
          `noise scale ${noiseScale}, reference ${o.refSplit} split, backend ${backend.backend}`,
      );
    }
    try {
      const result = await evaluateRun({
        db,
        target,
        noiseScale,
        n,
        metrics,
        extractor,
        extractorVersion: version,
        openReference: (dataset, path) =>
          openImageDataset(dataset, { split: o.refSplit, data: path ?? undefined }),
        openData: (dataset, split) => openImageDataset(dataset, { split }),
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
          run: result.run.id,
          step: result.step,
          noise_scale: noiseScale,
          ref_split: o.refSplit,
          features: extractor.name,
          n,
          n_ref: ref?.n ?? null,
          ...Object.fromEntries(result.values.map((v) => [v.name, v.value])),
          ...Object.fromEntries(
            result.values.filter((v) => "std" in v.details).map((
              v,
            ) => [`${v.name}_std`, v.details.std]),
          ),
          ...Object.fromEntries(
            result.values.filter((v) => "class_shares" in v.details).map((
              v,
            ) => ["class_shares", v.details.class_shares]),
          ),
        }));
        return;
      }
      if (ref) {
        console.log(
          `reference: ${ref.n} ${o.refSplit} images, ` +
            (ref.fromCache ? `from ${ref.cachePath}` : `features in ${ref.seconds.toFixed(1)} s`),
        );
      }
      const at = result.step === null ? "" : ` (checkpoint step ${result.step})`;
      console.log(`samples: ${n} in ${result.sampleSeconds.toFixed(1)} s${at}`);
      for (const v of result.values) {
        const std = typeof v.details.std === "number" ? ` +- ${v.details.std.toPrecision(3)}` : "";
        console.log(`  ${v.name.padEnd(4)} ${v.value.toPrecision(6)}${std}`);
        const shares = v.details.class_shares as number[] | undefined;
        if (shares) {
          const pct = shares.map((x, i) => `${i}:${(100 * x).toFixed(1)}%`).join(" ");
          console.log(`       class shares (classifier labels) ${pct}`);
        }
      }
      console.log(`written to ${db.location} as evaluations of run ${result.run.id}`);
    } finally {
      extractor.dispose();
    }
  } finally {
    await db.close();
  }
});
