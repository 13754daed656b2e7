/**
 * Serves a built page folder over HTTP with Deno.serve: static files only, the content types a
 * browser needs (application/wasm for WebAssembly's streaming compile), nothing outside the
 * folder, no caching (a rebuild shows at the next reload).
 */
import { extname, join, normalize } from "node:path";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".wasm": "application/wasm",
  ".md": "text/markdown; charset=utf-8",
  ".ckpt": "application/octet-stream",
  ".png": "image/png",
};

/** The file under `dir` a request path names, or null when it would leave the folder. */
export function staticPath(dir: string, urlPath: string): string | null {
  let path: string;
  try {
    path = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (path.endsWith("/")) path += "index.html";
  const rel = normalize(path).replace(/^\/+/, "");
  if (rel.startsWith("..") || rel.includes("\0")) return null;
  return join(dir, rel);
}

async function respond(dir: string, req: Request): Promise<Response> {
  if (req.method !== "GET" && req.method !== "HEAD") {
    return new Response("method not allowed\n", { status: 405 });
  }
  const path = staticPath(dir, new URL(req.url).pathname);
  if (!path) return new Response("bad path\n", { status: 400 });
  try {
    const file = await Deno.open(path, { read: true });
    const info = await file.stat();
    if (!info.isFile) {
      file.close();
      return new Response("not found\n", { status: 404 });
    }
    const headers = {
      "content-type": TYPES[extname(path)] ?? "application/octet-stream",
      "content-length": String(info.size),
      "cache-control": "no-store",
    };
    if (req.method === "HEAD") {
      file.close();
      return new Response(null, { headers });
    }
    return new Response(file.readable, { headers });
  } catch {
    return new Response("not found\n", { status: 404 });
  }
}

export interface WebServer {
  /** The page's address, e.g. http://127.0.0.1:8000/. */
  url: string;
  finished: Promise<void>;
  shutdown(): Promise<void>;
}

/** Serves `dir` on hostname:port (port 0: any free port). */
export function serveWeb(dir: string, hostname: string, port: number): WebServer {
  const server = Deno.serve({ hostname, port, onListen: () => {} }, (req) => respond(dir, req));
  const addr = server.addr;
  const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
  return {
    url: `http://${host}:${addr.port}/`,
    finished: server.finished,
    shutdown: () => server.shutdown(),
  };
}
