// A worker of test/threads.test.ts's Mutex test: `rounds` times, takes the
// mutex (lock(), its Disposable, or a tryLock() spin, by turns), increments
// the counter at `counter` with a plain read and write spread over a few
// statements, and checks that no other thread entered meanwhile through an
// owner word beside the counter.
//
// workerData: { memory, mutex (address), counter (address), rounds, id (>= 1) }.
import { workerData, parentPort } from "node:worker_threads";
import { Heap, Mutex } from "../../dist/index.js";

const { memory, mutex, counter, rounds, id } = workerData;
const heap = Heap.attach(memory);
const m = Mutex.open(heap, mutex);
const c = counter >>> 2;
let overlaps = 0;
let tryFailures = 0;

function critical() {
  const u32 = heap.u32;
  if (u32[c + 1] !== 0) overlaps++;
  u32[c + 1] = id;
  const v = u32[c];
  // Give a second thread inside the section time to interleave.
  for (let k = 0; k < (v & 7); k++) if (u32[c + 1] !== id) overlaps++;
  u32[c] = v + 1;
  if (u32[c + 1] !== id) overlaps++;
  u32[c + 1] = 0;
}

for (let i = 0; i < rounds; i++) {
  switch (i % 3) {
    case 0:
      m.lock();
      critical();
      m.unlock();
      break;
    case 1: {
      const held = m.lock();
      critical();
      held[Symbol.dispose]();
      break;
    }
    default:
      while (!m.tryLock()) tryFailures++;
      critical();
      m.unlock();
  }
}
heap.detach();
parentPort.postMessage({ overlaps, tryFailures });
