/**
 * oneDNN (Debian's libdnnl2, v2.x C API) through Deno FFI: stride-1 'same' NHWC convolutions,
 * forward, backward-data and backward-weights, on float32 buffers owned by the caller. This is the
 * library PyTorch's CPU convolutions run on; tfjs's own CPU paths (plain JS, wasm XNNPACK without
 * FMA or AVX) are several times slower per convolution on the same core.
 *
 * Layouts are tfjs's: activations NHWC ("acdb" over oneDNN's logical NCHW), filters HWIO ("cdba"
 * over logical OIHW), so no data is reordered. Primitives are built once per shape and reused.
 * Constants are from oneDNN 2.6's dnnl_types.h; struct sizes are upper bounds (the library fills
 * them; we only pass them back).
 */

const SYMBOLS = {
  dnnl_version: { parameters: [], result: "pointer" },
  dnnl_engine_create: { parameters: ["buffer", "i32", "usize"], result: "i32" },
  dnnl_stream_create: { parameters: ["buffer", "pointer", "u32"], result: "i32" },
  dnnl_memory_desc_init_by_tag: {
    parameters: ["buffer", "i32", "buffer", "i32", "i32"],
    result: "i32",
  },
  dnnl_convolution_forward_desc_init: {
    parameters: ["buffer", "i32", "i32", "buffer", "buffer", "pointer", "buffer", "buffer", "buffer", "buffer"],
    result: "i32",
  },
  dnnl_convolution_backward_data_desc_init: {
    parameters: ["buffer", "i32", "buffer", "buffer", "buffer", "buffer", "buffer", "buffer"],
    result: "i32",
  },
  dnnl_convolution_backward_weights_desc_init: {
    parameters: ["buffer", "i32", "buffer", "buffer", "pointer", "buffer", "buffer", "buffer", "buffer"],
    result: "i32",
  },
  dnnl_primitive_desc_create: {
    parameters: ["buffer", "buffer", "pointer", "pointer", "pointer"],
    result: "i32",
  },
  dnnl_primitive_desc_query: { parameters: ["pointer", "i32", "i32", "buffer"], result: "i32" },
  dnnl_primitive_create: { parameters: ["buffer", "pointer"], result: "i32" },
  dnnl_memory_create: { parameters: ["buffer", "buffer", "pointer", "pointer"], result: "i32" },
  dnnl_memory_set_data_handle: { parameters: ["pointer", "buffer"], result: "i32" },
  dnnl_primitive_execute: { parameters: ["pointer", "pointer", "i32", "buffer"], result: "i32" },
  dnnl_stream_wait: { parameters: ["pointer"], result: "i32" },
} as const;

type Dnnl = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

const LIBRARY_CANDIDATES = [
  "libdnnl.so.2",
  "/usr/lib/x86_64-linux-gnu/libdnnl.so.2",
  "/usr/lib/aarch64-linux-gnu/libdnnl.so.2",
];

// dnnl_types.h (2.6).
const ENGINE_CPU = 1;
const STREAM_IN_ORDER = 1;
const F32 = 3;
const TAG_NHWC = 20; // dnnl_acdb
const TAG_HWIO = 30; // dnnl_cdba
const FORWARD_TRAINING = 64;
const CONVOLUTION_DIRECT = 1;
const QUERY_IMPL_INFO_STR = 8;
const ARG_SRC = 1;
const ARG_DST = 17;
const ARG_WEIGHTS = 33;
const ARG_DIFF_SRC = 129;
const ARG_DIFF_DST = 145;
const ARG_DIFF_WEIGHTS = 161;
const MAX_NDIMS = 12;
/** sizeof(dnnl_memory_desc_t) is 696 and sizeof(dnnl_convolution_desc_t) 5976 in 2.6. */
const MEMORY_DESC_BYTES = 1024;
const OP_DESC_BYTES = 8192;

const STATUS = [
  "success",
  "out of memory",
  "invalid arguments",
  "unimplemented",
  "iterator ends",
  "runtime error",
  "not required",
];

function check(status: number, what: string): void {
  if (status !== 0) throw new Error(`oneDNN ${what} failed: ${STATUS[status] ?? `status ${status}`}`);
}

const outPtr = () => new BigUint64Array(1);
const readPtr = (b: BigUint64Array) => Deno.UnsafePointer.create(b[0]);

function dims(...values: number[]): BigInt64Array {
  const a = new BigInt64Array(MAX_NDIMS);
  values.forEach((v, i) => (a[i] = BigInt(v)));
  return a;
}

