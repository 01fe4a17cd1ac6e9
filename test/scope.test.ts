// Scopes (src/heap/scope.ts): what dispose frees, keep and pin, nesting and
// disposal out of order, misuse (typed errors, heap unchanged), and a
// seeded model-based test of heap.alloc/free, scopes and handles together.
//
// OFFHEAP_SCOPE_MODEL_OPS sets how many model commands to run (default
// 30,000); OFFHEAP_SEED replays a run (each round prints its seed).

import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { DisposedError, DoubleFreeError, Heap, HeapScope, InvalidAddressError, OffheapTypeError, OutOfMemoryError } from "../src/index.js";
import type { HeapHandle } from "../src/index.js";
import { expectError, expectRejected, rootsOf } from "./helpers.js";

const MAX_SIZE = 1 << 20;
const MODEL_OPS = Number(process.env.OFFHEAP_SCOPE_MODEL_OPS ?? 30_000);
const BASE_SEED = Number(process.env.OFFHEAP_SEED ?? (Date.now() ^ (Math.random() * 2 ** 31)) >>> 0);

const newHeap = (): Heap => new Heap({ initialSize: 64 << 10, maxSize: MAX_SIZE });
const live = (heap: Heap): number => heap.stats().liveBlocks;

test("scope: dispose frees what the scope allocated, except kept and pinned blocks", () => {
  const heap = newHeap();
  const outside = heap.alloc(40);
  let kept = 0;
  let pinnedOwn = 0;
  {
    using scope = heap.scope();
    assert.ok(scope instanceof HeapScope);
    for (let i = 0; i < 200; i++) scope.alloc(i * 3); // past the first records array (64)
    const zeroed = scope.calloc(300);
    assert.ok(heap.u8.subarray(zeroed, zeroed + heap.sizeOf(zeroed)).every((b) => b === 0));
    kept = scope.alloc(16);
    heap.u32[kept >>> 2] = 0xfeed;
    scope.keep(kept);
    pinnedOwn = scope.alloc(24);
    scope.pin(pinnedOwn);
    scope.pin(outside);
    assert.equal(live(heap), 1 + 200 + 1 + 1 + 1);
    assert.deepEqual(rootsOf(heap), [pinnedOwn, outside].sort((a, b) => a - b));
  }
  assert.equal(live(heap), 3, "outside, kept and the pinned own block are live");
  assert.equal(heap.u32[kept >>> 2], 0xfeed);
  assert.deepEqual(rootsOf(heap), [], "pins end with the scope");
  heap.check();
  for (const a of [outside, kept, pinnedOwn]) heap.free(a);
  assert.equal(live(heap), 0);
});

test("scope: keep unpins a pinned block and takes an allocation out; each record once", () => {
  const heap = newHeap();
  const scope = heap.scope();
  const a = scope.alloc(8);
  const b = heap.alloc(8);
  scope.pin(b);
  scope.pin(b);
  scope.keep(b); // removes both pins
  assert.deepEqual(rootsOf(heap), []);
  expectRejected(heap, () => scope.keep(b), InvalidAddressError, "ERR_OFFHEAP_INVALID_ADDRESS", "HeapScope.keep", "is not a block this scope holds");
  scope.pin(a);
  scope.keep(a); // its allocation record and its pin
  expectRejected(heap, () => scope.keep(a), InvalidAddressError, "ERR_OFFHEAP_INVALID_ADDRESS");
  scope.dispose();
  assert.equal(live(heap), 2);
  heap.free(a);
  heap.free(b);
  heap.check();
});

test("scope: nesting, currentScope, and disposal out of order", () => {
  const heap = newHeap();
  assert.equal(heap.currentScope, null);
  const outer = heap.scope();
  const middle = heap.scope();
  const inner = heap.scope();
  assert.equal(heap.currentScope, inner);
  outer.alloc(8);
  middle.alloc(8);
  inner.alloc(8);
  middle.dispose(); // not the innermost
  assert.equal(heap.currentScope, inner);
  assert.equal(live(heap), 2);
  inner.dispose();
  assert.equal(heap.currentScope, outer);
  const again = heap.scope(); // reuses a pooled records array
  assert.equal(heap.currentScope, again);
  again.alloc(1);
  outer.dispose();
  assert.equal(heap.currentScope, again);
  again.dispose();
  assert.equal(heap.currentScope, null);
  assert.equal(live(heap), 0);
  heap.check();
});

