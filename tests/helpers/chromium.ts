/**
 * Headless Chromium driven over the DevTools protocol (a WebSocket, no npm driver): tests load a
 * page, evaluate expressions in it, wait for the page to say it is done and take screenshots.
 * Debian's `chromium` package is what CI installs.
 */

/** The first Chromium on the PATH, or null. */
export async function findChromium(): Promise<string | null> {
  for (const name of ["chromium", "chromium-browser", "google-chrome"]) {
    try {
      const out = await new Deno.Command(name, {
        args: ["--version"],
        stdout: "null",
        stderr: "null",
      }).output();
      if (out.success) return name;
    } catch {
      // not installed under this name
    }
  }
  return null;
}

interface Pending {
  resolve(v: unknown): void;
  reject(e: Error): void;
}

/** A DevTools WebSocket: commands by id (browser-level or for one session), events to a handler. */
class Connection {
  readonly #ws: WebSocket;
  #next = 1;
  readonly #pending = new Map<number, Pending>();
  onEvent: (method: string, params: Record<string, unknown>) => void = () => {};

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.onmessage = (e) => {
      const msg = JSON.parse(e.data as string);
      if (msg.id === undefined) {
        this.onEvent(msg.method, msg.params);
        return;
      }
      const p = this.#pending.get(msg.id);
      this.#pending.delete(msg.id);
      if (msg.error) p?.reject(new Error(`${msg.error.message} (${msg.error.code})`));
      else p?.resolve(msg.result);
    };
  }

  static open(url: string): Promise<Connection> {
    const ws = new WebSocket(url);
    return new Promise((resolve, reject) => {
      ws.onopen = () => resolve(new Connection(ws));
      ws.onerror = () => reject(new Error(`cannot connect to ${url}`));
    });
  }

  send(method: string, params: Record<string, unknown> = {}, sessionId?: string): Promise<unknown> {
    const id = this.#next++;
    this.#ws.send(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }));
    return new Promise((resolve, reject) => this.#pending.set(id, { resolve, reject }));
  }

  close(): void {
    this.#ws.close();
  }
}

/** One page (a tab) of the browser, driven through its own DevTools session. */
export class BrowserPage {
  readonly #conn: Connection;
  readonly #session: string;
  /** Console messages and uncaught exceptions of the page, for failure messages. */
  readonly log: string[] = [];

  private constructor(conn: Connection, session: string) {
    this.#conn = conn;
    this.#session = session;
  }

  /** Sends a command of the page's session and waits for its result. */
  send(method: string, params: Record<string, unknown> = {}): Promise<unknown> {
    return this.#conn.send(method, params, this.#session);
  }

  /** The value of a JS expression in the page (awaited when it is a promise). */
  async evaluate<T>(expression: string): Promise<T> {
    const r = await this.send("Runtime.evaluate", {
      expression,
      awaitPromise: true,
      returnByValue: true,
    }) as { result: { value?: T }; exceptionDetails?: { text: string; exception?: unknown } };
    if (r.exceptionDetails) {
      const e = r.exceptionDetails;
      throw new Error(`page threw: ${JSON.stringify(e.exception ?? e.text)}`);
    }
    return r.result.value as T;
  }

  /** Polls `expression` until it is truthy; fails after `timeoutMs` with the page's log. */
  async waitFor(expression: string, timeoutMs: number): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      if (await this.evaluate<boolean>(`Boolean(${expression})`)) return;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(
      `timed out after ${timeoutMs} ms waiting for ${expression}; page log:\n${
        this.log.join("\n")
      }`,
    );
  }

  /** A PNG of the whole page. */
  async screenshot(): Promise<Uint8Array> {
    const r = await this.send("Page.captureScreenshot", {
      format: "png",
      captureBeyondViewport: true,
    }) as { data: string };
    return Uint8Array.from(atob(r.data), (c) => c.charCodeAt(0));
  }

  /** Opens `url` in a new tab of the browser listening at `wsUrl`; resolves once it has loaded. */
  static async open(wsUrl: string, url: string): Promise<BrowserPage> {
    const conn = await Connection.open(wsUrl);
    const { targetId } = await conn.send("Target.createTarget", { url: "about:blank" }) as {
      targetId: string;
    };
    const { sessionId } = await conn.send("Target.attachToTarget", { targetId, flatten: true }) as {
      sessionId: string;
    };
    const page = new BrowserPage(conn, sessionId);
    let loaded: () => void = () => {};
    const onLoad = new Promise<void>((resolve) => (loaded = resolve));
    conn.onEvent = (method, params) => {
      if (method === "Runtime.consoleAPICalled") {
        const args = (params.args as { value?: unknown; description?: string }[])
          .map((a) => a.value ?? a.description);
        page.log.push(`console.${params.type}: ${args.join(" ")}`);
      } else if (method === "Runtime.exceptionThrown") {
        const d = params.exceptionDetails as { text: string; exception?: { description?: string } };
        page.log.push(`uncaught: ${d.exception?.description ?? d.text}`);
      } else if (method === "Page.loadEventFired") {
        loaded();
      }
    };
    await page.send("Page.enable");
    await page.send("Runtime.enable");
    await page.send("Page.navigate", { url });
    await onLoad;
    return page;
  }

  /** Closes the connection (the tab stays until the browser ends). */
  close(): void {
    this.#conn.close();
  }
}

export interface Browser {
  /** The DevTools WebSocket of the browser. */
  wsUrl: string;
  /** Chromium's stderr so far (GPU and WebGPU messages land there). */
  stderr(): string;
  close(): Promise<void>;
}

/**
 * Starts headless Chromium with a fresh profile in `profileDir` and the extra `flags`; resolves
 * with its DevTools address once it listens.
 */
export async function launchChromium(
  chromium: string,
  profileDir: string,
  flags: string[],
  windowSize = "1280,900",
): Promise<Browser> {
  const child = new Deno.Command(chromium, {
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      "--remote-debugging-port=0",
      `--user-data-dir=${profileDir}`,
      `--window-size=${windowSize}`,
      ...flags,
      "about:blank",
    ],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let text = "";
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  const wsUrl = await (async () => {
    const timeout = Date.now() + 30_000;
    while (Date.now() < timeout) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
      const m = text.match(/DevTools listening on (ws:\/\/\S+)/);
      if (m) return m[1];
    }
    child.kill("SIGKILL");
    throw new Error(`chromium did not start:\n${text}`);
  })();
  // Keep draining stderr so Chromium never blocks on a full pipe.
  const drain = (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        text += value;
      }
    } catch {
      // the process went away
    }
  })();
  return {
    wsUrl,
    stderr: () => text,
    close: async () => {
      try {
        child.kill("SIGTERM");
      } catch {
        // already gone
      }
      await child.status;
      await drain;
    },
  };
}
