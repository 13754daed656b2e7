/// <reference lib="dom" />
/**
 * The shipped models as the page sees them: the list the build wrote (models.json) and one
 * model's file fetched and turned into a sampling model by the library's own parser and builder
 * (lib/io/checkpoint_data.ts, lib/sampling_model.ts): the checksum and shape checks of the CLI.
 */
import type { TrainConfig } from "../../lib/config.ts";
import { parseCheckpoint } from "../../lib/io/checkpoint_data.ts";
import { type SamplingModel, samplingModelFrom } from "../../lib/sampling_model.ts";

/** One entry of models.json (written by lib/tasks/web_build.ts). */
export interface ModelEntry {
  name: string;
  /** The model file, relative to the page. */
  file: string;
  /** Its model card (Markdown), relative to the page. */
  card: string;
  bytes: number;
}

/** A failure the user can act on, shown as the page's message. */
export class PageError extends Error {
  override name = "PageError";
}

async function fetchOk(url: string, what: string): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(url);
  } catch (err) {
    throw new PageError(`cannot fetch ${what} (${url}): ${(err as Error).message}`);
  }
  if (!res.ok) {
    throw new PageError(
      res.status === 404
        ? `${what} is missing: ${url} answered 404 Not Found (rebuild the page with ` +
          `deno task web --build DIR, or restore the file with git checkout -- models/)`
        : `cannot fetch ${what} (${url}): HTTP ${res.status} ${res.statusText}`,
    );
  }
  return res;
}

/** The models the build put beside the page. */
export async function listModels(): Promise<ModelEntry[]> {
  const res = await fetchOk("models.json", "the list of models");
  let list: unknown;
  try {
    list = await res.json();
  } catch {
    throw new PageError("models.json is not valid JSON; rebuild the page");
  }
  if (!Array.isArray(list) || list.length === 0) {
    throw new PageError("models.json lists no models; rebuild the page");
  }
  return list as ModelEntry[];
}

/** Whether a model samples points in 2D (heat maps) rather than images. */
export function isToy2d(config: TrainConfig): boolean {
  return config.task !== "images";
}

/** Fetches, checks and builds one model (EMA weights) on the active tfjs backend. */
export async function loadModel(entry: ModelEntry): Promise<SamplingModel> {
  const res = await fetchOk(entry.file, `the model file of '${entry.name}'`);
  const bytes = new Uint8Array(await res.arrayBuffer());
  try {
    return samplingModelFrom(parseCheckpoint(bytes, entry.file), "ema", entry.file);
  } catch (err) {
    // The library's UserErrors name the file and the defect (checksum, truncation, shapes).
    throw new PageError((err as Error).message);
  }
}
