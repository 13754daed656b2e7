/**
 * LMDB through Deno FFI over Debian's liblmdb0 (LMDB 0.9.x, the format LSUN's official export was
 * written in; npm `lmdb` speaks a newer format and cannot read those files).
 *
 * Reading: the environment is opened read-only without a lock file (MDB_RDONLY | MDB_NOLOCK), so a
 * data folder on read-only storage works and nothing is written next to the user's data. One read
 * transaction stays open for the reader's life: values are pointers into the memory map, valid until
 * the transaction ends, so an index of (address, size) per entry gives O(1) random access.
 *
 * Writing (`writeLmdb`) exists to build the test fixtures with the same library.
 */
import { UserError } from "../errors.ts";

// Constants from lmdb.h (0.9.x).
const MDB_NOSUBDIR = 0x4000;
const MDB_RDONLY = 0x20000;
const MDB_NOLOCK = 0x400000;
const MDB_NORDAHEAD = 0x800000;
const MDB_FIRST = 0;
const MDB_NEXT = 8;
const MDB_NOTFOUND = -30798;
const MDB_INVALID = -30793;
const MDB_VERSION_MISMATCH = -30794;

const SYMBOLS = {
  mdb_version: { parameters: ["buffer", "buffer", "buffer"], result: "pointer" },
  mdb_strerror: { parameters: ["i32"], result: "pointer" },
  mdb_env_create: { parameters: ["buffer"], result: "i32" },
  mdb_env_set_mapsize: { parameters: ["pointer", "usize"], result: "i32" },
  mdb_env_open: { parameters: ["pointer", "buffer", "u32", "u32"], result: "i32" },
  mdb_env_close: { parameters: ["pointer"], result: "void" },
  mdb_env_info: { parameters: ["pointer", "buffer"], result: "i32" },
  mdb_env_stat: { parameters: ["pointer", "buffer"], result: "i32" },
  mdb_txn_begin: { parameters: ["pointer", "pointer", "u32", "buffer"], result: "i32" },
  mdb_txn_commit: { parameters: ["pointer"], result: "i32" },
  mdb_txn_abort: { parameters: ["pointer"], result: "void" },
  mdb_dbi_open: { parameters: ["pointer", "pointer", "u32", "buffer"], result: "i32" },
  mdb_stat: { parameters: ["pointer", "u32", "buffer"], result: "i32" },
  mdb_put: { parameters: ["pointer", "u32", "buffer", "buffer", "u32"], result: "i32" },
  mdb_cursor_open: { parameters: ["pointer", "u32", "buffer"], result: "i32" },
  mdb_cursor_get: { parameters: ["pointer", "buffer", "buffer", "i32"], result: "i32" },
  mdb_cursor_close: { parameters: ["pointer"], result: "void" },
} as const;

type Lmdb = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/** Where liblmdb may be; the bare soname lets the dynamic loader search its usual paths. */
const LIBRARY_CANDIDATES = [
  "liblmdb.so.0",
  "/usr/lib/x86_64-linux-gnu/liblmdb.so.0",
  "/usr/lib/aarch64-linux-gnu/liblmdb.so.0",
  "liblmdb.so",
  "liblmdb.dylib",
];

let lib: Lmdb | null = null;

/**
 * Opens the first loadable library among `candidates`; a UserError with the install command when
 * none loads.
 */
export function openLmdbLibrary(candidates: readonly string[] = LIBRARY_CANDIDATES): Lmdb {
  for (const path of candidates) {
    try {
      return Deno.dlopen(path, SYMBOLS).symbols;
    } catch {
      // try the next candidate
    }
  }
  throw new UserError(
    `liblmdb not found (tried ${candidates.join(", ")}); ` +
      "install it with `apt-get install liblmdb0` to read LSUN's LMDB folders",
  );
}

/** liblmdb, loaded once. */
export function loadLmdb(): Lmdb {
  lib ??= openLmdbLibrary();
  return lib;
}

/** liblmdb's version string, e.g. "LMDB 0.9.31: (July 10, 2023)". */
export function lmdbVersion(): string {
  const p = loadLmdb().mdb_version(null, null, null);
  return p ? Deno.UnsafePointerView.getCString(p) : "unknown";
}

function errorText(code: number): string {
  const p = loadLmdb().mdb_strerror(code);
  return p ? Deno.UnsafePointerView.getCString(p) : `error ${code}`;
}

/** Throws a UserError naming the file and LMDB's message when `code` is not success. */
function check(code: number, what: string, file: string): void {
  if (code === 0) return;
  const hint = code === MDB_INVALID || code === MDB_VERSION_MISMATCH
    ? " (not an LMDB 0.9 file, or a damaged one)"
    : "";
  throw new UserError(`${file}: ${what} failed: ${errorText(code)}${hint}`);
}

