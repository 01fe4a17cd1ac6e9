// OffHeapMap: model-based tests against a JS Map (random sets, deletes,
// lookups, clears and re-opens on a copy of the image, through many
// incremental resizes), with map.check() and heap.check() after every step;
// then the edge cases one by one.
//
// OFFHEAP_SEED replays a run: each property prints the seed it used.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { Heap, HeapCorruptionError, InvalidAddressError, OffheapRangeError, OffheapTypeError } from "../../src/index.js";
import { ConcurrentModificationError, defineStruct, DisposedError, OffHeapMap, type MapKeyType, type MapValueType } from "../../src/collections/index.js";
import { H_CAP, H_NEXT_TABLE, H_OLD_CAP, H_OLD_LIVE, H_SIZE, maxLoad } from "../../src/collections/map-layout.js";
import { expectError, expectRejected, MIB } from "../helpers.js";

const SEED = Number(process.env.OFFHEAP_SEED ?? (Date.now() ^ (Math.random() * 2 ** 31)) >>> 0);
const MAX_SIZE = 64 * MIB;

const Rec = defineStruct({ id: "u32", score: "f64", name: "string", big: "i64", ok: "bool", tag: "bytes[3]" });

/** A copy of the heap's image in a new memory, attached. */
function attachCopy(heap: Heap): Heap {
  const bytes = new Uint8Array(heap.buffer);
  const memory = new WebAssembly.Memory({ initial: bytes.length / 65536, maximum: MAX_SIZE / 65536 });
  new Uint8Array(memory.buffer).set(bytes);
  return Heap.attach(memory);
}

interface Kind {
  name: string;
  key: MapKeyType;
  value: MapValueType;
  keyArb: fc.Arbitrary<unknown>;
  valueArb: fc.Arbitrary<unknown>;
  /** Model key (a Map key with the same equality). */
  id(k: unknown): unknown;
  /** What get() returns for a value that was set, as a comparable plain value. */
  plain(v: unknown): unknown;
}

const keyBase = fc.oneof(fc.nat({ max: 400 }).map((n) => `k${n}`), fc.string({ maxLength: 12, unit: "grapheme" }), fc.constantFrom("", "héllo", "日本", "a\u{1F600}b"));
const hexOf = (b: Uint8Array): string => Buffer.from(b).toString("hex");
const recValue = fc.record({
  id: fc.nat({ max: 2 ** 32 - 1 }), score: fc.double({ noNaN: true }), name: fc.string({ maxLength: 20 }),
  big: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), ok: fc.boolean(), tag: fc.uint8Array({ maxLength: 3 }),
}, { requiredKeys: [] });
const fullRecord = (v: unknown): unknown => {
  const r = { id: 0, score: 0, name: "", big: 0n, ok: false, tag: new Uint8Array(3), ...(v as object) };
  const tag = new Uint8Array(3);
  tag.set(r.tag);
  return { ...r, tag };
};

const KINDS: Kind[] = [
  { name: "string -> record", key: "string", value: Rec, keyArb: keyBase, valueArb: recValue, id: (k) => k, plain: fullRecord },
  { name: "string -> string", key: "string", value: "string", keyArb: keyBase, valueArb: fc.string({ maxLength: 30 }), id: (k) => k, plain: (v) => v },
  { name: "bytes -> bytes", key: "bytes", value: "bytes", keyArb: fc.uint8Array({ maxLength: 9 }), valueArb: fc.uint8Array({ maxLength: 40 }), id: (k) => hexOf(k as Uint8Array), plain: (v) => v },
  { name: "u32 -> f64", key: "u32", value: "f64", keyArb: fc.oneof(fc.nat({ max: 600 }), fc.constantFrom(0, 2 ** 32 - 1, 2 ** 31)), valueArb: fc.double(), id: (k) => k, plain: (v) => v },
  { name: "i32 -> u64", key: "i32", value: "u64", keyArb: fc.integer({ min: -300, max: 300 }), valueArb: fc.bigUint64Array({ minLength: 1, maxLength: 1 }).map((a) => a[0]!), id: (k) => k, plain: (v) => v },
  { name: "f64 -> i32", key: "f64", value: "i32", keyArb: fc.oneof(fc.double(), fc.integer({ min: -50, max: 50 })), valueArb: fc.integer(), id: (k) => (Object.is(k, -0) ? 0 : k), plain: (v) => v },
  { name: "u32 -> record", key: "u32", value: Rec, keyArb: fc.nat({ max: 500 }), valueArb: recValue, id: (k) => k, plain: fullRecord },
];

