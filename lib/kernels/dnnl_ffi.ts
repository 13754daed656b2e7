/**
 * oneDNN (Debian's libdnnl2, v2.x C API) through Deno FFI, on float32 buffers owned by the caller:
 * stride-1 'same' NHWC convolutions (forward, backward-data, backward-weights), leaky ReLU
 * (forward, backward) and the 2x2 ceil-mode average pool (forward, backward). oneDNN is the library
 * PyTorch's CPU convolutions run on; tfjs's CPU paths (plain JS, wasm XNNPACK with 128-bit SIMD and
 * no FMA, naive loops for several gradients) are several times slower on the same core.
 *
 * Layouts are tfjs's: activations NHWC ("acdb" over oneDNN's logical NCHW), filters HWIO ("cdba"
 * over logical OIHW), so nothing is reordered. A primitive is built once per op and shape, then
 * reused with new data handles. Constants are from oneDNN 2.6's dnnl_types.h; struct sizes are
 * upper bounds (the library fills the structs; we only pass them back).
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
    parameters: [
      "buffer",
      "i32",
      "i32",
      "buffer",
      "buffer",
      "pointer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
    ],
    result: "i32",
  },
  dnnl_convolution_backward_data_desc_init: {
    parameters: ["buffer", "i32", "buffer", "buffer", "buffer", "buffer", "buffer", "buffer"],
    result: "i32",
  },
  dnnl_convolution_backward_weights_desc_init: {
    parameters: [
      "buffer",
      "i32",
      "buffer",
      "buffer",
      "pointer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
    ],
    result: "i32",
  },
  dnnl_eltwise_forward_desc_init: {
    parameters: ["buffer", "i32", "i32", "buffer", "f32", "f32"],
    result: "i32",
  },
  dnnl_eltwise_backward_desc_init: {
    parameters: ["buffer", "i32", "buffer", "buffer", "f32", "f32"],
    result: "i32",
  },
  dnnl_pooling_forward_desc_init: {
    parameters: [
      "buffer",
      "i32",
      "i32",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
    ],
    result: "i32",
  },
  dnnl_pooling_backward_desc_init: {
    parameters: ["buffer", "i32", "buffer", "buffer", "buffer", "buffer", "buffer", "buffer"],
    result: "i32",
  },
  dnnl_primitive_desc_create: {
    parameters: ["buffer", "buffer", "pointer", "pointer", "pointer"],
    result: "i32",
  },
  dnnl_primitive_desc_query: { parameters: ["pointer", "i32", "i32", "buffer"], result: "i32" },
  dnnl_primitive_desc_query_md: { parameters: ["pointer", "i32", "i32"], result: "pointer" },
  dnnl_memory_desc_equal: { parameters: ["buffer", "buffer"], result: "i32" },
  dnnl_memory_desc_get_size: { parameters: ["buffer"], result: "usize" },
  dnnl_reorder_primitive_desc_create: {
    parameters: ["buffer", "buffer", "pointer", "buffer", "pointer", "pointer"],
    result: "i32",
  },
  dnnl_primitive_create: { parameters: ["buffer", "pointer"], result: "i32" },
  dnnl_memory_create: { parameters: ["buffer", "buffer", "pointer", "pointer"], result: "i32" },
  dnnl_memory_set_data_handle: { parameters: ["pointer", "buffer"], result: "i32" },
  dnnl_primitive_execute: { parameters: ["pointer", "pointer", "i32", "buffer"], result: "i32" },
  dnnl_stream_wait: { parameters: ["pointer"], result: "i32" },
  // (transa, transb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc), row-major.
  dnnl_sgemm: {
    parameters: [
      "u8",
      "u8",
      "i64",
      "i64",
      "i64",
      "f32",
      "buffer",
      "i64",
      "buffer",
      "i64",
      "f32",
      "buffer",
      "i64",
    ],
    result: "i32",
  },
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
const TAG_A = 2; // 1-D dense
const TAG_NHWC = 20; // dnnl_acdb
const TAG_HWIO = 30; // dnnl_cdba
const TAG_ANY = 1; // let the primitive choose (blocked weights for the JIT kernels)
const FORWARD_TRAINING = 64;
const CONVOLUTION_DIRECT = 1;
const ELTWISE_RELU = 31; // x > 0 ? x : alpha x
const ELTWISE_SWISH = 223; // x / (1 + exp(-alpha x)) (oneDNN 2.x's dnnl_eltwise_swish, 0xdf)
const POOLING_AVG_EXCLUDE_PADDING = 1023;
const QUERY_IMPL_INFO_STR = 8;
const QUERY_WEIGHTS_MD = 131;
const QUERY_DIFF_WEIGHTS_MD = 132;
const ARG_FROM = 1;
const ARG_TO = 17;
const ARG_SRC = 1;
const ARG_DST = 17;
const ARG_WEIGHTS = 33;
const ARG_DIFF_SRC = 129;
const ARG_DIFF_DST = 145;
const ARG_DIFF_WEIGHTS = 161;
const MAX_NDIMS = 12;
const CHAR_N = 0x4e; // 'N': sgemm operand as stored
const CHAR_T = 0x54; // 'T': sgemm operand transposed
/** sizeof(dnnl_memory_desc_t) is 696 (a plain struct); the largest op desc is 5976 bytes in 2.6. */
const MEMORY_DESC_SIZE = 696;
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
  if (status !== 0) {
    throw new Error(`oneDNN ${what} failed: ${STATUS[status] ?? `status ${status}`}`);
  }
}

