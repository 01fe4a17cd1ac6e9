// GoMem's allocator suites (WORKLOADS.md, "GoMem suites"): range allocator,
// buddy allocator, scalable allocator, recyclable memory.
//
// A suite's make(impl, lib) builds a fresh allocator and returns run(n), which
// runs the suite's body n times (n of Go's b.N iterations) and returns a sum of
// the offsets it was handed, so nothing is dead code. `impl` is "treap" or
// "avl" (range allocator), "offheap" (every other group) or "js", the in-run
// baseline: an adapter with the same method names over `new Uint8Array(n)`,
// so ours and the baseline run one and the same body. Each cell process runs
// one (suite, impl), so every call in a body stays monomorphic.

/** Where GoMem's published figures come from. */
export const GOMEM_MACHINE = "Apple M2 Pro, Go 1.23, from GoMem's README";

const KIB = 1024;
const REGION_BYTES = 1024 * KIB; // the range allocator's region
const RANGE_SIZES = [64, 128, 256, 512, 1024, 2048, 4096, 8192];
const SCALABLE_SIZES = [64, 128, 256, 512, 1024, 2048, 4096];
// GoMem's buddy: 1 KiB units (MinPowerOf2 = 10) over 512 MiB (BuddySize = 4 MiB << 7).
const BUDDY_UNIT_BYTES = 1024;
const BUDDY_UNITS = 1 << 19;
const SCALABLE_INITIAL_BYTES = 1024;

// Views handed out are stored here, so no engine can prove them unused and skip making them.
let escaped = null;

function fail(what) {
  throw new Error(`${what} failed inside a benchmark body`);
}

// ---------------------------------------------------------------------------
// Baselines: the same calls, served by new Uint8Array. An offset allocator's
// "offset" becomes a handle (a slot of a table that keeps the view alive until
// free), so a view lives exactly as long as the block it stands for.

const HANDLE_SLOTS = 256;

class JsHandles {
  constructor() {
    this.live = new Array(HANDLE_SLOTS).fill(null);
    this.freeIds = new Int32Array(HANDLE_SLOTS);
    this.nFree = 0;
    this.next = 0;
  }
  put(view) {
    const h = this.nFree > 0 ? this.freeIds[--this.nFree] : this.next++;
    this.live[h] = view;
    return h;
  }
  drop(h) {
    this.live[h] = null;
    this.freeIds[this.nFree++] = h;
  }
}

/** RangeAllocator's calls over new Uint8Array(sizeBytes). */
class JsRange {
  constructor() {
    this.handles = new JsHandles();
  }
  allocate(sizeBytes) {
    return this.handles.put(new Uint8Array(sizeBytes));
  }
  free(handle) {
    this.handles.drop(handle);
  }
}

/** BuddyAllocator's calls over new Uint8Array(nUnits × unit). */
class JsBuddy {
  constructor() {
    this.handles = new JsHandles();
  }
  alloc(nUnits) {
    return this.handles.put(new Uint8Array(nUnits * BUDDY_UNIT_BYTES));
  }
  free(handle) {
    this.handles.drop(handle);
  }
}

/** ScalableAllocator's calls over new Uint8Array: free drops the view; freeRest keeps a subarray. */
class JsScalable {
  malloc(sizeBytes) {
    return new Uint8Array(sizeBytes);
  }
  borrow(sizeBytes) {
    return new Uint8Array(sizeBytes);
  }
  free(_view) {}
  freeRest(view, keepBytes) {
    return view.subarray(0, keepBytes);
  }
}

/** RecyclableMemory's calls: nextN keeps the new view in an array, recycle empties it. */
class JsRecyclable {
  constructor() {
    this.views = [];
  }
  nextN(sizeBytes) {
    const v = new Uint8Array(sizeBytes);
    this.views.push(v);
    return v;
  }
  recycle() {
    this.views.length = 0;
  }
}

// ---------------------------------------------------------------------------
// Bodies, one per suite shape.

function rangeAllocFree(a, sizeBytes) {
  return (n) => {
    let sink = 0;
    for (let i = 0; i < n; i++) {
      const off = a.allocate(sizeBytes);
      if (off === -1) fail("allocate");
      sink += off;
      a.free(off, sizeBytes);
    }
    return sink;
  };
}

