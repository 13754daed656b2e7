/**
 * Feature extractors by command-line name (`--features`): the standard Inception network, or the
 * project's Fashion-MNIST classifier (whose numbers are Fashion-MNIST-specific, not comparable to
 * Inception numbers).
 */
import { UserError } from "../errors.ts";
import type { FeatureExtractor } from "./features.ts";
import { loadFmnistFeatureExtractor } from "./fmnist_classifier.ts";
import { loadInceptionExtractor } from "./inception/extractor.ts";

export const FEATURE_CHOICES = ["inception", "fmnist"] as const;
export type FeatureChoice = typeof FEATURE_CHOICES[number];

export interface ExtractorOptions {
  /** classify_image_graph_def.pb; default: defaultInceptionPath(). */
  inceptionPath?: string;
  /** The Fashion-MNIST classifier checkpoint; default: DEFAULT_CLASSIFIER_PATH. */
  classifierPath?: string;
}

export async function loadFeatureExtractor(
  choice: string,
  options: ExtractorOptions = {},
): Promise<FeatureExtractor> {
  switch (choice) {
    case "inception":
      return await loadInceptionExtractor(options.inceptionPath);
    case "fmnist":
      return await loadFmnistFeatureExtractor(options.classifierPath);
    default:
      throw new UserError(
        `unknown feature extractor '${choice}'; use one of ${FEATURE_CHOICES.join(", ")}`,
      );
  }
}
