/**
 * Opening the results database: the SQLite file by default, PostgreSQL when a postgres:// URL is
 * given (option or DATABASE_URL). Every failure a user can fix becomes one UserError naming the
 * place and what to do; an unreachable server is a DatabaseUnavailableError, so a training run can
 * fall back to the local file instead of losing its numbers.
 */
import { dirname, resolve } from "node:path";
import { Kysely } from "kysely";
import { PostgresJSDialect } from "kysely-postgres-js";
import postgres from "postgres";
import { UserError } from "../errors.ts";
import { migrate } from "./migrations.ts";
import { NodeSqliteDialect, openNodeSqlite } from "./node_sqlite_dialect.ts";
import { KyselyResultsDb } from "./results_db.ts";
import type { Database } from "./schema.ts";
import type { ResultsDb } from "./types.ts";

export const DEFAULT_DB_PATH = "results/results.db";

export interface OpenOptions {
  /**
   * SQLite file used when no URL is given, and the local fallback of openResultsDbOrFallback
   * (default results/results.db). DATABASE_URL, when set, takes precedence over it: that is how
   * a machine records into the lab's shared server without changing the training command.
   */
  path?: string;
  /**
   * postgres://user:password@host:port/database (or postgresql://); `sqlite:PATH` or `file:PATH`
   * names a SQLite file. Default: the DATABASE_URL environment variable.
   */
  url?: string;
  /** SQLite: refuse to create a missing file (for commands that only read). */
  mustExist?: boolean;
  /** SQLite: how long a writer waits for another process's lock (default 10 s). */
  busyTimeoutMs?: number;
  /** PostgreSQL: how long to wait for the server to answer a connection (default 10 s). */
  connectTimeoutS?: number;
  /** PostgreSQL: most connections this process opens (default 4). */
  maxConnections?: number;
}

/** The server cannot be reached or refused the login: the caller may fall back to SQLite. */
export class DatabaseUnavailableError extends UserError {
  override name = "DatabaseUnavailableError";
}

export type DbTarget = { kind: "sqlite"; path: string } | { kind: "postgres"; url: string };

