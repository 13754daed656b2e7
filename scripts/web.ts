/**
 * deno task web [--port 8000] [--host 127.0.0.1] | --build DIR | --serve DIR
 * The browser page that samples from the shipped models (web/): built into a temporary folder and
 * served locally (the address is printed), or written to DIR for any static host, or a folder
 * built before served as it is.
 */
import { Command } from "commander";
import { intOption, parseCommand } from "../lib/cli.ts";
import { runMain, UserError } from "../lib/errors.ts";
import { buildWeb } from "../lib/tasks/web_build.ts";
import { serveWeb } from "../lib/tasks/web_serve.ts";

await runMain(async () => {
  const program = new Command("web")
    .description("serve (or build) the page that samples from the shipped models in a browser")
    .option("--build <dir>", "write the static page to DIR and exit")
    .option("--serve <dir>", "serve a page built before with --build, unchanged")
    .option("--port <n>", "port to serve on (0: any free port)", "8000")
    .option("--host <name>", "address to listen on", "127.0.0.1");
  if (!parseCommand(program, Deno.args)) return;
  const o = program.opts<{ build?: string; serve?: string; port: string; host: string }>();
  if (o.build !== undefined && o.serve !== undefined) {
    throw new UserError("give --build DIR or --serve DIR, not both");
  }
  if (o.build !== undefined) {
    const b = await buildWeb(o.build);
    console.log(
      `built the page in ${b.dir}: app.js ${(b.bundleBytes / 2 ** 20).toFixed(2)} MiB, models ` +
        `${b.models.join(", ")}; serve the folder with any static web server`,
    );
    return;
  }
  const port = intOption("port", o.port);
  let dir = o.serve;
  let temporary = false;
  if (dir === undefined) {
    dir = await Deno.makeTempDir({ prefix: "drl-web-" });
    temporary = true;
    await buildWeb(dir);
  }
  let server;
  try {
    server = serveWeb(dir, o.host, port);
  } catch (err) {
    if (temporary) await Deno.remove(dir, { recursive: true });
    if (err instanceof Deno.errors.AddrInUse) {
      throw new UserError(`port ${port} is in use; pick another with --port N (0: any free port)`);
    }
    throw err;
  }
  const stop = () => void server.shutdown();
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  console.log(`DRL in the browser: open ${server.url} (Ctrl-C to stop)`);
  await server.finished;
  if (temporary) await Deno.remove(dir, { recursive: true });
});
