/**
 * Runs a frozen TensorFlow GraphDef on tfjs: only the nodes between the fed tensors and the fetched
 * ones are evaluated (so e.g. inception's DecodeJpeg input branch never runs when `ExpandDims:0` is
 * fed), in dependency order, and every intermediate tensor is freed as soon as its last consumer
 * has run. Constants are decoded once and kept; BatchNormWithGlobalNormalization nodes with constant
 * statistics are folded once into a per-channel scale and shift.
 */
import * as tf from "@tensorflow/tfjs";
import { decodeTensor, type GraphDef, type NodeDef } from "./graphdef.ts";
import { batchNormScaleShift, KERNELS, type OpContext } from "./ops.ts";

/** "name:1" -> ["name", 1]; "name" -> ["name", 0]. */
function parseTensorName(name: string): [string, number] {
  const m = /^(.*):(\d+)$/.exec(name);
  return m ? [m[1], Number(m[2])] : [name, 0];
}

function canonical(name: string): string {
  const [node, index] = parseTensorName(name);
  return `${node}:${index}`;
}

/** Data inputs of a node (control inputs, "^name", order execution only and are skipped). */
function dataInputs(node: NodeDef): string[] {
  return (node.input ?? []).filter((i) => !i.startsWith("^")).map(canonical);
}

export class GraphExecutor {
  readonly #nodes = new Map<string, NodeDef>();
  readonly #constants = new Map<string, tf.Tensor>();
  readonly #folded = new Map<string, { scale: tf.Tensor; shift: tf.Tensor }>();

  constructor(graph: GraphDef) {
    for (const node of graph.node) this.#nodes.set(node.name, node);
  }

  node(name: string): NodeDef | undefined {
    return this.#nodes.get(name);
  }