function rangeSequential(a, slots) {
  return (n) => {
    let sink = 0;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < 100; j++) {
        const off = a.allocate(1024);
        if (off === -1) fail("allocate");
        slots[j] = off;
        sink += off;
      }
      for (let j = 0; j < 100; j++) a.free(slots[j], 1024);
    }
    return sink;
  };
}

function rangeRandom(a) {
  const sizes = Int32Array.from(RANGE_SIZES);
  return (n) => {
    let sink = 0;
    for (let i = 0; i < n; i++) {
      const size = sizes[i % 8];
      const off = a.allocate(size);
      if (off === -1) fail("allocate");
      sink += off;
      a.free(off, size);
    }
    return sink;
  };
}

function buddyAllocFree(b, nUnits) {
  return (n) => {
    let sink = 0;
    for (let i = 0; i < n; i++) {
      const off = b.alloc(nUnits);
      if (off === -1) fail("alloc");
      sink += off;
      b.free(off);
    }
    return sink;
  };
}

function buddySequential(b, slots) {
  return (n) => {
    let sink = 0;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < 100; j++) {
        const off = b.alloc(1024);
        if (off === -1) fail("alloc");
        slots[j] = off;
        sink += off;
      }
      for (let j = 0; j < 100; j++) b.free(slots[j]);
    }
    return sink;
  };
}

function mallocFree(a, sizeBytes) {
  return (n) => {
    let sink = 0;
    for (let i = 0; i < n; i++) {
      const v = a.malloc(sizeBytes);
      v[0] = 1;
      escaped = v;
      sink += v.byteOffset;
      a.free(v);
    }
    return sink;
  };
}

function borrow(a, sizeBytes) {
  return (n) => {
    let sink = 0;
    for (let i = 0; i < n; i++) {
      const v = a.borrow(sizeBytes);
      v[0] = 1;
      escaped = v;
      sink += v.byteOffset;
    }
    return sink;
  };
}

function mallocSequential(a) {
  const slots = new Array(50).fill(null);
  return (n) => {
    let sink = 0;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < 50; j++) {
        const v = a.malloc(1024);
        v[0] = 1;
        slots[j] = v;
        sink += v.byteOffset;
      }
      for (let j = 0; j < 50; j++) {
        a.free(slots[j]);
        slots[j] = null;
      }
    }
    return sink;
  };
}

function mallocRandom(a) {
  const sizes = Int32Array.from(SCALABLE_SIZES);
  return (n) => {
    let sink = 0;
    for (let i = 0; i < n; i++) {
      const v = a.malloc(sizes[i % 7]);
      v[0] = 1;
      escaped = v;
      sink += v.byteOffset;
      a.free(v);
    }
    return sink;
  };
}

function freeRest(a) {
  return (n) => {
    let sink = 0;
    for (let i = 0; i < n; i++) {
      const v = a.malloc(1024);
      v[0] = 1;
      const kept = a.freeRest(v, 256);
      escaped = kept;
      sink += kept.byteOffset + kept.length;
      a.free(kept);
    }
    return sink;
  };
}

// GoMem: 100 mallocs of 1024 + 64j; when j % 3 == 0 the oldest live buffer is
// freed; then the rest are freed. `live` is GoMem's `buffers` slice as a queue.
function memoryPressure(a) {
  const live = new Array(100).fill(null);
  return (n) => {
    let sink = 0;
    for (let i = 0; i < n; i++) {
      let head = 0;
      let tail = 0;
      for (let j = 0; j < 100; j++) {
        const v = a.malloc(1024 + j * 64);
        v[0] = 1;
        sink += v.byteOffset;
        live[tail++] = v;
        if (j % 3 === 0 && tail > head) {
          a.free(live[head]);
          live[head++] = null;
        }
      }
      while (head < tail) {
        a.free(live[head]);
        live[head++] = null;
      }
    }
    return sink;
  };
}

function nextN(rm) {
  let iter = 0; // Go's i runs on across the whole benchmark
  return (n) => {
    let sink = 0;
    for (let i = 0; i < n; i++) {
      const v = rm.nextN(1024);
      v[0] = 1;
      escaped = v;
      sink += v.byteOffset;
      if (iter++ % 100 === 0) rm.recycle();
    }
    return sink;
  };
}