function cString(s: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(s + "\0");
}

/** An out-parameter slot for one pointer (MDB_env**, MDB_txn**, MDB_cursor**). */
function pointerSlot(): BigUint64Array<ArrayBuffer> {
  return new BigUint64Array(1);
}

function slotPointer(slot: BigUint64Array): Deno.PointerValue {
  return Deno.UnsafePointer.create(slot[0]);
}

/** MDB_val is { size_t mv_size; void *mv_data; }: 16 bytes on 64-bit. */
function mdbVal(): Uint8Array<ArrayBuffer> {
  return new Uint8Array(16);
}

function valOf(bytes: Uint8Array<ArrayBuffer>): Uint8Array<ArrayBuffer> {
  const v = mdbVal();
  const view = new DataView(v.buffer);
  view.setBigUint64(0, BigInt(bytes.byteLength), true);
  view.setBigUint64(8, BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(bytes))), true);
  return v;
}

/** The data file of an environment: `<dir>/data.mdb`, or the path itself with MDB_NOSUBDIR. */
function dataFileOf(path: string): { dataFile: string; subdir: boolean } {
  const info = Deno.statSync(path);
  if (info.isDirectory) return { dataFile: `${path.replace(/\/+$/, "")}/data.mdb`, subdir: true };
  return { dataFile: path, subdir: false };
}

/**
 * A read-only view of one LMDB database (the unnamed main database, as LSUN uses), indexed at
 * open: `count` entries in key order, `key(i)` and `value(i)` copy the bytes out of the map.
 */
export class LmdbReader {
  readonly path: string;
  readonly dataFile: string;
  readonly count: number;
  #env: Deno.PointerValue = null;
  #txn: Deno.PointerValue = null;
  /** Per entry: addresses and sizes of key and value inside the memory map. */
  #keyAddr = new Float64Array(0);
  #keySize = new Uint32Array(0);
  #valAddr = new Float64Array(0);
  #valSize = new Float64Array(0);
  #closed = false;

