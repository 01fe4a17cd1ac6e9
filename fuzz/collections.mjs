// Collections programs (see run.mjs): OffHeapMap and OffHeapArray against a
// JS Map and a JS array, in a heap shared with pattern-filled blocks, with
// check() after every step and deliberate misuse (wrong key and value
// types, indices out of range, iteration during changes, use after
// dispose) that must throw its typed error and change nothing.
import { Heap, InvalidAddressError, OffheapRangeError, OffheapTypeError, OutOfMemoryError } from "offheap";
import { ConcurrentModificationError, defineStruct, DisposedError, OffHeapArray, OffHeapMap } from "offheap/collections";
import { CODES, checkPattern, ensure, fillPattern, imageOf, sameImage, sameValue } from "./lib.mjs";

const MIB = 1 << 20;
const { RANGE, TYPE, INVALID, DISPOSED, CONCURRENT } = CODES;
const Player = defineStruct({ id: "u32", score: "f64", name: "string", flag: "bool" });
const Point = defineStruct({ x: "f64", y: "i32", label: "string" }, { layout: "declared" });

// A heap plus a few pattern-filled blocks that no collection may touch.
function sharedHeap(p) {
  const heap = new Heap({ maxSize: p.pick([8, 16, 32]) * MIB, initialSize: 64 * 1024, memory: p.pick(["wasm", "resizable"]) });
  const guards = [];
  for (let i = 0; i < 8; i++) {
    const n = p.int(1, 2000);
    const a = heap.alloc(n);
    fillPattern(heap.u8, a, n, 1000 + i);
    guards.push([a, n, 1000 + i]);
  }
  const verifyGuards = () => {
    for (const [a, n, id] of guards) checkPattern(heap.u8, a, n, id, `a heap block beside the collection (0x${a.toString(16)})`);
  };
  return { heap, guards, verifyGuards };
}

const text = (p) => p.pick(["", "a", "key", "ключ", "鍵", "🔑", "k".repeat(40)]) + p.int(0, 200);

