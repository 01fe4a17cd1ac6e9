// Buffers-layer readers (see run.mjs): BufferList against an array of the
// same buffer objects, BufferReader over a list, one view or an array of
// views against DataView and a reference LEB128 decoder on the
// concatenated bytes, and FrameParser against the payloads a stream of
// length-prefixed frames was encoded from, cut into random chunks. Buffers
// are fresh arrays, Node Buffers and views at odd offsets of a bigger
// ArrayBuffer, empty ones included. Validators after every step, and
// deliberate misuse (reads past the end, unread past the start, bad counts,
// widths and arguments, unterminated and overlong LEB128, bad options, too
// long and truncated frames) that must throw its typed error and leave the
// position, the next bytes read and the structure as they were.
import { OffheapRangeError, OffheapTypeError } from "offheap";
import { BufferList, BufferReader, DEFAULT_MAX_FRAME_BYTES, EndOfDataError, FrameParser, splitFrames } from "offheap/buffers";
import { CODES, ensure } from "./lib.mjs";

const { RANGE, TYPE } = CODES;
const END = "ERR_OFFHEAP_END_OF_DATA"; // EndOfDataError's code (src/errors.ts)
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const LEB_READS = ["readLEB128", "readSignedLEB128", "readBigLEB128", "readBigSignedLEB128"];
// [method, width, reference decoder on a DataView of the model, misuse family]
const FIXED_READS = [
  ["readByte", 1, (dv, at) => dv.getUint8(at), "readByte"],
  ["readUint16BE", 2, (dv, at) => dv.getUint16(at), "readUint16/32"],
  ["readUint16LE", 2, (dv, at) => dv.getUint16(at, true), "readUint16/32"],
  ["readUint32BE", 4, (dv, at) => dv.getUint32(at), "readUint16/32"],
  ["readUint32LE", 4, (dv, at) => dv.getUint32(at, true), "readUint16/32"],
  ["readBigUint64BE", 8, (dv, at) => dv.getBigUint64(at), "readBigUint64"],
  ["readBigUint64LE", 8, (dv, at) => dv.getBigUint64(at, true), "readBigUint64"],
  ["readFloat32BE", 4, (dv, at) => dv.getFloat32(at), "readFloat32/64"],
  ["readFloat32LE", 4, (dv, at) => dv.getFloat32(at, true), "readFloat32/64"],
  ["readFloat64BE", 8, (dv, at) => dv.getFloat64(at), "readFloat32/64"],
  ["readFloat64LE", 8, (dv, at) => dv.getFloat64(at, true), "readFloat32/64"],
];
const U_EDGES = [0n, 1n, 127n, 128n, 16383n, 16384n, 2n ** 31n, 2n ** 32n, 2n ** 49n - 1n, 2n ** 49n, MAX_SAFE - 1n, MAX_SAFE, MAX_SAFE + 1n,
  2n ** 56n - 1n, 2n ** 56n, 2n ** 63n, 2n ** 64n - 1n, 2n ** 64n];
const S_EDGES = [0n, -1n, 63n, 64n, -64n, -65n, 8191n, -8192n, 2n ** 48n, -(2n ** 48n), -(2n ** 49n), 2n ** 52n, -(2n ** 52n), MAX_SAFE, -MAX_SAFE,
  MAX_SAFE + 1n, -MAX_SAFE - 1n, 2n ** 55n - 1n, -(2n ** 55n), -(2n ** 63n)];
const F32_BITS = [0x7fc00000, 0x7f800001, 0xffc00001, 0x7f800000, 0xff800000, 0x80000000, 0x00000001, 0x807fffff, 0x3f800000];
const F64_BITS = [[0x7ff80000, 0], [0x7ff00000, 1], [0xfff80000, 0xffffffff], [0x7ff00000, 0], [0xfff00000, 0], [0x80000000, 0], [0, 1], [0x3ff00000, 0]];
const NOT_BYTES = ["x", null, undefined, 5, [1, 2], new Uint16Array(2), new ArrayBuffer(4), new DataView(new ArrayBuffer(2)), { length: 1 }];

// ---- reference code --------------------------------------------------------

function encodeULEB(value) {
  const out = [];
  do {
    let b = Number(value & 0x7fn);
    value >>= 7n;
    if (value !== 0n) b |= 0x80;
    out.push(b);
  } while (value !== 0n);
  return out;
}

