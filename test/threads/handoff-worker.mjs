// The hand-off worker of test/threads.test.ts: builds an OffHeapMap
// (string -> f64) and an OffHeapArray (u32) in the shared heap and posts only
// their addresses. The parent opens them in place, adds to both and says so;
// this worker then sees the parent's writes through its own Heap, which shows
// that nothing was copied either way.
//
// workerData: { memory, seed, entries }.
import { workerData, parentPort } from "node:worker_threads";
import { Heap } from "../../dist/index.js";
import { OffHeapArray, OffHeapMap } from "../../dist/collections/index.js";
import { handoffEntry } from "./common.mjs";

const { memory, seed, entries } = workerData;
const heap = Heap.attach(memory);
const map = new OffHeapMap(heap, { key: "string", value: "f64" });
const array = new OffHeapArray(heap, "u32");
for (let i = 0; i < entries; i++) {
  const e = handoffEntry(seed, i);
  map.set(e.key, e.value);
  array.push(e.element);
}
parentPort.postMessage({ map: map.address, array: array.address });

parentPort.once("message", (msg) => {
  const seen = { fromMain: map.get(msg.key), length: array.length, last: array.get(array.length - 1) };
  map.check();
  array.check();
  heap.detach();
  parentPort.postMessage(seen);
  parentPort.close();
});