interface Real {
  heap: Heap;
  map: OffHeapMap<MapKeyType, MapValueType>;
}
interface Model {
  kind: Kind;
  entries: Map<unknown, { key: unknown; value: unknown }>;
}

function valueOf(kind: Kind, v: unknown): unknown {
  if (v !== undefined && typeof v === "object" && "toObject" in (v as object)) return (v as { toObject(): unknown }).toObject();
  return kind.plain(v);
}

let steps = 0;

function verify(m: Model, r: Real): void {
  steps++;
  r.map.check();
  r.heap.check();
  assert.equal(r.map.size, m.entries.size);
}

function verifyAll(m: Model, r: Real): void {
  verify(m, r);
  const seen = new Map<unknown, unknown>();
  for (const [k, v] of r.map) seen.set(m.kind.id(k), valueOf(m.kind, v));
  assert.equal(seen.size, m.entries.size, "iteration yields each entry once");
  for (const [id, e] of m.entries) assert.deepEqual(seen.get(id), m.kind.plain(e.value), `entry ${String(id)}`);
}

class SetCmd implements fc.Command<Model, Real> {
  constructor(readonly key: unknown, readonly value: unknown) {}
  check(): boolean {
    return true;
  }
  run(m: Model, r: Real): void {
    r.map.set(this.key as never, this.value as never);
    m.entries.set(m.kind.id(this.key), { key: this.key, value: this.value });
    assert.deepEqual(valueOf(m.kind, r.map.get(this.key as never)), m.kind.plain(this.value));
    verify(m, r);
  }
  toString(): string {
    return `set(${fc.stringify(this.key)}, ${fc.stringify(this.value)})`;
  }
}

// Many sets at once, to get through resizes without a command per key.
class BulkSet implements fc.Command<Model, Real> {
  constructor(readonly n: number, readonly from: number) {}
  check(): boolean {
    return true;
  }
  run(m: Model, r: Real): void {
    for (let i = 0; i < this.n; i++) {
      const key = m.kind.key === "string" ? `bulk${this.from + i}` : m.kind.key === "bytes" ? new Uint8Array([1, 2, (this.from + i) & 255, (this.from + i) >>> 8])
        : m.kind.key === "i32" ? -(this.from + i) - 1000 : 100_000 + this.from + i;
      const value = fc.sample(m.kind.valueArb, { seed: this.from + i, numRuns: 1 })[0];
      r.map.set(key as never, value as never);
      m.entries.set(m.kind.id(key), { key, value });
      if (i % 7 === 0) verify(m, r);
    }
    verify(m, r);
  }
  toString(): string {
    return `bulkSet(${this.n} from ${this.from})`;
  }
}

class DeleteCmd implements fc.Command<Model, Real> {
  constructor(readonly key: unknown, readonly pick: number) {}
  check(): boolean {
    return true;
  }
  run(m: Model, r: Real): void {
    // Half the time delete a present key (picked from the model).
    let key = this.key;
    if (this.pick % 2 === 0 && m.entries.size > 0) key = [...m.entries.values()][this.pick % m.entries.size]!.key;
    const had = m.entries.delete(m.kind.id(key));
    assert.equal(r.map.delete(key as never), had);
    assert.equal(r.map.has(key as never), false);
    verify(m, r);
  }
  toString(): string {
    return `delete(${fc.stringify(this.key)}, #${this.pick})`;
  }
}

class BulkDelete implements fc.Command<Model, Real> {
  constructor(readonly share: number) {}
  check(m: Model): boolean {
    return m.entries.size > 0;
  }
  run(m: Model, r: Real): void {
    let i = 0;
    for (const [id, e] of [...m.entries]) {
      if (i++ % this.share !== 0) continue;
      assert.equal(r.map.delete(e.key as never), true);
      m.entries.delete(id);
      if (i % 5 === 0) verify(m, r);
    }
    verify(m, r);
  }
  toString(): string {
    return `bulkDelete(every ${this.share})`;
  }
}

