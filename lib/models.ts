/**
 * Trained models shipped with the project (models/<name>/): EMA weights and config in one
 * checkpoint, with a model card beside it, so a fresh clone samples and scores without training.
 */
import { fileURLToPath } from "node:url";
import { UserError } from "./errors.ts";

/** The shipped models by name. */
export const SHIPPED_MODELS = ["fashion-mnist"] as const;

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