test("scope: a disposed scope throws DisposedError for every use but dispose", () => {
  const heap = newHeap();
  const scope = heap.scope();
  const a = scope.alloc(8);
  scope.dispose();
  assert.equal(scope.disposed, true);
  scope.dispose(); // does nothing
  scope[Symbol.dispose]();
  const b = heap.alloc(8);
  for (const use of [() => scope.alloc(8), () => scope.calloc(8), () => scope.keep(a), () => scope.pin(b), () => scope.realloc(a, 16)]) {
    expectRejected(heap, use, DisposedError, "ERR_OFFHEAP_DISPOSED", "the scope was disposed");
  }
  assert.equal(live(heap), 1);
});

test("scope: bad input throws typed errors and changes nothing", () => {
  const heap = newHeap();
  using scope = heap.scope();
  const a = scope.alloc(64);
  const freed = heap.alloc(64);
  heap.free(freed);
  const before = heap.stats();
  for (const bad of [a + 8, freed, 3, 1.5, -8, 2 ** 40, 0]) {
    expectRejected(heap, () => scope.pin(bad), InvalidAddressError, "ERR_OFFHEAP_INVALID_ADDRESS", "HeapScope.pin");
    expectRejected(heap, () => scope.keep(bad), InvalidAddressError, "ERR_OFFHEAP_INVALID_ADDRESS", "HeapScope.keep");
  }
  expectRejected(heap, () => scope.pin("8" as unknown as number), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE", "HeapScope.pin");
  expectRejected(heap, () => scope.keep("8" as unknown as number), InvalidAddressError, "ERR_OFFHEAP_INVALID_ADDRESS", "a string");

  expectRejected(heap, () => scope.alloc(-1), RangeError, "ERR_OFFHEAP_OUT_OF_RANGE");
  expectRejected(heap, () => scope.calloc(1.5), RangeError, "ERR_OFFHEAP_OUT_OF_RANGE");
  assert.throws(() => scope.alloc(2 * MAX_SIZE), (e) => e instanceof OutOfMemoryError || e instanceof RangeError);
  assert.deepEqual(rootsOf(heap), []);
  const after = heap.stats();
  assert.equal(after.liveBlocks, before.liveBlocks);
  assert.equal(after.allocs, before.allocs);
  const other = heap.alloc(64);
  for (const bad of [other, a + 8, freed, 0]) {
    expectRejected(heap, () => scope.realloc(bad, 128), InvalidAddressError, "ERR_OFFHEAP_INVALID_ADDRESS", "HeapScope.realloc");
  }
  heap.free(other);
  expectRejected(heap, () => scope.realloc("8" as unknown as number, 128), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE", "HeapScope.realloc");
  expectRejected(heap, () => scope.realloc(a, -1), RangeError, "ERR_OFFHEAP_OUT_OF_RANGE");
  scope.dispose();
  assert.equal(live(heap), 0, "the failed allocations left nothing recorded");
});

test("scope: a block freed behind the scope's back: dispose frees the rest, then throws DoubleFreeError", () => {
  for (const debug of [false, true]) {
    const heap = new Heap({ initialSize: 64 << 10, maxSize: MAX_SIZE, debug });
    const scope = heap.scope();
    const blocks = Array.from({ length: 10 }, (_, i) => scope.alloc(8 + i * 100));
    heap.free(blocks[3]!);
    heap.free(blocks[7]!);
    // Newest first: the first error is block 7's.
    expectError(() => scope.dispose(), DoubleFreeError, "ERR_OFFHEAP_DOUBLE_FREE", "Heap.free", `0x${blocks[7]!.toString(16)}`);
    assert.equal(scope.disposed, true);
    assert.equal(heap.currentScope, null);
    assert.equal(live(heap), 0, "the eight other blocks are freed");
    if (debug) assert.deepEqual(heap.leaks(), []);
    heap.check();
  }
});

// ---- model-based test ----------------------------------------------------

// Who frees a live block of the model: the test (heap), a scope, a handle,
// or the backstop (a handle dropped without dispose: freed when V8 decides).
type Owner = { kind: "heap" } | { kind: "scope"; scope: MScope } | { kind: "handle"; handle: HeapHandle } | { kind: "dropped" };

interface Block {
  id: number;
  addr: number;
  size: number;
  owner: Owner;
}

interface MScope {
  real: HeapScope;
  pins: number[];
}

interface Model {
  blocks: Block[]; // live, including dropped handles' blocks (which may be freed by now)
  scopes: MScope[]; // open, in the order opened
  nextId: number;
}

const patternByte = (b: Block, i: number): number => (b.id * 131 + i * 7 + 1) & 255;

function fill(heap: Heap, b: Block): void {
  for (let i = 0; i < b.size; i++) heap.u8[b.addr + i] = patternByte(b, i);
}

// Verifies bytes [from, to) of b, and its last four.
function verifyBlock(heap: Heap, b: Block, from = 0, to = b.size): void {
  for (let i = from; i < b.size; i = i + 1 === to ? Math.max(to, b.size - 4) : i + 1) {
    if (heap.u8[b.addr + i] !== patternByte(b, i)) assert.fail(`block ${b.id} at 0x${b.addr.toString(16)} (${b.size} B): byte ${i} changed`);
  }
}

const pinnedAnywhere = (m: Model, addr: number): boolean => m.scopes.some((s) => s.pins.includes(addr));

let opsRun = 0;

// After every command: check(), the live block count, the ends of every
// block (whole blocks are verified when they are freed or disposed),
// currentScope, and the roots forEachPinned reports.
function verify(m: Model, heap: Heap): void {
  heap.check();
  const dropped = m.blocks.filter((b) => b.owner.kind === "dropped").length;
  const n = live(heap);
  const sure = m.blocks.length - dropped;
  assert.ok(n >= sure && n <= m.blocks.length, `live blocks ${n}, model ${sure} (+ ${dropped} of dropped handles)`);
  for (const b of m.blocks) if (b.owner.kind !== "dropped") verifyBlock(heap, b, 0, 4);
  assert.equal(heap.currentScope, m.scopes.length === 0 ? null : m.scopes[m.scopes.length - 1]!.real);
  const want = m.scopes.flatMap((s) => s.pins);
  for (const b of m.blocks) if (b.owner.kind === "handle") want.push(b.addr);
  const got = rootsOf(heap);
  const extra = got.filter((a) => !want.includes(a));
  assert.ok(extra.every((a) => m.blocks.some((b) => b.addr === a && b.owner.kind === "dropped")), `roots ${extra} are neither pins nor open handles`);
  for (const a of want) assert.ok(got.includes(a), `root 0x${a.toString(16)} missing from forEachPinned`);
}

abstract class Cmd implements fc.Command<Model, Heap> {
  check(_m: Readonly<Model>): boolean {
    return true;
  }
  run(m: Model, heap: Heap): void {
    opsRun++;
    this.apply(m, heap);
    verify(m, heap);
  }
  abstract apply(m: Model, heap: Heap): void;
  abstract toString(): string;
}

const pickOf = <T>(xs: T[], pick: number): T => xs[pick % xs.length]!;
const manual = (m: Model): Block[] => m.blocks.filter((b) => b.owner.kind === "heap" && !pinnedAnywhere(m, b.addr));

function allocated(m: Model, heap: Heap, addr: number, size: number, owner: Owner): Block {
  const b: Block = { id: m.nextId++, addr, size, owner };
  fill(heap, b);
  m.blocks.push(b);
  return b;
}

function forget(m: Model, b: Block): void {
  m.blocks.splice(m.blocks.indexOf(b), 1);
}

class Alloc extends Cmd {
  constructor(readonly size: number, readonly scopePick: number | null) {
    super();
  }
  override check(m: Readonly<Model>): boolean {
    return this.scopePick === null || m.scopes.length > 0;
  }
  apply(m: Model, heap: Heap): void {
    const s = this.scopePick === null ? null : pickOf(m.scopes, this.scopePick);
    let addr: number;
    try {
      addr = s === null ? heap.alloc(this.size) : s.real.alloc(this.size);
    } catch (e) {
      if (e instanceof OutOfMemoryError) return;
      throw e;
    }
    allocated(m, heap, addr, this.size, s === null ? { kind: "heap" } : { kind: "scope", scope: s });
  }
  toString(): string {
    return this.scopePick === null ? `alloc(${this.size})` : `scope#${this.scopePick}.alloc(${this.size})`;
  }
}

class Free extends Cmd {
  constructor(readonly pick: number) {
    super();
  }
  override check(m: Readonly<Model>): boolean {
    return manual(m as Model).length > 0;
  }
  apply(m: Model, heap: Heap): void {
    const b = pickOf(manual(m), this.pick);
    verifyBlock(heap, b);
    heap.free(b.addr);
    forget(m, b);
  }
  toString(): string {
    return `free(#${this.pick})`;
  }
}

class Open extends Cmd {
  apply(m: Model, heap: Heap): void {
    m.scopes.push({ real: heap.scope(), pins: [] });
  }
  toString(): string {
    return "scope()";
  }
}

// keep: a block the scope allocated, or one it pinned.
class Keep extends Cmd {
  constructor(readonly scopePick: number, readonly pick: number) {
    super();
  }
  override check(m: Readonly<Model>): boolean {
    return m.scopes.length > 0;
  }
  apply(m: Model, heap: Heap): void {
    const s = pickOf(m.scopes, this.scopePick);
    const held = m.blocks.filter((b) => (b.owner.kind === "scope" && b.owner.scope === s) || s.pins.includes(b.addr));
    if (held.length === 0) {
      const other = m.blocks.find((b) => !s.pins.includes(b.addr));
      if (other !== undefined) expectRejected(heap, () => s.real.keep(other.addr), InvalidAddressError, "ERR_OFFHEAP_INVALID_ADDRESS");
      return;
    }
    const b = pickOf(held, this.pick);
    s.real.keep(b.addr);
    s.pins = s.pins.filter((a) => a !== b.addr);
    if (b.owner.kind === "scope" && b.owner.scope === s) b.owner = { kind: "heap" };
  }
  toString(): string {
    return `scope#${this.scopePick}.keep(#${this.pick})`;
  }
}

// pin: a block the test frees by hand (not while pinned), or the scope's own.
class Pin extends Cmd {
  constructor(readonly scopePick: number, readonly pick: number) {
    super();
  }
  override check(m: Readonly<Model>): boolean {
    return m.scopes.length > 0;
  }
  apply(m: Model, heap: Heap): void {
    const s = pickOf(m.scopes, this.scopePick);
    const can = m.blocks.filter((b) => b.owner.kind === "heap" || (b.owner.kind === "scope" && b.owner.scope === s));
    if (can.length === 0) return;
    const b = pickOf(can, this.pick);
    s.real.pin(b.addr);
    s.pins.push(b.addr);
  }
  toString(): string {
    return `scope#${this.scopePick}.pin(#${this.pick})`;
  }
}

class Dispose extends Cmd {
  constructor(readonly scopePick: number) {
    super();
  }
  override check(m: Readonly<Model>): boolean {
    return m.scopes.length > 0;
  }
  apply(m: Model, heap: Heap): void {
    const s = pickOf(m.scopes, this.scopePick);
    for (const b of m.blocks.filter((x) => x.owner.kind === "scope" && x.owner.scope === s)) {
      verifyBlock(heap, b);
      if (s.pins.includes(b.addr)) b.owner = { kind: "heap" };
      else forget(m, b);
    }
    s.real.dispose();
    m.scopes.splice(m.scopes.indexOf(s), 1);
  }
  toString(): string {
    return `scope#${this.scopePick}.dispose()`;
  }
}

// Blocks a handle may take over: the test's and the scopes' own, unpinned.
const handleable = (m: Model): Block[] => m.blocks.filter((b) => (b.owner.kind === "heap" || b.owner.kind === "scope") && !pinnedAnywhere(m, b.addr));

// A handle to a block the test frees by hand or a scope allocated: the handle takes it over.
class Handle extends Cmd {
  constructor(readonly pick: number) {
    super();
  }
  override check(m: Readonly<Model>): boolean {
    return handleable(m as Model).length > 0;
  }
  apply(m: Model, heap: Heap): void {
    const b = pickOf(handleable(m), this.pick);
    const h = heap.handle(b.addr);
    assert.equal(h.addr, b.addr);
    expectRejected(heap, () => heap.handle(b.addr), InvalidAddressError, "ERR_OFFHEAP_INVALID_ADDRESS", "has an open handle already");
    b.owner = { kind: "handle", handle: h };
  }
  toString(): string {
    return `handle(#${this.pick})`;
  }
}

// Disposes a handle, or drops it without dispose (the backstop's case).
class EndHandle extends Cmd {
  constructor(readonly pick: number, readonly drop: boolean) {
    super();
  }
  override check(m: Readonly<Model>): boolean {
    return m.blocks.some((b) => b.owner.kind === "handle");
  }
  apply(m: Model, heap: Heap): void {
    const b = pickOf(m.blocks.filter((x) => x.owner.kind === "handle"), this.pick);
    if (this.drop) {
      b.owner = { kind: "dropped" };
      return;
    }
    const h = (b.owner as { handle: HeapHandle }).handle;
    verifyBlock(heap, b);
    h.dispose();
    assert.throws(() => h.addr, DisposedError);
    forget(m, b);
  }
  toString(): string {
    return `${this.drop ? "drop" : "dispose"}Handle(#${this.pick})`;
  }
}

// Resizes a block: heap.realloc of the test's and handles' blocks (the handle follows), scope.realloc of a scope's.
class Realloc extends Cmd {
  constructor(readonly pick: number, readonly size: number) {
    super();
  }
  override check(m: Readonly<Model>): boolean {
    return m.blocks.some((b) => b.owner.kind !== "dropped" && !pinnedAnywhere(m as Model, b.addr));
  }
  apply(m: Model, heap: Heap): void {
    const b = pickOf(m.blocks.filter((x) => x.owner.kind !== "dropped" && !pinnedAnywhere(m, x.addr)), this.pick);
    let addr: number;
    try {
      addr = b.owner.kind === "scope" ? b.owner.scope.real.realloc(b.addr, this.size) : heap.realloc(b.addr, this.size);
    } catch (e) {
      if (e instanceof OutOfMemoryError) return;
      throw e;
    }
    b.addr = addr;
    for (let i = 0; i < Math.min(b.size, this.size); i++) {
      if (heap.u8[addr + i] !== patternByte(b, i)) assert.fail(`realloc of block ${b.id} to ${this.size} B: byte ${i} of the kept prefix changed`);
    }
    if (b.owner.kind === "handle") assert.equal(b.owner.handle.addr, addr, "the handle follows its block");
    b.size = this.size;
    fill(heap, b);
  }
  toString(): string {
    return `realloc(#${this.pick}, ${this.size})`;
  }
}

const size = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 0, max: 256 }) },
  { weight: 2, arbitrary: fc.integer({ min: 257, max: 40_000 }) },
);
const pick = fc.nat({ max: 1 << 20 });
const commands = [
  fc.oneof(
    { weight: 10, arbitrary: size.map((s) => new Alloc(s, null)) },
    { weight: 10, arbitrary: pick.map((p) => new Free(p)) },
    { weight: 4, arbitrary: fc.constant(new Open()) },
    { weight: 20, arbitrary: fc.tuple(size, pick).map(([s, p]) => new Alloc(s, p)) },
    { weight: 4, arbitrary: fc.tuple(pick, pick).map(([s, p]) => new Keep(s, p)) },
    { weight: 3, arbitrary: fc.tuple(pick, pick).map(([s, p]) => new Pin(s, p)) },
    { weight: 4, arbitrary: pick.map((s) => new Dispose(s)) },
    { weight: 3, arbitrary: pick.map((p) => new Handle(p)) },
    { weight: 4, arbitrary: fc.tuple(pick, size).map(([p, s]) => new Realloc(p, s)) },
    { weight: 3, arbitrary: fc.tuple(pick, fc.integer({ min: 0, max: 3 })).map(([p, d]) => new EndHandle(p, d === 0)) },
  ),
];

test(`scope model: ${MODEL_OPS} random heap, scope and handle operations against a model`, { timeout: 20 * 60_000 }, () => {
  let round = 0;
  const ops = (): number => opsRun;
  while (ops() < MODEL_OPS) {
    const seed = (BASE_SEED + round++) >>> 0;
    console.log(`scope model round ${round}: seed ${seed} (replay: OFFHEAP_SEED=${BASE_SEED} OFFHEAP_SCOPE_MODEL_OPS=${MODEL_OPS}), ${ops()} ops so far`);
    fc.assert(
      fc.property(fc.commands(commands, { maxCommands: 500, size: "max" }), (cmds) => {
        fc.modelRun(() => ({ model: { blocks: [], scopes: [], nextId: 1 } as Model, real: newHeap() }), cmds);
      }),
      { seed, numRuns: 20 },
    );
  }
  console.log(`scope model: ${ops()} operations checked`);
  assert.ok(ops() >= MODEL_OPS);
});