class GetCmd implements fc.Command<Model, Real> {
  constructor(readonly key: unknown) {}
  check(): boolean {
    return true;
  }
  run(m: Model, r: Real): void {
    const e = m.entries.get(m.kind.id(this.key));
    assert.equal(r.map.has(this.key as never), e !== undefined);
    const got = r.map.get(this.key as never);
    assert.deepEqual(got === undefined ? undefined : valueOf(m.kind, got), e === undefined ? undefined : m.kind.plain(e.value));
    if (typeof m.kind.value === "function" || m.kind.value === "string" || m.kind.value === "bytes") {
      assert.equal(r.map.getRef(this.key as never) !== 0, e !== undefined);
    }
    if (m.kind.key === "string" && typeof this.key === "string") {
      // the same key as UTF-8 bytes finds the same entry
      assert.equal(r.map.has(new TextEncoder().encode(this.key) as never), e !== undefined);
    }
  }
  toString(): string {
    return `get(${fc.stringify(this.key)})`;
  }
}

class ClearCmd implements fc.Command<Model, Real> {
  check(): boolean {
    return true;
  }
  run(m: Model, r: Real): void {
    r.map.clear();
    m.entries.clear();
    verify(m, r);
    assert.equal(r.heap.stats().liveBlocks, 1, "clear leaves only the header block");
  }
  toString(): string {
    return "clear()";
  }
}

// Re-opens the map from its address on a copy of the heap image and goes on there.
class ReopenCopy implements fc.Command<Model, Real> {
  check(): boolean {
    return true;
  }
  run(m: Model, r: Real): void {
    r.heap = attachCopy(r.heap);
    r.map = OffHeapMap.open(r.heap, r.map.address, { key: m.kind.key, value: m.kind.value });
    verifyAll(m, r);
  }
  toString(): string {
    return "reopenCopy()";
  }
}

class IterateCmd implements fc.Command<Model, Real> {
  check(): boolean {
    return true;
  }
  run(m: Model, r: Real): void {
    verifyAll(m, r);
  }
  toString(): string {
    return "iterate()";
  }
}

function commandsFor(kind: Kind): fc.Arbitrary<fc.Command<Model, Real>>[] {
  return [
    fc.oneof(
      { weight: 30, arbitrary: fc.tuple(kind.keyArb, kind.valueArb).map(([k, v]) => new SetCmd(k, v)) },
      { weight: 3, arbitrary: fc.tuple(fc.integer({ min: 20, max: 300 }), fc.nat({ max: 5000 })).map(([n, f]) => new BulkSet(n, f)) },
      { weight: 15, arbitrary: fc.tuple(kind.keyArb, fc.nat()).map(([k, p]) => new DeleteCmd(k, p)) },
      { weight: 2, arbitrary: fc.integer({ min: 1, max: 3 }).map((s) => new BulkDelete(s)) },
      { weight: 20, arbitrary: kind.keyArb.map((k) => new GetCmd(k)) },
      { weight: 1, arbitrary: fc.constant(new ClearCmd()) },
      { weight: 2, arbitrary: fc.constant(new ReopenCopy()) },
      { weight: 2, arbitrary: fc.constant(new IterateCmd()) },
    ),
  ];
}

describe("OffHeapMap model", () => {
  for (const [i, kind] of KINDS.entries()) {
    const seed = (SEED + i) >>> 0;
    test(`${kind.name} behaves as a Map (seed ${seed}; replay: OFFHEAP_SEED=${SEED})`, () => {
      steps = 0;
      fc.assert(
        fc.property(fc.commands(commandsFor(kind), { maxCommands: 150, size: "max" }), (cmds) => {
          const setup = () => {
            const heap = new Heap({ initialSize: 256 << 10, maxSize: MAX_SIZE });
            return { model: { kind, entries: new Map() } as Model, real: { heap, map: new OffHeapMap(heap, { key: kind.key, value: kind.value }) } };
          };
          fc.modelRun(setup, cmds);
        }),
        { seed, numRuns: 15 },
      );
      console.log(`${kind.name}: ${steps} steps checked`);
    });
  }
});