const outPtr = () => new BigUint64Array(1);
const readPtr = (b: BigUint64Array) => Deno.UnsafePointer.create(b[0]);

function dims(...values: number[]): BigInt64Array {
  const a = new BigInt64Array(MAX_NDIMS);
  values.forEach((v, i) => (a[i] = BigInt(v)));
  return a;
}

/** One primitive and its execution arguments. */
interface Step {
  primitive: Deno.PointerValue;
  args: BigUint64Array;
}

/**
 * What one call runs: steps in order (e.g. a weights reorder, then the convolution), the memory
 * objects that take the caller's buffers (in call order), and scratch buffers the steps share.
 */
interface Plan {
  steps: Step[];
  user: Deno.PointerValue[];
  scratch: Float32Array[];
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

/** [B, H, W, C] of a pool's input; the output is [B, ceil(H/2), ceil(W/2), C]. */
export type PoolShape = [number, number, number, number];

export class DnnlOps {
  readonly #d: Dnnl;
  readonly #engine: Deno.PointerValue;
  readonly #stream: Deno.PointerValue;
  /** Forward primitive descriptors (the hints backward primitives are built from), by op key. */
  readonly #forwardPds = new Map<string, Deno.PointerValue>();
  readonly #plans = new Map<string, Plan>();
  /** 0 until set: OpenMP's own default until then. */
  #threads = 0;

  constructor(d: Dnnl) {
    this.#d = d;
    const e = outPtr();
    check(d.dnnl_engine_create(e, ENGINE_CPU, 0n), "engine creation");
    this.#engine = readPtr(e);
    const s = outPtr();
    check(d.dnnl_stream_create(s, this.#engine, STREAM_IN_ORDER), "stream creation");
    this.#stream = readPtr(s);
  }

  #md(logicalDims: number[], tag: number): Uint8Array {
    const md = new Uint8Array(MEMORY_DESC_BYTES);
    check(
      this.#d.dnnl_memory_desc_init_by_tag(md, logicalDims.length, dims(...logicalDims), F32, tag),
      "memory desc",
    );
    return md;
  }

  #primitiveDesc(opDesc: Uint8Array, hint: Deno.PointerValue): Deno.PointerValue {
    const pd = outPtr();
    check(
      this.#d.dnnl_primitive_desc_create(pd, opDesc, null, this.#engine, hint),
      "primitive desc",
    );
    return readPtr(pd);
  }

  #forwardPd(key: string, init: (desc: Uint8Array) => number): Deno.PointerValue {
    // Primitive descriptors fix their implementation's thread partition too: one per count.
    const fullKey = `${key}@${this.#threads}`;
    let pd = this.#forwardPds.get(fullKey);
    if (!pd) {
      const desc = new Uint8Array(OP_DESC_BYTES);
      check(init(desc), `${key} desc`);
      pd = this.#primitiveDesc(desc, null);
      this.#forwardPds.set(fullKey, pd);
    }
    return pd;
  }

