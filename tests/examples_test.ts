/** The examples run as a user runs them, through the public API (mod.ts) alone. */
import assert from "node:assert/strict";
import { ROOT } from "./helpers/script.ts";

Deno.test("examples/train_2d.ts trains, samples and scores through mod.ts", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}examples/train_2d.ts`, "20"],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  assert.match(stdout, /^step 20: loss -?\d+\.\d{4}$/m);
  // Eight mode shares, the off-mode share and the energy distance, all computed numbers.
  assert.match(
    stdout,
    /^mode shares( \d+\.\d){8} %, off-mode \d+\.\d %, energy distance \d+\.\d{4}$/m,
  );
  const imports = await Deno.readTextFile(`${ROOT}examples/train_2d.ts`);
  assert.doesNotMatch(imports, /from "\.\.\/lib\//, "the example uses mod.ts only");
});
