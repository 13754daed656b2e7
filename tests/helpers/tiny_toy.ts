/** Overrides that make a 2D preset train and evaluate in about a second (for buildConfig). */
export const TINY_TOY: Readonly<Record<string, string>> = Object.freeze({
  iterations: "6",
  batch: "16",
  K: "2",
  T: "4",
  width: "8",
  depth: "1",
  "log-every": "2",
  "checkpoint-every": "2",
  samples: "64",
  "eval.gridSize": "16",
});
