/**
 * Worker processes for the shards of a training step (config.train.shards): each Deno worker holds
 * its own tfjs, net and one native thread, so a 2-core machine computes two shards at once. The
 * shards' seeds, levels and data come from the run, and their gradients are summed in shard order,
 * so the numbers are the same as computing the shards one after another in one process.
 */
import type { TrainConfig } from "../config.ts";
import type { ShardReply, ShardRequest, WorkerMessage } from "./shard_protocol.ts";

interface Slot {
  worker: Worker;
  /** The reply the worker owes, if any. */
  pending: { resolve: (r: ShardReply) => void; reject: (e: Error) => void } | null;
  /** Requests queued behind it (a worker computes one shard at a time). */
  queue: Promise<unknown>;
}

export class ShardPool {
  #slots: Slot[];
  #nextId = 0;
  #closed = false;

  private constructor(slots: Slot[]) {
    this.#slots = slots;
  }

  /** Starts `size` workers for `config` on `backend` (a host backend: wasm or cpu). */
  static async create(config: TrainConfig, size: number, backend: string): Promise<ShardPool> {
    const slots: Slot[] = [];
    try {
      for (let i = 0; i < size; i++) {
        const worker = new Worker(new URL("./shard_worker.ts", import.meta.url).href, {
          type: "module",
        });
        const slot: Slot = { worker, pending: null, queue: Promise.resolve() };
        slots.push(slot);
        await new Promise<void>((resolve, reject) => {
          worker.onmessage = (e: MessageEvent<WorkerMessage>) => {
            if (e.data.kind === "ready") resolve();
            else if (e.data.kind === "error") reject(new Error(`shard worker: ${e.data.message}`));
          };
          worker.onerror = (e) => {
            e.preventDefault();
            reject(new Error(`shard worker failed to start: ${e.message}`));
          };
          worker.postMessage({ kind: "init", config, backend });
        });
        worker.onmessage = (e: MessageEvent<WorkerMessage>) => {
          const p = slot.pending;
          slot.pending = null;
          if (!p) return;
          if (e.data.kind === "result") p.resolve(e.data.reply);
          else if (e.data.kind === "error") p.reject(new Error(`shard worker: ${e.data.message}`));
        };
        worker.onerror = (e) => {
          e.preventDefault();
          const p = slot.pending;
          slot.pending = null;
          p?.reject(new Error(`shard worker crashed: ${e.message}`));
        };
      }
    } catch (err) {
      for (const s of slots) s.worker.terminate();
      throw err;
    }
    return new ShardPool(slots);
  }

  get size(): number {
    return this.#slots.length;
  }

  /** Computes the shards (shard i on worker i mod size); replies in shard order. */
  run(shards: Omit<ShardRequest, "kind" | "id">[]): Promise<ShardReply[]> {
    if (this.#closed) return Promise.reject(new Error("the shard pool is closed"));
    return Promise.all(shards.map((shard, i) => {
      const slot = this.#slots[i % this.#slots.length];
      const id = this.#nextId++;
      const reply = slot.queue.then(() =>
        new Promise<ShardReply>((resolve, reject) => {
          slot.pending = { resolve, reject };
          slot.worker.postMessage({ kind: "step", id, ...shard });
        })
      );
      slot.queue = reply.catch(() => {});
      return reply;
    }));
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const s of this.#slots) {
      s.pending?.reject(new Error("the shard pool was closed"));
      s.worker.terminate();
    }
  }
}
