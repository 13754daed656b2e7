/**
 * deno task train-classifier fashion-mnist [--out PATH] [--epochs N] [--seed S] [--batch B]
 *                            [--lr LR] [--backend auto|webgpu|wasm|cpu] [--data DIR]
 * Trains the project's Fashion-MNIST classifier (the feature extractor of `--features fmnist`) on
 * the training split, measures its test accuracy and saves both in one checkpoint.
 */
import * as tf from "@tensorflow/tfjs";
import { type BackendChoice, initBackend, type Probe } from "../lib/backend.ts";
import { intFlag, parseArgs } from "../lib/cli.ts";
import { openImageDataset } from "../lib/data/images/mod.ts";
import { runMain, UserError } from "../lib/errors.ts";
import { gitCommit } from "../lib/git.ts";
import { createProgress } from "../lib/io/progress.ts";
import {
  FMNIST_CLASSIFIER_CONFIG,
  FmnistClassifier,
  saveClassifier,
  trainClassifier,
  TRAINED_CLASSIFIER_PATH,
} from "../lib/metrics/fmnist_classifier.ts";
import { Rng } from "../lib/rng.ts";

const USAGE = `usage: deno task train-classifier fashion-mnist [--out PATH] [--epochs N] [--seed S]
         [--batch B] [--lr LR] [--backend auto|webgpu|wasm|cpu] [--data DIR]
default --out ${TRAINED_CLASSIFIER_PATH}, --epochs 3, --seed 0, --batch 64, --lr 0.001`;

const FLAGS = ["out", "epochs", "seed", "batch", "lr", "backend", "data"];

/**
 * One training step of the real network on a zero batch: what the backend choice is timed on
 * (the network is built per backend, as a probe must be).
 */
function trainingProbe(batch: number): () => Probe {
  return () => {
    const { imageSize, channels, classes } = FMNIST_CLASSIFIER_CONFIG;
    const net = new FmnistClassifier(FMNIST_CLASSIFIER_CONFIG, new Rng(0));
    const opt = tf.train.adam(1e-3);
    const x = tf.zeros([batch, imageSize, imageSize, channels]) as tf.Tensor4D;
    const y = tf.oneHot(tf.zeros([batch], "int32") as tf.Tensor1D, classes);
    return {
      run: async () => {
        const loss = opt.minimize(
          () => {
            const out = net.forward(x);
            out.features.dispose();
            return tf.losses.softmaxCrossEntropy(y, out.logits) as tf.Scalar;
          },
          true,
          [...net.params.values()],
        )!;
        await loss.data();
        loss.dispose();
      },
      dispose: () => {
        tf.dispose([x, y]);
        opt.dispose();
        net.dispose();
      },
    };
  };
}

await runMain(async () => {
  const args = parseArgs(Deno.args, FLAGS, ["help"]);
  if (args.flags.help) return console.log(USAGE);
  const unknown = Object.keys(args.overrides);
  if (unknown.length) throw new UserError(`unknown option --${unknown[0]}\n${USAGE}`);
  if (args.positional.length !== 1) throw new UserError(`name one data set\n${USAGE}`);
  const dataset = args.positional[0];
  if (dataset !== "fashion-mnist") {
    throw new UserError(`only fashion-mnist has a project classifier (got '${dataset}')\n${USAGE}`);
  }
  const out = (args.flags.out as string | undefined) ?? TRAINED_CLASSIFIER_PATH;
  const epochs = intFlag("epochs", args.flags.epochs) ?? 3;
  const seed = intFlag("seed", args.flags.seed) ?? 0;
  const batchSize = intFlag("batch", args.flags.batch) ?? 64;
  const lr = args.flags.lr === undefined ? 1e-3 : Number(args.flags.lr);
  if (epochs < 1 || batchSize < 1) throw new UserError("--epochs and --batch must be at least 1");
  if (!(lr > 0)) throw new UserError(`--lr needs a positive number (got '${args.flags.lr}')`);
  const data = args.flags.data as string | undefined;

  const train = await openImageDataset(dataset, { split: "train", data });
  const test = await openImageDataset(dataset, { split: "test", data });
  const backend = await initBackend(
    ((args.flags.backend as string | undefined) ?? "auto") as BackendChoice,
    trainingProbe(batchSize),
    1,
  );
  console.log(`backend: ${backend.backend} (${backend.adapter}); ${backend.reason}`);
  console.log(
    `training on ${train.count} ${dataset} images for ${epochs} epochs (batch ${batchSize}, ` +
      `Adam lr ${lr}, seed ${seed})`,
  );

  const progress = createProgress(epochs * train.count, 0);
  let runningLoss = NaN;
  const result = await trainClassifier({
    train,
    test,
    epochs,
    batchSize,
    lr,
    seed,
    onBatch: (seen, loss) => {
      runningLoss = Number.isNaN(runningLoss) ? loss : 0.98 * runningLoss + 0.02 * loss;
      progress.update(seen, `loss ${runningLoss.toFixed(4)}`);
    },
    onEpoch: (epoch, acc, seconds) =>
      progress.log(
        `epoch ${epoch}/${epochs}: loss ${runningLoss.toFixed(4)}, test accuracy ` +
          `${(100 * acc).toFixed(2)}% (${seconds.toFixed(0)} s)`,
      ),
  });
  progress.stop();
  const testAccuracy = result.testAccuracies[result.testAccuracies.length - 1];
  await saveClassifier(out, result.net, {
    dataset,
    testAccuracy,
    epochs,
    batchSize,
    lr,
    seed,
    steps: result.steps,
    trainSeconds: result.seconds,
    backend: backend.backend,
  }, await gitCommit());
  result.net.dispose();
  train.close();
  test.close();
  console.log(
    `test accuracy ${(100 * testAccuracy).toFixed(2)}% on ${test.count} images after ` +
      `${result.seconds.toFixed(0)} s on ${backend.backend}; saved ${out}`,
  );
  if (testAccuracy < 0.9) {
    console.log("warning: below 90%; train longer (--epochs) before using it for metrics");
  }
});
