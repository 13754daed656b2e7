/**
 * Seeded randomness. Every random draw of a run derives from one seed and a counter, so the whole
 * stream is reproducible and its state (seed, counter) fits in a checkpoint.
 */
import * as tf from "@tensorflow/tfjs";
import { randomNormal } from "./kernels/random_normal.ts";

export interface RngState {
  seed: number;
  counter: number;
}

/** splitmix32-style mixing: a well-spread 32-bit value from (seed, counter). */
function mix(seed: number, counter: number): number {
  let z = (seed ^ Math.imul(counter + 1, 0x9e3779b9)) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

/** mulberry32: a small fast PRNG for JS-side draws (data generation, permutations). */
export class JsRandom {
  #a: number;
  constructor(seed: number) {
    this.#a = seed >>> 0;
  }
  /** Uniform in [0, 1). */
  float(): number {
    this.#a = (this.#a + 0x6d2b79f5) >>> 0;
    let t = this.#a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Standard normal (Box-Muller). */
  normal(): number {
    const u = 1 - this.float();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.float());
  }
  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.float() * n);
  }
  /** Fisher-Yates permutation of 0..n-1. */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [p[i], p[j]] = [p[j], p[i]];
    }
    return p;
  }
}

export class Rng {
  readonly seed: number;
  #counter: number;

  constructor(seed: number, counter = 0) {
    if (!Number.isInteger(seed) || seed < 0) {
      throw new RangeError(`seed must be a non-negative integer`);
    }
    this.seed = seed >>> 0;
    this.#counter = counter;
  }

  static fromState(state: RngState): Rng {
    return new Rng(state.seed, state.counter);
  }

  state(): RngState {
    return { seed: this.seed, counter: this.#counter };
  }

  /** A fresh 32-bit seed for one draw; advances the stream. */
  nextSeed(): number {
    return mix(this.seed, this.#counter++);
  }

  /** A JS-side generator for a block of scalar draws, seeded from this stream. */
  js(): JsRandom {
    return new JsRandom(this.nextSeed());
  }

  /** Standard normal tensor (drawn on the device on WebGPU: lib/kernels/random_normal.ts). */
  normal(shape: number[]): tf.Tensor {
    return randomNormal(shape, this.nextSeed());
  }

  /** Uniform tensor in [0, 1). */
  uniform(shape: number[]): tf.Tensor {
    return tf.randomUniform(shape, 0, 1, "float32", this.nextSeed());
  }
}