  /**
   * Opens `path` (a folder holding data.mdb, or a data file) read-only and indexes at most `limit`
   * entries (all by default).
   */
  constructor(path: string, limit = Infinity) {
    const lmdb = loadLmdb();
    let where: { dataFile: string; subdir: boolean };
    try {
      where = dataFileOf(path);
      Deno.statSync(where.dataFile);
    } catch {
      throw new UserError(`${path}: no LMDB data file (expected data.mdb inside the folder)`);
    }
    this.path = path;
    this.dataFile = where.dataFile;
    const fileSize = Deno.statSync(where.dataFile).size;

    const slot = pointerSlot();
    check(lmdb.mdb_env_create(slot), "mdb_env_create", this.dataFile);
    this.#env = slotPointer(slot);
    const flags = MDB_RDONLY | MDB_NOLOCK | MDB_NORDAHEAD | (where.subdir ? 0 : MDB_NOSUBDIR);
    try {
      check(lmdb.mdb_env_open(this.#env, cString(path), flags, 0o444), "open", this.dataFile);
      // A truncated data file would fault (SIGBUS) when a missing page is touched through the map:
      // refuse it up front by comparing the last used page with the file size.
      const stat = new DataView(new ArrayBuffer(48));
      check(lmdb.mdb_env_stat(this.#env, new Uint8Array(stat.buffer)), "stat", this.dataFile);
      const pageSize = stat.getUint32(0, true);
      const info = new DataView(new ArrayBuffer(48));
      check(lmdb.mdb_env_info(this.#env, new Uint8Array(info.buffer)), "info", this.dataFile);
      const lastPage = Number(info.getBigUint64(16, true));
      const needed = (lastPage + 1) * pageSize;
      if (needed > fileSize) {
        throw new UserError(
          `${this.dataFile}: truncated (${fileSize} bytes, the database needs ${needed}); ` +
            "download or copy it again",
        );
      }
      slot[0] = 0n;
      check(lmdb.mdb_txn_begin(this.#env, null, MDB_RDONLY, slot), "begin read", this.dataFile);
      this.#txn = slotPointer(slot);
      const dbi = new Uint32Array(1);
      check(
        lmdb.mdb_dbi_open(this.#txn, null, 0, new Uint8Array(dbi.buffer)),
        "open db",
        this.dataFile,
      );
      const dbStat = new DataView(new ArrayBuffer(48));
      check(
        lmdb.mdb_stat(this.#txn, dbi[0], new Uint8Array(dbStat.buffer)),
        "stat db",
        this.dataFile,
      );
      const entries = Math.min(Number(dbStat.getBigUint64(32, true)), limit);
      this.#keyAddr = new Float64Array(entries);
      this.#keySize = new Uint32Array(entries);
      this.#valAddr = new Float64Array(entries);
      this.#valSize = new Float64Array(entries);
      this.count = this.#index(dbi[0], entries, fileSize);
    } catch (err) {
      this.close();
      throw err;
    }
  }

  /** Walks the database with a cursor, recording where each key and value lies in the map. */
  #index(dbi: number, entries: number, fileSize: number): number {
    const lmdb = loadLmdb();
    const slot = pointerSlot();
    check(lmdb.mdb_cursor_open(this.#txn, dbi, slot), "open cursor", this.dataFile);
    const cursor = slotPointer(slot);
    const key = mdbVal();
    const val = mdbVal();
    const kv = new DataView(key.buffer);
    const vv = new DataView(val.buffer);
    let n = 0;
    try {
      let rc = lmdb.mdb_cursor_get(cursor, key, val, MDB_FIRST);
      while (rc === 0 && n < entries) {
        const kSize = Number(kv.getBigUint64(0, true));
        const kAddr = Number(kv.getBigUint64(8, true));
        const vSize = Number(vv.getBigUint64(0, true));
        const vAddr = Number(vv.getBigUint64(8, true));
        // A value larger than the whole file can only come from a damaged page.
        if (vSize > fileSize || kSize > fileSize) {
          throw new UserError(`${this.dataFile}: entry ${n} has an impossible size (corrupt)`);
        }
        this.#keyAddr[n] = kAddr;
        this.#keySize[n] = kSize;
        this.#valAddr[n] = vAddr;
        this.#valSize[n] = vSize;
        n++;
        if (n < entries) rc = lmdb.mdb_cursor_get(cursor, key, val, MDB_NEXT);
      }
      if (rc !== 0 && rc !== MDB_NOTFOUND) check(rc, "cursor read", this.dataFile);
    } finally {
      lmdb.mdb_cursor_close(cursor);
    }
    return n;
  }

  #copy(addr: number, size: number): Uint8Array<ArrayBuffer> {
    if (this.#closed) throw new Error(`LmdbReader(${this.path}) is closed`);
    const out = new Uint8Array(size);
    if (size > 0) {
      const p = Deno.UnsafePointer.create(BigInt(addr));
      if (!p) throw new Error("null LMDB pointer");
      new Deno.UnsafePointerView(p).copyInto(out);
    }
    return out;
  }

  /** Bytes of the i-th key in key order. */
  key(i: number): Uint8Array<ArrayBuffer> {
    this.#checkIndex(i);
    return this.#copy(this.#keyAddr[i], this.#keySize[i]);
  }

  /** Bytes of the i-th value in key order. */
  value(i: number): Uint8Array<ArrayBuffer> {
    this.#checkIndex(i);
    return this.#copy(this.#valAddr[i], this.#valSize[i]);
  }

  #checkIndex(i: number): void {
    if (!Number.isInteger(i) || i < 0 || i >= this.count) {
      throw new RangeError(`entry ${i} out of range [0, ${this.count})`);
    }
  }

  /** Ends the read transaction and closes the environment; idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const lmdb = loadLmdb();
    if (this.#txn) lmdb.mdb_txn_abort(this.#txn);
    if (this.#env) lmdb.mdb_env_close(this.#env);
  }
}

/**
 * Writes `entries` (key, value) into a fresh LMDB environment folder `dir` (data.mdb, lock.mdb) in
 * one transaction. Used to build fixtures in LSUN's format with the same liblmdb.
 */
export function writeLmdb(
  dir: string,
  entries: ReadonlyArray<readonly [Uint8Array<ArrayBuffer>, Uint8Array<ArrayBuffer>]>,
  mapSize = 64 << 20,
): void {
  const lmdb = loadLmdb();
  Deno.mkdirSync(dir, { recursive: true });
  const file = `${dir}/data.mdb`;
  const slot = pointerSlot();
  check(lmdb.mdb_env_create(slot), "mdb_env_create", file);
  const env = slotPointer(slot);
  let txn: Deno.PointerValue = null;
  try {
    check(lmdb.mdb_env_set_mapsize(env, BigInt(mapSize)), "set mapsize", file);
    check(lmdb.mdb_env_open(env, cString(dir), 0, 0o644), "open", file);
    slot[0] = 0n;
    check(lmdb.mdb_txn_begin(env, null, 0, slot), "begin write", file);
    txn = slotPointer(slot);
    const dbi = new Uint32Array(1);
    check(lmdb.mdb_dbi_open(txn, null, 0, new Uint8Array(dbi.buffer)), "open db", file);
    for (const [k, v] of entries) {
      check(lmdb.mdb_put(txn, dbi[0], valOf(k), valOf(v), 0), "put", file);
    }
    const rc = lmdb.mdb_txn_commit(txn);
    txn = null;
    check(rc, "commit", file);
  } finally {
    if (txn) lmdb.mdb_txn_abort(txn);
    lmdb.mdb_env_close(env);
  }
}
