import { matmul, multiplyABt } from "./lib/metrics/linalg.ts";
const n = Number(Deno.args[0] ?? 1024);
const a = new Float64Array(n * n).map(() => Math.random());
const b = new Float64Array(n * n).map(() => Math.random());
for (let r = 0; r < 2; r++) {
  let t0 = performance.now(); matmul(a, b, n, n, n); const t1 = performance.now() - t0;
  t0 = performance.now(); multiplyABt(a, b, n, n, n); const t2 = performance.now() - t0;
  t0 = performance.now(); multiplyABt(a, a, n, n, n, true); const t3 = performance.now() - t0;
  console.log(`n=${n} matmul ${t1.toFixed(0)} ms, ABt ${t2.toFixed(0)} ms, ABt sym ${t3.toFixed(0)} ms`);
}
