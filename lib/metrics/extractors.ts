/** Feature extractors by command-line name (`--features`). */
import { UserError } from "../errors.ts";
import type { FeatureExtractor } from "./features.ts";
import { loadInceptionExtractor } from "./inception/extractor.ts";

export const FEATURE_CHOICES = ["inception", "fmnist"] as const;
export type FeatureChoice = typeof FEATURE_CHOICES[number];

export interface ExtractorOptions {
  /** classify_image_graph_def.pb; default: defaultInceptionPath(). */
  inceptionPath?: string;
}

export async function loadFeatureExtractor(
  choice: string,
  options: ExtractorOptions = {},
): Promise<FeatureExtractor> {
  switch (choice) {
    case "inception":
      return await loadInceptionExtractor(options.inceptionPath);
    case "fmnist":
      // The project's Fashion-MNIST classifier (deno task train-classifier) is not wired in yet.
      throw new UserError(
        "--features fmnist needs the project's Fashion-MNIST classifier, which is not available yet; " +
          "use --features inception",
      );
    default:
      throw new UserError(
        `unknown feature extractor '${choice}'; use one of ${FEATURE_CHOICES.join(", ")}`,
      );
  }
}
