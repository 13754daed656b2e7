/**
 * The browser page (web/, `deno task web`) in Debian's Chromium, headless, read from the page
 * itself: the backend it reports, the images it draws, and the per-level numbers it shows, which
 * must equal `deno task sample`'s for the same model, seed, K, sampler and backend. Chromium runs
 * WebGPU on its software Vulkan adapter (SwiftShader) with --enable-unsafe-webgpu; where WebGPU
 * does not start, the comparison runs on the wasm fallback and the test says so. Bad input
 * (corrupt or missing model file, no WebGPU, a K too large) must end as a message on the page.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { decode } from "fast-png";
import { BrowserPage, findChromium, launchChromium } from "./helpers/chromium.ts";
import { testNeeding } from "./helpers/needs.ts";
import { ROOT, runScript } from "./helpers/script.ts";

const CHROMIUM = await findChromium();
const NEEDS_CHROMIUM = {
  what: "chromium",
  present: CHROMIUM !== null,
  install: "apt-get install -y chromium",
};
/** Chromium's WebGPU on Linux without a GPU: Vulkan on its bundled SwiftShader. */
const WEBGPU_FLAGS = ["--enable-unsafe-webgpu", "--enable-features=Vulkan"];

interface WebTask {
  url: string;
  stop(): Promise<void>;
}

/** `deno task web ARGS` as a user runs it; resolves with the address it prints. */
async function startWebTask(args: string[]): Promise<WebTask> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["task", "-q", "web", ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const text = { out: "", err: "" };
  const collect = async (stream: ReadableStream<Uint8Array>, key: "out" | "err") => {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) text[key] += chunk;
  };
  // Both pipes are read to the end, so the server never blocks on a full pipe.
  const drained = Promise.all([collect(child.stdout, "out"), collect(child.stderr, "err")]);
  const end = Date.now() + 60_000;
  while (!/open (http:\/\/\S+)/.test(text.out)) {
    const exited = await Promise.race([
      child.status.then(() => true),
      new Promise<false>((r) => setTimeout(() => r(false), 100)),
    ]);
    if (exited || Date.now() > end) {
      if (!exited) child.kill("SIGKILL");
      await drained;
      throw new Error(`deno task web did not serve:\n${text.out}\n${text.err}`);
    }
  }
  return {
    url: text.out.match(/open (http:\/\/\S+)/)![1],
    stop: async () => {
      // SIGTERM, as Ctrl-C: the task stops serving and removes its temporary build.
      child.kill("SIGTERM");
      await child.status;
      await drained;
    },
  };
}

interface LevelNumbers {
  level: number;
  acceptance: number;
  displacement: number;
}

interface SampleRequest {
  model: string;
  seed: number;
  chains: number;
  K: number;
  sampler: "ula" | "mala";
}

