/**
 * `deno task data <dataset> [--data PATH] [--split S] [--stats] [--json] [--limit N]`: opens a
 * dataset split and describes it; with --stats, pixel statistics over the raw 0-255 pixels.
 */
import { Command } from "commander";
import { runMain, UserError } from "../lib/errors.ts";
import {
  IMAGE_DATASET_NAMES,
  imageDatasetInfo,
  openImageDataset,
} from "../lib/data/images/registry.ts";
import { datasetStats } from "../lib/data/images/stats.ts";

interface DataOptions {
  data?: string;
  split: string;
  stats?: boolean;
  json?: boolean;
  limit?: string;
}

function parseLimit(text: string | undefined): number {
  if (text === undefined) return Infinity;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) {
    throw new UserError(`--limit must be a positive integer, got '${text}'`);
  }
  return n;
}

const round = (x: number) => Math.round(x * 1e4) / 1e4;

async function main(): Promise<void> {
  const program = new Command()
    .name("deno task data")
    .description("Open an image dataset split and describe it.")
    .argument("<dataset>", `one of ${IMAGE_DATASET_NAMES.join(", ")}`)
    .option("--data <path>", "where the dataset is (default: the dataset's default location)")
    .option("--split <split>", "train, test (valid/all for celeba64, val for lsun-*)", "train")
    .option("--stats", "compute pixel statistics (reads every image)")
    .option("--json", "print one JSON object")
    .option("--limit <n>", "statistics over the first n examples only");
  program.parse(Deno.args, { from: "user" });
  const name = program.args[0];
  const opts = program.opts<DataOptions>();
  imageDatasetInfo(name); // unknown names fail here, with the list
  const limit = parseLimit(opts.limit);

  const ds = await openImageDataset(name, { data: opts.data, split: opts.split });
  try {
    const summary: Record<string, unknown> = {
      dataset: ds.name,
      split: ds.split,
      count: ds.count,
      shape: [ds.height, ds.width, ds.channels],
    };
    if (opts.stats) {
      const showProgress = !opts.json && Deno.stderr.isTerminal();
      const s = datasetStats(ds, limit, (done, total) => {
        if (showProgress) console.error(`  ${done}/${total} images`);
      });
      Object.assign(summary, {
        count: s.count,
        min: s.min,
        max: s.max,
        mean: s.mean.map(round),
        std: s.std.map(round),
        labels: s.labels,
      });
    }
    if (opts.json) {
      console.log(JSON.stringify(summary));
    } else {
      for (const [k, v] of Object.entries(summary)) {
        console.log(`${k.padEnd(8)} ${Array.isArray(v) ? v.join(", ") : String(v)}`);
      }
    }
  } finally {
    ds.close();
  }
}

if (import.meta.main) await runMain(main);
