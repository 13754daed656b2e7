/**
 * Trained models shipped with the project (models/<name>/): EMA weights and config in one
 * checkpoint, with a model card beside it, so a fresh clone samples and scores without training.
 */
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { UserError } from "./errors.ts";
import { hostTensor, loadCheckpoint, saveCheckpoint, type StoredTensor } from "./io/checkpoint.ts";

/** The shipped models by name (each a folder with model.ckpt and its card, README.md). */
export const SHIPPED_MODELS = ["fashion-mnist", "8gaussians", "8gaussians-T100"] as const;

/** The repository's models/ folder (resolved from this file, so any working directory works). */
export const MODELS_DIR = fileURLToPath(new URL("../models/", import.meta.url));

/** The checkpoint of a shipped model; a UserError naming the models when it is unknown or absent. */
export async function shippedModelPath(name: string): Promise<string> {
  if (!(SHIPPED_MODELS as readonly string[]).includes(name)) {
    throw new UserError(`unknown model '${name}'; shipped models: ${SHIPPED_MODELS.join(", ")}`);
  }
  const path = `${MODELS_DIR}${name}/model.ckpt`;
  try {
    await Deno.stat(path);
  } catch {
    throw new UserError(
      `the shipped model ${path} is missing; restore it with: git checkout -- models/${name}`,
    );
  }
  return path;
}

/** The groups a shipped model keeps: the EMA weights and their own spectral-norm vectors. */
const MODEL_GROUPS = ["ema", "ema.buffers"] as const;

export interface ExportedModel {
  path: string;
  step: number;
  bytes: number;
  tensors: number;
}

/**
 * Writes the EMA weights of a training checkpoint, with its config and provenance, as a model
 * file that sampling and evaluation read like a checkpoint (`loadForSampling(path, "ema")`). The
 * live weights and Adam's moments stay behind: a third of the size, and nothing to resume from.
 */
export async function exportModel(
  checkpoint: string,
  out: string,
  provenance: Record<string, unknown> = {},
): Promise<ExportedModel> {
  const ckpt = await loadCheckpoint(checkpoint);
  if (!ckpt.tensors.has("ema")) throw new UserError(`${checkpoint} has no EMA weights to export`);
  // A net with spectral norm has vectors ("buffers"); its EMA weights need their own.
  if (ckpt.tensors.has("buffers") && !ckpt.tensors.has("ema.buffers")) {
    throw new UserError(
      `${checkpoint} has no spectral-norm vectors of its EMA weights (written before the EMA kept ` +
        `its own); resume the run for one checkpoint interval and export again`,
    );
  }
  // Host arrays straight from the file: no tfjs backend needed.
  const groups: Record<string, Map<string, StoredTensor>> = {};
  for (const g of MODEL_GROUPS.filter((g) => ckpt.tensors.has(g))) {
    groups[g] = new Map(
      [...ckpt.tensors.get(g)!].map(([name, t]) => [name, hostTensor(t.shape, t.values)]),
    );
  }
  await Deno.mkdir(dirname(out), { recursive: true });
  await saveCheckpoint(out, {
    step: ckpt.meta.step,
    config: ckpt.meta.config,
    rng: ckpt.meta.rng,
    adamStep: ckpt.meta.adamStep,
    codeVersion: ckpt.meta.codeVersion,
    extra: { ...ckpt.meta.extra, exportedFrom: checkpoint, ...provenance },
  }, groups);
  const tensors = Object.values(groups).reduce((n, m) => n + m.size, 0);
  return { path: out, step: ckpt.meta.step, bytes: (await Deno.stat(out)).size, tensors };
}