  #memory(md: Uint8Array, handle: Float32Array | null): Deno.PointerValue {
    const m = outPtr();
    const ptr = handle ? Deno.UnsafePointer.of(handle) : null;
    check(this.#d.dnnl_memory_create(m, md, this.#engine, ptr), "memory creation");
    return readPtr(m);
  }

  #step(pd: Deno.PointerValue, args: [number, Deno.PointerValue][]): Step {
    const p = outPtr();
    check(this.#d.dnnl_primitive_create(p, pd), "primitive creation");
    // dnnl_exec_arg_t is {int arg; dnnl_memory_t memory;}: 16 bytes.
    const a = new BigUint64Array(2 * args.length);
    args.forEach(([id, m], i) => {
      a[2 * i] = BigInt(id);
      a[2 * i + 1] = BigInt(Deno.UnsafePointer.value(m));
    });
    return { primitive: readPtr(p), args: a };
  }

  #impl(pd: Deno.PointerValue): string {
    const info = outPtr();
    check(this.#d.dnnl_primitive_desc_query(pd, QUERY_IMPL_INFO_STR, 0, info), "query");
    return Deno.UnsafePointerView.getCString(readPtr(info)!);
  }

  /** A single-primitive plan whose arguments are all the caller's buffers. */
  #simple(pd: Deno.PointerValue, argIds: number[], mds: Uint8Array[]): Plan {
    const user = mds.map((md) => this.#memory(md, null));
    const step = this.#step(pd, argIds.map((id, i) => [id, user[i]]));
    return { steps: [step], user, scratch: [], impl: this.#impl(pd) };
  }

  /** The memory desc a primitive chose for `what` (copied out: it is a plain struct). */
  #queryMd(pd: Deno.PointerValue, what: number): Uint8Array {
    const p = this.#d.dnnl_primitive_desc_query_md(pd, what, 0);
    if (!p) throw new Error("oneDNN: memory desc query failed");
    const md = new Uint8Array(MEMORY_DESC_BYTES);
    md.set(new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(p, MEMORY_DESC_SIZE)));
    return md;
  }

  /**
   * Where the primitive wants weights in another layout than the caller's HWIO: a scratch buffer
   * in its layout and the reorder between the two (direction: into the primitive's, or back).
   */
  #weightsIn(
    chosen: Uint8Array,
    hwio: Uint8Array,
    userMemory: Deno.PointerValue,
    scratch: Float32Array[],
    into: boolean,
  ): { memory: Deno.PointerValue; reorder: Step | null } {
    if (this.#d.dnnl_memory_desc_equal(chosen, hwio)) return { memory: userMemory, reorder: null };
    const buffer = new Float32Array(Number(this.#d.dnnl_memory_desc_get_size(chosen)) / 4);
    scratch.push(buffer);
    const memory = this.#memory(chosen, buffer);
    const [from, to] = into ? [hwio, chosen] : [chosen, hwio];
    const pd = outPtr();
    check(
      this.#d.dnnl_reorder_primitive_desc_create(pd, from, this.#engine, to, this.#engine, null),
      "reorder desc",
    );
    const reorder = this.#step(
      readPtr(pd),
      into
        ? [[ARG_FROM, userMemory], [ARG_TO, memory]]
        : [[ARG_FROM, memory], [ARG_TO, userMemory]],
    );
    return { memory, reorder };
  }

  /**
   * The OpenMP threads of the ops that follow. oneDNN partitions a primitive's work for the
   * thread count it was created under, so plans are cached per thread count.
   */
  setThreads(n: number): void {
    if (n === this.#threads) return;
    setNativeThreads(n);
    this.#threads = n;
  }

  get threads(): number {
    return this.#threads;
  }

  #cached(key: string, build: () => Plan): Plan {
    const fullKey = `${key}@${this.#threads}`;
    let plan = this.#plans.get(fullKey);
    if (!plan) {
      plan = build();
      this.#plans.set(fullKey, plan);
    }
    return plan;
  }

  #execute(plan: Plan, buffers: Float32Array[], what: string): void {
    plan.user.forEach((m, i) =>
      check(this.#d.dnnl_memory_set_data_handle(m, buffers[i]), "set handle")
    );
    for (const step of plan.steps) {
      check(
        this.#d.dnnl_primitive_execute(
          step.primitive,
          this.#stream,
          step.args.length / 2,
          step.args,
        ),
        what,
      );
    }
    check(this.#d.dnnl_stream_wait(this.#stream), "stream wait");
  }

  #convPlan(s: ConvShape, dir: ConvDirection): Plan {
    if (s.kernel % 2 !== 1) throw new Error(`odd kernels only, got ${s.kernel}`);
    const shapeKey =
      `${s.batch},${s.height},${s.width},${s.inChannels},${s.outChannels},${s.kernel}`;
    return this.#cached(`conv ${dir} ${shapeKey}`, () => {
      const p = (s.kernel - 1) / 2;
      const src = this.#md([s.batch, s.inChannels, s.height, s.width], TAG_NHWC);
      const wDims = [s.outChannels, s.inChannels, s.kernel, s.kernel];
      const hwio = this.#md(wDims, TAG_HWIO);
      const anyW = this.#md(wDims, TAG_ANY);
      const dst = this.#md([s.batch, s.outChannels, s.height, s.width], TAG_NHWC);
      const strides = dims(1, 1), pad = dims(p, p);
      const fwd = this.#forwardPd(
        `conv ${shapeKey}`,
        (desc) =>
          this.#d.dnnl_convolution_forward_desc_init(
            desc,
            FORWARD_TRAINING,
            CONVOLUTION_DIRECT,
            src,
            anyW,
            null,
            dst,
            strides,
            pad,
            pad,
          ),
      );
      let pd = fwd;
      if (dir !== "forward") {
        const op = new Uint8Array(OP_DESC_BYTES);
        const status = dir === "backward_data"
          ? this.#d.dnnl_convolution_backward_data_desc_init(
            op,
            CONVOLUTION_DIRECT,
            src,
            anyW,
            dst,
            strides,
            pad,
            pad,
          )
          : this.#d.dnnl_convolution_backward_weights_desc_init(
            op,
            CONVOLUTION_DIRECT,
            src,
            anyW,
            null,
            dst,
            strides,
            pad,
            pad,
          );
        check(status, `convolution ${dir} desc`);
        pd = this.#primitiveDesc(op, fwd);
      }
      // The caller's buffers, always (activation in, weights, activation out).
      const user = [this.#memory(src, null), this.#memory(hwio, null), this.#memory(dst, null)];
      const scratch: Float32Array[] = [];
      const chosen = this.#queryMd(
        pd,
        dir === "backward_weights" ? QUERY_DIFF_WEIGHTS_MD : QUERY_WEIGHTS_MD,
      );
      const w = this.#weightsIn(chosen, hwio, user[1], scratch, dir !== "backward_weights");
      const ids = dir === "forward"
        ? [ARG_SRC, ARG_WEIGHTS, ARG_DST]
        : dir === "backward_data"
        ? [ARG_DIFF_SRC, ARG_WEIGHTS, ARG_DIFF_DST]
        : [ARG_SRC, ARG_DIFF_WEIGHTS, ARG_DIFF_DST];
      const conv = this.#step(pd, [[ids[0], user[0]], [ids[1], w.memory], [ids[2], user[2]]]);
      const steps = !w.reorder
        ? [conv]
        : dir === "backward_weights"
        ? [conv, w.reorder]
        : [w.reorder, conv];
      return { steps, user, scratch, impl: this.#impl(pd) };
    });
  }

  /**
   * One convolution direction. Buffers are always (activation in, weights, activation out) sized
   * NHWC, HWIO, NHWC: forward reads x, w and writes y; backward_data reads w, dy and writes dx
   * (first); backward_weights reads x, dy and writes dw (second).
   */
  conv(
    s: ConvShape,
    dir: ConvDirection,
    xs: Float32Array,
    ws: Float32Array,
    ys: Float32Array,
  ): void {
    this.#execute(this.#convPlan(s, dir), [xs, ws, ys], `convolution ${dir}`);
  }

  /** Leaky ReLU y = x > 0 ? x : alpha x over n elements. */
  leakyRelu(alpha: number, x: Float32Array, y: Float32Array): void {
    this.#execute(this.#eltwisePlan(ELTWISE_RELU, alpha, x.length, false), [x, y], "leaky relu");
  }

  /** dx = dy * (x > 0 ? 1 : alpha), from the forward input x. */
  leakyReluGrad(alpha: number, x: Float32Array, dy: Float32Array, dx: Float32Array): void {
    const plan = this.#eltwisePlan(ELTWISE_RELU, alpha, x.length, true);
    this.#execute(plan, [x, dy, dx], "leaky relu backward");
  }

  /** y = x / (1 + exp(-x)) (swish, SiLU). */
  swish(x: Float32Array, y: Float32Array): void {
    this.#execute(this.#eltwisePlan(ELTWISE_SWISH, 1, x.length, false), [x, y], "swish");
  }

  /** dx = dy * s (1 + x (1 - s)) with s = 1 / (1 + exp(-x)), from the forward input x. */
  swishGrad(x: Float32Array, dy: Float32Array, dx: Float32Array): void {
    const plan = this.#eltwisePlan(ELTWISE_SWISH, 1, x.length, true);
    this.#execute(plan, [x, dy, dx], "swish backward");
  }

  #eltwisePlan(alg: number, alpha: number, n: number, backward: boolean): Plan {
    return this.#cached(`eltwise ${alg} ${alpha} ${n} ${backward}`, () => {
      const data = this.#md([n], TAG_A);
      const fwd = this.#forwardPd(
        `eltwise ${alg} ${alpha} ${n}`,
        (desc) =>
          this.#d.dnnl_eltwise_forward_desc_init(desc, FORWARD_TRAINING, alg, data, alpha, 0),
      );
      if (!backward) return this.#simple(fwd, [ARG_SRC, ARG_DST], [data, data]);
      const op = new Uint8Array(OP_DESC_BYTES);
      check(
        this.#d.dnnl_eltwise_backward_desc_init(op, alg, data, data, alpha, 0),
        "eltwise backward desc",
      );
      const pd = this.#primitiveDesc(op, fwd);
      return this.#simple(pd, [ARG_SRC, ARG_DIFF_DST, ARG_DIFF_SRC], [data, data, data]);
    });
  }

  #poolPlan(s: PoolShape, backward: boolean): Plan {
    const [b, h, w, c] = s;
    return this.#cached(`pool ${s} ${backward}`, () => {
      const src = this.#md([b, c, h, w], TAG_NHWC);
      const dst = this.#md([b, c, Math.ceil(h / 2), Math.ceil(w / 2)], TAG_NHWC);
      // Ceil mode: the last window of an odd side hangs over a zero pad it does not average.
      const strides = dims(2, 2), kernel = dims(2, 2), padL = dims(0, 0), padR = dims(h % 2, w % 2);
      const fwd = this.#forwardPd(`pool ${s}`, (desc) =>
        this.#d.dnnl_pooling_forward_desc_init(
          desc,
          FORWARD_TRAINING,
          POOLING_AVG_EXCLUDE_PADDING,
          src,
          dst,
          strides,
          kernel,
          padL,
          padR,
        ));
      if (!backward) return this.#simple(fwd, [ARG_SRC, ARG_DST], [src, dst]);
      const op = new Uint8Array(OP_DESC_BYTES);
      check(
        this.#d.dnnl_pooling_backward_desc_init(
          op,
          POOLING_AVG_EXCLUDE_PADDING,
          src,
          dst,
          strides,
          kernel,
          padL,
          padR,
        ),
        "pooling backward desc",
      );
      const pd = this.#primitiveDesc(op, fwd);
      return this.#simple(pd, [ARG_DIFF_DST, ARG_DIFF_SRC], [dst, src]);
    });
  }

  /** 2x2 stride-2 average pool, ceil mode, edge windows averaging only the pixels inside. */
  avgPool(s: PoolShape, x: Float32Array, y: Float32Array): void {
    this.#execute(this.#poolPlan(s, false), [x, y], "average pool");
  }

  /** The average pool's input gradient dx from dy. */
  avgPoolGrad(s: PoolShape, dy: Float32Array, dx: Float32Array): void {
    this.#execute(this.#poolPlan(s, true), [dy, dx], "average pool backward");
  }

  /**
   * C = op(A) op(B) (+ C with `accumulate`), row-major float32: op(A) is [m, k] (A stored [k, m]
   * when transposed), op(B) [k, n], C [m, n]. oneDNN's sgemm, on the OpenMP threads set.
   */
  sgemm(
    m: number,
    n: number,
    k: number,
    a: Float32Array,
    transA: boolean,
    b: Float32Array,
    transB: boolean,
    c: Float32Array,
    accumulate = false,
  ): void {
    if (a.length < m * k || b.length < k * n || c.length < m * n) {
      throw new RangeError(`sgemm [${m}, ${k}] x [${k}, ${n}]: a buffer is too small`);
    }
    if (m === 0 || n === 0) return;
    if (k === 0) {
      // oneDNN rejects the leading dimension 0 of an empty operand; the product is zero.
      if (!accumulate) c.fill(0, 0, m * n);
      return;
    }
    check(
      this.#d.dnnl_sgemm(
        transA ? CHAR_T : CHAR_N,
        transB ? CHAR_T : CHAR_N,
        BigInt(m),
        BigInt(n),
        BigInt(k),
        1,
        a,
        BigInt(transA ? m : k),
        b,
        BigInt(transB ? k : n),
        accumulate ? 1 : 0,
        c,
        BigInt(n),
      ),
      "sgemm",
    );
  }

  /** The oneDNN implementation chosen for a convolution (e.g. "x64:gemm:jit"). */
  convImplementation(s: ConvShape, dir: ConvDirection): string {
    return this.#convPlan(s, dir).impl;
  }
}

