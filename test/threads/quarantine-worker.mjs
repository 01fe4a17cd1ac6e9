// A worker of test/threads.test.ts in debug mode: allocates `count` blocks of
// 40,000 bytes, frees them into its quarantine and posts { blocks }. Then,
// for each "verify" message, checks that they still wait in its quarantine
// (a second free is a DoubleFreeError naming it, and the heap's check finds
// no write after free) and posts { ok, error }. It never detaches: the test
// terminates it, and releaseThread must then release its quarantine.
import { parentPort, workerData } from "node:worker_threads";
import { Heap } from "../../dist/index.js";

const heap = Heap.attach(workerData.memory, { debug: { quarantineBytes: 64 << 20 } });
const blocks = [];
for (let i = 0; i < workerData.count; i++) blocks.push(heap.alloc(40_000));
for (const b of blocks) heap.free(b);
parentPort.postMessage({ blocks });
parentPort.on("message", () => {
  let error = null;
  try {
    for (const b of blocks) {
      try {
        heap.free(b);
        error = `free(${b}) succeeded: the block had left the quarantine`;
        break;
      } catch (e) {
        if (e?.name !== "DoubleFreeError" || !/quarantine/.test(e.message)) throw e;
      }
    }
    heap.check();
  } catch (e) {
    error = `${e?.name}: ${e?.message}`;
  }
  parentPort.postMessage({ ok: error === null, error });
});