/** Which database the options (and DATABASE_URL, passed in as `envUrl`) designate. */
export function resolveDbTarget(opts: OpenOptions = {}, envUrl?: string): DbTarget {
  const url = opts.url ?? envUrl;
  if (url === undefined || url === "") {
    return { kind: "sqlite", path: opts.path ?? DEFAULT_DB_PATH };
  }
  if (/^postgres(ql)?:\/\//i.test(url)) return { kind: "postgres", url };
  const file = url.match(/^(sqlite|file):(.+)$/i);
  if (file) return { kind: "sqlite", path: file[2] };
  throw new UserError(
    `database URL '${redactUrl(url)}' is neither postgres://user:password@host:port/database ` +
      `nor sqlite:PATH: fix DATABASE_URL (or unset it to use ${DEFAULT_DB_PATH})`,
  );
}

/**
 * Options for a `--db` command-line value: a URL (postgres://..., sqlite:PATH) or a SQLite file
 * path, either of which wins over DATABASE_URL; undefined keeps the default (DATABASE_URL, else
 * results/results.db).
 */
export function dbOptionsFor(value: string | undefined): OpenOptions {
  if (value === undefined) return {};
  return { url: /^[a-z][a-z0-9+.-]*:/i.test(value) ? value : `sqlite:${value}` };
}

/** Query parameters that may carry a secret (libpq's password, sslpassword, tokens, keys). */
const SECRET_PARAM = /pass|pwd|secret|token|key/i;

/**
 * The URL without its secrets, safe to print in any form: the userinfo password (also one with
 * '@', ':' or '%' in it, or a URL the parser refuses), and query parameters named like secrets.
 */
export function redactUrl(url: string): string {
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(url);
  if (!scheme) return url;
  // The query starts at the first '?' (or '#'); the userinfo ends at the last '@' before it, so
  // a password holding '@', ':' or even '/' is covered (at worst a path is over-redacted).
  const end = url.search(/[?#]/);
  const head = end < 0 ? url : url.slice(0, end);
  const tail = end < 0 ? "" : url.slice(end);
  const at = head.lastIndexOf("@");
  let out = head;
  if (at > scheme[0].length) {
    const userinfo = head.slice(scheme[0].length, at);
    const colon = userinfo.indexOf(":");
    if (colon >= 0) out = `${scheme[0]}${userinfo.slice(0, colon)}:***${head.slice(at)}`;
  }
  const query = tail.replace(
    /([?&])([^=&#]*)=([^&#]*)/g,
    (all, sep: string, name: string) =>
      SECRET_PARAM.test(decodeURIComponentSafe(name)) ? `${sep}${name}=***` : all,
  );
  return out + query;
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function readEnvUrl(): string | undefined {
  try {
    return Deno.env.get("DATABASE_URL");
  } catch {
    return undefined; // no --allow-env: behave as if it were unset
  }
}

/** Opens (creating and migrating) the database; see OpenOptions for which one. */
export async function openResultsDb(opts: OpenOptions = {}): Promise<ResultsDb> {
  const target = resolveDbTarget(opts, readEnvUrl());
  return target.kind === "postgres"
    ? await openPostgres(target.url, opts)
    : await openSqlite(target.path, opts);
}

/**
 * Opens the configured database; when it is a PostgreSQL server that cannot be reached or refuses
 * the login, prints one warning line and opens the local SQLite file instead, so a training run
 * keeps its data (push it later with `deno task db sync --to URL`).
 */
export async function openResultsDbOrFallback(
  opts: OpenOptions & { warn?: (line: string) => void } = {},
): Promise<ResultsDb> {
  try {
    return await openResultsDb(opts);
  } catch (err) {
    if (!(err instanceof DatabaseUnavailableError)) throw err;
    const path = opts.path ?? DEFAULT_DB_PATH;
    (opts.warn ?? console.warn)(
      `warning: ${err.message}; recording in the local SQLite file ${path} instead ` +
        `(push it later with: deno task db sync --to <postgres URL>)`,
    );
    return await openSqlite(path, opts);
  }
}

async function openSqlite(path: string, opts: OpenOptions): Promise<ResultsDb> {
  if (opts.mustExist && !(await isFile(path))) {
    throw new UserError(
      `there is no results database at ${path}: train a model first (deno task train), or ` +
        `name one with --db PATH or DATABASE_URL`,
    );
  }
  const folder = dirname(resolve(path));
  try {
    Deno.mkdirSync(folder, { recursive: true });
  } catch (err) {
    throw new UserError(
      `cannot create the results folder ${folder} (${(err as Error).message}): ` +
        `make it writable or choose another database path`,
    );
  }
  let db: Kysely<Database> | undefined;
  try {
    const sqlite = openNodeSqlite(path, { busyTimeoutMs: opts.busyTimeoutMs });
    db = new Kysely<Database>({ dialect: new NodeSqliteDialect(sqlite) });
    // Migrating writes, so a read-only file or folder is caught here, before a run starts.
    await migrate(db, "sqlite");
  } catch (err) {
    await db?.destroy();
    if (err instanceof UserError) throw err;
    const message = (err as Error).message;
    throw new UserError(
      `cannot open the results database ${path} (${message}): ` +
        (/not a database/i.test(message)
          ? "it is not a SQLite file; move it away or choose another path"
          : "make the file and its folder writable or choose another database path"),
    );
  }
  return new KyselyResultsDb(db, "sqlite", path);
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

/** Errors that mean "no server there" rather than "the server said no". */
const UNREACHABLE_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "CONNECT_TIMEOUT",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
]);

/** PostgreSQL SQLSTATEs of a refused login (class 28) or a missing database. */
const LOGIN_REFUSED_CODES = new Set(["28000", "28P01", "3D000"]);

function describePostgresFailure(err: unknown, url: string): UserError | null {
  const code = String((err as { code?: unknown }).code ?? "");
  const message = (err as Error).message;
  const where = redactUrl(url);
  if (UNREACHABLE_CODES.has(code) || err instanceof Deno.errors.ConnectionRefused) {
    return new DatabaseUnavailableError(
      `cannot reach the PostgreSQL server at ${where} (${code || message}): start the server ` +
        `or fix DATABASE_URL (unset it to use the local SQLite file)`,
    );
  }
  if (LOGIN_REFUSED_CODES.has(code)) {
    return new DatabaseUnavailableError(
      `the PostgreSQL server at ${where} refused the login (${message}): check the user, ` +
        `password and database name in DATABASE_URL`,
    );
  }
  if (code === "42501") {
    return new UserError(
      `the PostgreSQL user in ${where} may not create the results tables (${message}): ` +
        `grant it CREATE on the database or use the database owner`,
    );
  }
  return null;
}

let socketBugGuarded = false;

/**
 * postgres.js (3.4.x) under Deno: when the server goes away, a batched write it scheduled with
 * setImmediate can still run after the connection closed (Deno's clearImmediate does not cancel
 * it), and `socket.write` on the closed socket throws from a timer: an uncaught error that would
 * kill the process. The queries of that connection were already rejected (a training run then
 * journals its rows), so that one error is dropped; every other uncaught error stays fatal.
 */
function guardPostgresSocketBug(): void {
  if (socketBugGuarded) return;
  socketBugGuarded = true;
  globalThis.addEventListener("error", (e: ErrorEvent) => {
    const err = e.error as Error | undefined;
    if (
      err instanceof TypeError && /reading 'write'/.test(err.message) &&
      /postgres\/src\/connection\.js/.test(err.stack ?? "")
    ) {
      e.preventDefault();
    }
  });
}

async function openPostgres(url: string, opts: OpenOptions): Promise<ResultsDb> {
  guardPostgresSocketBug();
  const sql = postgres(url, {
    max: opts.maxConnections ?? 4,
    connect_timeout: opts.connectTimeoutS ?? 10,
    // "relation already exists, skipping" notices of CREATE ... IF NOT EXISTS are not news.
    onnotice: () => {},
  });
  const db = new Kysely<Database>({ dialect: new PostgresJSDialect({ postgres: sql }) });
  try {
    await migrate(db, "postgres");
  } catch (err) {
    await db.destroy().catch(() => {});
    if (err instanceof UserError) throw err;
    throw describePostgresFailure(err, url) ?? err;
  }
  return new KyselyResultsDb(db, "postgres", redactUrl(url));
}
