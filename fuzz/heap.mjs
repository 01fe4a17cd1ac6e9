// Heap programs (see run.mjs): alloc, calloc, realloc, free, strings, byte
// views, sizeOf, trim, handles (dispose frees; free refuses the block, realloc
// moves the handle) and attach to a copy, on every kind of backing memory,
// with a pattern in every live block, check() after every step, and
// deliberate misuse that must throw its typed error and leave every byte of
// the image as it was. The debug variant adds writes past the requested size
// and writes after free, which must be reported as HeapCorruptionError.
import {
  DoubleFreeError, Heap, HeapCorruptionError, InvalidAddressError, InvalidImageError, MAX_SMALL_SIZE, OffheapRangeError,
  OffheapTypeError, OutOfMemoryError,
} from "offheap";
import { CODES, checkPattern, checkWindows, ensure, FuzzFailure, fillPattern, hex, imageOf, sameImage } from "./lib.mjs";

const MIB = 1 << 20;
const { RANGE, TYPE, DOUBLE, INVALID, CORRUPT, IMAGE } = CODES;
const STRINGS = ["", "a", "hello", "héllo wörld", "日本語のテキスト", "emoji 🎉🚀", "x".repeat(300), "ü".repeat(5000)];

/** Runs one heap program of `steps` steps; `debug` makes it a debug-mode heap with overflow and use-after-free faults. */
export function heapProgram(p, steps, { debug }) {
  const maxSize = p.pick([2, 4, 8, 16]) * MIB;
  const kind = p.pick(["wasm", "resizable", "arraybuffer", "sab"]);
  const memory = kind === "arraybuffer" ? new ArrayBuffer(maxSize) : kind === "sab" ? new SharedArrayBuffer(maxSize) : kind;
  const quarantineBytes = p.pick([64 * 1024, 1 * MIB, 4 * MIB]);
  const debugOption = debug ? p.pick([true, { stacks: 16, quarantineBytes }, { stacks: false, quarantineBytes }]) : false;
  const profile = p.chance(0.3) ? { sampleInterval: p.pick([64, 4096, 65536]) } : false;
  const heap = new Heap({ maxSize, initialSize: p.int(0, 512) * 1024, memory, debug: debugOption, profile, growAt: p.chance(0.3) ? p.pick([0.5, 0.8]) : undefined });
  const quarantine = debugOption === true ? 4 * MIB : debug ? quarantineBytes : 0;
  p.note = `${kind} memory, maxSize ${maxSize >> 20} MiB${debug ? `, debug ${JSON.stringify(debugOption)}` : ""}${profile ? `, profile ${JSON.stringify(profile)}` : ""}`;

  const blocks = new Map(); // addr -> { id, size, str } (str: a string block's text, else null)
  const handles = new Map(); // addr -> the HeapHandle that owns the block
  let starts = []; // live block addresses, sorted
  const freed = []; // recently freed addresses, for stale frees
  let nextId = 1;
  const largest = Math.min(maxSize / 4, 1 * MIB);

  // The bytes a block's owner may use: its usable size (in debug mode, what it requested).
  const usable = (addr) => (debug ? blocks.get(addr).size : heap.sizeOf(addr));
  const extent = (addr) => Math.max(8, usable(addr));
  const insertStart = (addr) => {
    let lo = 0;
    let hi = starts.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (starts[mid] < addr) lo = mid + 1;
      else hi = mid;
    }
    const prev = starts[lo - 1];
    ensure(prev === undefined || prev + extent(prev) <= addr, () => `new block ${hex(addr)} overlaps the live block at ${hex(prev)}`);
    const next = starts[lo];
    ensure(next === undefined || addr + extent(addr) <= next, () => `new block ${hex(addr)} overlaps the live block at ${hex(next)}`);
    starts.splice(lo, 0, addr);
  };
  // The live block containing addr, or undefined.
  const containing = (addr) => starts.find((a) => addr >= a && addr < a + extent(a));

  const verify = (addr) => {
    const b = blocks.get(addr);
    if (b.str !== null) {
      ensure(heap.readString(addr) === b.str, () => `string block ${hex(addr)} no longer reads back its text`);
      return;
    }
    checkWindows(heap.u8, addr, b.size, b.id, `block ${hex(addr)} (#${b.id}, ${b.size} B)`, 0, (lo, hi) => p.int(lo, hi));
  };
  const verifyAll = () => {
    for (const a of blocks.keys()) verify(a);
  };
  const add = (addr, size, str = null) => {
    ensure(Number.isInteger(addr) && addr > 0 && addr % 8 === 0, () => `returned ${addr}, not an 8-aligned address`);
    ensure(!blocks.has(addr), () => `returned ${hex(addr)}, which is live already`);
    const id = nextId++;
    blocks.set(addr, { id, size, str });
    insertStart(addr);
    if (str === null) fillPattern(heap.u8, addr, size, id);
  };
  const remove = (addr) => {
    blocks.delete(addr);
    starts.splice(starts.indexOf(addr), 1);
    freed.push(addr);
    if (freed.length > 32) freed.shift();
  };
  // A random live block (not a string's when raw; not one with an open handle unless handled).
  const randomBlock = (raw = false, handled = false) => {
    if (starts.length === 0) return 0;
    const a = starts[p.int(0, starts.length - 1)];
    return (raw && blocks.get(a).str !== null) || (!handled && handles.has(a)) ? 0 : a;
  };
  // Runs an allocating call; an OutOfMemoryError is expected near maxSize and must lose nothing.
  const tryAlloc = (fn) => {
    try {
      return fn();
    } catch (e) {
      if (!(e instanceof OutOfMemoryError)) throw e;
      p.event("heap: out of memory (expected)");
      verifyAll();
      return 0;
    }
  };
  const unchanged = (before) => (kind) => {
    sameImage(before, heap.buffer, `misuse "${kind}"`);
    heap.check();
  };
  const misuse = (kind, fn, type, code, alternatives) => {
    const before = imageOf(heap.buffer);
    p.misuse(kind, fn, type, code, unchanged(before), alternatives);
  };
  const bigSize = () => (p.chance(0.9) ? p.size(256, 8192) : p.int(MAX_SMALL_SIZE + 1, largest));

  const ops = [
    [30, "alloc", () => {
      const n = bigSize();
      const a = tryAlloc(() => heap.alloc(n));
      if (a !== 0) add(a, n);
    }],
    [5, "calloc", () => {
      const n = bigSize();
      const a = tryAlloc(() => heap.calloc(n));
      if (a === 0) return;
      const u8 = heap.u8;
      const span = debug ? n : heap.sizeOf(a);
      for (let i = 0; i < span; i++) if (u8[a + i] !== 0) throw new FuzzFailure(`calloc(${n}) = ${hex(a)}: byte ${i} is ${u8[a + i]}, not 0`);
      add(a, n);
    }],
    [() => (blocks.size > 150 ? 40 : 22), "free", () => {
      const a = randomBlock();
      if (a === 0) return;
      verify(a);
      if (blocks.get(a).str !== null && p.chance(0.5)) heap.freeString(a);
      else heap.free(a);
      remove(a);
    }],
    [10, "realloc", () => {
      const a = randomBlock(true, true);
      if (a === 0) return;
      verify(a);
      const { id, size } = blocks.get(a);
      const n = bigSize();
      const moved = tryAlloc(() => heap.realloc(a, n));
      if (moved === 0) return;
      checkPattern(heap.u8, moved, Math.min(size, n, 4096), id, `realloc(${hex(a)}, ${n}) = ${hex(moved)}: the kept prefix`);
      blocks.delete(a);
      starts.splice(starts.indexOf(a), 1);
      if (moved !== a) freed.push(a);
      add(moved, n);
      const h = handles.get(a);
      if (h === undefined) return;
      handles.delete(a);
      handles.set(moved, h);
      ensure(h.addr === moved, () => `realloc(${hex(a)}, ${n}) = ${hex(moved)}: the block's handle says ${hex(h.addr)}`);
    }],
    [4, "handle", () => {
      if (handles.size > 0 && p.chance(0.5)) {
        const [a, h] = p.pick([...handles]);
        verify(a);
        handles.delete(a);
        h.dispose();
        remove(a);
        return;
      }
      const a = randomBlock();
      if (a !== 0) handles.set(a, heap.handle(a));
    }],
    [6, "string", () => {
      const s = p.pick(STRINGS) + p.int(0, 1e6);
      const a = tryAlloc(() => heap.fromString(s));
      if (a !== 0) add(a, 4 + Buffer.byteLength(s), s);
    }],
    [5, "bytes view", () => {
      const a = randomBlock(true);
      if (a === 0) return;
      const { id, size } = blocks.get(a);
      const v = p.chance(0.5) ? heap.bytes(a) : heap.bytes(a, size);
      ensure(v.length >= size && v.byteOffset === a, () => `bytes(${hex(a)}) is ${v.length} bytes at ${hex(v.byteOffset)}`);
      for (let i = 0; i < Math.min(size, 4096); i++) v[i] = ((id * 131 + i * 7 + 1) & 255);
      verify(a);
    }],
    [3, "sizeOf", () => {
      const a = randomBlock(true);
      if (a === 0) return;
      const n = heap.sizeOf(a);
      ensure(debug ? n === blocks.get(a).size : n >= blocks.get(a).size, () => `sizeOf(${hex(a)}) = ${n} for a ${blocks.get(a).size}-byte request`);
    }],
    [2, "trim", () => {
      heap.trim();
      verifyAll();
    }],
    [debug ? 0 : 1, "attach a copy", () => attachCopy()],
    [profile ? 2 : 0, "profile", () => checkProfile()],
    [2, "stats", () => {
      const s = heap.stats();
      ensure(s.liveBlocks === blocks.size, () => `stats().liveBlocks is ${s.liveBlocks}, the program holds ${blocks.size}`);
    }],
    [12, "misuse", () => misuseStep()],
    [debug ? 6 : 0, "debug fault", () => debugFault()],
  ];

  // Every sample is a block the program holds, with the size it asked for.
  const checkProfile = () => {
    for (const s of heap.profile().samples) {
      const b = blocks.get(s.address);
      ensure(b !== undefined, () => `the profile has a sample at ${hex(s.address)}, which is not a live block`);
      ensure(b.str !== null || s.size === b.size, () => `the sample at ${hex(s.address)} says ${s.size} bytes; the block has ${b.size}`);
    }
  };

  // A copy of the image attached as a second heap holds every block; changing it leaves the original alone.
  const attachCopy = () => {
    const before = imageOf(heap.buffer);
    const copy = p.chance(0.5) ? new ArrayBuffer(heap.buffer.byteLength) : new SharedArrayBuffer(heap.buffer.byteLength);
    new Uint8Array(copy).set(new Uint8Array(heap.buffer));
    let other;
    try {
      other = Heap.attach(copy);
    } catch (e) {
      // A shared copy may have a Heap of this thread on it through an object
      // not listed (thread-heaps.ts), so this thread takes a slot of its own,
      // whose cache block a full heap that cannot grow has no room for: the
      // attach fails, and neither image changed.
      if (!(e instanceof OutOfMemoryError && copy instanceof SharedArrayBuffer && /no room for this thread's cache/.test(e.message))) throw e;
      sameImage(before, copy, "attach a copy that failed: the copy");
      sameImage(before, heap.buffer, "attach a copy: the original");
      return;
    }
    other.check();
    for (const [a, b] of blocks) {
      if (b.str !== null) ensure(other.readString(a) === b.str, `the attached copy lost string ${hex(a)}`);
      else checkPattern(other.u8, a, Math.min(b.size, 4096), b.id, `the attached copy's block ${hex(a)}`);
    }
    const mine = [];
    for (let i = 0; i < 20; i++) {
      try {
        mine.push(other.alloc(p.size(200, 20000)));
      } catch (e) {
        if (!(e instanceof OutOfMemoryError)) throw e;
      }
    }
    for (const a of starts.filter(() => p.chance(0.2))) other.free(a);
    for (const a of mine) other.free(a);
    other.check();
    sameImage(before, heap.buffer, "attach a copy: the original");
  };

  const misuseStep = () => {
    const a = randomBlock();
    const raw = a !== 0 && blocks.get(a).str === null ? a : 0;
    const choice = p.int(0, 15);
    if (choice === 0 && raw !== 0) {
      verify(raw);
      const size = heap.sizeOf(raw);
      heap.free(raw);
      remove(raw);
      // A freed small object stays in its span: DoubleFreeError; a large block's pages are free
      // pages: InvalidAddressError. Debug mode holds a freed block in its quarantine (DoubleFreeError)
      // unless the block alone is larger than the quarantine, and adds 16 bytes to every block.
      // The profiler gives a sampled small block pages of its own: then it is a large block.
      if (profile && !debug) misuse("heap: double free", () => heap.free(raw), DoubleFreeError, DOUBLE, [[InvalidAddressError, INVALID]]);
      else if (size <= MAX_SMALL_SIZE - (debug ? 16 : 0)) misuse("heap: double free", () => heap.free(raw), DoubleFreeError, DOUBLE);
      else if (debug) misuse("heap: double free", () => heap.free(raw), DoubleFreeError, DOUBLE, [[InvalidAddressError, INVALID]]);
      else misuse("heap: double free", () => heap.free(raw), InvalidAddressError, INVALID);
    } else if (choice === 1 && raw !== 0 && heap.sizeOf(raw) >= 16) {
      misuse("heap: free of an interior address", () => heap.free(raw + 8 * p.int(1, Math.floor((heap.sizeOf(raw) - 1) / 8))), InvalidAddressError, INVALID);
    } else if (choice === 2 && raw !== 0) {
      misuse("heap: free of an unaligned address", () => heap.free(raw + p.int(1, 7)), InvalidAddressError, INVALID);
    } else if (choice === 3) {
      const bad = p.pick([8, 4096, 20000, heap.buffer.byteLength + 8, 2 ** 33, -8, 1.5, NaN, Infinity]);
      misuse("heap: free of a foreign address", () => heap.free(bad), InvalidAddressError, INVALID);
    } else if (choice === 4) {
      const bad = p.pick(["16", null, undefined, {}, [8]]);
      misuse("heap: free of a non-number", () => heap.free(bad), OffheapTypeError, TYPE);
    } else if (choice === 5 && freed.length > 0) {
      const old = p.pick(freed);
      if (blocks.has(old) || containing(old) !== undefined) return;
      misuse("heap: free of a stale address", () => heap.free(old), DoubleFreeError, DOUBLE, [[InvalidAddressError, INVALID]]);
    } else if (choice === 6 && freed.length > 0) {
      const old = p.pick(freed);
      if (blocks.has(old) || containing(old) !== undefined) return;
      misuse("heap: realloc of a stale address", () => heap.realloc(old, 64), DoubleFreeError, DOUBLE, [[InvalidAddressError, INVALID]]);
    } else if (choice === 7) {
      const [bad, type, code] = p.pick([[-1, OffheapRangeError, RANGE], [1.5, OffheapRangeError, RANGE], [NaN, OffheapRangeError, RANGE],
        [2 ** 53, OffheapRangeError, RANGE], [maxSize * 2, OffheapRangeError, RANGE], ["8", OffheapTypeError, TYPE], [null, OffheapTypeError, TYPE]]);
      const call = p.pick(["alloc", "calloc", "realloc"]);
      misuse(`heap: ${call} of a bad size`, () => (call === "realloc" ? heap.realloc(raw, bad) : heap[call](bad)), type, code);
    } else if (choice === 8 && raw !== 0) {
      const n = p.chance(0.5) ? usable(raw) + p.int(1, 64) : -1;
      misuse("heap: bytes() past the block", () => heap.bytes(raw, n), OffheapRangeError, RANGE);
    } else if (choice === 9 && raw !== 0 && heap.sizeOf(raw) >= 16) {
      misuse("heap: sizeOf of an interior address", () => heap.sizeOf(raw + 8), InvalidAddressError, INVALID);
    } else if (choice === 10 && raw !== 0 && !debug) {
      const len = heap.u32[raw >>> 2];
      if (4 + len > heap.sizeOf(raw)) misuse("heap: readString of a block without a string", () => heap.readString(raw), InvalidAddressError, INVALID);
    } else if (choice === 11) {
      misuse("heap: fromString of a non-string", () => heap.fromString(p.pick([5, null, {}])), OffheapTypeError, TYPE);
    } else if (choice === 12 && raw !== 0 && heap.sizeOf(raw) >= 16) {
      const [name, addr, type, code] = p.pick([["x", raw + 8, InvalidAddressError, INVALID], ["", raw, OffheapRangeError, RANGE],
        [7, raw, OffheapTypeError, TYPE], ["y".repeat(300), raw, OffheapRangeError, RANGE]]);
      misuse("heap: setRoot of a bad name or address", () => heap.setRoot(name, addr), type, code);
    } else if (choice === 13) {
      const bad = p.pick([new ArrayBuffer(100), new ArrayBuffer(65536), new Uint8Array(imageOf(heap.buffer).subarray(0, 8192)).slice().buffer]);
      misuse("heap: attach to memory without an image", () => Heap.attach(bad), InvalidImageError, IMAGE);
    } else if (choice === 14) {
      // Out of range: OffheapRangeError; of the wrong type: OffheapTypeError.
      const [options, type, code] = p.pick([
        [{ maxSize: -1 }, OffheapRangeError, RANGE], [{ growAt: 0 }, OffheapRangeError, RANGE], [{ growBy: -5 }, OffheapRangeError, RANGE],
        [{ initialSize: "1" }, OffheapTypeError, TYPE], [{ debug: { stacks: "all" } }, OffheapTypeError, TYPE], [null, OffheapTypeError, TYPE],
      ]);
      misuse("heap: bad options", () => new Heap(options), type, code);
    } else if (choice === 15 && handles.size > 0) {
      const [a] = p.pick([...handles]);
      misuse("heap: free of a block with an open handle", () => heap.free(a), OffheapTypeError, TYPE);
    }
  };

  // Debug mode: a write past the requested size, or after free, is reported; repaired, the heap is valid again.
  const debugFault = () => {
    const a = randomBlock(true);
    if (a === 0) return;
    verify(a);
    const { size } = blocks.get(a);
    if (p.chance(0.5)) {
      const at = a + size + p.int(0, 7);
      heap.u8[at] ^= 0x5c;
      const before = imageOf(heap.buffer);
      const call = p.pick(["check", "free", "realloc"]);
      const e = p.misuse("debug: write past the requested size", () => (call === "check" ? heap.check() : call === "free" ? heap.free(a) : heap.realloc(a, size + 8)),
        HeapCorruptionError, CORRUPT, () => sameImage(before, heap.buffer, `debug: ${call} that found an overflow`));
      ensure(e.invariant === "D1" && e.message.includes(hex(a)), () => `the overflow report names ${e.invariant}: ${e.message}`);
      heap.u8[at] ^= 0x5c;
      heap.check();
    } else if (size > 0 && size + 16 <= quarantine / 4) {
      heap.free(a);
      remove(a);
      const at = a + p.int(0, size - 1);
      heap.u8[at] ^= 0x33;
      const e = p.misuse("debug: write after free", () => heap.check(), HeapCorruptionError, CORRUPT);
      ensure(e.invariant === "D2" && e.message.includes(hex(a)), () => `the use-after-free report names ${e.invariant}: ${e.message}`);
      heap.u8[at] ^= 0x33;
      heap.check();
    }
  };

  for (p.step = 0; p.step < steps; p.step++) {
    p.run(ops);
    heap.check();
    if (p.step % 16 === 0) verifyAll();
    p.counts.steps++;
  }
  p.op = "teardown";
  verifyAll();
  for (const h of handles.values()) h.dispose();
  for (const a of [...blocks.keys()]) if (!handles.has(a)) heap.free(a);
  heap.check();
}
