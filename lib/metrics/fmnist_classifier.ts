/**
 * The project's Fashion-MNIST classifier and the feature extractor over it: a small CNN
 * (conv 3x3 x32 -> max-pool -> conv 3x3 x64 -> max-pool -> dense 128 -> dense 10) written with
 * tfjs ops and variables. Its penultimate 128 activations (after ReLU, like Inception's pool_3)
 * give FID and KID, its softmax gives the Inception Score. These are Fashion-MNIST-specific
 * numbers, comparable only with numbers from the same checkpoint, never with Inception FIDs.
 *
 * Training runs on every tfjs backend: the 3x3 convolutions are lib/kernels' conv2dSame, whose
 * gradients are forward convolutions, because tfjs's wasm backend (the fast CPU path) has no
 * Conv2DBackpropFilter kernel.
 */
import * as tf from "@tensorflow/tfjs";
import { fileURLToPath } from "node:url";
import { batches, type ImageDataset, toTensor } from "../data/images/mod.ts";
import { UserError } from "../errors.ts";
import { loadCheckpoint, restoreGroup, saveCheckpoint } from "../io/checkpoint.ts";
import { conv2dSame } from "../kernels/conv2d.ts";
import { Rng } from "../rng.ts";
import type { FeatureExtractor, FeatureOutput } from "./features.ts";

/** The name stored with every metric these features give. */
export const FMNIST_FEATURES_NAME = "fmnist-cnn-penultimate";
/**
 * The classifier shipped with the project (models/classifiers/), the default of every metric:
 * the same weights on every machine, so FID-fmnist numbers compare across machines.
 */
export const DEFAULT_CLASSIFIER_PATH = fileURLToPath(
  new URL("../../models/classifiers/fashion-mnist.ckpt", import.meta.url),
);
/** Where `deno task train-classifier fashion-mnist` writes (never over the shipped one). */
export const TRAINED_CLASSIFIER_PATH = "results/classifiers/fashion-mnist.ckpt";
/** Marks a checkpoint as this classifier (a DRL checkpoint has other groups and no such kind). */
const CLASSIFIER_KIND = "fmnist-cnn-classifier";
const GROUP = "classifier";

export interface ClassifierConfig {
  imageSize: number;
  channels: number;
  conv1: number;
  conv2: number;
  /** Width of the penultimate layer: the feature dimension. */
  hidden: number;
  classes: number;
}

export const FMNIST_CLASSIFIER_CONFIG: Readonly<ClassifierConfig> = Object.freeze({
  imageSize: 28,
  channels: 1,
  conv1: 32,
  conv2: 64,
  hidden: 128,
  classes: 10,
});

/** 2x2 max-pooling, stride 2. */
function pool2(x: tf.Tensor4D): tf.Tensor4D {
  return tf.maxPool(x, 2, 2, "valid");
}

export interface ClassifierOutput {
  /** [N, hidden]: post-ReLU penultimate activations. */
  features: tf.Tensor2D;
  /** [N, classes]. */
  logits: tf.Tensor2D;
}

export class FmnistClassifier {
  /** Parameters by checkpoint name (tfjs variable names stay auto-generated and unique). */
  readonly params = new Map<string, tf.Variable>();

  /** Weights drawn with He initialisation (He et al. 2015) from `rng`; biases zero. */
  constructor(readonly config: ClassifierConfig, rng: Rng) {
    const { channels, conv1, conv2, hidden, classes, imageSize } = config;
    if (imageSize % 4 !== 0) {
      throw new RangeError(`imageSize must be a multiple of 4, got ${imageSize}`);
    }
    const flat = (imageSize / 4) ** 2 * conv2;
    const he = (name: string, shape: number[], fanIn: number) =>
      this.params.set(
        name,
        tf.tidy(() => tf.variable(tf.mul(rng.normal(shape), Math.sqrt(2 / fanIn)))),
      );
    const zeros = (name: string, n: number) =>
      this.params.set(name, tf.tidy(() => tf.variable(tf.zeros([n]))));
    he("conv1/w", [3, 3, channels, conv1], 9 * channels);
    zeros("conv1/b", conv1);
    he("conv2/w", [3, 3, conv1, conv2], 9 * conv1);
    zeros("conv2/b", conv2);
    he("dense1/w", [flat, hidden], flat);
    zeros("dense1/b", hidden);
    he("dense2/w", [hidden, classes], hidden);
    zeros("dense2/b", classes);
  }

