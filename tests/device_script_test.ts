/**
 * The GPU run (scripts/device/gpu_bench.sh), end to end here on the software WebGPU adapter:
 * prepare.sh packs Deno, the bundled scripts and the Vulkan loaders; the run, at a test's size,
 * writes the bench's JSON lines and the training log to its output folder. On a GPU machine the
 * same command runs at full size with the PyTorch peer on CUDA.
 */
import assert from "node:assert/strict";
import { ROOT } from "./helpers/script.ts";

async function bash(args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command("bash", {
    args,
    cwd: ROOT,
    env: { XDG_RUNTIME_DIR: "/tmp", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  return { ok: out.success, text };
}

Deno.test("the GPU run's script works end to end on the software adapter", async () => {
  const prepared = await bash(["scripts/device/prepare.sh", "--fast"]);
  assert.ok(prepared.ok, prepared.text);
  const out = await Deno.makeTempDir({ prefix: "drl_gpu_run_" });
  try {
    const run = await bash(["scripts/device/gpu_bench.sh", out, "--local"], { QUICK: "1" });
    assert.ok(run.ok, run.text);
    const lines = (await Deno.readTextFile(`${out}/bench_cifar10-bench.jsonl`)).trim().split("\n")
      .map((l) => JSON.parse(l));
    const ours = lines.filter((l) => l.impl);
    assert.deepEqual(ours.map((l) => l.workload), ["langevin_step", "train_iter"]);
    assert.ok(ours.every((l) => l.backend === "webgpu"));
    assert.ok(ours[0].image_steps_per_s > 0 && ours[1].iters_per_s > 0);
    const train = await Deno.readTextFile(`${out}/train_cifar10.log`);
    assert.match(train, /run \d+ completed after 2 steps \([\d.]+ s\/step on webgpu\)/);
    assert.match(await Deno.readTextFile(`${out}/gpu_bench.log`), /== done, status 0/);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});