function batchRecycle(rm) {
  return (n) => {
    let sink = 0;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < 10; j++) {
        const v = rm.nextN(1024);
        v[0] = 1;
        sink += v.byteOffset;
      }
      rm.recycle();
    }
    return sink;
  };
}

// The same two shapes through heap.scope() (issue 13: per-request arenas):
// a scope's alloc, the byte written through heap.u8, and a dispose that
// frees the scope's blocks where recycle would, then a new scope.
function scopeNextN(heap) {
  let iter = 0;
  let scope = heap.scope();
  return (n) => {
    let sink = 0;
    for (let i = 0; i < n; i++) {
      const a = scope.alloc(1024);
      heap.u8[a] = 1;
      sink += a;
      if (iter++ % 100 === 0) {
        scope.dispose();
        scope = heap.scope();
      }
    }
    return sink;
  };
}

function scopeBatch(heap) {
  return (n) => {
    let sink = 0;
    for (let i = 0; i < n; i++) {
      const scope = heap.scope();
      for (let j = 0; j < 10; j++) {
        const a = scope.alloc(1024);
        heap.u8[a] = 1;
        sink += a;
      }
      scope.dispose();
    }
    return sink;
  };
}

// ---------------------------------------------------------------------------
// The groups.

const rangeOf = (impl, lib) => (impl === "js" ? new JsRange() : new lib.RangeAllocator(REGION_BYTES, { index: impl }));
const buddyOf = (impl, lib) => (impl === "js" ? new JsBuddy() : new lib.BuddyAllocator({ unitSize: BUDDY_UNIT_BYTES, units: BUDDY_UNITS }));
const scalableOf = (impl, lib) => (impl === "js" ? new JsScalable() : new lib.ScalableAllocator(new lib.Heap(), { initialSize: SCALABLE_INITIAL_BYTES }));
const recyclableOf = (impl, lib) => (impl === "js" ? new JsRecyclable() : new lib.RecyclableMemory(scalableOf(impl, lib)));
const slotsOf = (impl) => (impl === "js" ? new Int32Array(100) : new Float64Array(100));

const U8 = "`new Uint8Array(n)`";

