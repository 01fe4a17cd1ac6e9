// A worker of test/threads.test.ts that attaches to the heap it is given,
// timing Heap.attach (which waits for the threads already using the heap
// to switch to the shared paths), allocates and frees a block, posts
// { attachMs }, and detaches when it receives a message, then posts "detached".
import { parentPort, workerData } from "node:worker_threads";
import { Heap } from "../../dist/index.js";

const start = performance.now();
const heap = Heap.attach(workerData.memory);
const attachMs = performance.now() - start;
heap.free(heap.alloc(8));
parentPort.postMessage({ attachMs });
parentPort.once("message", () => {
  heap.detach();
  parentPort.postMessage("detached");
});