describe("OffHeapMap resizing", () => {
  test("grows incrementally: no call moves more than 16 entries, lookups see both tables", () => {
    const heap = new Heap({ initialSize: 1 * MIB, maxSize: MAX_SIZE });
    const map = new OffHeapMap(heap, { key: "u32", value: "u32", hashSeed: 7 });
    const w = map.address >>> 2;
    let migrations = 0;
    let prepared = 0;
    for (let i = 0; i < 20_000; i++) {
      const before = heap.u32[w + H_OLD_LIVE]!;
      const cap = heap.u32[w + H_CAP]!;
      map.set(i, i * 3);
      const after = heap.u32[w + H_OLD_LIVE]!;
      if (heap.u32[w + H_CAP] === cap) assert.ok(before - after <= 16, `set #${i} moved ${before - after} entries`);
      if (heap.u32[w + H_OLD_CAP] !== 0) {
        migrations++;
        // mid-migration: every key so far is found, in either table
        if (migrations % 97 === 0) for (let k = 0; k <= i; k += 13) assert.equal(map.get(k), k * 3);
      }
      if (heap.u32[w + H_NEXT_TABLE] !== 0) prepared++;
      if (i % 1000 === 0) map.check();
    }
    assert.ok(migrations > 1000 && prepared > 1000, `${migrations} sets ran during a migration, ${prepared} while a table was prepared`);
    map.check();
    heap.check();
  });

  test("deletes during a migration mark old slots deleted and free the old table when it empties", () => {
    const heap = new Heap({ initialSize: 1 * MIB, maxSize: MAX_SIZE });
    const map = new OffHeapMap(heap, { key: "string", value: "string", hashSeed: 3 });
    const w = map.address >>> 2;
    let i = 0;
    while (heap.u32[w + H_OLD_CAP] === 0 || heap.u32[w + H_CAP]! < 1024) map.set(`key${i}`, `value${i++}`);
    for (let k = 0; k < i && heap.u32[w + H_OLD_CAP] !== 0; k++) {
      assert.equal(map.delete(`key${k}`), true);
      map.check();
    }
    assert.equal(heap.u32[w + H_OLD_CAP], 0);
    heap.check();
  });

  test("a table that fills while the old one still migrates (damaged header) throws HeapCorruptionError M3, changing nothing", () => {
    const heap = new Heap({ maxSize: 8 * MIB });
    const map = new OffHeapMap(heap, { key: "u32", value: "u32", hashSeed: 5 });
    const w = map.address >>> 2;
    let i = 0;
    while (heap.u32[w + H_OLD_CAP] === 0 || heap.u32[w + H_CAP]! < 64) map.set(i, i++);
    // One more entry than the old table holds, in the count and the size: the
    // cursor reaches the old table's end with an entry "left", so the
    // migration never ends, while H_SIZE - H_OLD_LIVE still counts the
    // current table right, and it fills.
    heap.u32[w + H_OLD_LIVE] = heap.u32[w + H_OLD_LIVE]! + 1;
    heap.u32[w + H_SIZE] = heap.u32[w + H_SIZE]! + 1;
    assert.equal((expectError(() => map.check(), HeapCorruptionError, "ERR_OFFHEAP_HEAP_CORRUPTION") as HeapCorruptionError).invariant, "M3");
    const cap = heap.u32[w + H_CAP]!;
    while (heap.u32[w + H_SIZE]! - heap.u32[w + H_OLD_LIVE]! < maxLoad(cap)) map.set(i, i++);
    assert.notEqual(heap.u32[w + H_OLD_CAP], 0, "the old table is still there");
    const e = expectRejected(heap, () => map.set(i, i), HeapCorruptionError, "ERR_OFFHEAP_HEAP_CORRUPTION", "OffHeapMap.set", `table of ${cap} slots`, "still migrates");
    assert.equal((e as HeapCorruptionError).invariant, "M3");
    assert.equal(map.get(0), 0, "lookups still work");
  });
});