/** OffHeapMap of a random key and value type against a JS Map. */
export function mapProgram(p, steps) {
  const { heap, guards, verifyGuards } = sharedHeap(p);
  const keyType = p.pick(["string", "u32", "i32", "f64", "bytes"]);
  const valueType = p.pick(["f64", "u32", "i32", "u8", "i64", "string", "bytes", "struct"]);
  const value = valueType === "struct" ? Player : valueType;
  const options = { key: keyType, value, hashSeed: p.int(0, 2 ** 32 - 1) };
  p.note = `${keyType} -> ${valueType}`;
  let map = new OffHeapMap(heap, { ...options, capacity: p.pick([0, 0, 8, 1000]) });
  const model = new Map(); // normalized key -> [key, value]

  const randomKey = () => {
    switch (keyType) {
      case "string": return text(p);
      case "u32": return p.chance(0.9) ? p.int(0, 300) : p.int(0, 2 ** 32 - 1);
      case "i32": return p.int(-150, 150);
      case "f64": return p.pick([0, -0, NaN, 1.5, -2.25, Infinity, p.int(0, 300), p.next()]);
      default: return new TextEncoder().encode(text(p));
    }
  };
  const norm = (k) => (keyType === "bytes" ? Buffer.from(k).toString("hex") : keyType === "f64" && Object.is(k, -0) ? 0 : keyType === "f64" && Number.isNaN(k) ? "NaN" : k);
  const randomValue = () => {
    switch (valueType) {
      case "f64": return p.next() * 1e6 - 5e5;
      case "u32": return p.int(0, 2 ** 32 - 1);
      case "i32": return p.int(-(2 ** 31), 2 ** 31 - 1);
      case "u8": return p.int(0, 255);
      case "i64": return BigInt(p.int(-1e9, 1e9)) * 1000003n;
      case "string": return text(p);
      case "bytes": return new TextEncoder().encode(text(p));
      default: return { id: p.int(0, 2 ** 32 - 1), score: p.next(), name: text(p), flag: p.chance(0.5) };
    }
  };
  const plain = (v) => (v === undefined ? undefined : valueType === "struct" ? { ...v.toObject(), flag: Boolean(v.flag) } : v instanceof Uint8Array ? Buffer.from(v).toString("hex") : v);
  const expected = (v) => (valueType === "bytes" ? Buffer.from(v).toString("hex") : v);
  const validate = () => {
    map.check();
    heap.check();
    ensure(map.size === model.size, () => `size is ${map.size}, the model has ${model.size}`);
  };
  const compareAll = () => {
    const seen = new Map();
    for (const [k, v] of map) seen.set(norm(k), plain(v));
    ensure(seen.size === model.size, () => `iteration gave ${seen.size} entries, the model has ${model.size}`);
    for (const [nk, [, v]] of model) sameValue(seen.get(nk), expected(v), `entry ${String(nk)}`);
    verifyGuards();
  };
  const unchanged = () => {
    const image = imageOf(heap.buffer);
    const size = map.address === 0 ? -1 : map.size;
    return (kind) => {
      sameImage(image, heap.buffer, `misuse "${kind}"`);
      if (size >= 0) {
        ensure(map.size === size, `misuse "${kind}": size changed`);
        map.check();
      }
      heap.check();
    };
  };
  const misuse = (kind, fn, type, code) => p.misuse(kind, fn, type, code, unchanged());
  const oom = (fn) => {
    try {
      fn();
      return true;
    } catch (e) {
      if (!(e instanceof OutOfMemoryError)) throw e;
      p.event("collections: out of memory (expected)");
      return false;
    }
  };
  const wrongKeys = {
    string: [[5, OffheapTypeError, TYPE], [null, OffheapTypeError, TYPE]],
    u32: [[-1, OffheapRangeError, RANGE], [1.5, OffheapRangeError, RANGE], [2 ** 32, OffheapRangeError, RANGE], ["1", OffheapTypeError, TYPE]],
    i32: [[2 ** 31, OffheapRangeError, RANGE], [0.5, OffheapRangeError, RANGE], [null, OffheapTypeError, TYPE]],
    f64: [["1", OffheapTypeError, TYPE], [1n, OffheapTypeError, TYPE]],
    bytes: [["ab", OffheapTypeError, TYPE], [[1, 2], OffheapTypeError, TYPE]],
  }[keyType];
  const wrongValue = {
    f64: "x", u32: "1", i32: null, u8: {}, i64: 5, string: 5, bytes: "x", struct: p.pick([{ nope: 1 }, { id: "x" }, 5]),
  }[valueType];

  const ops = [
    [30, "set", () => {
      const k = randomKey();
      const v = randomValue();
      if (oom(() => map.set(k, v))) model.set(norm(k), [k, v]);
    }],
    [20, "get", () => {
      const k = p.chance(0.7) && model.size > 0 ? [...model.values()][p.int(0, model.size - 1)][0] : randomKey();
      const m = model.get(norm(k));
      sameValue(plain(map.get(k)), m === undefined ? undefined : expected(m[1]), `get(${String(k)})`);
      ensure(map.has(k) === (m !== undefined), `has(${String(k)})`);
    }],
    [12, "delete", () => {
      const k = p.chance(0.8) && model.size > 0 ? [...model.values()][p.int(0, model.size - 1)][0] : randomKey();
      ensure(map.delete(k) === model.delete(norm(k)), `delete(${String(k)})`);
    }],
    [valueType === "struct" ? 8 : 0, "getOrInsertRef", () => {
      const k = randomKey();
      let ref = 0;
      if (!oom(() => { ref = map.getOrInsertRef(k); })) return;
      const cur = Player.at(heap, ref);
      const had = model.get(norm(k));
      if (had === undefined) sameValue({ ...cur.toObject(), flag: Boolean(cur.flag) }, { id: 0, score: 0, name: "", flag: false }, "a new record");
      const v = { ...(had?.[1] ?? { id: 0, score: 0, name: "", flag: false }), score: p.next() };
      cur.score = v.score;
      ensure(map.getRef(k) === ref, "getRef disagrees with getOrInsertRef");
      model.set(norm(k), [k, v]);
    }],
    [2, "clear", () => {
      map.clear();
      model.clear();
    }],
    [3, "iterate", () => compareAll()],
    [14, "misuse", () => misuseStep()],
  ];

  const misuseStep = () => {
    const choice = p.int(0, 6);
    if (choice === 0) {
      const [bad, type, code] = p.pick(wrongKeys);
      const call = p.pick(["get", "has", "delete", "set"]);
      misuse(`map: ${call} with a key of the wrong type or range`, () => map[call](bad, randomValue()), type, code);
    } else if (choice === 1) {
      misuse("map: set with a value of the wrong type", () => map.set(randomKey(), wrongValue), OffheapTypeError, TYPE);
    } else if (choice === 2 && valueType !== "struct") {
      const call = ["string", "bytes"].includes(valueType) ? "getOrInsertRef" : p.pick(["getRef", "getOrInsertRef"]);
      misuse(`map: ${call} on a map of ${valueType} values`, () => map[call](randomKey()), OffheapTypeError, TYPE);
    } else if (choice === 3 && model.size > 0) {
      // Changing the key set during iteration: the change happens, the iterator's next step throws.
      const it = map.entries();
      it.next();
      const k = randomKey();
      if (model.has(norm(k))) {
        map.delete(k);
        model.delete(norm(k));
      } else {
        const v = randomValue();
        if (!oom(() => map.set(k, v))) return;
        model.set(norm(k), [k, v]);
      }
      p.misuse("map: iteration while the key set changes", () => it.next(), ConcurrentModificationError, CONCURRENT, () => validate());
    } else if (choice === 4 && guards.length > 0) {
      const [a] = p.pick(guards);
      misuse("map: open at an address that holds no map", () => OffHeapMap.open(heap, a, options), InvalidAddressError, INVALID);
    } else if (choice === 5) {
      const other = { key: keyType === "u32" ? "i32" : "u32", value };
      misuse("map: open with other types", () => OffHeapMap.open(heap, map.address, other), OffheapTypeError, TYPE);
    } else if (choice === 6 && p.chance(0.2)) {
      // Use after dispose: every call throws and changes nothing; then a new map takes over.
      map.dispose();
      model.clear();
      verifyGuards();
      heap.check();
      for (const call of ["get", "has", "delete", "set", "clear", "size", "keys"]) {
        const fn = call === "size" ? () => map.size : call === "keys" ? () => [...map.keys()] : () => map[call](randomKey(), randomValue());
        misuse(`map: ${call} after dispose`, fn, DisposedError, DISPOSED);
      }
      map = new OffHeapMap(heap, options);
    }
  };
  for (p.step = 0; p.step < steps; p.step++) {
    p.run(ops);
    validate();
    if (p.step % 16 === 0) compareAll();
    p.counts.steps++;
  }
  p.op = "teardown";
  compareAll();
  map.dispose();
  for (const [a] of guards) heap.free(a);
  heap.check();
  ensure(heap.stats().liveBlocks === 0, "blocks left in the heap after dispose");
}

