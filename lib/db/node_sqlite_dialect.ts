/**
 * A Kysely dialect for Deno's built-in `node:sqlite` (DatabaseSync).
 *
 * Kysely's SqliteDialect is written against better-sqlite3's interface; node:sqlite is close but
 * takes statement parameters as separate arguments, has no `reader` flag (a statement returns rows
 * when it has result columns) and refuses booleans. This file bridges those differences and makes
 * every transaction `BEGIN IMMEDIATE`: a deferred transaction that reads first and writes later can
 * fail with SQLITE_BUSY at once when another process wrote meanwhile (the busy timeout does not
 * help there), whereas an immediate one takes the write lock up front and waits its turn.
 */
import { DatabaseSync, type SQLInputValue, type StatementSync } from "node:sqlite";
import {
  CompiledQuery,
  type DatabaseConnection,
  type SqliteDatabase,
  SqliteDialect,
  SqliteDriver,
  type SqliteStatement,
} from "kysely";

export interface NodeSqliteOptions {
  /** How long a writer waits for another process's lock before giving up, in milliseconds. */
  busyTimeoutMs?: number;
}

/** Converts a JS value to something node:sqlite can bind. */
function bindable(value: unknown): SQLInputValue {
  if (typeof value === "boolean") return value ? 1 : 0;
  if (value === undefined) return null;
  return value as SQLInputValue;
}

function bindAll(parameters: ReadonlyArray<unknown>): SQLInputValue[] {
  return parameters.map(bindable);
}

/** node:sqlite rows have a null prototype; callers expect plain objects. */
function plainRow(row: unknown): unknown {
  return { ...(row as Record<string, unknown>) };
}

class NodeSqliteStatement implements SqliteStatement {
  readonly reader: boolean;
  constructor(private readonly stmt: StatementSync) {
    this.reader = stmt.columns().length > 0;
  }
  all(parameters: ReadonlyArray<unknown>): unknown[] {
    return this.stmt.all(...bindAll(parameters)).map(plainRow);
  }
  run(
    parameters: ReadonlyArray<unknown>,
  ): { changes: number | bigint; lastInsertRowid: number | bigint } {
    return this.stmt.run(...bindAll(parameters));
  }
  *iterate(parameters: ReadonlyArray<unknown>): IterableIterator<unknown> {
    for (const row of this.stmt.iterate(...bindAll(parameters))) yield plainRow(row);
  }
}

/** better-sqlite3's `Database` shape over a node:sqlite DatabaseSync. */
class NodeSqliteDatabase implements SqliteDatabase {
  constructor(readonly db: DatabaseSync) {}
  prepare(sql: string): SqliteStatement {
    return new NodeSqliteStatement(this.db.prepare(sql));
  }
  close(): void {
    if (this.db.isOpen) this.db.close();
  }
}

class ImmediateTransactionDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw("begin immediate"));
  }

  /**
   * SQLite rolls a transaction back by itself on some errors (a full disk, SQLITE_FULL); Kysely's
   * own rollback then fails with "cannot rollback - no transaction is active", and that error
   * would hide the real one. Only a rollback that had something to undo may fail loudly.
   */
  override async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    try {
      await super.rollbackTransaction(connection);
    } catch (err) {
      if (!/no transaction is active/i.test((err as Error).message)) throw err;
    }
  }
}

/**
 * Opens the SQLite file (created when missing) in WAL mode with a busy timeout and foreign keys on.
 * Throws the engine's error unchanged when the file cannot be opened; callers translate it.
 */
export function openNodeSqlite(path: string, options: NodeSqliteOptions = {}): DatabaseSync {
  const busyTimeoutMs = options.busyTimeoutMs ?? 10_000;
  const db = new DatabaseSync(path, { timeout: busyTimeoutMs });
  try {
    // WAL lets readers run beside one writer, and writers from several processes take turns.
    db.exec("PRAGMA journal_mode = WAL");
    db.exec(`PRAGMA busy_timeout = ${Math.floor(busyTimeoutMs)}`);
    // NORMAL is durable across application crashes in WAL mode (only an OS crash may lose the
    // last commits) and avoids an fsync per metrics batch.
    db.exec("PRAGMA synchronous = NORMAL");
    db.exec("PRAGMA foreign_keys = ON");
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}

/** The Kysely dialect over an already opened DatabaseSync (see openNodeSqlite). */
export class NodeSqliteDialect extends SqliteDialect {
  readonly #database: NodeSqliteDatabase;
  constructor(db: DatabaseSync) {
    const database = new NodeSqliteDatabase(db);
    super({ database });
    this.#database = database;
  }
  override createDriver(): SqliteDriver {
    return new ImmediateTransactionDriver({ database: this.#database });
  }
}
