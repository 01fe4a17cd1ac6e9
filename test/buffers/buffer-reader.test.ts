// BufferReader against a plain concatenated buffer: seeded random splits of
// random bytes (empty pieces, Node Buffers and views at odd offsets
// included), random sequences of every read kind, skip, unread, range and
// clipFront, each result and offset compared with DataView / reference code,
// check() after every step. Reads past the end must throw EndOfDataError and
// leave the position unchanged. Then LEB128 round trips at the boundaries,
// the GoMem bugs this reader fixes, clipFront's contract, and every read of
// bytes that a buffer lost (detached, shrunk) failing with RD4 in place.

import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { BufferList } from "../../src/buffers/buffer-list.js";
import { BufferReader } from "../../src/buffers/buffer-reader.js";
import { EndOfDataError, HeapCorruptionError, OffheapRangeError, OffheapTypeError } from "../../src/errors.js";
import { expectError } from "../helpers.js";

const SEED = Number(process.env.OFFHEAP_SEED ?? (Date.now() ^ (Math.random() * 2 ** 31)) >>> 0);
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

// ---- reference code ----------------------------------------------------------

function encodeULEB(value: bigint): number[] {
  const out: number[] = [];
  do {
    let b = Number(value & 0x7fn);
    value >>= 7n;
    if (value !== 0n) b |= 0x80;
    out.push(b);
  } while (value !== 0n);
  return out;
}