/** OffHeapArray of a random element type against a JS array. */
export function arrayProgram(p, steps) {
  const { heap, guards, verifyGuards } = sharedHeap(p);
  const typeName = p.pick(["u8", "i8", "u16", "i16", "u32", "i32", "f32", "f64", "u64", "i64", "Point"]);
  const type = typeName === "Point" ? Point : typeName;
  p.note = `elements ${typeName}`;
  let arr = new OffHeapArray(heap, type, { capacity: p.pick([0, 0, 4, 100]) });
  let model = [];

  const randomValue = () => {
    switch (typeName) {
      case "u8": return p.int(0, 255);
      case "i8": return p.int(-128, 127);
      case "u16": return p.int(0, 65535);
      case "i16": return p.int(-32768, 32767);
      case "u32": return p.int(0, 2 ** 32 - 1);
      case "i32": return p.int(-(2 ** 31), 2 ** 31 - 1);
      case "f32": return Math.fround(p.next() * 1000);
      case "f64": return p.next() * 1e9;
      case "u64": return BigInt(p.int(0, 2 ** 32 - 1)) * 4294967296n + BigInt(p.int(0, 2 ** 32 - 1));
      case "i64": return BigInt(p.int(-(2 ** 31), 2 ** 31 - 1)) * 4294967296n;
      default: return { x: p.next(), y: p.int(-1000, 1000), label: text(p) };
    }
  };
  const plain = (v) => (typeName === "Point" ? v.toObject() : v);
  const wrongValue = typeName === "Point" ? p.pick([{ z: 1 }, { x: "1" }, 7]) : ["u64", "i64"].includes(typeName) ? 5 : p.pick(["1", 1n, null]);
  const validate = () => {
    arr.check();
    heap.check();
    ensure(arr.length === model.length, () => `length is ${arr.length}, the model has ${model.length}`);
  };
  const compareAll = () => {
    sameValue(arr.toArray(), model, "toArray()");
    verifyGuards();
  };
  const unchanged = () => {
    const image = imageOf(heap.buffer);
    const length = arr.address === 0 ? -1 : arr.length;
    return (kind) => {
      sameImage(image, heap.buffer, `misuse "${kind}"`);
      if (length >= 0) ensure(arr.length === length, `misuse "${kind}": length changed`);
      heap.check();
    };
  };
  const misuse = (kind, fn, type, code) => p.misuse(kind, fn, type, code, unchanged());
  const index = () => p.int(0, model.length - 1);

  const ops = [
    [30, "push", () => {
      const v = randomValue();
      try {
        ensure(arr.push(v) === model.length + 1, "push did not return the new length");
        model.push(v);
      } catch (e) {
        if (!(e instanceof OutOfMemoryError)) throw e;
        p.event("collections: out of memory (expected)");
      }
    }],
    [12, "pop", () => sameValue(arr.pop(), model.pop(), "pop()")],
    [20, "get", () => {
      if (model.length > 0) {
        const i = index();
        sameValue(plain(arr.get(i)), model[i], `get(${i})`);
      }
    }],
    [15, "set", () => {
      if (model.length === 0) return;
      const i = index();
      const v = randomValue();
      arr.set(i, v);
      model[i] = v;
    }],
    [3, "reserve", () => arr.reserve(model.length + p.int(0, 100))],
    [1, "clear", () => {
      arr.clear();
      model = [];
    }],
    [3, "iterate", () => compareAll()],
    [14, "misuse", () => {
      const choice = p.int(0, 4);
      if (choice === 0) {
        const bad = p.pick([-1, model.length, model.length + 5, 1.5, "0", NaN]);
        const call = p.pick(["get", "set", "addrOf"]);
        if (typeof bad === "number") misuse(`array: ${call} at an index out of range`, () => arr[call](bad, randomValue()), OffheapRangeError, RANGE);
        else misuse(`array: ${call} at an index that is not a number`, () => arr[call](bad, randomValue()), OffheapTypeError, TYPE);
      } else if (choice === 1) {
        const call = model.length > 0 && p.chance(0.5) ? "set" : "push";
        misuse(`array: ${call} of a value of the wrong type`, () => (call === "set" ? arr.set(index(), wrongValue) : arr.push(wrongValue)), OffheapTypeError, TYPE);
      } else if (choice === 2) {
        misuse("array: reserve of a bad capacity", () => arr.reserve(p.pick([-1, 1.5, 2 ** 40])), OffheapRangeError, RANGE);
      } else if (choice === 3) {
        const [a] = p.pick(guards);
        misuse("array: open at an address that holds no array", () => OffHeapArray.open(heap, a, type), InvalidAddressError, INVALID);
      } else if (p.chance(0.2)) {
        arr.dispose();
        model = [];
        verifyGuards();
        heap.check();
        for (const call of ["get", "push", "pop", "length", "reserve", "clear"]) {
          const fn = call === "length" ? () => arr.length : () => arr[call](0);
          misuse(`array: ${call} after dispose`, fn, DisposedError, DISPOSED);
        }
        arr = new OffHeapArray(heap, type);
      }
    }],
  ];

  for (p.step = 0; p.step < steps; p.step++) {
    p.run(ops);
    validate();
    if (p.step % 16 === 0) compareAll();
    p.counts.steps++;
  }
  p.op = "teardown";
  compareAll();
  arr.dispose();
  for (const [a] of guards) heap.free(a);
  heap.check();
  ensure(heap.stats().liveBlocks === 0, "blocks left in the heap after dispose");
}
