/** Image data readers: one entry point for the trainer, the data task and the tests. */
export type { BatchOptions, ImageBatch, ImageDataset } from "./types.ts";
export { batches, scalePixel, writeScaled } from "./types.ts";
export {
  IMAGE_DATASET_NAMES,
  type ImageDatasetInfo,
  imageDatasetInfo,
  type ImageDatasetName,
  openImageDataset,
  type OpenOptions,
} from "./registry.ts";
export { type DatasetStats, datasetStats } from "./stats.ts";
export { centerCrop, centerSquareResize, resize } from "./resize.ts";
export { toTensor } from "./tensor.ts";
