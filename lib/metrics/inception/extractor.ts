/**
 * The standard FID/IS feature extractor: the TensorFlow graph classify_image_graph_def.pb of
 * inception-2015-12-05, run on tfjs through the GraphDef executor, fed as the reference code feeds
 * it (TTUR fid.py and openai/improved-gan inception_score/model.py):
 *
 * - input: images in [0, 255], NHWC, fed at `ExpandDims:0`; the graph itself resizes them to
 *   299x299 (ResizeBilinear, align_corners false) and normalises them ((x - 128) / 128);
 * - FID features: `pool_3:0`, 2048 per image;
 * - IS logits: pool_3 times the weights of `softmax/logits/MatMul` (input 1), without the bias, as
 *   improved-gan computes them; its softmax is the 1008-way p(y|x).
 *
 * The file cannot be downloaded by the project; the user supplies it.
 */
import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import { UserError } from "../../errors.ts";
import type { FeatureExtractor, FeatureOutput } from "../features.ts";
import { GraphExecutor } from "./executor.ts";
import { decodeGraphDef, type GraphDef } from "./graphdef.ts";

export const INCEPTION_URL =
  "http://download.tensorflow.org/models/image/imagenet/inception-2015-12-05.tgz";
export const INCEPTION_FILE = "classify_image_graph_def.pb";
export const INCEPTION_INPUT = "ExpandDims:0";
export const INCEPTION_POOL = "pool_3:0";
export const INCEPTION_LOGITS_MATMUL = "softmax/logits/MatMul";
export const INCEPTION_NAME = "inception-2015-12-05-pool3";

/** ~/.cache/drl/classify_image_graph_def.pb (XDG_CACHE_HOME is honoured). */
export function defaultInceptionPath(): string {
  const cache = Deno.env.get("XDG_CACHE_HOME") ?? join(Deno.env.get("HOME") ?? ".", ".cache");
  return join(cache, "drl", INCEPTION_FILE);
}

function missingFileMessage(path: string): string {
  return `the Inception graph ${path} does not exist; download ${INCEPTION_URL} elsewhere, ` +
    `unpack it (tar xzf inception-2015-12-05.tgz ${INCEPTION_FILE}) and copy ${INCEPTION_FILE} to ` +
    `${defaultInceptionPath()} or pass --inception PATH`;
}

/**
 * Maps [-1, 1] images to the 8-bit values the reference code feeds (it reads PNG/JPEG files):
 * round((x + 1) * 127.5) clipped to [0, 255], the same quantisation as writing the image as PNG.
 * Grey images are repeated over three channels.
 */
export function toInceptionInput(batch: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    const channels = batch.shape[3];
    if (channels !== 1 && channels !== 3) {
      throw new UserError(`the Inception network needs 1 or 3 channels, got ${channels}`);
    }
    const rgb = channels === 1 ? tf.tile(batch, [1, 1, 1, 3]) : batch;
    return tf.clipByValue(tf.round(tf.mul(tf.add(rgb, 1), 127.5)), 0, 255) as tf.Tensor4D;
  });
}

/** Inception features for FID (pool_3) and IS (logits) from a parsed graph. */
export class InceptionExtractor implements FeatureExtractor {
  readonly name: string;
  readonly featureDim: number;
  readonly logitsDim: number;
  readonly #executor: GraphExecutor;
  readonly #weights: tf.Tensor2D;

  constructor(graph: GraphDef, name = INCEPTION_NAME) {
    const executor = new GraphExecutor(graph);
    const missing = [INCEPTION_INPUT, INCEPTION_POOL].map((t) => t.split(":")[0])
      .concat(INCEPTION_LOGITS_MATMUL).filter((n) => !executor.node(n));
    if (missing.length > 0) {
      throw new UserError(
        `the graph lacks the Inception nodes ${missing.join(", ")}; is it ${INCEPTION_FILE}?`,
      );
    }
    const unsupported = executor.unsupportedOps([INCEPTION_INPUT], [INCEPTION_POOL]);
    if (unsupported.length > 0) {
      throw new UserError(`the graph uses ops this loader cannot run: ${unsupported.join(", ")}`);
    }
    const weightsInput = executor.node(INCEPTION_LOGITS_MATMUL)!.input?.[1];
    if (!weightsInput) throw new UserError(`${INCEPTION_LOGITS_MATMUL} has no weight input`);
    const [weights] = executor.run({}, [weightsInput]);
    if (weights.rank !== 2) {
      throw new UserError(`${INCEPTION_LOGITS_MATMUL} weights are not a matrix`);
    }
    this.#executor = executor;
    this.#weights = weights as tf.Tensor2D;
    [this.featureDim, this.logitsDim] = this.#weights.shape;
    this.name = name;
  }

  async features(batch: tf.Tensor4D): Promise<FeatureOutput> {
    const n = batch.shape[0];
    const [pool, logits] = tf.tidy(() => {
      const input = toInceptionInput(batch);
      const [pool3] = this.#executor.run({ [INCEPTION_INPUT]: input }, [INCEPTION_POOL]);
      const flat = tf.reshape(pool3, [n, this.featureDim]) as tf.Tensor2D;
      return [flat, tf.matMul(flat, this.#weights)];
    });
    try {
      const [p, l] = await Promise.all([pool.data(), logits.data()]);
      return { pool: p as Float32Array, logits: l as Float32Array };
    } finally {
      tf.dispose([pool, logits]);
    }
  }

  dispose(): void {
    this.#weights.dispose();
    this.#executor.dispose();
  }
}

/** Loads classify_image_graph_def.pb from `path` (default: defaultInceptionPath()). */
export async function loadInceptionExtractor(
  path = defaultInceptionPath(),
): Promise<InceptionExtractor> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) throw new UserError(missingFileMessage(path));
    if (err instanceof Deno.errors.IsADirectory) {
      throw new UserError(`${path} is a folder; pass the path of ${INCEPTION_FILE} itself`);
    }
    throw err;
  }
  let graph: GraphDef;
  try {
    graph = decodeGraphDef(bytes);
  } catch (err) {
    throw new UserError(`${path} is not a TensorFlow GraphDef (${(err as Error).message})`);
  }
  return new InceptionExtractor(graph);
}
