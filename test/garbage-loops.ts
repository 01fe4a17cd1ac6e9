// The loops of js-garbage.test.ts, each a few million of the calls a
// program makes per block. Run as a script with a loop's name, it runs it
// once to warm up, then once counting V8's collections, and prints the count.

import { PerformanceObserver } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { Heap } from "../src/index.js";
import { Collector, defineStruct, OffHeapArray, OffHeapMap } from "../src/collections/index.js";
import { BuddyAllocator } from "../src/buffers/index.js";

const OPS = 2_000_000;

const Node = defineStruct({ left: "ref", right: "ref", value: "u32" });

// 2 GiB ranges: the size checks compare with a maxSize past V8's small integers.
const heap = (): Heap => new Heap({ maxSize: 2 ** 31 });

/** Each makes its heap and returns the loop to run. */
export const LOOPS: Record<string, () => () => void> = {
  "Heap.calloc and free": () => {
    const h = heap();
    return () => {
      for (let i = 0; i < OPS; i++) h.free(h.calloc(12 + (i & 7)));
    };
  },
  "Heap.realloc in and across classes": () => {
    const h = heap();
    let p = h.alloc(8);
    return () => {
      for (let i = 0; i < OPS; i++) p = h.realloc(p, 8 + (i & 31));
    };
  },
  "Type.alloc and Type.free": () => {
    const h = heap();
    return () => {
      for (let i = 0; i < OPS; i++) Node.free(h, Node.alloc(h));
    };
  },
  "Collector.alloc and a cursor's setters": () => {
    const h = heap();
    const gc = new Collector(h, { minBytes: 2 ** 30 }); // no cycle: this counts the mutator
    const cur = Node.at(h, gc.alloc(Node));
    h.setRoot("list", cur.addr);
    let prev = cur.addr;
    return () => {
      for (let i = 0; i < OPS / 2; i++) {
        const a = gc.alloc(Node);
        cur.addr = a;
        cur.value = i;
        cur.left = prev;
        prev = a;
      }
    };
  },
  "OffHeapMap set, get, has and delete (u32 keys)": () => {
    const h = heap();
    const m = new OffHeapMap(h, { key: "u32", value: "u32" });
    return () => {
      let sum = 0;
      for (let i = 0; i < OPS / 4; i++) {
        m.set(i & 4095, i);
        sum = (sum + (m.get((i * 7) & 4095) ?? 0)) | 0;
        if (m.has(i & 1023)) m.delete(i & 1023);
      }
      if (sum === 0.5) throw new Error("unreachable: keeps sum");
    };
  },
  "HeapScope.alloc, 1,000 blocks a scope": () => {
    const h = heap();
    return () => {
      for (let i = 0; i < OPS / 1000; i++) {
        const scope = h.scope();
        for (let j = 0; j < 1000; j++) scope.alloc(8 + (j & 63));
        scope[Symbol.dispose]();
      }
    };
  },
  "BuddyAllocator alloc and free": () => {
    const b = new BuddyAllocator({ units: 1 << 16 });
    return () => {
      for (let i = 0; i < OPS; i++) b.free(b.alloc(1 + (i & 15)));
    };
  },
  "OffHeapArray push, get, set and pop": () => {
    const h = heap();
    const a = new OffHeapArray(h, "u32");
    return () => {
      for (let i = 0; i < OPS / 4; i++) {
        a.push(i);
        a.set(a.length - 1, a.get(a.length >>> 1) + 1);
        if ((i & 1023) === 1023) while (a.length > 0) a.pop();
      }
    };
  },
};

/** V8 collections while `loop` runs, after one uncounted run. */
export async function collectionsDuring(loop: () => void): Promise<number> {
  loop();
  let n = 0;
  const observer = new PerformanceObserver((list) => (n += list.getEntries().length));
  observer.observe({ entryTypes: ["gc"] });
  await new Promise((resolve) => setImmediate(resolve));
  n = 0;
  loop();
  await new Promise((resolve) => setTimeout(resolve, 20)); // entries are delivered after a turn
  observer.disconnect();
  return n;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const make = LOOPS[process.argv[2]!];
  if (make === undefined) throw new Error(`garbage-loops: no loop "${process.argv[2]}"; one of ${Object.keys(LOOPS).join(", ")}`);
  console.log(JSON.stringify({ collections: await collectionsDuring(make()) }));
}