  /** A parameter by its checkpoint name. */
  param(name: string): tf.Variable {
    const v = this.params.get(name);
    if (!v) throw new Error(`no parameter ${name}`);
    return v;
  }

  /** x: [N, H, W, C] in [-1, 1]. The caller owns (and disposes) both outputs. */
  forward(x: tf.Tensor4D): ClassifierOutput {
    return tf.tidy(() => {
      const w = (n: string) => this.param(n);
      let h = tf.relu(tf.add(conv2dSame(x, w("conv1/w") as tf.Tensor4D), w("conv1/b")));
      h = pool2(h as tf.Tensor4D);
      h = tf.relu(
        tf.add(conv2dSame(h as tf.Tensor4D, w("conv2/w") as tf.Tensor4D), w("conv2/b")),
      );
      h = pool2(h as tf.Tensor4D);
      const flat = tf.reshape(h, [x.shape[0], -1]);
      const features = tf.relu(
        tf.add(tf.matMul(flat, w("dense1/w") as tf.Tensor2D), w("dense1/b")),
      );
      const logits = tf.add(tf.matMul(features, w("dense2/w") as tf.Tensor2D), w("dense2/b"));
      return { features: features as tf.Tensor2D, logits: logits as tf.Tensor2D };
    });
  }

  dispose(): void {
    for (const v of this.params.values()) v.dispose();
    this.params.clear();
  }
}

/** Checks that a dataset's images fit the classifier. */
function checkShape(config: ClassifierConfig, h: number, w: number, c: number, what: string): void {
  if (h !== config.imageSize || w !== config.imageSize || c !== config.channels) {
    throw new UserError(
      `${what} are ${h}x${w}x${c}, the Fashion-MNIST classifier takes ` +
        `${config.imageSize}x${config.imageSize}x${config.channels}; use --features inception`,
    );
  }
}

/** Fraction of a labelled dataset the classifier gets right. */
export async function classifierAccuracy(
  net: FmnistClassifier,
  ds: ImageDataset,
  batchSize = 500,
): Promise<number> {
  if (!ds.labels) {
    throw new UserError(`${ds.name}/${ds.split} has no labels to measure accuracy on`);
  }
  checkShape(net.config, ds.height, ds.width, ds.channels, `${ds.name} images`);
  let correct = 0;
  for (const b of batches(ds, { batchSize, rng: new Rng(0), shuffle: false })) {
    const predicted = tf.tidy(() => {
      const { features, logits } = net.forward(toTensor(b));
      features.dispose();
      return tf.argMax(logits, 1);
    });
    const p = await predicted.data();
    predicted.dispose();
    for (let i = 0; i < p.length; i++) if (p[i] === b.labels![i]) correct++;
  }
  return correct / ds.count;
}

export interface TrainClassifierOptions {
  train: ImageDataset;
  /** Measured after every epoch; the last value is the classifier's reported accuracy. */
  test: ImageDataset;
  epochs: number;
  batchSize: number;
  /** Peak Adam rate (at the first step; cosine decay after). */
  lr: number;
  seed: number;
  /** Layer widths other than FMNIST_CLASSIFIER_CONFIG's (small ones keep tests fast). */
  widths?: Partial<Pick<ClassifierConfig, "conv1" | "conv2" | "hidden">>;
  /** Called after every batch with the examples seen so far and the batch's loss. */
  onBatch?: (examplesSeen: number, loss: number) => void;
  /** Called after every epoch. */
  onEpoch?: (epoch: number, testAccuracy: number, seconds: number) => void;
}