/** Range allocator, buddy, scalable allocator, recyclable memory. */
export const ALLOC_GROUPS = [
  {
    id: "range",
    title: "Range allocator (1 MiB region), treap and AVL indexes",
    impls: ["treap", "avl"],
    needs: ["RangeAllocator"],
    gomemColumns: ["GoMem single tree", "GoMem two tree"],
    note: "ns per iteration of the suite's body (Go's ns/op): Allocate is one allocate + one free. JS baseline: the same body, allocate = " +
      `${U8} kept in a handle table until free.`,
    suites: [
      { name: "Allocate", gomem: [12.3, 22.7], js: true, make: (impl, lib) => rangeAllocFree(rangeOf(impl, lib), 1024) },
      { name: "AllocateSmall", gomem: [12.3, 22.6], js: true, make: (impl, lib) => rangeAllocFree(rangeOf(impl, lib), 64) },
      { name: "AllocateLarge", gomem: [12.1, 22.6], js: true, make: (impl, lib) => rangeAllocFree(rangeOf(impl, lib), 8192) },
      { name: "Sequential", gomem: [1961, 3467], js: true, make: (impl, lib) => rangeSequential(rangeOf(impl, lib), slotsOf(impl)) },
      { name: "Random", gomem: [12.5, 23.0], js: true, make: (impl, lib) => rangeRandom(rangeOf(impl, lib)) },
      {
        name: "Find",
        gomem: [3.0, 1.5],
        js: false,
        make: (impl, lib) => {
          const a = rangeOf(impl, lib);
          return (n) => {
            let sink = 0;
            for (let i = 0; i < n; i++) sink += a.find(1024);
            return sink;
          };
        },
      },
      {
        name: "GetFreeSize",
        gomem: [3.9, 4.3],
        js: false,
        make: (impl, lib) => {
          const a = rangeOf(impl, lib);
          return (n) => {
            let sink = 0;
            for (let i = 0; i < n; i++) sink += a.freeSize;
            return sink;
          };
        },
      },
    ],
  },
  {
    id: "buddy",
    title: "Buddy allocator (1 KiB units, 512 MiB)",
    impls: ["offheap"],
    needs: ["BuddyAllocator"],
    gomemColumns: ["GoMem"],
    note: "Sizes in units of 1 KiB (GoMem's unit): Alloc takes 1 MiB. GoMem's figures come from b.RunParallel (every core, one mutex); " +
      `ours and the baseline run on one thread. JS baseline: ${U8} of the same bytes, kept until free.`,
    suites: [
      { name: "Alloc", gomem: [388], js: true, make: (impl, lib) => buddyAllocFree(buddyOf(impl, lib), 1024) },
      { name: "AllocSmall", gomem: [411], js: true, make: (impl, lib) => buddyAllocFree(buddyOf(impl, lib), 64) },
      { name: "AllocLarge", gomem: [276], js: true, make: (impl, lib) => buddyAllocFree(buddyOf(impl, lib), 8192) },
      { name: "SequentialAlloc", gomem: [17997], js: true, make: (impl, lib) => buddySequential(buddyOf(impl, lib), slotsOf(impl)) },
      { name: "NonPowerOf2", gomem: [318], js: true, make: (impl, lib) => buddyAllocFree(buddyOf(impl, lib), 1000) },
    ],
  },
  {
    id: "scalable",
    title: "Scalable allocator (first region 1 KiB, over `new Heap()`)",
    impls: ["offheap"],
    needs: ["ScalableAllocator", "Heap"],
    gomemColumns: ["GoMem"],
    note: "Each malloc writes one byte to its view. JS baseline: malloc and borrow = " +
      `${U8}, free = drop the view, freeRest = \`subarray(0, keep)\`.`,
    suites: [
      { name: "Malloc", gomem: [13.2], js: true, make: (impl, lib) => mallocFree(scalableOf(impl, lib), 1024) },
      { name: "MallocSmall", gomem: [16.6], js: true, make: (impl, lib) => mallocFree(scalableOf(impl, lib), 64) },
      { name: "MallocLarge", gomem: [127506], js: true, make: (impl, lib) => mallocFree(scalableOf(impl, lib), 8192) },
      { name: "Borrow", gomem: [5.4], js: true, make: (impl, lib) => borrow(scalableOf(impl, lib), 1024) },
      { name: "SequentialAlloc", gomem: [1541], js: true, make: (impl, lib) => mallocSequential(scalableOf(impl, lib)) },
      { name: "RandomAlloc", gomem: [38625], js: true, make: (impl, lib) => mallocRandom(scalableOf(impl, lib)) },
      { name: "FreeRest", gomem: [23.3], js: true, make: (impl, lib) => freeRest(scalableOf(impl, lib)) },
      { name: "MemoryPressure", gomem: [145329], js: true, make: (impl, lib) => memoryPressure(scalableOf(impl, lib)) },
    ],
  },
  {
    id: "recyclable",
    title: "Recyclable memory (over a scalable allocator, first region 1 KiB), and heap scopes in the same shapes",
    impls: ["offheap", "scope"],
    needs: ["RecyclableMemory", "ScalableAllocator", "Heap"],
    gomemColumns: ["GoMem"],
    note: `scope: \`heap.scope()\` over \`new Heap()\`, nextN = \`scope.alloc\` and a byte written through \`heap.u8\`, recycle = ` +
      `\`scope.dispose()\` and a new scope. JS baseline: nextN = ${U8} pushed on an array, recycle = empty the array.`,
    suites: [
      { name: "NextN", gomem: [32.1], js: true, make: (impl, lib) => (impl === "scope" ? scopeNextN(new lib.Heap()) : nextN(recyclableOf(impl, lib))) },
      {
        name: "BatchRecycle", gomem: [312], js: true,
        make: (impl, lib) => (impl === "scope" ? scopeBatch(new lib.Heap()) : batchRecycle(recyclableOf(impl, lib))),
      },
    ],
  },
];

/** Keeps `escaped` observable, so a body's stores to it cannot be dropped. */
export function escapedLength() {
  return escaped === null ? 0 : escaped.length;
}