function encodeSLEB(value) {
  const out = [];
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

/** The LEB128 number at `at` of `data`: { value (BigInt), nBytes }, or null if it runs off the end. */
function decodeLEB(data, at, signed) {
  let value = 0n;
  for (let k = 0; at + k < data.length; k++) {
    const b = data[at + k];
    value |= BigInt(b & 0x7f) << BigInt(7 * k);
    if (b < 0x80) {
      if (signed && (b & 0x40) !== 0) value -= 1n << BigInt(7 * (k + 1));
      return { value, nBytes: k + 1 };
    }
  }
  return null;
}

/** The unsigned integer of `nBytes` bytes at `at` of `data`. */
function uintAt(data, at, nBytes, littleEndian) {
  let v = 0;
  for (let i = 0; i < nBytes; i++) v = v * 256 + data[at + (littleEndian ? nBytes - 1 - i : i)];
  return v;
}

/** `value` (a BigInt) as `nBytes` bytes. */
function uintBytes(value, nBytes, littleEndian) {
  const out = [];
  for (let i = 0; i < nBytes; i++, value >>= 8n) out.push(Number(value & 0xffn));
  return littleEndian ? out : out.reverse();
}

const concat = (bufs) => {
  const out = new Uint8Array(bufs.reduce((s, b) => s + b.length, 0));
  let at = 0;
  for (const b of bufs) {
    out.set(b, at);
    at += b.length;
  }
  return out;
};
const bytesOf = (u8) => Buffer.from(u8.buffer, u8.byteOffset, u8.length);
const same = (a, b) => a.length === b.length && bytesOf(a).equals(bytesOf(b));
const show = (u8) => `[${[...u8.subarray(0, 24)].map((b) => b.toString(16).padStart(2, "0")).join(" ")}${u8.length > 24 ? " ..." : ""}] (${u8.length} B)`;
const piecesOf = (bufs) => {
  let start = 0;
  return bufs.map((buf) => {
    const q = { buf, start };
    start += buf.length;
    return q;
  });
};

// ---- random bytes ------------------------------------------------------------

/** Mostly bytes below 0x80 (LEB128 ends) and any byte, some 0xff and 0x80 (continuations). */
function randomByte(p) {
  const r = p.next();
  return r < 0.4 ? p.int(0, 0x7f) : r < 0.85 ? p.int(0, 255) : r < 0.93 ? 0xff : 0x80;
}

/** A random BigInt of exactly `n` bits (0n for 0). */
function bits(p, n) {
  if (n === 0) return 0n;
  let v = 1n;
  for (let i = 1; i < n; i++) v = (v << 1n) | (p.chance(0.5) ? 1n : 0n);
  return v;
}

/** A valid LEB128 encoding: unsigned (sometimes zero-padded) or signed, of boundary or random values up to 72 bits. */
function lebEncoding(p) {
  if (p.chance(0.5)) {
    const enc = encodeULEB(p.chance(0.4) ? p.pick(U_EDGES) : bits(p, p.int(0, 72)));
    if (p.chance(0.2)) {
      enc[enc.length - 1] |= 0x80; // the same number in more bytes: continuation groups of zeros
      for (let k = p.int(0, 3); k > 0; k--) enc.push(0x80);
      enc.push(0);
    }
    return enc;
  }
  return encodeSLEB(p.chance(0.4) ? p.pick(S_EDGES) : (p.chance(0.5) ? -1n : 1n) * bits(p, p.int(0, 72)));
}

/** A float32 or float64 of a special pattern (NaNs with payloads, infinities, -0, denormals) or random bits, either endianness. */
function floatBytes(p) {
  const dv = new DataView(new ArrayBuffer(8));
  const le = p.chance(0.5);
  if (p.chance(0.5)) {
    dv.setUint32(0, p.chance(0.7) ? p.pick(F32_BITS) : p.int(0, 0xffffffff), le);
    return [...new Uint8Array(dv.buffer, 0, 4)];
  }
  const [hi, lo] = p.chance(0.7) ? p.pick(F64_BITS) : [p.int(0, 0xffffffff), p.int(0, 0xffffffff)];
  dv.setUint32(le ? 4 : 0, hi, le);
  dv.setUint32(le ? 0 : 4, lo, le);
  return [...new Uint8Array(dv.buffer)];
}

/**
 * About `n` bytes for a reader: random runs, valid LEB128 numbers, overlong
 * ones (8 or more continuation bytes), floats, and sometimes an unterminated
 * LEB128 at the end. `marks` are the offsets where a LEB128 number starts.
 */
function makeData(p, n) {
  const bytes = [];
  const marks = [];
  while (bytes.length < n) {
    const r = p.int(0, 9);
    if (r < 5) {
      for (let k = p.int(1, 12); k > 0; k--) bytes.push(randomByte(p));
    } else if (r < 8) {
      marks.push(bytes.length);
      bytes.push(...lebEncoding(p));
    } else if (r === 8) {
      marks.push(bytes.length);
      for (let k = p.int(8, 11); k > 0; k--) bytes.push(0x80 | p.int(0, 0x7f));
      bytes.push(p.int(0, 0x7f));
    } else {
      bytes.push(...floatBytes(p));
    }
  }
  if (p.chance(0.15)) {
    marks.push(bytes.length);
    for (let k = p.int(1, 10); k > 0; k--) bytes.push(0x80 | p.int(0, 0x7f));
  }
  return { data: Uint8Array.from(bytes), marks };
}

/**
 * `data` cut at `nCuts` random points (equal points make empty pieces), each
 * piece a fresh copy, a Node Buffer copy, or a view (Uint8Array or Buffer)
 * at an odd offset of one bigger ArrayBuffer whose gaps hold 0xee.
 */
function split(p, data, nCuts) {
  const cuts = [0, data.length];
  for (let i = 0; i < nCuts; i++) cuts.push(p.int(0, data.length));
  cuts.sort((a, b) => a - b);
  const arena = new Uint8Array(data.length + 16 * cuts.length).fill(0xee);
  let arenaAt = 0;
  const out = [];
  for (let i = 0; i + 1 < cuts.length; i++) {
    const bytes = data.subarray(cuts[i], cuts[i + 1]);
    const kind = p.int(0, 3);
    if (kind === 0) out.push(bytes.slice());
    else if (kind === 1) out.push(Buffer.from(bytes));
    else {
      arenaAt += p.int(0, 15);
      arena.set(bytes, arenaAt);
      out.push(kind === 2 ? arena.subarray(arenaAt, arenaAt + bytes.length) : Buffer.from(arena.buffer, arenaAt, bytes.length));
      arenaAt += bytes.length;
    }
  }
  return out;
}

/** A BufferList of `bufs`, built one of five ways (constructor, push, pushOne, append of sublists, the single-buffer constructor). */
function buildList(p, bufs) {
  const how = p.int(0, bufs.length === 1 ? 4 : 3);
  let list;
  if (how === 0) list = new BufferList(bufs);
  else if (how === 1) list = new BufferList().push(...bufs);
  else if (how === 2) {
    list = new BufferList();
    for (const b of bufs) list.pushOne(b);
  } else if (how === 3) {
    list = new BufferList();
    for (let i = 0; i < bufs.length; ) {
      const n = p.int(0, bufs.length - i);
      list.append(new BufferList(bufs.slice(i, i + n)));
      i += n;
    }
  } else list = new BufferList(bufs[0]);
  list.check();
  ensure(list.count === bufs.length && list.buffers.every((b, i) => b === bufs[i]), () => `a BufferList built by method ${how} does not hold the ${bufs.length} buffers given`);
  return list;
}

/** BufferList, BufferReader and FrameParser against models; see the top of the file. */
export function readerProgram(p, steps) {
  // ---- BufferList ----------------------------------------------------------
  const listArena = new Uint8Array(4096);
  for (let i = 0; i < listArena.length; i++) listArena[i] = p.int(0, 255);
  let list = new BufferList();
  let model = []; // the list's buffers: the same objects, in order

  const listBuf = () => {
    const n = p.size(24, 200);
    const kind = p.int(0, 3);
    const off = p.int(0, listArena.length - n);
    if (kind === 0) return Uint8Array.from({ length: n }, () => p.int(0, 255));
    if (kind === 1) return listArena.subarray(off, off + n);
    if (kind === 2) return Buffer.from(listArena.buffer, off, n);
    return Buffer.from(listArena.subarray(off, off + n)); // a copy, in Node's pool for small sizes
  };
  const modelSize = () => model.reduce((s, b) => s + b.length, 0);
  const validateList = (full) => {
    list.check();
    ensure(list.count === model.length, () => `count is ${list.count}, the model has ${model.length} buffers`);
    ensure(list.size === modelSize(), () => `size is ${list.size}, the model's buffers hold ${modelSize()} bytes`);
    let i = 0;
    for (const b of list) ensure(b === model[i++], () => `iteration: buffer ${i - 1} is not the pushed object`);
    ensure(i === model.length, "iteration ended early");
    if (!full) return;
    const all = concat(model);
    const bytes = list.toBytes();
    ensure(bytes.constructor === Uint8Array && same(bytes, all), () => `toBytes() = ${show(bytes)}, expected ${show(all)}`);
    const seen = [];
    list.range((b, k) => seen.push([b, k]));
    ensure(seen.length === model.length && seen.every(([b, k], j) => b === model[j] && k === j), "range() does not call back with each buffer and its index");
    const idx = p.int(-model.length - 2, model.length + 1);
    ensure(list.at(idx) === model.at(idx), () => `at(${idx}) is not the model's buffer`);
  };
  const listUnchanged = (extra) => {
    const bufs = [...list.buffers];
    const size = list.size;
    return (kind) => {
      list.check();
      ensure(list.size === size && list.count === bufs.length && bufs.every((b, i) => list.buffers[i] === b), `misuse "${kind}": the list changed`);
      extra?.(kind);
    };
  };
  const lmisuse = (kind, fn, type, code, extra) => p.misuse(kind, fn, type, code, listUnchanged(extra));

  const listOps = [
    [5, "list: pushOne", () => {
      const b = listBuf();
      ensure(list.pushOne(b) === list, "pushOne does not return the list");
      model.push(b);
    }],
    [4, "list: push", () => {
      const bufs = Array.from({ length: p.int(0, 4) }, listBuf);
      ensure(list.push(...bufs) === list, "push does not return the list");
      model.push(...bufs);
    }],
    [3, "list: append", () => {
      if (p.chance(0.15) && model.length <= 32) {
        list.append(list); // doubles the list
        model.push(...model);
        return;
      }
      const bufs = Array.from({ length: p.int(0, 4) }, listBuf);
      const other = new BufferList(bufs);
      ensure(list.append(other) === list, "append does not return the list");
      ensure(other.count === bufs.length && other.buffers.every((b, i) => b === bufs[i]), "append changed the appended list");
      model.push(...bufs);
    }],
    [3, "list: updateBuffer", () => {
      if (model.length === 0) return;
      const index = p.int(-model.length, model.length - 1);
      const b = listBuf();
      ensure(list.updateBuffer(index, b) === list, "updateBuffer does not return the list");
      model[index < 0 ? model.length + index : index] = b;
    }],
    [2, "list: dropFront", () => {
      const size = modelSize();
      const n = p.chance(0.2) ? p.pick([0, size]) : p.int(0, size);
      const dropped = [];
      list.dropFront(n, (b) => dropped.push(b));
      let left = n;
      let k = 0;
      while (k < model.length && model[k].length <= left) left -= model[k++].length;
      ensure(dropped.length === k && dropped.every((b, i) => b === model[i]), () => `dropFront(${n}) reported ${dropped.length} dropped buffers, expected the first ${k}`);
      model = model.slice(k);
      if (left > 0) {
        const head = list.at(0);
        const old = model[0];
        ensure(head.buffer === old.buffer && head.byteOffset === old.byteOffset + left && head.length === old.length - left,
          () => `dropFront(${n}): the first buffer is not a view of the rest of the old one`);
        model[0] = head;
      }
    }],
    [1, "list: reset", () => {
      ensure(list.reset() === list, "reset does not return the list");
      model = [];
    }],
    [3, "list: copyTo", () => {
      const size = modelSize();
      const extra = p.int(0, 8);
      const target = p.chance(0.5) ? new Uint8Array(size + extra).fill(0xa5) : Buffer.alloc(size + extra, 0xa5);
      ensure(list.copyTo(target) === size, "copyTo does not return the size");
      ensure(same(target.subarray(0, size), concat(model)), "copyTo copied other bytes");
      ensure(target.subarray(size).every((b) => b === 0xa5), "copyTo wrote past the list's size");
    }],
    [3, "list: equals", () => {
      const all = concat(model);
      const choice = p.int(0, 5);
      let other = all;
      let expected = true;
      if (choice === 0) other = buildList(p, split(p, all, p.int(0, 6)));
      else if (choice === 1) other = list;
      else if (choice === 2 && all.length > 0) {
        other = all.slice();
        other[p.int(0, all.length - 1)] ^= 1 << p.int(0, 7);
        expected = false;
        if (p.chance(0.5)) other = buildList(p, split(p, other, p.int(0, 6)));
      } else if (choice === 3) {
        other = p.chance(0.5) && all.length > 0 ? all.subarray(0, p.int(0, all.length - 1)) : concat([all, Uint8Array.of(p.int(0, 255))]);
        expected = false;
        if (p.chance(0.5)) other = buildList(p, split(p, other, p.int(0, 6)));
      } else if (choice === 4) other = Buffer.from(all);
      ensure(list.equals(other) === expected, () => `equals(${other instanceof BufferList ? "a list" : "bytes"} of ${other instanceof BufferList ? other.size : other.length} bytes) is not ${expected}`);
      if (other instanceof BufferList) ensure(other.equals(list) === expected, "equals is not symmetric");
    }],
    [5, "list: misuse", () => {
      const choice = p.int(0, 8);
      const bad = p.pick(NOT_BYTES);
      if (choice === 0) {
        lmisuse("list: pushOne of a non-Uint8Array", () => list.pushOne(bad), OffheapTypeError, TYPE);
      } else if (choice === 1) {
        const bufs = Array.from({ length: p.int(0, 3) }, listBuf);
        bufs.splice(p.int(0, bufs.length), 0, bad);
        lmisuse("list: push of a non-Uint8Array (adds none)", () => list.push(...bufs), OffheapTypeError, TYPE);
      } else if (choice === 2) {
        lmisuse("list: append of a non-list", () => list.append(p.pick([...NOT_BYTES, new Uint8Array(2), [new Uint8Array(1)]])), OffheapTypeError, TYPE);
      } else if (choice === 3) {
        const n = model.length;
        const index = p.pick([n, n + p.int(1, 5), -n - 1, -n - p.int(2, 5), 0.5, -1.5, NaN, Infinity, -Infinity, "0", null]);
        const update = () => list.updateBuffer(index, p.chance(0.5) ? listBuf() : bad);
        if (typeof index === "number") lmisuse("list: updateBuffer at a bad index", update, OffheapRangeError, RANGE);
        else lmisuse("list: updateBuffer at an index that is no number", update, OffheapTypeError, TYPE);
      } else if (choice === 4 && model.length > 0) {
        lmisuse("list: updateBuffer with a non-Uint8Array", () => list.updateBuffer(p.int(-model.length, model.length - 1), bad), OffheapTypeError, TYPE);
      } else if (choice === 5) {
        const size = list.size;
        if (size > 0 && p.chance(0.7)) {
          const target = new Uint8Array(p.int(0, size - 1)).fill(0xa5);
          lmisuse("list: copyTo a short target", () => list.copyTo(target), OffheapRangeError, RANGE,
            (kind) => ensure(target.every((b) => b === 0xa5), `misuse "${kind}": copyTo wrote into the short target`));
        } else {
          lmisuse("list: copyTo a non-Uint8Array", () => list.copyTo(p.pick(NOT_BYTES.slice(1))), OffheapTypeError, TYPE);
        }
      } else if (choice === 6) {
        lmisuse("list: equals of a non-list, non-Uint8Array", () => list.equals(p.pick(NOT_BYTES)), OffheapTypeError, TYPE);
      } else if (choice === 7) {
        const size = list.size;
        const n = p.pick([-1, size + 1, size + p.int(2, 100), 0.5, NaN, Infinity, 2 ** 53, "0", null]);
        const [type, code] = typeof n === "number" ? [OffheapRangeError, RANGE] : [OffheapTypeError, TYPE];
        lmisuse("list: dropFront of a bad count", () => list.dropFront(n, () => ensure(false, "dropFront called back before throwing")), type, code);
      } else if (choice === 8) {
        const bufs = [listBuf(), bad];
        lmisuse("list: constructed with a non-Uint8Array", () => new BufferList(p.chance(0.5) ? bufs : bufs.reverse()), OffheapTypeError, TYPE);
      }
    }],
  ];

  // ---- BufferReader --------------------------------------------------------
  // rw: the reader and its model. data: the bytes the reader covers (rebased by clipFront), at: its
  // offset; pieces: the source's buffers with their start in data; pending: buffers pushed to a list
  // source after the reader was made (the reader sees them after its next clipFront); marks: offsets
  // in data (pendingMarks: in the pending bytes) where a LEB128 number starts.
  let rw = null;
  let readerNote = "";
  let streamNote = "no frame stream yet";
  const newReader = () => {
    const { data, marks } = makeData(p, p.size(96, 1500));
    const kind = p.pick(["list", "list", "array", "single"]);
    const bufs = kind !== "single" && data.length === 0 && p.chance(0.3) ? [] : split(p, data, kind === "single" ? 0 : p.int(0, Math.min(12, 2 + (data.length >> 3))));
    const list = kind === "list" ? buildList(p, bufs) : null;
    const source = kind === "list" ? list : kind === "array" ? bufs : bufs[0];
    rw = {
      reader: new BufferReader(source), kind, data, at: 0, pieces: piecesOf(bufs), list, pending: [], marks, pendingMarks: [],
      array: kind === "array" ? { bufs, copy: [...bufs] } : null, backings: new Set(bufs.map((b) => b.buffer)), trimmed: new Set(),
    };
    readerNote = `reader over ${kind === "list" ? `a BufferList of ${bufs.length} buffers` : kind === "array" ? `an array of ${bufs.length} buffers` : "one view"}, ${data.length} bytes`;
    p.note = `${readerNote}; ${streamNote}`;
  };
  const left = () => rw.data.length - rw.at;
  const validateReader = () => {
    const r = rw.reader;
    r.check();
    ensure(r.offset === rw.at && r.remaining === left() && r.size === rw.data.length,
      () => `offset/remaining/size are ${r.offset}/${r.remaining}/${r.size}, the model has ${rw.at}/${left()}/${rw.data.length}`);
    if (rw.list !== null) {
      rw.list.check();
      const pendingBytes = rw.pending.reduce((s, b) => s + b.length, 0);
      ensure(rw.list.size === rw.data.length + pendingBytes, "the reader's list changed size");
    }
  };
  // After a misuse: the position is where it was, and the next bytes read are the model's.
  const readerUnchanged = () => {
    const at = rw.at;
    return (kind) => {
      const r = rw.reader;
      r.check();
      ensure(r.offset === at && r.remaining === rw.data.length - at, () => `misuse "${kind}": the reader moved from offset ${at} to ${r.offset} (remaining ${r.remaining})`);
      const k = Math.min(rw.data.length - at, p.int(1, 9));
      if (k === 0) return;
      const got = p.chance(0.5) ? r.readBytes(k) : Uint8Array.from({ length: k }, () => r.readByte());
      ensure(same(got, rw.data.subarray(at, at + k)), () => `misuse "${kind}": the next ${k} bytes read are ${show(got)}, expected ${show(rw.data.subarray(at, at + k))}`);
      r.unread(k);
      ensure(r.offset === at, `misuse "${kind}": unread after the probe did not return to the position`);
    };
  };
  // A misuse of the reader; `api` (optional): the method the error message must name.
  const rmisuse = (kind, fn, type, code, api) => {
    const e = p.misuse(kind, fn, type, code, readerUnchanged());
    if (api) ensure(e.message.startsWith(`BufferReader.${api}:`), () => `misuse "${kind}": the message does not name BufferReader.${api}: ${e.message}`);
  };
  const endMisuse = (family, api, fn) => rmisuse(`reader: ${family} past the end`, fn, EndOfDataError, END, api);
  // A byte count for readBytes, readView, skip, rangeN: mostly available, sometimes all or more.
  const count = () => {
    const r = p.next();
    return r < 0.1 ? left() + p.int(1, 10) : r < 0.25 ? left() : p.int(0, Math.min(left(), 48));
  };
  const pieceHolding = (at, n) => rw.pieces.find((q) => q.buf.length > 0 && q.start <= at && at + n <= q.start + q.buf.length);
  const seek = (to) => {
    if (to >= rw.at) rw.reader.skip(to - rw.at);
    else rw.reader.unread(rw.at - to);
    rw.at = to;
    ensure(rw.reader.offset === to, () => `after seeking to ${to} the offset is ${rw.reader.offset}`);
  };

  const fixedRead = ([name, width, ref, family]) => {
    const call = () => rw.reader[name]();
    if (left() < width) return endMisuse(family, name, call);
    const want = ref(new DataView(rw.data.buffer, rw.data.byteOffset, rw.data.length), rw.at);
    const got = call();
    ensure(Object.is(got, want), () => `${name}() at offset ${rw.at} = ${got}, expected ${want} (bytes ${show(rw.data.subarray(rw.at, rw.at + width))})`);
    rw.at += width;
  };
  const lebRead = (name) => {
    const signed = name.includes("Signed");
    const big = name.includes("Big");
    const call = () => rw.reader[name]();
    const ref = decodeLEB(rw.data, rw.at, signed);
    const first8Continue = left() >= 8 && rw.data.subarray(rw.at, rw.at + 8).every((b) => b >= 0x80);
    if (!big && first8Continue) return rmisuse("reader: LEB128 longer than 8 bytes (number variants)", call, OffheapRangeError, RANGE, name);
    if (ref === null) return rmisuse("reader: LEB128 running off the end", call, EndOfDataError, END, name);
    if (!big && (ref.value > MAX_SAFE || ref.value < -MAX_SAFE)) return rmisuse("reader: LEB128 beyond ±(2^53 - 1) (number variants)", call, OffheapRangeError, RANGE, name);
    const want = big ? ref.value : Number(ref.value);
    const got = call();
    ensure(Object.is(got, want), () => `${name}() at offset ${rw.at} = ${got}, expected ${want} (bytes ${show(rw.data.subarray(rw.at, rw.at + ref.nBytes))})`);
    rw.at += ref.nBytes;
  };
  const clipFront = () => {
    const at = rw.at;
    const dropped = [];
    const withCallback = p.chance(0.7);
    ensure(rw.reader.clipFront(withCallback ? (b) => dropped.push(b) : undefined) === at, "clipFront does not return the bytes consumed");
    // Mirror BufferList.dropFront over the source's buffers and the pending ones.
    const all = [...rw.pieces.map((q) => q.buf), ...rw.pending];
    let skip = at;
    let k = 0;
    while (k < all.length && all[k].length <= skip) skip -= all[k++].length;
    // A head trimmed by an earlier clipFront of an array or one view is the reader's own view object: compare it as a view.
    const sameBuffer = (b, m) => b === m || (rw.trimmed.has(m) && b.buffer === m.buffer && b.byteOffset === m.byteOffset && b.length === m.length);
    if (withCallback) ensure(dropped.length === k && dropped.every((b, i) => sameBuffer(b, all[i])), () => `clipFront reported ${dropped.length} dropped buffers, expected the first ${k}`);
    let rest = all.slice(k);
    if (skip > 0) {
      rest[0] = rest[0].subarray(skip);
      rw.trimmed.add(rest[0]);
    }
    if (rw.list !== null) {
      const now = rw.list.buffers;
      ensure(now.length === rest.length && now.every((b, i) => (i === 0 && skip > 0 ? b.buffer === rest[0].buffer && b.byteOffset === rest[0].byteOffset && b.length === rest[0].length : b === rest[i])),
        "clipFront: the list does not hold the unread part of its buffers");
      rest = [...now];
    }
    if (rw.array !== null) ensure(rw.array.bufs.length === rw.array.copy.length && rw.array.bufs.every((b, i) => b === rw.array.copy[i]), "clipFront changed the caller's array");
    const rebased = rw.data.length - at;
    rw.data = concat([rw.data.subarray(at), ...rw.pending]);
    rw.marks = [...rw.marks.filter((m) => m >= at).map((m) => m - at), ...rw.pendingMarks.map((m) => m + rebased)];
    rw.pieces = piecesOf(rest);
    rw.at = 0;
    rw.pending = [];
    rw.pendingMarks = [];
  };

  const readerMisuse = () => {
    const choice = p.int(0, 5);
    if (choice === 0) {
      const api = p.pick(["readBytes", "readView", "skip", "rangeN", "unread"]);
      const n = p.pick([-1, -p.int(2, 100), 0.5, p.int(1, 9) + 0.25, NaN, Infinity, -Infinity, 2 ** 53, 2 ** 60, "3", null, undefined, 3n]);
      const [type, code] = typeof n === "number" ? [OffheapRangeError, RANGE] : [OffheapTypeError, TYPE];
      rmisuse("reader: bad byte count", () => (api === "rangeN" ? rw.reader.rangeN(n, () => ensure(false, "rangeN called back before throwing")) : rw.reader[api](n)),
        type, code, api);
    } else if (choice === 1) {
      const api = p.pick(["readUintBE", "readUintLE"]);
      const w = p.pick([0, 7, 8, -1, 2.5, NaN, Infinity, "3", null, undefined]);
      rmisuse("reader: bad readUintBE/LE width", () => rw.reader[api](w), OffheapRangeError, RANGE, api);
    } else if (choice === 2) {
      rmisuse("reader: read into a non-Uint8Array", () => rw.reader.read(p.pick(NOT_BYTES)), OffheapTypeError, TYPE, "read");
    } else if (choice === 3) {
      rmisuse("reader: unread past the start", () => rw.reader.unread(rw.at + p.pick([1, p.int(2, 20), 1000])), OffheapRangeError, RANGE, "unread");
    } else if (choice === 4) {
      const bad = p.pick([...NOT_BYTES, new Set([new Uint8Array(1)]), [new Uint8Array(2), p.pick(NOT_BYTES)]]);
      rmisuse("reader: constructed from a non-source", () => new BufferReader(bad), OffheapTypeError, TYPE);
    } else {
      // Near the end, then a read that does not fit.
      if (left() > 12) seek(rw.data.length - p.int(0, 12));
      const r = p.int(0, 5);
      if (r === 0) {
        const tooWide = FIXED_READS.filter(([, width]) => width > left());
        if (tooWide.length > 0) fixedRead(p.pick(tooWide));
      } else if (r === 1) {
        const w = p.int(Math.min(left() + 1, 6), 6);
        const api = p.pick(["readUintBE", "readUintLE"]);
        if (w > left()) endMisuse("readUintBE/LE", api, () => rw.reader[api](w));
      } else {
        const api = p.pick(["readBytes", "readView", "skip", "rangeN"]);
        const n = left() + p.int(1, 10);
        endMisuse(api === "readBytes" || api === "readView" ? "readBytes/readView" : api, api,
          () => (api === "rangeN" ? rw.reader.rangeN(n, () => ensure(false, "rangeN called back before throwing")) : rw.reader[api](n)));
      }
    }
  };
  const readerOps = [
    [3, "reader: new", () => newReader()],
    [12, "reader: fixed-width read", () => fixedRead(p.pick(FIXED_READS))],
    [5, "reader: readUintBE/LE", () => {
      const w = p.int(1, 6);
      const le = p.chance(0.5);
      const name = le ? "readUintLE" : "readUintBE";
      const call = () => rw.reader[name](w);
      if (left() < w) return endMisuse("readUintBE/LE", name, call);
      const want = uintAt(rw.data, rw.at, w, le);
      const got = call();
      ensure(got === want, () => `${name}(${w}) at offset ${rw.at} = ${got}, expected ${want}`);
      rw.at += w;
    }],
    [3, "reader: read", () => {
      const n = p.chance(0.2) ? left() + p.int(0, 10) : p.int(0, 40);
      const target = p.chance(0.3) ? Buffer.alloc(n + 4, 0xa5).subarray(2, n + 2) : new Uint8Array(n).fill(0xa5);
      const got = rw.reader.read(target);
      const want = Math.min(n, left());
      ensure(got === want, () => `read() of ${n} bytes at offset ${rw.at} returned ${got}, expected ${want}`);
      ensure(same(target.subarray(0, want), rw.data.subarray(rw.at, rw.at + want)), () => `read(): copied ${show(target.subarray(0, want))}, expected ${show(rw.data.subarray(rw.at, rw.at + want))}`);
      ensure(target.subarray(want).every((b) => b === 0xa5), "read() wrote past the count it returned");
      rw.at += want;
    }],
    [4, "reader: readBytes", () => {
      const n = count();
      if (n > left()) return endMisuse("readBytes/readView", "readBytes", () => rw.reader.readBytes(n));
      const got = rw.reader.readBytes(n);
      ensure(got.constructor === Uint8Array && same(got, rw.data.subarray(rw.at, rw.at + n)), () => `readBytes(${n}) at offset ${rw.at} = ${show(got)}, expected ${show(rw.data.subarray(rw.at, rw.at + n))}`);
      ensure(n === 0 || !rw.backings.has(got.buffer), () => `readBytes(${n}) returned a view of the source, not a copy`);
      rw.at += n;
    }],
    [4, "reader: readView", () => {
      const n = count();
      if (n > left()) return endMisuse("readBytes/readView", "readView", () => rw.reader.readView(n));
      const got = rw.reader.readView(n);
      ensure(same(got, rw.data.subarray(rw.at, rw.at + n)), () => `readView(${n}) at offset ${rw.at} = ${show(got)}, expected ${show(rw.data.subarray(rw.at, rw.at + n))}`);
      const holder = n > 0 ? pieceHolding(rw.at, n) : undefined;
      if (holder !== undefined) {
        ensure(got.buffer === holder.buf.buffer && got.byteOffset === holder.buf.byteOffset + rw.at - holder.start,
          () => `readView(${n}) at offset ${rw.at}: not a zero-copy view of the buffer holding the bytes`);
      } else if (n > 0) {
        ensure(!rw.backings.has(got.buffer), () => `readView(${n}) at offset ${rw.at} spans buffers but returned a view of one`);
      }
      rw.at += n;
    }],
    [4, "reader: skip", () => {
      const n = count();
      if (n > left()) return endMisuse("skip", "skip", () => rw.reader.skip(n));
      rw.reader.skip(n);
      rw.at += n;
    }],
    [4, "reader: unread", () => {
      const n = p.chance(0.3) ? rw.at : p.int(0, Math.min(rw.at, 48));
      rw.reader.unread(n);
      rw.at -= n;
    }],
    [3, "reader: seek", () => seek(p.chance(0.4) ? Math.max(0, rw.data.length - p.int(0, 9)) : p.int(0, rw.data.length))],
    [1, "reader: range", () => {
      const views = [];
      rw.reader.range((v) => views.push(v));
      ensure(views.every((v) => v.length > 0 && rw.backings.has(v.buffer)), "range(): an empty piece, or one that is not a view of the source");
      ensure(same(concat(views), rw.data.subarray(rw.at)), () => `range() from offset ${rw.at} gave ${show(concat(views))}, expected ${show(rw.data.subarray(rw.at))}`);
      rw.at = rw.data.length;
    }],
    [3, "reader: rangeN", () => {
      const n = count();
      if (n > left()) return endMisuse("rangeN", "rangeN", () => rw.reader.rangeN(n, () => ensure(false, "rangeN called back before throwing")));
      const views = [];
      rw.reader.rangeN(n, (v) => views.push(v));
      ensure(views.every((v) => v.length > 0 && rw.backings.has(v.buffer)), "rangeN(): an empty piece, or one that is not a view of the source");
      ensure(same(concat(views), rw.data.subarray(rw.at, rw.at + n)), () => `rangeN(${n}) at offset ${rw.at} gave ${show(concat(views))}`);
      rw.at += n;
    }],
    [5, "reader: LEB128 here", () => lebRead(p.pick(LEB_READS))],
    [6, "reader: LEB128 at a mark", () => {
      if (rw.marks.length === 0) return;
      seek(p.pick(rw.marks));
      lebRead(p.pick(LEB_READS));
    }],
    [2, "reader: clipFront", () => clipFront()],
    [() => (rw.list !== null ? 2 : 0), "reader: push to its list", () => {
      const { data, marks } = makeData(p, p.size(16, 120));
      const bufs = split(p, data, p.int(0, 4));
      const pendingBytes = rw.pending.reduce((s, b) => s + b.length, 0);
      if (p.chance(0.5)) rw.list.push(...bufs);
      else for (const b of bufs) rw.list.pushOne(b);
      rw.pending.push(...bufs);
      rw.pendingMarks.push(...marks.map((m) => m + pendingBytes));
      for (const b of bufs) rw.backings.add(b.buffer);
    }],
    [10, "reader: misuse", () => readerMisuse()],
  ];

  // ---- FrameParser -----------------------------------------------------------
  // fs: one stream of frames being pushed chunk by chunk. frames: { hs, he, pe, payload } (header
  // start, header end, payload end in the stream), or for the faulty last frame { hs, error, trigger }
  // (the stream offset whose arrival makes next() throw). arrived: bytes pushed; got: frames taken.
  let fs = null;
  const lebHeader = (r) => r.readSignedLEB128();
  const newStream = () => {
    const mode = p.pick([1, 2, 3, 4, 8, "leb"]);
    const options = {};
    let width = 0, le = false, incl = false;
    if (mode === "leb") options.header = lebHeader;
    else {
      width = mode;
      if (mode !== 4 || p.chance(0.5)) options.prefixBytes = mode;
      if (p.chance(0.8)) le = options.littleEndian = p.chance(0.5);
      if (p.chance(0.8)) incl = options.lengthIncludesPrefix = p.chance(0.5);
    }
    const max = p.chance(0.4) ? DEFAULT_MAX_FRAME_BYTES : p.int(0, 400);
    if (max !== DEFAULT_MAX_FRAME_BYTES || p.chance(0.5)) options.maxFrameBytes = max;
    const s = { live: 0, blocks: new Set(), copying: p.chance(0.3), backings: new Set(), frames: [], chunks: [], chunkStarts: [], next: 0, arrived: 0, got: 0, dead: false };
    if (s.copying) {
      options.memory = {
        nextN: (n) => {
          s.live++;
          const block = new Uint8Array(new ArrayBuffer(n + 8), 3, n + 2);
          s.blocks.add(block.buffer);
          return block;
        },
        recycle: () => void (s.live = 0),
      };
    }
    // The largest payload a header can announce; payloads stay within it, maxFrameBytes and 300 bytes.
    const capacity = mode === "leb" ? MAX_SAFE : (1n << BigInt(8 * width)) - 1n - (incl ? BigInt(width) : 0n);
    const cap = Number(capacity < BigInt(Math.min(max, 300)) ? capacity : BigInt(Math.min(max, 300)));
    const header = (payloadBytes) => (mode === "leb" ? encodeSLEB(BigInt(payloadBytes)) : uintBytes(BigInt(payloadBytes) + (incl ? BigInt(width) : 0n), width, le));
    const bytes = [];
    const frame = (n) => {
      const hs = bytes.length;
      bytes.push(...header(n));
      const he = bytes.length;
      const payload = Uint8Array.from({ length: n }, () => p.int(0, 255));
      bytes.push(...payload);
      s.frames.push({ hs, he, pe: bytes.length, payload });
    };
    for (let i = p.int(0, 10); i > 0; i--) frame(Math.min(cap, p.size(40, 300)));
    const faults = ["truncated"];
    if (capacity > BigInt(max)) faults.push("long");
    if (incl) faults.push("short");
    if (mode === "leb") faults.push("negative", "overlong");
    s.fault = p.chance(0.3) ? p.pick(faults) : null;
    const hs = bytes.length;
    if (s.fault === "truncated") {
      frame(Math.min(cap, p.int(1, 300)));
      const f = s.frames[s.frames.length - 1];
      if (f.pe - f.hs >= 2) bytes.length = p.int(f.hs + 1, f.pe - 1); // cut inside its header or payload
      else s.fault = null;
    } else if (s.fault === "long") {
      // Just above maxFrameBytes, or (8-byte prefix) anywhere up to the prefix's limit.
      let announced = BigInt(max) + BigInt(p.int(1, 50));
      if (width === 8 && p.chance(0.5)) announced = BigInt(max) + 1n + bits(p, p.int(1, 63)) % (capacity - BigInt(max));
      if (announced > capacity) announced = capacity;
      bytes.push(...(mode === "leb" ? encodeSLEB(announced) : uintBytes(announced + (incl ? BigInt(width) : 0n), width, le)));
      s.frames.push({ hs, error: "frames: payload above maxFrameBytes", trigger: bytes.length, announced });
    } else if (s.fault === "short") {
      bytes.push(...uintBytes(BigInt(p.int(0, width - 1)), width, le));
      s.frames.push({ hs, error: "frames: length below the prefix it includes", trigger: bytes.length });
    } else if (s.fault === "negative") {
      bytes.push(...encodeSLEB(-BigInt(p.int(1, 100000))));
      s.frames.push({ hs, error: "frames: header parser returned a negative length", trigger: bytes.length });
    } else if (s.fault === "overlong") {
      for (let k = p.int(8, 11); k > 0; k--) bytes.push(0x80 | p.int(0, 0x7f));
      bytes.push(p.int(0, 0x3f));
      s.frames.push({ hs, error: "frames: header parser's own error (overlong LEB128)", trigger: hs + 8 });
    }
    if (s.fault !== null && s.fault !== "truncated") for (let k = p.int(0, 20); k > 0; k--) bytes.push(p.int(0, 255)); // what would follow
    // Chunks: fresh copies, Node Buffers, views of one bigger buffer; empty ones too.
    const stream = Uint8Array.from(bytes);
    const arena = new Uint8Array(stream.length * 2 + 64).fill(0xee);
    let arenaAt = 0;
    for (let at = 0; at < stream.length; ) {
      const n = Math.min(p.size(16, 150), stream.length - at);
      const piece = stream.subarray(at, at + n);
      const kind = p.int(0, 2);
      let chunk;
      if (kind === 0) chunk = piece.slice();
      else if (kind === 1) chunk = Buffer.from(piece);
      else {
        arenaAt += p.int(0, 3);
        arena.set(piece, arenaAt);
        chunk = arena.subarray(arenaAt, arenaAt + n);
        arenaAt += n;
      }
      s.chunks.push(chunk);
      s.chunkStarts.push(at);
      s.backings.add(chunk.buffer);
      at += n;
    }
    s.total = stream.length;
    s.parser = new FrameParser(options, "fuzz");
    s.parser.check();
    streamNote = `frames with ${mode === "leb" ? "a signed LEB128 header" : `a ${width}-byte ${le ? "LE" : "BE"} prefix${incl ? " that counts itself" : ""}`}, maxFrameBytes ${max}${s.copying ? ", copying" : ""}${s.fault ? `, fault ${s.fault}` : ""}`;
    p.note = `${readerNote}; ${streamNote}`;
    fs = s;
  };
  // The non-empty chunks that hold bytes of [from, to).
  const spanned = (from, to) => from === to ? 0 : fs.chunks.filter((c, i) => c.length > 0 && fs.chunkStarts[i] < to && from < fs.chunkStarts[i] + c.length).length;
  // Unchanged after a failed next()/finish(): check() passes and the same call fails again with the same message.
  // `call` is a recorded(fn): it keeps the error it threw.
  const recorded = (fn) => {
    const call = () => {
      try {
        return fn();
      } catch (x) {
        call.error = x;
        throw x;
      }
    };
    call.error = null;
    return call;
  };
  const failsAgain = (kind, call) => {
    fs.parser.check();
    const first = call.error;
    call.error = null;
    try {
      call();
    } catch {
      // compared below
    }
    ensure(call.error !== null && call.error.constructor === first.constructor && call.error.message === first.message,
      () => `misuse "${kind}": a second call did not fail the same way (${call.error?.message ?? "no error"}; first: ${first.message})`);
  };
  // Takes every frame that has fully arrived and checks it; throws the faulty frame's misuse when its header is in.
  const drain = () => {
    for (;;) {
      const f = fs.frames[fs.got];
      const ready = f !== undefined && fs.arrived >= (f.error ? f.trigger : f.pe);
      if (!ready) {
        const none = fs.parser.next();
        ensure(none === null, () => `next() returned a frame of ${none.size} bytes with ${fs.arrived} stream bytes in, before frame ${fs.got} is complete`);
        ensure(fs.live === 0, "next() did not recycle the previous frame's memory");
        fs.parser.check();
        return;
      }
      if (f.error) {
        const next = recorded(() => fs.parser.next());
        const e = p.misuse(f.error, next, OffheapRangeError, RANGE, (kind) => failsAgain(kind, next));
        if (f.announced !== undefined) ensure(e.message.includes(`a payload of ${f.announced} bytes`), () => `misuse "${f.error}": the message does not name the payload of ${f.announced} bytes: ${e.message}`);
        fs.dead = true;
        return;
      }
      const frame = fs.parser.next();
      const what = `frame ${fs.got} (${f.payload.length} bytes at stream offset ${f.hs}, ${fs.arrived} bytes in)`;
      ensure(frame !== null, () => `next() = null, but ${what} has arrived`);
      frame.check();
      fs.parser.check();
      ensure(frame.size === f.payload.length && frame.equals(f.payload) && same(frame.toBytes(), f.payload), () => `${what}: got ${show(frame.toBytes())}, expected ${show(f.payload)}`);
      ensure(frame.buffers.every((b) => b.length > 0), () => `${what}: an empty buffer in the frame`);
      const spans = spanned(f.he, f.pe);
      if (fs.copying && spans > 1) {
        ensure(frame.count === 1 && fs.blocks.has(frame.at(0).buffer) && fs.live === 1, () => `${what} spans ${spans} chunks: not one block of the memory`);
      } else {
        ensure(frame.count === spans, () => `${what}: ${frame.count} buffers, but it spans ${spans} chunks`);
        ensure(frame.buffers.every((b) => fs.backings.has(b.buffer)), () => `${what}: a buffer that is not a view of a pushed chunk`);
        ensure(fs.live === 0, () => `${what}: the memory was not recycled`);
      }
      fs.got++;
    }
  };
  const endStream = () => {
    if (fs.fault === "truncated") {
      const finish = recorded(() => fs.parser.finish());
      const e = p.misuse("frames: stream ended inside a frame", finish, EndOfDataError, END, (kind) => failsAgain(kind, finish));
      ensure(e.message.startsWith("fuzz: the stream ended inside the"), () => `finish(): the message does not name the API and the frame: ${e.message}`);
    } else {
      ensure(fs.got === fs.frames.length, () => `the stream ended with ${fs.frames.length - fs.got} frames not taken`);
      fs.parser.finish();
    }
    fs.parser.release();
    ensure(fs.live === 0, "release() did not recycle the memory");
    fs = null;
  };
  const frameMisuse = () => {
    const choice = p.int(0, 3);
    const badOptions = () => p.pick([
      [{ prefixBytes: p.pick([0, 5, 6, 7, 16, 2.5]) }, OffheapRangeError, RANGE],
      [{ [p.pick(["prefixBytes", "maxFrameBytes"])]: p.pick(["4", null, true]) }, OffheapTypeError, TYPE],
      [{ maxFrameBytes: p.pick([-1, 1.5, NaN, Infinity, 2 ** 53]) }, OffheapRangeError, RANGE],
      [{ header: lebHeader, [p.pick(["prefixBytes", "littleEndian", "lengthIncludesPrefix"])]: p.pick([2, false, true]) }, OffheapTypeError, TYPE],
      [{ header: p.pick(["r => 1", 5, null, {}]) }, OffheapTypeError, TYPE],
      [{ [p.pick(["littleEndian", "lengthIncludesPrefix"])]: p.pick(["yes", 1, 0, null]) }, OffheapTypeError, TYPE],
      [{ memory: p.pick([{}, null, { nextN: () => new Uint8Array(0) }, { recycle() {} }, "memory"]) }, OffheapTypeError, TYPE],
      [p.pick([5, "options", true, null]), OffheapTypeError, TYPE],
    ]);
    const unchanged = () => fs?.parser.check();
    if (choice === 0) {
      const [options, type, code] = badOptions();
      p.misuse("frames: FrameParser with a bad option", () => new FrameParser(options, "fuzz"), type, code, unchanged);
    } else if (choice === 1) {
      const [options, type, code] = badOptions();
      const e = p.misuse("frames: splitFrames with a bad option (synchronous)", () => splitFrames((async function* () {})(), options), type, code, unchanged);
      ensure(e.message.startsWith("splitFrames: "), () => `splitFrames: the message does not name the API: ${e.message}`);
    } else if (choice === 2) {
      p.misuse("frames: splitFrames of a non-stream", () => splitFrames(p.pick([new Uint8Array(4), null, "abc", 5, {}, [new Uint8Array(1)]])), OffheapTypeError, TYPE, unchanged);
    } else if (fs !== null && !fs.dead) {
      p.misuse("frames: push of a non-Uint8Array", () => fs.parser.push(p.pick(NOT_BYTES)), OffheapTypeError, TYPE, () => {
        fs.parser.check();
        drain(); // nothing new arrived: next() is null
      });
    }
  };
  const frameOps = [
    [10, "frames: push a chunk", () => {
      if (fs === null || fs.dead) newStream();
      if (fs.next < fs.chunks.length) {
        const chunk = fs.chunks[fs.next++];
        fs.parser.push(chunk);
        fs.arrived += chunk.length;
        fs.parser.check();
        drain();
      }
      if (!fs.dead && fs.next === fs.chunks.length) endStream();
    }],
    [2, "frames: finish mid-stream", () => {
      if (fs === null || fs.dead) return;
      const boundary = fs.got === 0 ? 0 : fs.frames[fs.got - 1].pe;
      if (fs.arrived > boundary) {
        p.misuse("frames: finish inside a frame (mid-stream)", () => fs.parser.finish(), EndOfDataError, END, () => fs.parser.check());
      } else {
        fs.parser.finish(); // between frames: the input may end here
      }
    }],
    [3, "frames: misuse", () => frameMisuse()],
  ];

  newReader();
  const ops = [...listOps, ...readerOps, ...frameOps];
  for (p.step = 0; p.step < steps; p.step++) {
    p.run(ops);
    if (model.length > 64 || list.size > 4096) {
      p.op = "list: reset (bound)";
      list.reset();
      model = [];
    }
    validateList(p.step % 4 === 0);
    validateReader();
    fs?.parser.check();
    p.counts.steps++;
  }
}