export interface TrainClassifierResult {
  net: FmnistClassifier;
  /** Test accuracy after each epoch. */
  testAccuracies: number[];
  /** Optimizer steps taken. */
  steps: number;
  seconds: number;
}

/** tfjs's Adam with a settable rate (tfjs keeps `learningRate` protected). */
class ScheduledAdam extends tf.AdamOptimizer {
  constructor(lr: number) {
    super(lr, 0.9, 0.999);
  }
  setLearningRate(lr: number): void {
    this.learningRate = lr;
  }
}

/** Cosine decay from `lr` at step 0 towards 0 at `total` (Loshchilov & Hutter 2017, no restarts). */
export function cosineRate(lr: number, step: number, total: number): number {
  return 0.5 * lr * (1 + Math.cos((Math.PI * Math.min(step, total)) / total));
}

/**
 * Trains a fresh classifier with Adam on softmax cross-entropy, the rate decaying along a cosine
 * over all steps (a few epochs then suffice for > 90% test accuracy); same seed, same weights.
 */
export async function trainClassifier(
  opts: TrainClassifierOptions,
): Promise<TrainClassifierResult> {
  const { train, test } = opts;
  if (!train.labels || train.numClasses < 2) {
    throw new UserError(
      `${train.name}/${train.split} has no class labels to train a classifier on`,
    );
  }
  const config: ClassifierConfig = {
    ...FMNIST_CLASSIFIER_CONFIG,
    ...opts.widths,
    imageSize: train.height,
    channels: train.channels,
    classes: train.numClasses,
  };
  checkShape(config, train.height, train.width, train.channels, `${train.name} images`);
  const rng = new Rng(opts.seed);
  const net = new FmnistClassifier(config, rng);
  const optimizer = new ScheduledAdam(opts.lr);
  const vars = [...net.params.values()];
  const totalSteps = opts.epochs * Math.ceil(train.count / opts.batchSize);
  let step = 0;
  const testAccuracies: number[] = [];
  const t0 = performance.now();
  let seen = 0;
  try {
    for (let epoch = 1; epoch <= opts.epochs; epoch++) {
      for (const b of batches(train, { batchSize: opts.batchSize, rng, shuffle: true })) {
        optimizer.setLearningRate(cosineRate(opts.lr, step++, totalSteps));
        const x = toTensor(b);
        const y = tf.tidy(() => tf.oneHot(tf.tensor1d(b.labels!, "int32"), config.classes));
        const loss = optimizer.minimize(
          () => {
            const { features, logits } = net.forward(x);
            features.dispose();
            return tf.losses.softmaxCrossEntropy(y, logits) as tf.Scalar;
          },
          true,
          vars,
        )!;
        const value = (await loss.data())[0];
        tf.dispose([x, y, loss]);
        if (!Number.isFinite(value)) {
          throw new Error(`classifier training diverged (loss ${value})`);
        }
        seen += b.indices.length;
        opts.onBatch?.(seen, value);
      }
      const acc = await classifierAccuracy(net, test);
      testAccuracies.push(acc);
      opts.onEpoch?.(epoch, acc, (performance.now() - t0) / 1000);
    }
  } catch (err) {
    net.dispose();
    throw err;
  } finally {
    optimizer.dispose();
  }
  return { net, testAccuracies, steps: step, seconds: (performance.now() - t0) / 1000 };
}

/** Facts stored in the checkpoint beside the weights. */
export interface ClassifierFacts {
  dataset: string;
  testAccuracy: number;
  epochs: number;
  batchSize: number;
  /** Peak rate of the cosine-decayed Adam. */
  lr: number;
  seed: number;
  /** Optimizer steps taken. */
  steps: number;
  trainSeconds: number;
  backend: string;
}