function encodeSLEB(value: bigint): number[] {
  const out: number[] = [];
  for (;;) {
    const b = Number(value & 0x7fn);
    value >>= 7n;
    if ((value === 0n && (b & 0x40) === 0) || (value === -1n && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

/** The LEB128 number at `at`, or null if it runs off the end. */
function decodeLEB(data: Uint8Array, at: number, signed: boolean): { value: bigint; nBytes: number } | null {
  let value = 0n;
  for (let k = 0; at + k < data.length; k++) {
    const b = data[at + k]!;
    value |= BigInt(b & 0x7f) << BigInt(7 * k);
    if (b < 0x80) {
      if (signed && (b & 0x40) !== 0) value -= 1n << BigInt(7 * (k + 1));
      return { value, nBytes: k + 1 };
    }
  }
  return null;
}

function uintAt(data: Uint8Array, at: number, nBytes: number, littleEndian: boolean): number {
  let v = 0;
  for (let i = 0; i < nBytes; i++) v = v * 256 + data[at + (littleEndian ? nBytes - 1 - i : i)]!;
  return v;
}

// ---- random sources ------------------------------------------------------------

interface Piece {
  buf: Uint8Array;
  start: number; // absolute offset in the concatenation
}

/** Splits `data` by `lengths` (used cyclically; 0 makes an empty piece) into pieces of three kinds. */
function split(data: Uint8Array, lengths: number[], kinds: number[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  const usable = lengths.some((n) => n > 0) ? lengths : [data.length || 1];
  let at = 0;
  for (let i = 0; at < data.length || (i < usable.length && usable[i] === 0); i++) {
    const n = Math.min(usable[i % usable.length]!, data.length - at);
    const bytes = data.subarray(at, at + n);
    const kind = kinds[i % kinds.length]!;
    if (kind === 0) out.push(bytes.slice());
    else if (kind === 1) out.push(Buffer.from(bytes));
    else {
      const backing = new Uint8Array(n + 2 * kind); // a view at an odd offset of a bigger buffer
      backing.set(bytes, kind);
      out.push(backing.subarray(kind, kind + n));
    }
    at += n;
  }
  return out;
}

function piecesOf(bufs: readonly Uint8Array[]): Piece[] {
  let start = 0;
  return bufs.map((buf) => {
    const p = { buf, start };
    start += buf.length;
    return p;
  });
}

/** The piece holding all of [at, at + n) (n > 0), if one does. */
function pieceHolding(pieces: Piece[], at: number, n: number): Piece | undefined {
  return pieces.find((p) => p.buf.length > 0 && p.start <= at && at + n <= p.start + p.buf.length);
}

// ---- the model test --------------------------------------------------------------

const READ_KINDS = [
  "readByte", "readUint16BE", "readUint16LE", "readUint32BE", "readUint32LE", "readUintBE", "readUintLE",
  "readBigUint64BE", "readBigUint64LE", "readFloat32BE", "readFloat32LE", "readFloat64BE", "readFloat64LE",
  "read", "readBytes", "readView", "skip", "unread", "range", "rangeN",
  "readLEB128", "readSignedLEB128", "readBigLEB128", "readBigSignedLEB128", "clipFront",
] as const;
type Kind = (typeof READ_KINDS)[number];

interface Op {
  kind: Kind;
  n: number;
}

const countArb = fc.oneof(
  { arbitrary: fc.integer({ min: 0, max: 24 }), weight: 12 },
  { arbitrary: fc.integer({ min: 25, max: 200 }), weight: 2 },
  { arbitrary: fc.constantFrom(-1, 1.5, Number.NaN, 2 ** 60), weight: 1 },
);
const opArb: fc.Arbitrary<Op> = fc.record({
  kind: fc.oneof({ arbitrary: fc.constantFrom(...READ_KINDS.filter((k) => k !== "clipFront" && k !== "range")), weight: 20 }, { arbitrary: fc.constantFrom<Kind>("clipFront", "range"), weight: 1 }),
  n: countArb,
});
// Bytes below 0x80 half the time and any byte otherwise: LEB128 numbers of every length, and overlong ones.
const dataArb = fc.array(fc.oneof(fc.integer({ min: 0, max: 0x7f }), fc.integer({ min: 0, max: 255 }), fc.constant(0xff)), { maxLength: 160, size: "max" }).map((a) => Uint8Array.from(a));

interface World {
  data: Uint8Array; // the unread source, as the reader sees it (rebased by clipFront)
  at: number;
  pieces: Piece[];
  list: BufferList | null;
}

/** Runs `fn`; if `expected` names an error class, it must throw one and leave the offset unchanged. */
function expectFailure(reader: BufferReader, world: World, fn: () => unknown, expected: typeof EndOfDataError | typeof OffheapRangeError, what: string): void {
  assert.throws(fn, expected, what);
  assert.equal(reader.offset, world.at, `${what}: a rejected read moved the reader`);
}

function step(reader: BufferReader, world: World, op: Op): void {
  const { data, at } = world;
  const left = data.length - at;
  const n = op.n;
  const validCount = Number.isSafeInteger(n) && n >= 0;
  const what = `${op.kind}(${n}) at ${at} of ${data.length}`;
  const dv = new DataView(data.buffer, data.byteOffset, data.length);
  const fixed = (width: number, read: () => unknown, expected: () => unknown): void => {
    if (left < width) return expectFailure(reader, world, read, EndOfDataError, what);
    assert.equal(read(), expected(), what);
    world.at += width;
  };
  switch (op.kind) {
    case "readByte": return fixed(1, () => reader.readByte(), () => data[at]);
    case "readUint16BE": return fixed(2, () => reader.readUint16BE(), () => dv.getUint16(at));
    case "readUint16LE": return fixed(2, () => reader.readUint16LE(), () => dv.getUint16(at, true));
    case "readUint32BE": return fixed(4, () => reader.readUint32BE(), () => dv.getUint32(at));
    case "readUint32LE": return fixed(4, () => reader.readUint32LE(), () => dv.getUint32(at, true));
    case "readBigUint64BE": return fixed(8, () => reader.readBigUint64BE(), () => dv.getBigUint64(at));
    case "readBigUint64LE": return fixed(8, () => reader.readBigUint64LE(), () => dv.getBigUint64(at, true));
    case "readFloat32BE": return fixed(4, () => reader.readFloat32BE(), () => dv.getFloat32(at));
    case "readFloat32LE": return fixed(4, () => reader.readFloat32LE(), () => dv.getFloat32(at, true));
    case "readFloat64BE": return fixed(8, () => reader.readFloat64BE(), () => dv.getFloat64(at));
    case "readFloat64LE": return fixed(8, () => reader.readFloat64LE(), () => dv.getFloat64(at, true));
    case "readUintBE":
    case "readUintLE": {
      const width = validCount ? n % 8 : n; // 0 and 7 are bad widths too
      const le = op.kind === "readUintLE";
      const read = (): number => (le ? reader.readUintLE(width) : reader.readUintBE(width));
      if (!(Number.isInteger(width) && width >= 1 && width <= 6)) return expectFailure(reader, world, read, OffheapRangeError, what);
      return fixed(width, read, () => uintAt(data, at, width, le));
    }
    case "read": {
      const target = new Uint8Array(validCount ? Math.min(n, 300) : 3).fill(0xaa);
      const got = Math.min(target.length, left);
      assert.equal(reader.read(target), got, what);
      assert.deepEqual(target.subarray(0, got), data.subarray(at, at + got), what);
      assert.ok(target.subarray(got).every((b) => b === 0xaa), `${what}: wrote past the count`);
      world.at += got;
      return;
    }
    case "readBytes":
    case "readView":
    case "skip":
    case "rangeN": {
      if (!validCount) return expectFailure(reader, world, () => (reader[op.kind] as (n: number, cb: () => void) => unknown)(n, () => {}), OffheapRangeError, what);
      if (n > left) return expectFailure(reader, world, () => (reader[op.kind] as (n: number, cb: () => void) => unknown)(n, () => assert.fail("called")), EndOfDataError, what);
      const expected = data.subarray(at, at + n);
      if (op.kind === "readBytes") {
        const got = reader.readBytes(n);
        assert.deepEqual(got, Uint8Array.from(expected), what);
        if (n > 0 && world.pieces.some((p) => p.buf.buffer === got.buffer)) assert.fail(`${what}: readBytes returned a view, not a copy`);
      } else if (op.kind === "readView") {
        const got = reader.readView(n);
        assert.deepEqual(Uint8Array.from(got), Uint8Array.from(expected), what);
        const holder = n > 0 ? pieceHolding(world.pieces, at, n) : undefined;
        if (holder !== undefined) {
          assert.equal(got.buffer, holder.buf.buffer, `${what}: not zero-copy inside one buffer`);
          assert.equal(got.byteOffset, holder.buf.byteOffset + at - holder.start, `${what}: view offset`);
        }
      } else if (op.kind === "skip") {
        reader.skip(n);
      } else {
        const views: Uint8Array[] = [];
        reader.rangeN(n, (v) => views.push(v));
        assert.ok(views.every((v) => v.length > 0), `${what}: an empty piece`);
        assert.deepEqual(Uint8Array.from(views.flatMap((v) => [...v])), Uint8Array.from(expected), what);
      }
      world.at += n;
      return;
    }
    case "unread": {
      if (!(validCount && n <= at)) return expectFailure(reader, world, () => reader.unread(n), OffheapRangeError, what);
      reader.unread(n);
      world.at -= n;
      return;
    }
    case "range": {
      const views: Uint8Array[] = [];
      reader.range((v) => views.push(v));
      assert.ok(views.every((v) => v.length > 0), `${what}: an empty piece`);
      for (const v of views) assert.ok(world.pieces.some((p) => p.buf.buffer === v.buffer), `${what}: a piece that is not a view of the source`);
      assert.deepEqual(Uint8Array.from(views.flatMap((v) => [...v])), data.slice(at), what);
      world.at = data.length;
      return;
    }
    case "readLEB128":
    case "readSignedLEB128":
    case "readBigLEB128":
    case "readBigSignedLEB128": {
      const signed = op.kind === "readSignedLEB128" || op.kind === "readBigSignedLEB128";
      const big = op.kind === "readBigLEB128" || op.kind === "readBigSignedLEB128";
      const kind = op.kind;
      const read = (): unknown => reader[kind]();
      const ref = decodeLEB(data, at, signed);
      if (ref === null) {
        if (!big && left >= 8 && data.subarray(at, at + 8).every((b) => b >= 0x80)) return expectFailure(reader, world, read, OffheapRangeError, what);
        return expectFailure(reader, world, read, EndOfDataError, what);
      }
      if (!big && (ref.nBytes > 8 || ref.value > MAX_SAFE || ref.value < -MAX_SAFE)) return expectFailure(reader, world, read, OffheapRangeError, what);
      assert.equal(read(), big ? ref.value : Number(ref.value), what);
      world.at += ref.nBytes;
      return;
    }
    case "clipFront": {
      const dropped: Uint8Array[] = [];
      assert.equal(reader.clipFront((b) => dropped.push(b)), at, what);
      assert.equal(reader.offset, 0);
      assert.equal(reader.remaining, left);
      if (world.list !== null) assert.deepEqual(world.list.toBytes(), data.slice(at), `${what}: the list holds the unread bytes`);
      // Mirror BufferList.dropFront on the model's pieces.
      const bufs = world.pieces.map((p) => p.buf);
      let skip = at;
      while (bufs.length > 0 && bufs[0]!.length <= skip) skip -= bufs.shift()!.length;
      assert.equal(dropped.length, world.pieces.length - bufs.length, `${what}: dropped buffers reported`);
      if (skip > 0) bufs[0] = bufs[0]!.subarray(skip);
      world.pieces = piecesOf(bufs);
      world.data = data.slice(at);
      world.at = 0;
      return;
    }
  }
}

test(`BufferReader model: random reads over random splits match DataView over the concatenation (seed ${SEED})`, () => {
  fc.assert(
    fc.property(
      dataArb,
      fc.array(fc.integer({ min: 0, max: 17 }), { minLength: 1, maxLength: 12, size: "max" }),
      fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 5 }),
      fc.constantFrom("list", "array", "single"),
      fc.array(opArb, { maxLength: 80, size: "max" }),
      (data, lengths, kinds, sourceKind, ops) => {
        const bufs = split(data, lengths, kinds);
        assert.deepEqual(Uint8Array.from(bufs.flatMap((b) => [...b])), data, "split() keeps the bytes");
        const list = sourceKind === "list" ? new BufferList(bufs) : null;
        const source = list ?? (sourceKind === "single" && bufs.length === 1 ? bufs[0]! : bufs);
        const reader = new BufferReader(source);
        const world: World = { data, at: 0, pieces: piecesOf(bufs), list };
        for (const op of ops) {
          step(reader, world, op);
          reader.check();
          assert.equal(reader.offset, world.at, `offset after ${op.kind}(${op.n})`);
          assert.equal(reader.remaining, world.data.length - world.at, `remaining after ${op.kind}(${op.n})`);
        }
        if (sourceKind === "array") assert.deepEqual(bufs.map((b) => b.length), split(data, lengths, kinds).map((b) => b.length), "an array source is never changed");
      },
    ),
    { seed: SEED, numRuns: 1500 },
  );
});

// ---- LEB128 boundaries -------------------------------------------------------------

/** A reader over `bytes` cut into pieces of `pieceBytes` with an empty piece between each. */
function choppedReader(bytes: number[], pieceBytes: number): BufferReader {
  const bufs: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += pieceBytes) bufs.push(Uint8Array.from(bytes.slice(i, i + pieceBytes)), new Uint8Array(0));
  return new BufferReader(bufs);
}

test("LEB128 round trips at the boundaries, whole and split byte by byte", () => {
  const unsigned = [0n, 1n, 127n, 128n, 255n, 16383n, 16384n, 2n ** 31n, 2n ** 32n, 2n ** 49n - 1n, 2n ** 49n, MAX_SAFE - 1n, MAX_SAFE];
  const signed = [0n, 1n, -1n, 63n, 64n, -64n, -65n, 8191n, -8192n, -(2n ** 31n), 2n ** 48n, -(2n ** 48n), -(2n ** 49n), 2n ** 52n, -(2n ** 52n), MAX_SAFE, -MAX_SAFE];
  for (const pieceBytes of [100, 1, 3]) {
    for (const v of unsigned) {
      const enc = encodeULEB(v);
      const r = choppedReader([...enc, 0x2a], pieceBytes);
      assert.equal(r.readLEB128(), Number(v), `readLEB128 ${v}`);
      assert.equal(r.offset, enc.length);
      assert.equal(r.readByte(), 0x2a);
      assert.equal(choppedReader(enc, pieceBytes).readBigLEB128(), v, `readBigLEB128 ${v}`);
    }
    for (const v of signed) {
      const enc = encodeSLEB(v);
      const r = choppedReader(enc, pieceBytes);
      assert.equal(r.readSignedLEB128(), Number(v), `readSignedLEB128 ${v}`);
      assert.equal(r.remaining, 0);
      assert.equal(choppedReader(enc, pieceBytes).readBigSignedLEB128(), v, `readBigSignedLEB128 ${v}`);
    }
    for (const v of [2n ** 53n, 2n ** 63n - 1n, 2n ** 64n - 1n, 2n ** 64n, 2n ** 100n]) {
      const enc = encodeULEB(v);
      assert.equal(choppedReader(enc, pieceBytes).readBigLEB128(), v, `readBigLEB128 ${v}`);
      const r = choppedReader(enc, pieceBytes);
      expectError(() => r.readLEB128(), OffheapRangeError, "ERR_OFFHEAP_OUT_OF_RANGE", "BufferReader.readLEB128", "readBigLEB128");
      assert.equal(r.offset, 0, "a rejected LEB128 does not move");
    }
    for (const v of [-(2n ** 53n), 2n ** 53n, -(2n ** 63n), 2n ** 63n - 1n, -(2n ** 100n)]) {
      const enc = encodeSLEB(v);
      assert.equal(choppedReader(enc, pieceBytes).readBigSignedLEB128(), v, `readBigSignedLEB128 ${v}`);
      const r = choppedReader(enc, pieceBytes);
      expectError(() => r.readSignedLEB128(), OffheapRangeError, "ERR_OFFHEAP_OUT_OF_RANGE", "readSignedLEB128");
      assert.equal(r.offset, 0);
    }
  }
});

test("a LEB128 number running off the end throws EndOfDataError and leaves the position unchanged", () => {
  for (const read of ["readLEB128", "readSignedLEB128", "readBigLEB128", "readBigSignedLEB128"] as const) {
    const r = new BufferReader([Uint8Array.of(5, 0x80), new Uint8Array(0), Uint8Array.of(0x81)]);
    assert.equal(r.readByte(), 5);
    expectError(() => r[read](), EndOfDataError, "ERR_OFFHEAP_END_OF_DATA", `BufferReader.${read}`, "runs off the end after 2 bytes", "offset 1");
    assert.equal(r.offset, 1);
    r.check();
    assert.equal(r.readUint16BE(), 0x8081, "the bytes are still there");
  }
  // Overlong: 8 continuation bytes is a RangeError for the number variants, not a wait for more data.
  const r = new BufferReader(new Uint8Array(8).fill(0x80));
  expectError(() => r.readLEB128(), OffheapRangeError, "ERR_OFFHEAP_OUT_OF_RANGE", "longer than 8 bytes");
  expectError(() => r.readBigLEB128(), EndOfDataError, "ERR_OFFHEAP_END_OF_DATA");
  assert.equal(r.offset, 0);
  // Zero padding is accepted up to 8 bytes.
  assert.equal(new BufferReader(Uint8Array.of(0x85, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00)).readLEB128(), 5);
});

// ---- the GoMem bugs ---------------------------------------------------------------------

test("skip and unread across uneven buffers and empty buffers land on the right byte", () => {
  const sizes = [1, 0, 5, 0, 0, 2, 7, 0, 3];
  let v = 0;
  const bufs = sizes.map((n) => Uint8Array.from({ length: n }, () => v++));
  const total = v;
  for (let from = 0; from <= total; from++) {
    for (let to = 0; to <= total; to++) {
      const r = new BufferReader(bufs);
      r.skip(from);
      if (to >= from) r.skip(to - from);
      else r.unread(from - to);
      r.check();
      assert.equal(r.offset, to);
      if (to < total) assert.equal(r.readByte(), to, `byte at ${to} after moving from ${from}`);
      else assert.throws(() => r.readByte(), EndOfDataError);
    }
  }
  const r = new BufferReader(bufs);
  r.skip(total);
  expectError(() => r.skip(1), EndOfDataError, "ERR_OFFHEAP_END_OF_DATA", "BufferReader.skip", "1 bytes needed");
  expectError(() => r.unread(total + 1), OffheapRangeError, "ERR_OFFHEAP_OUT_OF_RANGE", "BufferReader.unread", `[0, ${total}]`);
  assert.equal(r.offset, total);
});

test("every fixed-width read past the end throws EndOfDataError naming the API and moves nothing", () => {
  const r = new BufferReader([Uint8Array.of(1), Uint8Array.of(2, 3)]);
  r.readByte();
  for (const [name, read] of [
    ["readUint32BE", () => r.readUint32BE()], ["readUint32LE", () => r.readUint32LE()], ["readUintBE", () => r.readUintBE(3)],
    ["readUintLE", () => r.readUintLE(3)], ["readBigUint64BE", () => r.readBigUint64BE()], ["readBigUint64LE", () => r.readBigUint64LE()],
    ["readFloat32BE", () => r.readFloat32BE()], ["readFloat32LE", () => r.readFloat32LE()], ["readFloat64BE", () => r.readFloat64BE()],
    ["readFloat64LE", () => r.readFloat64LE()], ["readBytes", () => r.readBytes(3)], ["readView", () => r.readView(3)],
    ["rangeN", () => r.rangeN(3, () => assert.fail("called"))],
  ] as const) {
    expectError(read, EndOfDataError, "ERR_OFFHEAP_END_OF_DATA", `BufferReader.${name}`, "offset 1", "2 of 3 bytes left");
    assert.equal(r.offset, 1, name);
  }
  assert.equal(r.readUint16BE(), 0x0203);
  expectError(() => r.readByte(), EndOfDataError, "ERR_OFFHEAP_END_OF_DATA", "BufferReader.readByte");
  expectError(() => r.readUint16LE(), EndOfDataError, "ERR_OFFHEAP_END_OF_DATA", "BufferReader.readUint16LE");
  assert.equal(r.read(new Uint8Array(4)), 0, "read() at the end returns 0");
});

test("bad arguments throw OffheapRangeError / OffheapTypeError and move nothing", () => {
  const r = new BufferReader(new Uint8Array(16));
  r.skip(2);
  for (const bad of [-1, 1.5, Number.NaN, Infinity]) {
    expectError(() => r.readBytes(bad), OffheapRangeError, "ERR_OFFHEAP_OUT_OF_RANGE", "BufferReader.readBytes", String(bad));
    expectError(() => r.skip(bad), OffheapRangeError, "ERR_OFFHEAP_OUT_OF_RANGE", "BufferReader.skip");
    expectError(() => r.unread(bad), OffheapRangeError, "ERR_OFFHEAP_OUT_OF_RANGE", "BufferReader.unread");
  }
  for (const bad of [0, 7, 2.5]) expectError(() => r.readUintBE(bad), OffheapRangeError, "ERR_OFFHEAP_OUT_OF_RANGE", "readUintBE: width");
  expectError(() => r.read([1, 2] as unknown as Uint8Array), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE", "BufferReader.read");
  assert.equal(r.offset, 2);
  expectError(() => new BufferReader("abc" as unknown as Uint8Array), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE", "BufferReader", "a string");
  expectError(() => new BufferReader([new Uint8Array(1), 5] as unknown as Uint8Array[]), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE", "element 1");
});

test("readView is zero-copy inside one buffer and a copy across buffers; range and rangeN hand out views", () => {
  const a = Uint8Array.of(1, 2, 3, 4), b = Buffer.from([5, 6, 7]);
  const r = new BufferReader(new BufferList([a, new Uint8Array(0), b]));
  const inside = r.readView(2);
  a[1] = 20;
  assert.deepEqual([...inside], [1, 20], "a view of the source");
  const across = r.readView(3);
  assert.deepEqual([...across], [3, 4, 5]);
  a[2] = 30;
  assert.equal(across[0], 3, "a copy across buffers");
  const pieces: Uint8Array[] = [];
  r.range((v) => pieces.push(v));
  assert.equal(pieces.length, 1);
  assert.equal(pieces[0]!.buffer, b.buffer);
  assert.deepEqual([...pieces[0]!], [6, 7]);
  const whole: Uint8Array[] = [];
  new BufferReader([a, b]).rangeN(5, (v) => whole.push(v));
  assert.equal(whole[0], a, "a whole buffer is passed as is");
  assert.deepEqual([...whole[1]!], [5]);
});

test("clipFront drops consumed buffers from a BufferList, trims the current one, and sees later pushes", () => {
  const a = Uint8Array.of(1, 2), b = Uint8Array.of(3, 4, 5), c = Uint8Array.of(6);
  const list = new BufferList([a, b, c]);
  const r = new BufferReader(list);
  r.skip(3);
  const dropped: Uint8Array[] = [];
  assert.equal(r.clipFront((buf) => dropped.push(buf)), 3);
  assert.deepEqual(dropped, [a]);
  assert.equal(r.offset, 0);
  assert.deepEqual(list.toBytes(), Uint8Array.of(4, 5, 6));
  assert.equal(list.at(0)!.buffer, b.buffer, "the trimmed buffer is a view");
  expectError(() => r.unread(1), OffheapRangeError, "ERR_OFFHEAP_OUT_OF_RANGE", "[0, 0]");
  list.push(Uint8Array.of(7, 8));
  assert.equal(r.remaining, 3, "pushes are seen after the next clipFront only");
  r.skip(3);
  assert.equal(r.clipFront(), 3);
  assert.equal(r.remaining, 2);
  assert.equal(r.readUint16BE(), 0x0708);
  r.check();

  const bufs = [a, b];
  const r2 = new BufferReader(bufs);
  r2.skip(4);
  r2.clipFront();
  assert.deepEqual(bufs, [a, b], "an array source is left alone");
  assert.equal(r2.readByte(), 5);
  assert.equal(r2.clipFront(), 1);
  assert.equal(r2.remaining, 0);
  r2.check();
});

test("check() names the broken invariant", () => {
  const r = new BufferReader([Uint8Array.of(1, 2), Uint8Array.of(3)]);
  r.skip(1);
  (r as unknown as { pos: number }).pos = 5;
  assert.equal((expectError(() => r.check(), HeapCorruptionError, "ERR_OFFHEAP_HEAP_CORRUPTION") as HeapCorruptionError).invariant, "RD2");
  const r2 = new BufferReader([Uint8Array.of(1, 2), Uint8Array.of(3)]);
  r2.skip(3);
  (r2 as unknown as { bufStart: number }).bufStart = 0;
  assert.equal((expectError(() => r2.check(), HeapCorruptionError, "ERR_OFFHEAP_HEAP_CORRUPTION") as HeapCorruptionError).invariant, "RD3");
});

test("a reader over an empty list stays valid while the list grows, and sees the new bytes after clipFront (found by the fuzzer)", () => {
  const list = new BufferList();
  const r = new BufferReader(list);
  list.push(Uint8Array.of(1, 2, 3, 4));
  r.check();
  expectError(() => r.readByte(), EndOfDataError, "ERR_OFFHEAP_END_OF_DATA");
  assert.equal(r.clipFront(), 0);
  r.check();
  assert.equal(r.readUint32BE(), 0x01020304);
  // Consumed to the end, clipped, then fed again.
  assert.equal(r.clipFront(), 4);
  list.push(Uint8Array.of(5));
  r.check();
  r.clipFront();
  assert.equal(r.readByte(), 5);
  r.check();
});

test("range, rangeN, clipFront and BufferList's range and dropFront refuse a callback that is no function before they consume or drop anything", () => {
  const list = () => new BufferList([new Uint8Array([1, 2, 3]), new Uint8Array([4, 5, 6])]);
  const r = new BufferReader(list());
  expectError(() => r.range(null as unknown as () => void), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE", "callback must be a function");
  expectError(() => r.rangeN(4, "cb" as unknown as () => void), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE", "callback must be a function");
  assert.equal(r.offset, 0);
  r.skip(2);
  expectError(() => r.clipFront(42 as unknown as () => void), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE", "onDropped must be a function");
  assert.equal(r.offset, 2);
  const l = list();
  expectError(() => l.range(42 as unknown as () => void), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE", "callback must be a function");
  expectError(() => l.dropFront(2, "recycle" as unknown as () => void), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE", "onDropped must be a function");
  assert.equal(l.size, 6);
  l.dropFront(2); // an omitted callback is fine
  assert.equal(l.size, 4);
});

// ---- buffers that lose bytes under the reader (RD4) --------------------------

/** Every read of the reader, each over a few bytes (readBytes, readView, read and rangeN take 4). */
const READS_OF_BYTES: readonly (readonly [string, (r: BufferReader) => unknown])[] = [
  ["readByte", (r) => r.readByte()], ["readUint16BE", (r) => r.readUint16BE()], ["readUint16LE", (r) => r.readUint16LE()],
  ["readUint32BE", (r) => r.readUint32BE()], ["readUint32LE", (r) => r.readUint32LE()],
  ["readUintBE", (r) => r.readUintBE(3)], ["readUintLE", (r) => r.readUintLE(6)],
  ["readBigUint64BE", (r) => r.readBigUint64BE()], ["readBigUint64LE", (r) => r.readBigUint64LE()],
  ["readFloat32BE", (r) => r.readFloat32BE()], ["readFloat32LE", (r) => r.readFloat32LE()],
  ["readFloat64BE", (r) => r.readFloat64BE()], ["readFloat64LE", (r) => r.readFloat64LE()],
  ["readLEB128", (r) => r.readLEB128()], ["readSignedLEB128", (r) => r.readSignedLEB128()],
  ["readBigLEB128", (r) => r.readBigLEB128()], ["readBigSignedLEB128", (r) => r.readBigSignedLEB128()],
  ["read", (r) => r.read(new Uint8Array(4))], ["readBytes", (r) => r.readBytes(4)], ["readView", (r) => r.readView(4)],
  ["range", (r) => r.range(() => assert.fail("range called back"))], ["rangeN", (r) => r.rangeN(4, () => assert.fail("rangeN called back"))],
];

/**
 * A reader over 4 plain bytes, 16 of a resizable ArrayBuffer (a view that
 * tracks its length) and 8 plain bytes, all 0x01, moved to `offset`; then
 * the middle buffer is detached or resized to 4 bytes.
 */
function damagedReader(how: "detach" | "shrink", offset: number): BufferReader {
  const resizable = new ArrayBuffer(16, { maxByteLength: 32 });
  const r = new BufferReader([new Uint8Array(4).fill(1), new Uint8Array(resizable).fill(1), new Uint8Array(8).fill(1)]);
  r.skip(offset);
  if (how === "detach") structuredClone(resizable, { transfer: [resizable] });
  else resizable.resize(4);
  return r;
}

test("every read of bytes a buffer lost after the reader counted them (detached, shrunk) throws HeapCorruptionError RD4 and moves nothing", () => {
  for (const how of ["detach", "shrink"] as const) {
    // 8: inside the buffer, past the 4 bytes a shrink leaves (the fast paths);
    // 18: 2 bytes before its end, so that the longer reads go on into the next.
    for (const offset of [8, 18]) {
      const r = damagedReader(how, offset);
      for (const [name, read] of READS_OF_BYTES) {
        const e = expectError(() => read(r), HeapCorruptionError, "ERR_OFFHEAP_HEAP_CORRUPTION", `BufferReader.${name}:`, "detached or shrunk", "invariant RD4");
        assert.equal((e as HeapCorruptionError).invariant, "RD4");
        assert.equal(r.offset, offset, `${how} at ${offset}: ${name} moved the reader`);
      }
    }
  }
});

test("the bytes a shrunk buffer still holds read as before; a buffer detached ahead is found when the buffers run out before the counted size", () => {
  const r = damagedReader("shrink", 5);
  r.unread(1); // at the start of the shrunk buffer, which the reader entered before it shrank
  assert.equal(r.readUint32BE(), 0x01010101);
  r.unread(4);
  assert.equal(r.readFloat32LE(), new DataView(Uint8Array.of(1, 1, 1, 1).buffer).getFloat32(0, true));
  r.unread(3);
  assert.deepEqual([...r.readBytes(3)], [1, 1, 1]);
  expectError(() => r.readByte(), HeapCorruptionError, "ERR_OFFHEAP_HEAP_CORRUPTION", "BufferReader.readByte", "invariant RD4");
  assert.equal(r.offset, 8);

  const ahead = damagedReader("detach", 2);
  expectError(() => ahead.readBytes(12), HeapCorruptionError, "ERR_OFFHEAP_HEAP_CORRUPTION", "BufferReader.readBytes", "invariant RD4");
  expectError(() => ahead.skip(12), HeapCorruptionError, "ERR_OFFHEAP_HEAP_CORRUPTION", "BufferReader.skip", "invariant RD4");
  assert.equal(ahead.offset, 2);
});

test("unread back over a buffer that lost bytes throws HeapCorruptionError RD4 and moves nothing", () => {
  for (const how of ["detach", "shrink"] as const) {
    // At byte 2 of the last buffer; the middle one held 16 bytes when they were read. A walk
    // back that ends inside the shrunk buffer (4 back) lands on a byte it still holds, at an
    // offset the reader cannot check without the lengths it counted (the limit in buffer-reader.ts).
    for (const back of how === "detach" ? [4, 20, 22] : [20, 22]) {
      const r = damagedReader(how, 22);
      expectError(() => r.unread(back), HeapCorruptionError, "ERR_OFFHEAP_HEAP_CORRUPTION", "BufferReader.unread", "invariant RD4");
      assert.equal(r.offset, 22, `${how}, unread(${back})`);
      assert.equal(r.readByte(), 1, "the reader reads on where it was");
    }
    const r = damagedReader(how, 22);
    r.unread(2); // within the last buffer: nothing lost on the way
    assert.equal(r.offset, 20);
  }
});
