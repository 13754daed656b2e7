/**
 * Builds the browser page (web/) into a static folder any web server can serve: the page and its
 * style, app.js (web/src/main.ts and the lib/ modules it uses, bundled by `deno bundle`: the same
 * library code as the CLI, no second copy), tfjs's WebAssembly files for browsers without
 * WebGPU or WebGL, and every shipped model with its card, listed in models.json.
 */
import { join } from "node:path";
import { UserError } from "../errors.ts";
import { loadCheckpoint } from "../io/checkpoint.ts";
import { MODELS_DIR, SHIPPED_MODELS } from "../models.ts";
import { exists } from "../io/exists.ts";

const ROOT = new URL("../../", import.meta.url);
const WEB_DIR = new URL("web/", ROOT);
const WASM_DIR = new URL("node_modules/@tensorflow/tfjs-backend-wasm/dist/", ROOT);
const WASM_FILES = [
  "tfjs-backend-wasm.wasm",
  "tfjs-backend-wasm-simd.wasm",
  "tfjs-backend-wasm-threaded-simd.wasm",
];
/** Marks a folder as one of our builds, so a rebuild may replace it and nothing else. */
const MARKER = ".drl-web-build";

export interface WebBuild {
  dir: string;
  /** The models on the page, in the order it lists them. */
  models: string[];
  /** Size of app.js. */
  bundleBytes: number;
}

/** Refuses to write into a folder that has files and is not a previous build. */
async function prepare(dir: string): Promise<void> {
  if (await exists(dir)) {
    const entries = await Array.fromAsync(Deno.readDir(dir));
    if (entries.length > 0 && !(await exists(join(dir, MARKER)))) {
      throw new UserError(
        `${dir} has files and is not a page built by deno task web; give an empty or new folder`,
      );
    }
    await Deno.remove(dir, { recursive: true });
  }
  await Deno.mkdir(join(dir, "wasm"), { recursive: true });
  await Deno.writeTextFile(join(dir, MARKER), "built by deno task web --build\n");
}

/** `deno bundle` of the page's entry for browsers; its errors become one UserError. */
async function bundle(out: string): Promise<void> {
  const entry = new URL("src/main.ts", WEB_DIR).pathname;
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--quiet", "--platform=browser", "--minify", "--output", out, entry],
    cwd: ROOT.pathname,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!r.success) {
    throw new UserError(`bundling web/src/main.ts failed:\n${new TextDecoder().decode(r.stderr)}`);
  }
}

/** Writes the page into `dir` (created; a previous build there is replaced). */
export async function buildWeb(dir: string): Promise<WebBuild> {
  await prepare(dir);
  await bundle(join(dir, "app.js"));
  for (const f of ["index.html", "style.css"]) {
    await Deno.copyFile(new URL(f, WEB_DIR), join(dir, f));
  }
  for (const f of WASM_FILES) {
    const from = new URL(f, WASM_DIR);
    if (!(await exists(from.pathname))) {
      throw new UserError(`${from.pathname} is missing; run deno install to fetch npm packages`);
    }
    await Deno.copyFile(from, join(dir, "wasm", f));
  }
  const list: { name: string; file: string; card: string; bytes: number }[] = [];
  for (const name of SHIPPED_MODELS) {
    const from = `${MODELS_DIR}${name}/`;
    // The same checks as sampling (checksum, format): a broken model fails the build, not a user.
    await loadCheckpoint(`${from}model.ckpt`);
    await Deno.mkdir(join(dir, "models", name), { recursive: true });
    await Deno.copyFile(`${from}model.ckpt`, join(dir, "models", name, "model.ckpt"));
    await Deno.copyFile(`${from}README.md`, join(dir, "models", name, "README.md"));
    const bytes = (await Deno.stat(`${from}model.ckpt`)).size;
    list.push({
      name,
      file: `models/${name}/model.ckpt`,
      card: `models/${name}/README.md`,
      bytes,
    });
  }
  // Smallest first: the page opens on the model that shows something soonest.
  list.sort((a, b) => a.bytes - b.bytes);
  await Deno.writeTextFile(join(dir, "models.json"), JSON.stringify(list, null, 2) + "\n");
  return {
    dir,
    models: list.map((m) => m.name),
    bundleBytes: (await Deno.stat(join(dir, "app.js"))).size,
  };
}