/** One convolution direction on fixed shapes: its primitive and the memory objects it reads and writes. */
interface Bound {
  primitive: Deno.PointerValue;
  /** The memory objects in argument order, paired with the argument ids. */
  memories: Deno.PointerValue[];
  args: BigUint64Array;
  impl: string;
}

export interface ConvShape {
  batch: number;
  height: number;
  width: number;
  inChannels: number;
  outChannels: number;
  /** Odd kernel size k (k x k, padding (k-1)/2). */
  kernel: number;
}

export type ConvDirection = "forward" | "backward_data" | "backward_weights";

export class DnnlConvolutions {
  readonly #d: Dnnl;
  readonly #engine: Deno.PointerValue;
  readonly #stream: Deno.PointerValue;
  readonly #cache = new Map<string, { forwardPd: Deno.PointerValue; bound: Map<ConvDirection, Bound> }>();

  constructor(d: Dnnl) {
    this.#d = d;
    const e = outPtr();
    check(d.dnnl_engine_create(e, ENGINE_CPU, 0n), "engine creation");
    this.#engine = readPtr(e);
    const s = outPtr();
    check(d.dnnl_stream_create(s, this.#engine, STREAM_IN_ORDER), "stream creation");
    this.#stream = readPtr(s);
  }

  #memoryDesc(n: number, c: number, h: number, w: number, tag: number): Uint8Array {
    const md = new Uint8Array(MEMORY_DESC_BYTES);
    check(this.#d.dnnl_memory_desc_init_by_tag(md, 4, dims(n, c, h, w), F32, tag), "memory desc");
    return md;
  }

  #primitiveDesc(opDesc: Uint8Array, hint: Deno.PointerValue): Deno.PointerValue {
    const pd = outPtr();
    check(this.#d.dnnl_primitive_desc_create(pd, opDesc, null, this.#engine, hint), "primitive desc");
    return readPtr(pd);
  }

  #bind(pd: Deno.PointerValue, argIds: number[], mds: Uint8Array[]): Bound {
    const p = outPtr();
    check(this.#d.dnnl_primitive_create(p, pd), "primitive creation");
    const info = outPtr();
    check(this.#d.dnnl_primitive_desc_query(pd, QUERY_IMPL_INFO_STR, 0, info), "query");
    const memories = mds.map((md) => {
      const m = outPtr();
      check(this.#d.dnnl_memory_create(m, md, this.#engine, null), "memory creation");
      return readPtr(m);
    });
    const args = new BigUint64Array(2 * argIds.length);
    argIds.forEach((id, i) => {
      args[2 * i] = BigInt(id); // dnnl_exec_arg_t {int arg; dnnl_memory_t memory;}: 16 bytes
      args[2 * i + 1] = BigInt(Deno.UnsafePointer.value(memories[i]));
    });
    return {
      primitive: readPtr(p),
      memories,
      args,
      impl: Deno.UnsafePointerView.getCString(readPtr(info)!),
    };
  }

  #entry(s: ConvShape) {
    const key = `${s.batch},${s.height},${s.width},${s.inChannels},${s.outChannels},${s.kernel}`;
    let entry = this.#cache.get(key);
    if (!entry) {
      const fwd = new Uint8Array(OP_DESC_BYTES);
      const { src, wts, dst, strides, pad } = this.#descs(s);
      check(
        this.#d.dnnl_convolution_forward_desc_init(
          fwd,
          FORWARD_TRAINING,
          CONVOLUTION_DIRECT,
          src,
          wts,
          null,
          dst,
          strides,
          pad,
          pad,
        ),
        "convolution forward desc",
      );
      entry = { forwardPd: this.#primitiveDesc(fwd, null), bound: new Map() };
      this.#cache.set(key, entry);
    }
    return entry;
  }

  #descs(s: ConvShape) {
    if (s.kernel % 2 !== 1) throw new Error(`odd kernels only, got ${s.kernel}`);
    const p = (s.kernel - 1) / 2;
    return {
      src: this.#memoryDesc(s.batch, s.inChannels, s.height, s.width, TAG_NHWC),
      wts: this.#memoryDesc(s.outChannels, s.inChannels, s.kernel, s.kernel, TAG_HWIO),
      dst: this.#memoryDesc(s.batch, s.outChannels, s.height, s.width, TAG_NHWC),
      strides: dims(1, 1),
      pad: dims(p, p),
    };
  }

  #bound(s: ConvShape, dir: ConvDirection): Bound {
    const entry = this.#entry(s);
    let b = entry.bound.get(dir);
    if (b) return b;
    const { src, wts, dst, strides, pad } = this.#descs(s);
    if (dir === "forward") {
      b = this.#bind(entry.forwardPd, [ARG_SRC, ARG_WEIGHTS, ARG_DST], [src, wts, dst]);
    } else if (dir === "backward_data") {
      const op = new Uint8Array(OP_DESC_BYTES);
      check(
        this.#d.dnnl_convolution_backward_data_desc_init(
          op,
          CONVOLUTION_DIRECT,
          src,
          wts,
          dst,
          strides,
          pad,
          pad,
        ),
        "convolution backward-data desc",
      );
      const pd = this.#primitiveDesc(op, entry.forwardPd);
      b = this.#bind(pd, [ARG_DIFF_SRC, ARG_WEIGHTS, ARG_DIFF_DST], [src, wts, dst]);
    } else {
      const op = new Uint8Array(OP_DESC_BYTES);
      check(
        this.#d.dnnl_convolution_backward_weights_desc_init(
          op,
          CONVOLUTION_DIRECT,
          src,
          wts,
          null,
          dst,
          strides,
          pad,
          pad,
        ),
        "convolution backward-weights desc",
      );
      const pd = this.#primitiveDesc(op, entry.forwardPd);
      b = this.#bind(pd, [ARG_SRC, ARG_DIFF_WEIGHTS, ARG_DIFF_DST], [src, wts, dst]);
    }
    entry.bound.set(dir, b);
    return b;
  }

  /**
   * Runs one direction. Buffers, by direction: forward (x, w) -> y; backward_data (dx <- w, dy);
   * backward_weights (dw <- x, dy). Always passed as [activation in, weights, activation out]:
   * (x or dx, w or dw, y or dy), sized NHWC, HWIO, NHWC.
   */
  run(s: ConvShape, dir: ConvDirection, xs: Float32Array, ws: Float32Array, ys: Float32Array): void {
    const b = this.#bound(s, dir);
    const [mx, mw, my] = b.memories;
    check(this.#d.dnnl_memory_set_data_handle(mx, xs), "set handle");
    check(this.#d.dnnl_memory_set_data_handle(mw, ws), "set handle");
    check(this.#d.dnnl_memory_set_data_handle(my, ys), "set handle");
    check(this.#d.dnnl_primitive_execute(b.primitive, this.#stream, 3, b.args), `convolution ${dir}`);
    check(this.#d.dnnl_stream_wait(this.#stream), "stream wait");
  }

  /** The oneDNN implementation chosen for a shape and direction (e.g. "x64:gemm:jit"). */
  implementation(s: ConvShape, dir: ConvDirection): string {
    return this.#bound(s, dir).impl;
  }
}

let loaded: { conv: DnnlConvolutions; version: string } | null | undefined;

/** The oneDNN version string read from the library ("2.6.3"). */
function versionOf(d: Dnnl): string {
  const p = d.dnnl_version();
  if (!p) return "unknown";
  // dnnl_version_t {int major, minor, patch; const char *hash; unsigned cpu_runtime, gpu_runtime}
  const view = new Deno.UnsafePointerView(p);
  return `${view.getInt32(0)}.${view.getInt32(4)}.${view.getInt32(8)}`;
}

/**
 * oneDNN's convolutions, or null where the library cannot be loaded (not installed, no FFI
 * permission, another major version). Loaded once.
 */
export function loadDnnl(): { conv: DnnlConvolutions; version: string } | null {
  if (loaded !== undefined) return loaded;
  loaded = null;
  for (const path of LIBRARY_CANDIDATES) {
    try {
      const d = Deno.dlopen(path, SYMBOLS).symbols;
      const version = versionOf(d);
      if (!version.startsWith("2.")) continue; // the op-descriptor C API is oneDNN 2.x's
      loaded = { conv: new DnnlConvolutions(d), version };
      break;
    } catch {
      // try the next candidate
    }
  }
  return loaded;
}

/**
 * Sets the OpenMP thread count oneDNN uses (libgomp's omp_set_num_threads); returns false where
 * libgomp cannot be loaded.
 */
export function setNativeThreads(n: number): boolean {
  try {
    const gomp = Deno.dlopen("libgomp.so.1", {
      omp_set_num_threads: { parameters: ["i32"], result: "void" },
    });
    gomp.symbols.omp_set_num_threads(n);
    return true;
  } catch {
    return false;
  }
}