describe("OffHeapMap API", () => {
  test("set with record values whose getter changes the map: the getter runs first, and both changes land", () => {
    // set() planned the insert (and set up its key query) before it read the values, so a getter
    // that inserted into the same map left the outer key unfindable and the table damaged (M6).
    const heap = new Heap({ maxSize: MAX_SIZE });
    const R = defineStruct({ s: "string", n: "u32" });
    const map = new OffHeapMap(heap, { key: "string", value: R });
    for (let i = 0; i < 11; i++) map.set(`a${i}`, { s: "v", n: i });
    map.set("outer", {
      get s() {
        for (let i = 0; i < 200; i++) map.set(`in${i}`, { s: "w", n: i });
        return "x";
      },
      n: 7,
    });
    assert.equal(map.size, 212);
    assert.deepEqual(R.read(heap, map.getRef("outer")), { s: "x", n: 7 });
    assert.deepEqual(R.read(heap, map.getRef("in199")), { s: "w", n: 199 });
    map.check();
    heap.check();
  });

  test("open reads its options once: a getter cannot open a map as other types than the ones checked against its header", () => {
    const heap = new Heap({ maxSize: MAX_SIZE });
    const map = new OffHeapMap(heap, { key: "u32", value: "f64" });
    const blocks = [0, 1, 2].map((i) => heap.fromString(`user data ${i}`));
    blocks.forEach((b, i) => map.set(b, i)); // u32 keys that equal live blocks' addresses
    let reads = 0;
    const sneaky = { get key() { return reads++ < 1 ? "u32" : "string"; }, value: "f64" } as unknown as { key: "u32"; value: "f64" };
    const opened = OffHeapMap.open(heap, map.address, sneaky);
    assert.equal(opened.keyType, "u32");
    opened.clear(); // as a string map it freed the "key blocks": the program's strings
    assert.deepEqual(blocks.map((b) => heap.readString(b)), ["user data 0", "user data 1", "user data 2"]);
    heap.check();
  });

  test("string keys: non-ASCII, lone surrogates and byte lookups agree with TextEncoder", () => {
    const heap = new Heap({ maxSize: MAX_SIZE });
    const map = new OffHeapMap(heap, { key: "string", value: "i32" });
    const keys = ["", "a", "héllo", "日本語", "\u{1F600}", "x\uD800y", "\uDC00", "long key ".repeat(40)];
    keys.forEach((k, i) => map.set(k, i));
    keys.forEach((k, i) => {
      assert.equal(map.get(k), i);
      assert.equal(map.get(new TextEncoder().encode(k)), i);
    });
    assert.deepEqual([...map.keys()].sort(), keys.map((k) => new TextDecoder().decode(new TextEncoder().encode(k))).sort());
    map.check();
  });

  test("f64 keys use SameValueZero: NaN finds NaN, -0 finds 0", () => {
    const heap = new Heap({ maxSize: MAX_SIZE });
    const map = new OffHeapMap(heap, { key: "f64", value: "f64" });
    map.set(NaN, 1).set(-0, 2).set(Infinity, 3);
    assert.equal(map.get(Number("x")), 1);
    assert.equal(map.get(0), 2);
    assert.ok(Object.is([...map.keys()].find((k) => k === 0), 0));
    assert.equal(map.size, 3);
    map.check();
  });

  test("record values: getRef and getOrInsertRef give stable addresses for a cursor", () => {
    const heap = new Heap({ maxSize: MAX_SIZE });
    const map = new OffHeapMap(heap, { key: "string", value: Rec });
    const ref = map.getOrInsertRef("ada");
    assert.equal(map.getOrInsertRef("ada"), ref);
    const cur = Rec.at(heap, ref);
    cur.name = "Ada";
    cur.score = 1.5;
    for (let i = 0; i < 5000; i++) map.set(`k${i}`, { id: i });
    for (let i = 0; i < 5000; i += 2) map.delete(`k${i}`);
    assert.equal(map.getRef("ada"), ref, "a record does not move while its key stays");
    assert.deepEqual({ name: cur.name, score: cur.score }, { name: "Ada", score: 1.5 });
    map.set("ada", { id: 9 });
    assert.deepEqual(map.get("ada")!.toObject(), fullRecord({ id: 9 }), "set resets the record");
    assert.equal(map.getRef("nobody"), 0);
    map.check();
    heap.check();
  });

  test("rejected calls change nothing", () => {
    const heap = new Heap({ maxSize: MAX_SIZE });
    const map = new OffHeapMap(heap, { key: "string", value: Rec });
    map.set("a", { id: 1, name: "x" });
    expectRejected(heap, () => map.set(5 as never, {}), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE", "OffHeapMap.set");
    expectRejected(heap, () => map.set("b", { nope: 1 } as never), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE", "nope");
    expectRejected(heap, () => map.set("a", { name: 5 } as never), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE", "name");
    const nums = new OffHeapMap(heap, { key: "u32", value: "f64" });
    expectRejected(heap, () => nums.set(-1, 1), OffheapRangeError, "ERR_OFFHEAP_OUT_OF_RANGE", "-1");
    expectRejected(heap, () => nums.set(1, "1" as never), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE");
    expectRejected(heap, () => nums.getRef(1), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE", "getRef");
    map.check();
  });

  test("out of memory: a set that cannot allocate leaves the map as it was", () => {
    const heap = new Heap({ initialSize: 64 << 10, maxSize: 2 * MIB });
    const map = new OffHeapMap(heap, { key: "string", value: "string" });
    let n = 0;
    try {
      for (;;) {
        map.set(`key${n}`, "v".repeat(100) + n);
        n++;
      }
    } catch (e) {
      assert.equal((e as { code?: string }).code, "ERR_OFFHEAP_OUT_OF_MEMORY");
    }
    assert.equal(map.size, n);
    assert.equal(map.has(`key${n}`), false);
    map.check();
    heap.check();
    for (let i = 0; i < n; i++) assert.equal(map.get(`key${i}`), "v".repeat(100) + i);
  });

  test("iteration throws after an insert or delete; updates are allowed", () => {
    const heap = new Heap({ maxSize: MAX_SIZE });
    const map = new OffHeapMap(heap, { key: "u32", value: "u32" });
    for (let i = 0; i < 10; i++) map.set(i, i);
    const it = map.keys();
    it.next();
    map.set(3, 30);
    it.next();
    map.set(100, 1);
    expectError(() => it.next(), ConcurrentModificationError, "ERR_OFFHEAP_CONCURRENT_MODIFICATION");
  });

  test("dispose frees every block; later calls throw DisposedError", () => {
    const heap = new Heap({ maxSize: MAX_SIZE });
    const map = new OffHeapMap(heap, { key: "string", value: Rec });
    for (let i = 0; i < 3000; i++) map.set(`k${i}`, { name: `n${i}` });
    map.dispose();
    assert.equal(heap.stats().liveBlocks, 0);
    heap.check();
    expectError(() => map.get("k1"), DisposedError, "ERR_OFFHEAP_DISPOSED", "OffHeapMap.get");
    expectError(() => map.size, DisposedError, "ERR_OFFHEAP_DISPOSED");
    expectError(() => map.set("k1", 0 as never), DisposedError, "ERR_OFFHEAP_DISPOSED", "OffHeapMap.set"); // before its values are read
  });

  test("on a debug heap no key block writes past what it asked for (keys of every length mod 4)", () => {
    const heap = new Heap({ debug: true });
    for (const value of ["u32", "string"] as const) {
      const map = new OffHeapMap(heap, { key: "string", value });
      for (let i = 0; i < 200; i++) map.set("k".repeat(i % 9) + i, (value === "u32" ? i : `v${i}`) as never);
      heap.check(); // the debug trailers after every block are intact
      for (let i = 0; i < 200; i += 2) map.delete("k".repeat(i % 9) + i);
      map.dispose();
    }
    heap.check();
  });

  test("open checks the header and the types", () => {
    const heap = new Heap({ maxSize: MAX_SIZE });
    const map = new OffHeapMap(heap, { key: "string", value: Rec });
    map.set("x", { id: 4 });
    const other = heap.alloc(64);
    expectError(() => OffHeapMap.open(heap, other, { key: "string", value: Rec }), InvalidAddressError, "ERR_OFFHEAP_INVALID_ADDRESS", "not the header");
    expectError(() => OffHeapMap.open(heap, map.address, { key: "string", value: "string" }), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE");
    const Other = defineStruct({ id: "u32", score: "f64", name: "string", big: "i64", ok: "bool", tag: "bytes[4]" });
    expectError(() => OffHeapMap.open(heap, map.address, { key: "string", value: Other }), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE");
    assert.equal(OffHeapMap.open(heap, map.address, { key: "string", value: Rec }).get("x")!.id, 4);
    // A header whose table fields would send lookups outside a table is refused, as check() refuses it
    // (words: 4 capacity, 5 table, 6 old capacity, 8 cursor, 12 next table's zeroed bytes).
    const w = map.address >>> 2;
    for (const [word, value, id] of [[4, 1 << 20, "M2"], [4, 24, "M2"], [5, 0, "M2"], [6, 64, "M3"], [8, 3, "M3"], [12, 8, "M8"]] as const) {
      const saved = heap.u32[w + word]!;
      heap.u32[w + word] = value;
      expectError(() => OffHeapMap.open(heap, map.address, { key: "string", value: Rec }), HeapCorruptionError, "ERR_OFFHEAP_HEAP_CORRUPTION", id, "OffHeapMap.open");
      heap.u32[w + word] = saved;
    }
    map.check();
  });
});
