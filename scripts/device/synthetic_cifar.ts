/**
 * deno run -A scripts/device/synthetic_cifar.ts OUT_DIR [--per-batch N]
 * Writes CIFAR-10's binary format (cifar-10-batches-bin/: 5 training batches and a test batch of
 * N records each, label byte then 3x32x32 pixels) with seeded pseudo-random pixels and labels:
 * data the cifar10 preset trains on where the real set cannot be downloaded (the GPU machine).
 * Timings only: nothing is learned from noise.
 */
import { JsRandom } from "../../lib/rng.ts";
import { runMain, UserError } from "../../lib/errors.ts";

const RECORD = 1 + 3 * 32 * 32;

function batchFile(n: number, rng: JsRandom): Uint8Array {
  const out = new Uint8Array(n * RECORD);
  for (let i = 0; i < out.length; i++) {
    out[i] = i % RECORD === 0 ? rng.int(10) : rng.int(256);
  }
  return out;
}

await runMain(async () => {
  const [out] = Deno.args.filter((a) => !a.startsWith("--"));
  if (!out) throw new UserError("usage: synthetic_cifar.ts OUT_DIR [--per-batch N]");
  const flag = Deno.args.indexOf("--per-batch");
  const perBatch = flag >= 0 ? Number(Deno.args[flag + 1]) : 2000;
  if (!Number.isInteger(perBatch) || perBatch < 1) {
    throw new UserError(`--per-batch needs a positive integer (got ${Deno.args[flag + 1]})`);
  }
  const dir = `${out}/cifar-10-batches-bin`;
  await Deno.mkdir(dir, { recursive: true });
  const rng = new JsRandom(10);
  for (let b = 1; b <= 5; b++) {
    await Deno.writeFile(`${dir}/data_batch_${b}.bin`, batchFile(perBatch, rng));
  }
  await Deno.writeFile(`${dir}/test_batch.bin`, batchFile(perBatch, rng));
  const names = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
  ];
  await Deno.writeTextFile(`${dir}/batches.meta.txt`, names.join("\n") + "\n");
  console.log(`${dir}: 6 x ${perBatch} synthetic records`);
});