  /** The nodes that must run to compute `fetches` from `feeds`, in dependency order. */
  plan(feeds: string[], fetches: string[]): NodeDef[] {
    const fed = new Set(feeds.map(canonical));
    const order: NodeDef[] = [];
    const state = new Map<string, "visiting" | "done">();
    // Iterative depth-first post-order: deep graphs cannot overflow the call stack.
    const stack: { name: string; expanded: boolean }[] = [];
    const push = (tensor: string) => {
      if (fed.has(tensor)) return;
      const [name] = parseTensorName(tensor);
      if (!state.has(name)) stack.push({ name, expanded: false });
    };
    for (const f of fetches) push(canonical(f));
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      const node = this.#nodes.get(top.name);
      if (!node) throw new Error(`the graph has no node '${top.name}'`);
      if (top.expanded) {
        stack.pop();
        if (state.get(top.name) !== "done") {
          state.set(top.name, "done");
          order.push(node);
        }
        continue;
      }
      if (state.get(top.name) === "visiting") {
        throw new Error(`the graph has a cycle through '${top.name}'`);
      }
      if (state.get(top.name) === "done") {
        stack.pop();
        continue;
      }
      state.set(top.name, "visiting");
      top.expanded = true;
      if (node.op !== "Const") { for (const input of dataInputs(node)) push(input); }
    }
    return order;
  }

  /** Op types in `plan(feeds, fetches)` that this executor cannot run. */
  unsupportedOps(feeds: string[], fetches: string[]): string[] {
    const ops = new Set(this.plan(feeds, fetches).map((n) => n.op));
    return [...ops].filter((op) => op !== "Const" && op !== "Placeholder" && !(op in KERNELS))
      .sort();
  }

  /** The value of a Const node, decoded once and kept until dispose(). */
  constant(name: string): tf.Tensor {
    let t = this.#constants.get(name);
    if (!t) {
      const node = this.#nodes.get(name);
      const value = node?.attr?.value?.tensor;
      if (!node || node.op !== "Const" || !value) {
        throw new Error(`'${name}' is not a constant node`);
      }
      const decoded = decodeTensor(value);
      t = tf.keep(tf.tensor(decoded.values, decoded.shape, decoded.dtype));
      this.#constants.set(name, t);
    }
    return t;
  }

  #constValues(tensorName: string, consumer: NodeDef): number[] {
    const [name] = parseTensorName(tensorName);
    const node = this.#nodes.get(name);
    const value = node?.op === "Const" ? node.attr?.value?.tensor : undefined;
    if (!value) {
      throw new Error(
        `${consumer.op} '${consumer.name}' needs a constant input, got '${tensorName}'`,
      );
    }
    return Array.from(decodeTensor(value).values);
  }

  /** BatchNormWithGlobalNormalization folded to x * scale + shift when its statistics are constant. */
  #foldedBatchNorm(node: NodeDef, inputs: string[]): { scale: tf.Tensor; shift: tf.Tensor } | null {
    let folded = this.#folded.get(node.name);
    if (folded) return folded;
    const names = inputs.slice(1, 5).map((i) => parseTensorName(i)[0]);
    if (names.some((n) => this.#nodes.get(n)?.op !== "Const")) return null;
    const [mean, variance, beta, gamma] = names.map((n) => this.constant(n));
    const { scale, shift } = batchNormScaleShift(mean, variance, beta, gamma, node);
    folded = { scale: tf.keep(scale), shift: tf.keep(shift) };
    this.#folded.set(node.name, folded);
    return folded;
  }

  /**
   * Evaluates `fetches` given `feeds` (tensor names such as "ExpandDims:0"). The returned tensors
   * belong to the caller; the feeds stay the caller's too.
   */
  run(feeds: Record<string, tf.Tensor>, fetches: string[]): tf.Tensor[] {
    const fedNames = Object.keys(feeds).map(canonical);
    const order = this.plan(fedNames, fetches);
    const values = new Map<string, tf.Tensor>();
    for (const [name, t] of Object.entries(feeds)) values.set(canonical(name), t);
    // Remaining uses of each computed tensor; fetched tensors get one extra use so they survive.
    const uses = new Map<string, number>();
    const use = (t: string) => uses.set(t, (uses.get(t) ?? 0) + 1);
    for (const node of order) if (node.op !== "Const") dataInputs(node).forEach(use);
    fetches.map(canonical).forEach(use);
    const owned = (t: string) => !fedNames.includes(t) && !this.#isConstTensor(t);
    const release = (t: string) => {
      const left = (uses.get(t) ?? 0) - 1;
      uses.set(t, left);
      if (left === 0 && owned(t)) {
        values.get(t)?.dispose();
        values.delete(t);
      }
    };
    try {
      for (const node of order) {
        if (node.op === "Const") {
          values.set(`${node.name}:0`, this.constant(node.name));
          continue;
        }
        if (node.op === "Placeholder") throw new Error(`placeholder '${node.name}' must be fed`);
        const inputs = dataInputs(node);
        const args = inputs.map((i) => {
          const v = values.get(i);
          if (!v) throw new Error(`'${node.name}' needs '${i}', which no node produced`);
          return v;
        });
        values.set(`${node.name}:0`, this.#evaluate(node, inputs, args));
        inputs.forEach(release);
      }
      return fetches.map((f) => {
        const t = canonical(f);
        const v = values.get(t);
        if (!v) {
          throw new Error(
            `fetch '${f}' was not computed (only output 0 of each node is supported)`,
          );
        }
        // Constants and feeds are not the caller's to dispose: hand out a clone.
        return owned(t) ? v : tf.clone(v);
      });
    } catch (err) {
      for (const [t, v] of values) if (owned(t)) v.dispose();
      throw err;
    }
  }

  #isConstTensor(tensor: string): boolean {
    return this.#nodes.get(parseTensorName(tensor)[0])?.op === "Const";
  }

  #evaluate(node: NodeDef, inputs: string[], args: tf.Tensor[]): tf.Tensor {
    if (node.op === "BatchNormWithGlobalNormalization") {
      const folded = this.#foldedBatchNorm(node, inputs);
      if (folded) return tf.tidy(() => tf.add(tf.mul(args[0], folded.scale), folded.shift));
    }
    const kernel = KERNELS[node.op];
    if (!kernel) throw new Error(`op ${node.op} (node '${node.name}') is not supported`);
    const ctx: OpContext = { node, constInput: (i) => this.#constValues(inputs[i], node) };
    // tidy frees a kernel's own temporaries (e.g. ResizeBilinear's cast).
    return tf.tidy(() => kernel(args, ctx));
  }

  /** Frees the kept constants and folded batch-norm parameters. */
  dispose(): void {
    for (const t of this.#constants.values()) t.dispose();
    for (const f of this.#folded.values()) tf.dispose([f.scale, f.shift]);
    this.#constants.clear();
    this.#folded.clear();
  }
}
