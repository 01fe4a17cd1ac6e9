// Growth-policy benchmark: how growBy and growAt change the cost of a heap
// that starts small and grows (XMM's policy is growAt/growBy). Prints ns per
// allocation and the committed size at the end for each setting, so the
// defaults in heap.ts are chosen from figures, not guesses.
//
//   node bench/growth.mjs
import { Heap } from "../dist/node/index.js";

const MIB = 1 << 20;
const settings = [
  { name: "growBy 64 KiB", growBy: 64 << 10 },
  { name: "growBy 1 MiB", growBy: MIB },
  { name: "growBy 16 MiB", growBy: 16 * MIB },
  { name: "default (a sixteenth of committed, >= 256 KiB)" },
  { name: "default, growAt 0.8", growAt: 0.8 },
  { name: "default, growAt 0.6", growAt: 0.6 },
];

// 1,000,000 blocks of 24 bytes kept (xmm-alloc24), each written with an int and a float.
function alloc24(heap) {
  for (let i = 0; i < 1_000_000; i++) {
    const p = heap.alloc(24);
    heap.i32[p >>> 2] = i;
    heap.f64[(p + 8) >>> 3] = i;
  }
  return 1_000_000;
}

// 12,000 blocks of 87,405 bytes kept: about 1 GiB of whole-page blocks.
function large(heap) {
  for (let i = 0; i < 12_000; i++) heap.u8[heap.alloc(87_405)] = 1;
  return 12_000;
}

function measure(fn, opts) {
  const heap = new Heap({ initialSize: MIB, maxSize: 2 ** 31, ...opts });
  const t = process.hrtime.bigint();
  const n = fn(heap);
  const ns = Number(process.hrtime.bigint() - t) / n;
  return { ns, committedMiB: heap.stats().committedBytes / MIB };
}

console.log(`Node ${process.version}; each figure is the best of 3 runs`);
console.log("| setting | xmm-alloc24 ns/alloc | committed MiB | 1 GiB of large blocks ns/alloc | committed MiB |");
console.log("|---|---|---|---|---|");
for (const s of settings) {
  const { name, ...opts } = s;
  const best = (fn) => [0, 1, 2].map(() => measure(fn, opts)).reduce((a, b) => (b.ns < a.ns ? b : a));
  const a = best(alloc24);
  const l = best(large);
  console.log(`| ${name} | ${a.ns.toFixed(1)} | ${a.committedMiB.toFixed(1)} | ${l.ns.toFixed(0)} | ${l.committedMiB.toFixed(0)} |`);
}