export async function saveClassifier(
  path: string,
  net: FmnistClassifier,
  facts: ClassifierFacts,
  codeVersion: string | null,
): Promise<void> {
  await saveCheckpoint(path, {
    step: facts.steps,
    config: net.config,
    rng: { seed: facts.seed, counter: 0 },
    adamStep: facts.steps,
    codeVersion,
    extra: { kind: CLASSIFIER_KIND, ...facts },
  }, { [GROUP]: net.params });
}

export interface LoadedClassifier {
  net: FmnistClassifier;
  facts: ClassifierFacts;
  /** Identifies these exact weights (cache keys of reference statistics). */
  fingerprint: string;
}

/** Loads a classifier checkpoint; a missing file says how to make one. */
export async function loadClassifier(path = DEFAULT_CLASSIFIER_PATH): Promise<LoadedClassifier> {
  try {
    await Deno.stat(path);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
    throw new UserError(
      path === DEFAULT_CLASSIFIER_PATH
        ? `the shipped Fashion-MNIST classifier ${path} is missing; restore it with: ` +
          `git checkout -- models/classifiers`
        : `no Fashion-MNIST classifier at ${path}; train one with: ` +
          `deno task train-classifier fashion-mnist --out ${path}`,
    );
  }
  const ckpt = await loadCheckpoint(path);
  const extra = ckpt.meta.extra as (Partial<ClassifierFacts> & { kind?: string }) | undefined;
  if (extra?.kind !== CLASSIFIER_KIND) {
    throw new UserError(
      `${path} is not a Fashion-MNIST classifier checkpoint; make one with: ` +
        `deno task train-classifier fashion-mnist`,
    );
  }
  const config = ckpt.meta.config as ClassifierConfig;
  const net = new FmnistClassifier(config, new Rng(0));
  restoreGroup(ckpt, GROUP, net.params, path);
  const { kind: _kind, ...facts } = extra;
  return {
    net,
    facts: facts as ClassifierFacts,
    fingerprint: weightsFingerprint(ckpt.tensors.get(GROUP)!),
  };
}

/** FNV-1a over the weights' bytes, as 8 hex digits: cached statistics follow a retrained model. */
function weightsFingerprint(group: Map<string, { values: Float32Array }>): string {
  let h = 0x811c9dc5;
  for (const name of [...group.keys()].sort()) {
    const v = group.get(name)!.values;
    const bytes = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
    for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i], 0x01000193);
  }
  return (h >>> 0).toString(16).padStart(8, "0");
}

/** Penultimate features (FID, KID) and logits (IS) of the project's Fashion-MNIST classifier. */
export class FmnistFeatureExtractor implements FeatureExtractor {
  readonly name = FMNIST_FEATURES_NAME;
  readonly featureDim: number;
  readonly logitsDim: number;

  /** `fingerprint` identifies the weights (see LoadedClassifier). */
  constructor(readonly net: FmnistClassifier, readonly fingerprint = "") {
    this.featureDim = net.config.hidden;
    this.logitsDim = net.config.classes;
  }

  async features(batch: tf.Tensor4D): Promise<FeatureOutput> {
    const [, h, w, c] = batch.shape;
    checkShape(this.net.config, h, w, c, "the images");
    const { features, logits } = this.net.forward(batch);
    try {
      const [pool, lg] = await Promise.all([features.data(), logits.data()]);
      return { pool: Float32Array.from(pool), logits: Float32Array.from(lg) };
    } finally {
      tf.dispose([features, logits]);
    }
  }

  dispose(): void {
    this.net.dispose();
  }
}

/** The extractor over the classifier checkpoint at `path` (default location when omitted). */
export async function loadFmnistFeatureExtractor(
  path = DEFAULT_CLASSIFIER_PATH,
): Promise<FmnistFeatureExtractor> {
  const { net, fingerprint } = await loadClassifier(path);
  return new FmnistFeatureExtractor(net, fingerprint);
}