let loaded: { ops: DnnlOps; version: string } | null | undefined;

function versionOf(d: Dnnl): string {
  const p = d.dnnl_version();
  if (!p) return "unknown";
  // dnnl_version_t {int major, minor, patch; const char *hash; ...}
  const view = new Deno.UnsafePointerView(p);
  return `${view.getInt32(0)}.${view.getInt32(4)}.${view.getInt32(8)}`;
}

/**
 * oneDNN's ops, or null where the library cannot be loaded (not installed, no FFI permission, a
 * major version other than 2, whose C API this file speaks). Loaded once.
 */
export function loadDnnl(): { ops: DnnlOps; version: string } | null {
  if (loaded !== undefined) return loaded;
  loaded = null;
  try {
    // Read by libgomp when it loads with oneDNN: idle OpenMP threads sleep instead of spinning,
    // which costs little on an idle machine and avoids a collapse on an oversubscribed one.
    if (Deno.env.get("OMP_WAIT_POLICY") === undefined) Deno.env.set("OMP_WAIT_POLICY", "PASSIVE");
  } catch {
    // no --allow-env: keep libgomp's default
  }
  for (const path of LIBRARY_CANDIDATES) {
    try {
      const d = Deno.dlopen(path, SYMBOLS).symbols;
      const version = versionOf(d);
      if (!version.startsWith("2.")) continue;
      loaded = { ops: new DnnlOps(d), version };
      break;
    } catch {
      // not there, or not loadable: try the next candidate
    }
  }
  return loaded;
}

let gomp: { omp_set_num_threads(n: number): void } | null | undefined;

/**
 * Sets the OpenMP thread count oneDNN uses (libgomp's omp_set_num_threads); false where libgomp
 * cannot be loaded. Cheap after the first call (the library is opened once).
 */
export function setNativeThreads(n: number): boolean {
  if (gomp === undefined) {
    try {
      gomp = Deno.dlopen("libgomp.so.1", {
        omp_set_num_threads: { parameters: ["i32"], result: "void" },
      }).symbols;
    } catch {
      gomp = null;
    }
  }
  if (!gomp) return false;
  gomp.omp_set_num_threads(n);
  return true;
}
