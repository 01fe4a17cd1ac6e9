// A worker of test/threads.test.ts's concurrent check() test: allocates and
// frees blocks of its own (patterned, verified before each free, a large one
// now and then) until ctrl[0] turns nonzero, then frees what it holds and
// detaches, while the main thread runs heap.check() over and over.
//
// workerData: { memory, ctrl (Int32Array: word 0 the stop flag; word 1
// counts the workers that attached, word 2 their operations in 256s), seed }.
// Posts { ops } when done.
import { workerData, parentPort } from "node:worker_threads";
import { Heap } from "../../dist/index.js";
import { drawSize, rng, verifyPattern, writePattern } from "./common.mjs";

const { memory, ctrl, seed } = workerData;
const heap = Heap.attach(memory);
const next = rng(seed);
const held = [];
let ops = 0;
Atomics.add(ctrl, 1, 1);
const free = (k) => {
  const [a, size] = held[k];
  verifyPattern(heap, a, `churn worker (seed ${seed})`);
  heap.free(a);
  held[k] = held[held.length - 1];
  held.pop();
  ops++;
  return size;
};
while (Atomics.load(ctrl, 0) === 0) {
  for (let i = 0; i < 256; i++) {
    if (held.length < 2000 && next() < 0.55) {
      const size = next() < 0.02 ? 40_000 + Math.floor(next() * 60_000) : drawSize(next);
      const a = heap.alloc(size);
      writePattern(heap, a, size);
      held.push([a, size]);
      ops++;
    } else if (held.length > 0) {
      free(Math.floor(next() * held.length));
    }
  }
  Atomics.add(ctrl, 2, 1);
}
while (held.length > 0) free(held.length - 1);
heap.detach();
parentPort.postMessage({ ops });
