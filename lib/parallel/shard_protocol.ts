/** Messages between the shard pool and its workers. */
import type { TrainConfig } from "../config.ts";

export interface WorkerInit {
  kind: "init";
  config: TrainConfig;
  backend: string;
}

export interface ShardRequest {
  kind: "step";
  id: number;
  /** Live weights and spectral-norm vectors, by name (after this step's power iteration). */
  params: Record<string, Float32Array>;
  buffers: Record<string, Float32Array>;
  /** The shard's clean data and levels. */
  x0: Float32Array;
  shape: number[];
  levels: Int32Array;
  /** Seed of the shard's own stream. */
  seed: number;
  /** The whole batch's size (the gradient is of sum(loss) / batch). */
  batch: number;
}

export interface ShardReply {
  id: number;
  grads: Record<string, Float32Array>;
  loss: Float32Array;
  fPos: Float32Array;
  fNeg: Float32Array;
  acceptance: Float32Array;
  displacement: Float32Array;
}

export type WorkerMessage =
  | { kind: "ready" }
  | { kind: "result"; reply: ShardReply }
  | { kind: "error"; message: string; stack?: string };
