/**
 * A worker of the shard pool (shard_pool.ts): its own tfjs on the host backend with one native
 * thread, its own copy of the energy net. Per request it takes the live weights and spectral-norm
 * vectors, runs Algorithm 1 on one shard (lib/train.ts shardStep) and sends back the shard's
 * gradient and per-example results. It never draws from the run's stream: the request carries
 * the shard's seed.
 */
/// <reference lib="deno.worker" />
import * as tf from "@tensorflow/tfjs";
import { type BackendName, initBackend } from "../backend.ts";
import type { TrainConfig } from "../config.ts";
import { installFastKernels } from "../kernels/mod.ts";
import { createRunNet } from "../nets/mod.ts";
import type { EnergyNet } from "../nets/types.ts";
import { Rng } from "../rng.ts";
import { makeSchedule, type ScheduleTensors, scheduleTensors } from "../schedule.ts";
import { shardStep } from "../train_step.ts";
import type { ShardReply, ShardRequest, WorkerInit } from "./shard_protocol.ts";

let net: EnergyNet | null = null;
let st: ScheduleTensors | null = null;
let config: TrainConfig | null = null;

async function init(msg: WorkerInit): Promise<void> {
  installFastKernels({ threads: 1 });
  await initBackend(msg.backend as BackendName);
  config = msg.config;
  const schedule = makeSchedule(config.schedule);
  net = createRunNet(config.net, schedule, new Rng(config.seed));
  st = scheduleTensors(schedule);
}

function assign(vars: Map<string, tf.Variable>, values: Record<string, Float32Array>): void {
  for (const [name, v] of vars) {
    const data = values[name];
    if (!data) throw new Error(`shard worker: no values for ${name}`);
    tf.tidy(() => v.assign(tf.tensor(data, v.shape)));
  }
}

async function step(msg: ShardRequest): Promise<ShardReply> {
  if (!net || !st || !config) throw new Error("shard worker: step before init");
  assign(net.params, msg.params);
  assign(net.buffers, msg.buffers);
  const x0 = tf.tensor(msg.x0, msg.shape);
  const t = tf.tensor1d(msg.levels, "int32");
  try {
    const r = await shardStep(net, st, x0, t, new Rng(msg.seed), config.langevin, msg.batch);
    const grads: Record<string, Float32Array> = {};
    for (const [name, g] of r.grads) grads[name] = Float32Array.from(await g.data());
    tf.dispose([...r.grads.values()]);
    return {
      id: msg.id,
      grads,
      loss: r.loss,
      fPos: r.fPos,
      fNeg: r.fNeg,
      acceptance: r.acceptance,
      displacement: r.displacement,
    };
  } finally {
    tf.dispose([x0, t]);
  }
}

self.onmessage = async (e: MessageEvent<WorkerInit | ShardRequest>) => {
  const msg = e.data;
  try {
    if (msg.kind === "init") {
      await init(msg);
      self.postMessage({ kind: "ready" });
    } else {
      const reply = await step(msg);
      const transfer = [
        ...Object.values(reply.grads),
        reply.loss,
        reply.fPos,
        reply.fNeg,
        reply.acceptance,
        reply.displacement,
      ].map((a) => a.buffer as ArrayBuffer);
      self.postMessage({ kind: "result", reply }, transfer);
    }
  } catch (err) {
    self.postMessage({
      kind: "error",
      message: (err as Error).message,
      stack: (err as Error).stack,
    });
  }
};