/** What `deno task sample` prints per level for the request on `backend`. */
async function cliNumbers(r: SampleRequest, backend: string): Promise<LevelNumbers[]> {
  const dir = await Deno.makeTempDir({ prefix: "drl-web-cli-" });
  try {
    const out = await runScript("sample.ts", [
      ...["--model", r.model, "--seed", String(r.seed), "--n", String(r.chains)],
      ...["--K", String(r.K), "--sampler", r.sampler, "--backend", backend],
      ...["--db", join(dir, "r.db"), "--out", join(dir, "grid.png")],
    ]);
    assert.equal(out.code, 0, out.stderr);
    return [...out.stdout.matchAll(/level (\d+): acceptance ([\d.]+), displacement ([\d.]+)/g)]
      .map((m) => ({ level: +m[1], acceptance: +m[2], displacement: +m[3] }));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function pageQuery(r: SampleRequest, extra = ""): string {
  return `?model=${r.model}&seed=${r.seed}&chains=${r.chains}&K=${r.K}&sampler=${r.sampler}${extra}`;
}

/** Opens the page and waits until it is done, stopped by an error, or ready without running. */
async function openFinished(wsUrl: string, url: string, timeoutMs = 150_000): Promise<BrowserPage> {
  const page = await BrowserPage.open(wsUrl, url);
  await page.waitFor(
    `["done", "error"].includes(document.getElementById("status").dataset.state) ||
     (document.getElementById("status").dataset.state === "ready" &&
      !document.getElementById("message").hidden)`,
    timeoutMs,
  );
  return page;
}

interface PageFacts {
  backend: string;
  backendText: string;
  state: string;
  message: string | null;
  rows: LevelNumbers[];
  /** The table's text cells, as shown. */
  shown: string[][];
}

function pageFacts(page: BrowserPage): Promise<PageFacts> {
  return page.evaluate<PageFacts>(`(() => {
    const $ = (id) => document.getElementById(id);
    const rows = [...document.querySelectorAll("#stats tbody tr")];
    return {
      backend: $("backend").dataset.backend,
      backendText: $("backend").textContent,
      state: $("status").dataset.state,
      message: $("message").hidden ? null : $("message").textContent,
      rows: rows.map((r) => ({
        level: +r.dataset.level,
        acceptance: +r.dataset.acceptance,
        displacement: +r.dataset.displacement,
      })),
      shown: rows.map((r) => [...r.cells].map((c) => c.textContent)),
    };
  })()`);
}

/** Per level panel: the standard deviation of its pixels and its share of whitish (chain) pixels. */
function panelPixels(page: BrowserPage): Promise<{ level: number; std: number; white: number }[]> {
  return page.evaluate(`[...document.querySelectorAll("#levels figure")].map((f) => {
    const c = f.querySelector("canvas");
    const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    let s = 0, s2 = 0, white = 0;
    for (let i = 0; i < d.length; i += 4) {
      const g = (d[i] + d[i + 1] + d[i + 2]) / 3;
      s += g; s2 += g * g;
      if (d[i] > 200 && d[i + 1] > 200 && d[i + 2] > 200) white++;
    }
    const n = d.length / 4;
    return { level: +f.dataset.level, std: Math.sqrt(s2 / n - (s / n) ** 2), white: white / n };
  })`);
}

/**
 * The page's numbers against the CLI's, printed with 3 (acceptance) and 4 (displacement)
 * decimals. Levels 5..1 agree to float rounding (measured: within 0.0006). Level 0 does not, on
 * any pair of backends: its energy is scaled by 1 / s_0^2 (about 5e4) and is very steep, so float32
 * rounding that differs between two GPUs (SwiftShader in Chromium, lavapipe in Deno) or two
 * convolution libraries (XNNPACK, oneDNN) moves its mean acceptance by up to ~0.02 and its
 * displacement by ~0.3% (measured over seeds 7 and 11 on WebGPU, 0 on wasm).
 */
function assertSameNumbers(page: LevelNumbers[], cli: LevelNumbers[], T: number, where: string) {
  assert.equal(page.length, T, `${where}: the page shows ${page.length} levels`);
  assert.deepEqual(page.map((r) => r.level), cli.map((r) => r.level));
  for (const [i, p] of page.entries()) {
    const c = cli[i];
    const [accTol, dispTol] = p.level === 0 ? [0.04, 0.01] : [0.003, 0.001];
    assert.ok(
      Math.abs(p.acceptance - c.acceptance) <= 0.0005 + accTol,
      `${where}: level ${p.level} acceptance page ${p.acceptance} vs CLI ${c.acceptance}`,
    );
    assert.ok(
      Math.abs(p.displacement - c.displacement) <= 0.00005 + dispTol * c.displacement,
      `${where}: level ${p.level} displacement page ${p.displacement} vs CLI ${c.displacement}`,
    );
  }
}

/**
 * Opens the page for `r` on the wasm backend (plus `extra` address settings), waits for it to
 * finish, and checks that its T levels' numbers are `deno task sample --backend wasm`'s.
 */
async function sameAsCliOnWasm(
  wsUrl: string,
  siteUrl: string,
  r: SampleRequest,
  extra: string,
  T: number,
): Promise<BrowserPage> {
  // Started beside the page, as the CLI takes seconds to start.
  const cli = cliNumbers(r, "wasm");
  const page = await openFinished(wsUrl, siteUrl + pageQuery(r, `${extra}&backend=wasm`));
  const facts = await pageFacts(page);
  assert.equal(facts.state, "done", `${facts.message}\n${page.log.join("\n")}`);
  assert.equal(facts.backend, "wasm");
  assertSameNumbers(facts.rows, await cli, T, `${r.model} on wasm`);
  return page;
}

testNeeding(NEEDS_CHROMIUM, {
  name: "web: Chromium samples the shipped models with the CLI's numbers",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const web = await startWebTask(["--port", "0"]);
    const profile = await Deno.makeTempDir({ prefix: "drl-web-chromium-" });
    const browser = await launchChromium(CHROMIUM!, profile, WEBGPU_FLAGS);
    try {
      // 2D model, automatic backend: WebGPU where Chromium starts it.
      const toy: SampleRequest = { model: "8gaussians", seed: 7, chains: 16, K: 3, sampler: "ula" };
      // Started beside the page: the CLI on Deno's WebGPU (lavapipe) takes seconds to tune.
      const cliWebgpu = cliNumbers(toy, "webgpu").then((r) => r, (e: Error) => e);
      // Coarse heat maps (24 cells a side): SwiftShader evaluates the MLP at tens of MFLOP/s.
      let page = await openFinished(browser.wsUrl, web.url + pageQuery(toy, "&heat=24"));
      let facts = await pageFacts(page);
      assert.equal(facts.state, "done", `${facts.message}\n${page.log.join("\n")}`);
      assert.ok(facts.backendText.startsWith(`backend: ${facts.backend}: `), facts.backendText);
      let backend = facts.backend;
      if (backend === "webgpu") {
        const cli = await cliWebgpu;
        if (cli instanceof Error) throw cli;
        assertSameNumbers(facts.rows, cli, 6, "8gaussians on webgpu");
      } else {
        await cliWebgpu;
        console.log(
          `  WebGPU did not start in this Chromium (${facts.message}); the page ran on ` +
            `${backend}: comparing the wasm fallback with the CLI instead`,
        );
        page.close();
        page = await openFinished(
          browser.wsUrl,
          web.url + pageQuery(toy, "&heat=24&backend=wasm"),
        );
        facts = await pageFacts(page);
        backend = facts.backend;
        assert.equal(backend, "wasm", facts.backendText);
        assertSameNumbers(facts.rows, await cliNumbers(toy, "wasm"), 6, "8gaussians on wasm");
      }
      // The table shows what the data attributes hold, at the CLI's precision.
      for (const [i, r] of facts.rows.entries()) {
        assert.deepEqual(facts.shown[i].slice(0, 3), [
          String(r.level),
          r.acceptance.toFixed(3),
          r.displacement.toFixed(4),
        ]);
        assert.match(facts.shown[i][3], /^\d+(\.\d+)? m?s$/);
      }
      // Seven panels (x_6 .. x_0): heat maps under the chains (white dots) on every level.
      const toyPanels = await panelPixels(page);
      assert.equal(toyPanels.length, 7);
      for (const p of toyPanels) {
        assert.ok(p.white > 0.0005, `level ${p.level}: no chains drawn (${p.white})`);
        if (p.level < 6) assert.ok(p.std > 10, `level ${p.level}: no heat map (std ${p.std})`);
      }
      // The true densities (the data diffused to each level) in place of the learned ones, the
      // chains kept; then back to the learned ones, pixel for pixel.
      const showDensity = (value: string) =>
        page.evaluate<boolean>(`(() => {
          const select = document.getElementById("density");
          select.value = "${value}";
          select.dispatchEvent(new Event("change"));
          return !document.getElementById("density-label").hidden;
        })()`);
      assert.equal(await showDensity("true"), true, "the density control is shown for 2D");
      const truePanels = await panelPixels(page);
      for (const [i, p] of truePanels.entries()) {
        assert.ok(p.white > 0.0005, `true, level ${p.level}: no chains drawn (${p.white})`);
        if (p.level === 6) continue;
        assert.ok(p.std > 10, `true, level ${p.level}: no heat map (std ${p.std})`);
        assert.notEqual(p.std, toyPanels[i].std, `true, level ${p.level}: the learned map`);
      }
      await showDensity("learned");
      assert.deepEqual(await panelPixels(page), toyPanels);
      const shot = decode(await page.screenshot());
      assert.ok(shot.width >= 1000 && shot.height >= 700);
      page.close();
      console.log(
        `  8gaussians: the page on ${backend} matches deno task sample --backend ${backend}`,
      );

      // Fashion-MNIST images, on the wasm fallback: SwiftShader takes ~35 s for the ResNet here.
      const images: SampleRequest = {
        model: "fashion-mnist",
        seed: 0,
        chains: 4,
        K: 2,
        sampler: "ula",
      };
      page = await sameAsCliOnWasm(browser.wsUrl, web.url, images, "", 6);
      const imagePanels = await panelPixels(page);
      assert.equal(imagePanels.length, 7);
      // Every level's panel holds images: far from a flat fill.
      for (const p of imagePanels) assert.ok(p.std > 20, `level ${p.level}: no images (${p.std})`);
      page.close();

      // A T = 100 model: every level sampled with the CLI's numbers, but panels only for the
      // noise and the CLI figure's six levels.
      const many: SampleRequest = {
        model: "8gaussians-T100",
        seed: 3,
        chains: 16,
        K: 2,
        sampler: "ula",
      };
      page = await sameAsCliOnWasm(browser.wsUrl, web.url, many, "&heat=16", 100);
      const manyPanels = await panelPixels(page);
      assert.deepEqual(manyPanels.map((p) => p.level), [100, 99, 79, 59, 40, 20, 0]);
      for (const p of manyPanels) {
        // Fewer dots than at T = 6: at level 79 most of the 16 chains can lie outside the box (under
        // the T = 6 bound of 0.0005 once); a map without chains has none (viridis holds no white).
        assert.ok(p.white > 0.0001, `T = 100, level ${p.level}: no chains drawn (${p.white})`);
        if (p.level < 100) {
          assert.ok(p.std > 10, `T = 100, level ${p.level}: no heat map (std ${p.std})`);
        }
      }
      page.close();
    } finally {
      await browser.close();
      await web.stop();
      await Deno.remove(profile, { recursive: true });
    }
  },
});

testNeeding(NEEDS_CHROMIUM, {
  name: "web: bad model files, no WebGPU and a too large K are messages on the page",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "drl-web-bad-" });
    const site = join(dir, "site");
    const build = await runScript("web.ts", ["--build", site]);
    assert.equal(build.code, 0, build.stderr);
    // A corrupted copy of a model (one float flipped) and a listed model whose file is gone.
    const ckpt = join(site, "models/fashion-mnist/model.ckpt");
    const bytes = await Deno.readFile(ckpt);
    bytes[bytes.length - 3] ^= 0x40;
    await Deno.writeFile(ckpt, bytes);
    const list = JSON.parse(await Deno.readTextFile(join(site, "models.json")));
    list.push({ name: "ghost", file: "models/ghost/model.ckpt", card: "", bytes: 1 });
    await Deno.writeTextFile(join(site, "models.json"), JSON.stringify(list));
    const web = await startWebTask(["--serve", site, "--port", "0"]);
    // No WebGPU flags: this Chromium has no WebGPU adapter.
    const browser = await launchChromium(CHROMIUM!, join(dir, "profile"), []);
    const expectMessage = async (query: string, state: string, pattern: RegExp) => {
      const page = await openFinished(browser.wsUrl, web.url + query);
      const f = await pageFacts(page);
      page.close();
      assert.equal(f.state, state, `${query}: ${f.message}`);
      assert.match(f.message ?? "(no message)", pattern, query);
      return f;
    };
    try {
      await expectMessage(
        "?model=fashion-mnist&backend=wasm",
        "error",
        /models\/fashion-mnist\/model\.ckpt is corrupted: its tensor data does not match/,
      );
      await expectMessage(
        "?model=ghost&backend=wasm",
        "error",
        /model file of 'ghost' is missing.*404/,
      );
      await expectMessage(
        "?model=8gaussians&backend=wasm&K=100000",
        "ready",
        /Cannot sample: K = 100000 is too large: at most 2000 Langevin steps per level/,
      );
      await expectMessage(
        "?model=8gaussians&backend=webgpu",
        "error",
        /no backend can run here: webgpu: (this browser has no WebGPU|WebGPU is present but offers no adapter)/,
      );
      // Automatic choice without WebGPU: a notice naming why, and sampling on a fallback.
      const f = await expectMessage(
        "?model=8gaussians&chains=8&K=1",
        "done",
        /^Not on WebGPU: webgpu: .*Sampling runs on (webgl|wasm)/,
      );
      assert.ok(f.backend === "webgl" || f.backend === "wasm", f.backendText);
    } finally {
      await browser.close();
      await web.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
