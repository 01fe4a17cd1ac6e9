// A worker of test/threads.test.ts that receives one shared heap as more
// than one memory object: structured cloning makes a new object over the
// same bytes for each message (and for workerData). workerData.mode:
//   "twice"   attaches through workerData.memory and through the memory of
//             the first message, fills blocks through both Heaps, detaches
//             the second, then verifies and frees every block through the
//             first and checks the heap; posts { blocks }.
//   "echo"    posts back every memory it is sent.
//   "each"    attaches to every memory it is sent, never detaching (a
//             handler that drops its Heap), allocates and frees a block;
//             collects garbage before every other attach; posts { attached } for each.
//   "random"  from workerData.seed: attaches through the memory objects it
//             has (workerData.memory, and one more per "more" it posts and
//             the answer it gets), detaches, allocates blocks through one
//             Heap and verifies and frees them through another, 400 steps;
//             then frees the rest, detaches all and posts { objects, steps }.
import { parentPort, workerData } from "node:worker_threads";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { Heap } from "../../dist/index.js";
import { randInt, rng, verifyPattern, writePattern } from "./common.mjs";

const { mode } = workerData;
if (mode === "echo") {
  parentPort.on("message", (m) => parentPort.postMessage(m));
} else if (mode === "each") {
  setFlagsFromString("--expose-gc"); // a worker refuses it in execArgv
  const gc = runInNewContext("gc");
  let attached = 0;
  parentPort.on("message", ({ memory }) => {
    if (attached % 2 === 1) gc(); // the last Heap goes: its slot is an orphan; else it is still listed
    const heap = Heap.attach(memory);
    heap.free(heap.alloc(24));
    attached++;
    parentPort.postMessage({ attached });
  });
} else if (mode === "random") {
  const next = rng(workerData.seed);
  const objects = [workerData.memory];
  const heaps = [Heap.attach(workerData.memory)];
  const blocks = [];
  const any = (xs) => xs[randInt(next, 0, xs.length - 1)];
  for (let step = 0; step < 400; step++) {
    const r = randInt(next, 0, 9);
    if (r === 0) {
      parentPort.postMessage("more");
      objects.push(await new Promise((done) => parentPort.once("message", (m) => done(m.memory))));
    } else if (r <= 2) {
      heaps.push(Heap.attach(any(objects)));
    } else if (r === 3 && heaps.length > 1) {
      heaps.splice(randInt(next, 0, heaps.length - 1), 1)[0].detach();
    } else {
      const heap = any(heaps);
      for (let i = 0; i < 50; i++) {
        const size = randInt(next, 8, 600);
        const a = heap.alloc(size);
        writePattern(heap, a, size);
        blocks.push(a);
      }
      for (let i = 0; i < 40; i++) {
        const heap = any(heaps);
        const a = blocks.splice(randInt(next, 0, blocks.length - 1), 1)[0];
        verifyPattern(heap, a, `step ${step}`);
        heap.free(a);
      }
    }
  }
  for (const a of blocks) heaps[0].free(a);
  for (const heap of heaps.slice(1)) heap.detach();
  heaps[0].check();
  heaps[0].detach();
  parentPort.postMessage({ objects: objects.length, steps: 400 });
} else {
  const first = Heap.attach(workerData.memory);
  const { memory } = await new Promise((done) => parentPort.once("message", done));
  if (memory === workerData.memory) throw new Error("the message carried the workerData object itself; the test needs two objects");
  const second = Heap.attach(memory);
  const blocks = [];
  for (let i = 0; i < 200; i++) {
    for (const heap of [first, second]) {
      const size = 8 + ((i * 37) % 300);
      const a = heap.alloc(size);
      writePattern(heap, a, size);
      blocks.push(a);
    }
  }
  for (let i = 0; i < 50; i++) second.free(second.alloc(24)); // second's cache holds blocks when it detaches
  second.detach();
  for (let i = 0; i < 1000; i++) first.free(first.alloc(8 + (i % 300)));
  for (const a of blocks) {
    verifyPattern(first, a, "a block after the second Heap detached");
    first.free(a);
  }
  first.check();
  parentPort.postMessage({ blocks: blocks.length });
  first.detach();
}
