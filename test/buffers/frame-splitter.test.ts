// splitFrames and the FrameSplitter Transform with real Node streams: seeded
// random chunkings (empty chunks included) of encoded frame sequences for
// every prefix width and both endiannesses, a custom LEB128 header, frames
// across many tiny chunks, empty frames, truncated streams, maxFrameBytes,
// option errors, copying into RecyclableMemory, and the Transform in a
// pipeline().

import { test } from "node:test";
import assert from "node:assert/strict";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import fc from "fast-check";
import type { BufferList } from "../../src/buffers/buffer-list.js";
import { DEFAULT_MAX_FRAME_BYTES, FrameParser, splitFrames, type FrameMemory, type FrameSplitterOptions } from "../../src/buffers/frame-splitter.js";
import { FrameSplitter } from "../../src/buffers/node.js";
import { RecyclableMemory } from "../../src/buffers/recyclable-memory.js";
import { ScalableAllocator } from "../../src/buffers/scalable-allocator.js";
import { Heap } from "../../src/heap/heap.js";
import { EndOfDataError, OffheapRangeError, OffheapTypeError } from "../../src/errors.js";
import { KIB, MIB, expectError } from "../helpers.js";

const SEED = Number(process.env.OFFHEAP_SEED ?? (Date.now() ^ (Math.random() * 2 ** 31)) >>> 0);

type Width = 1 | 2 | 3 | 4 | 8;
interface Format {
  prefixBytes: Width;
  littleEndian: boolean;
  lengthIncludesPrefix: boolean;
}

function prefix(value: number, f: Format): number[] {
  const out: number[] = [];
  let v = BigInt(value);
  for (let i = 0; i < f.prefixBytes; i++, v >>= 8n) out.push(Number(v & 0xffn));
  return f.littleEndian ? out : out.reverse();
}

function encode(payloads: Uint8Array[], f: Format): Uint8Array {
  const out: number[] = [];
  for (const p of payloads) out.push(...prefix(p.length + (f.lengthIncludesPrefix ? f.prefixBytes : 0), f), ...p);
  return Uint8Array.from(out);
}

function encodeLEB(n: number): number[] {
  const out: number[] = [];
  do {
    out.push((n & 0x7f) | (n >= 0x80 ? 0x80 : 0));
    n = Math.floor(n / 128);
  } while (n > 0);
  return out;
}

/** Cuts `bytes` into chunks by `lengths`, used cyclically (0 makes an empty chunk); every chunk is its own Buffer. */
function chop(bytes: Uint8Array, lengths: number[]): Uint8Array[] {
  const usable = lengths.some((n) => n > 0) ? lengths : [1];
  const out: Uint8Array[] = [];
  for (let at = 0, i = 0; at < bytes.length; i++) {
    const n = Math.min(usable[i % usable.length]!, bytes.length - at);
    out.push(Buffer.from(bytes.subarray(at, at + n)));
    at += n;
  }
  return out;
}

/** Frames as copies (a frame is valid only until the next is requested), checking each is made of views of `chunks`. */
async function collect(frames: AsyncIterable<BufferList>, chunks?: Uint8Array[]): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  const backings = new Set(chunks?.map((c) => c.buffer));
  for await (const frame of frames) {
    frame.check();
    assert.ok(frame.buffers.every((b) => b.length > 0), "an empty buffer in a frame");
    if (chunks !== undefined) {
      for (const b of frame.buffers) assert.ok(backings.has(b.buffer), "a frame buffer that is not a view of a received chunk");
    }
    out.push(frame.toBytes());
  }
  return out;
}

const payloadsArb = (maxBytes: number): fc.Arbitrary<Uint8Array[]> =>
  fc.array(fc.oneof(fc.constant(new Uint8Array(0)), fc.uint8Array({ maxLength: maxBytes })), { maxLength: 12, size: "max" });
const formatArb: fc.Arbitrary<Format> = fc.record({ prefixBytes: fc.constantFrom<Width>(1, 2, 3, 4, 8), littleEndian: fc.boolean(), lengthIncludesPrefix: fc.boolean() });

test(`splitFrames: random chunkings, every prefix width and endianness, yield the frames as views (seed ${SEED})`, async () => {
  await fc.assert(
    fc.asyncProperty(
      formatArb.chain((f) => fc.tuple(fc.constant(f), payloadsArb(f.prefixBytes === 1 ? 255 - 1 : 300))),
      fc.array(fc.integer({ min: 0, max: 40 }), { minLength: 1, maxLength: 8 }),
      async ([f, payloads], lengths) => {
        const chunks = chop(encode(payloads, f), lengths);
        const got = await collect(splitFrames(Readable.from(chunks), f), chunks);
        assert.deepEqual(got, payloads.map((p) => Uint8Array.from(p)));
      },
    ),
    { seed: SEED, numRuns: 500 },
  );
});

test(`FrameParser, driven by hand: check() after every push and next(), with and without copying memory (seed ${SEED})`, () => {
  fc.assert(
    fc.property(
      formatArb.chain((f) => fc.tuple(fc.constant(f), payloadsArb(f.prefixBytes === 1 ? 254 : 300))),
      fc.array(fc.integer({ min: 0, max: 40 }), { minLength: 1, maxLength: 8 }),
      fc.boolean(),
      ([f, payloads], lengths, copying) => {
        // A tiny FrameMemory: fresh blocks, and a count of live ones that recycle() zeroes.
        let live = 0;
        const memory: FrameMemory = { nextN: (n) => (live++, new Uint8Array(n + 3)), recycle: () => void (live = 0) };
        const parser = new FrameParser({ ...f, ...(copying ? { memory } : {}) }, "test");
        const got: Uint8Array[] = [];
        for (const chunk of chop(encode(payloads, f), lengths)) {
          parser.push(chunk);
          parser.check();
          for (let frame = parser.next(); frame !== null; frame = parser.next()) {
            parser.check();
            assert.ok(live <= 1, "the previous copy was recycled before the next frame");
            if (copying && frame.count > 0) assert.equal(frame.count, 1, "copying mode: one buffer per frame");
            got.push(frame.toBytes());
          }
          parser.check();
        }
        parser.finish();
        parser.release();
        assert.equal(live, 0);
        assert.deepEqual(got, payloads.map((p) => Uint8Array.from(p)));
      },
    ),
    { seed: SEED, numRuns: 1000 },
  );
  // A rejected header changes nothing: the same error again, and check() passes.
  const parser = new FrameParser({ prefixBytes: 1, maxFrameBytes: 3 }, "test");
  parser.push(Uint8Array.of(4, 1, 2, 3, 4));
  for (let i = 0; i < 2; i++) expectError(() => parser.next(), OffheapRangeError, "ERR_OFFHEAP_OUT_OF_RANGE", "test: the frame at stream offset 0 has a payload of 4 bytes");
  parser.check();
});

test("splitFrames reads a web ReadableStream, by async iteration or (as in Safari) by its reader", async () => {
  const f: Format = { prefixBytes: 2, littleEndian: true, lengthIncludesPrefix: false };
  const payloads = [Uint8Array.of(1, 2, 3), new Uint8Array(0), new Uint8Array(600).fill(9)];
  const chunks = chop(encode(payloads, f), [5, 1, 100]);
  const stream = (): ReadableStream<Uint8Array> =>
    new ReadableStream<Uint8Array>({
      start(controller) {
        for (const c of chunks) controller.enqueue(c);
        controller.close();
      },
    });
  assert.deepEqual(await collect(splitFrames(stream(), f)), payloads);
  const withoutIteration = stream();
  Object.defineProperty(withoutIteration, Symbol.asyncIterator, { value: undefined });
  assert.deepEqual(await collect(splitFrames(withoutIteration, f)), payloads);
  // Breaking out cancels the stream.
  let cancelled = false;
  const endless = new ReadableStream<Uint8Array>({ pull: (c) => c.enqueue(Uint8Array.of(1, 0, 9)), cancel: () => void (cancelled = true) });
  Object.defineProperty(endless, Symbol.asyncIterator, { value: undefined });
  for await (const frame of splitFrames(endless, f)) {
    assert.equal(frame.size, 1);
    break;
  }
  assert.equal(cancelled, true);
});

test("a frame split across many tiny chunks is a list of views, one per chunk", async () => {
  const payload = Uint8Array.from({ length: 1000 }, (_, i) => i & 255);
  const chunks = chop(encode([payload, Uint8Array.of(7)], { prefixBytes: 4, littleEndian: false, lengthIncludesPrefix: false }), [1]);
  const seen: number[] = [];
  for await (const frame of splitFrames(Readable.from(chunks))) {
    seen.push(frame.count);
    if (frame.size === 1000) assert.deepEqual(frame.toBytes(), payload);
  }
  assert.deepEqual(seen, [1000, 1]);
});

test("a custom header: LEB128 lengths, byte-sized chunks, retried until the header is complete", async () => {
  const payloads = [new Uint8Array(0), new Uint8Array(127).fill(1), new Uint8Array(128).fill(2), new Uint8Array(20000).fill(3), Uint8Array.of(4)];
  const bytes = Uint8Array.from(payloads.flatMap((p) => [...encodeLEB(p.length), ...p]));
  let calls = 0;
  const header = (r: { readLEB128(): number }): number => {
    calls++;
    return r.readLEB128();
  };
  for (const lengths of [[1], [2, 0, 3], [5000]]) {
    const chunks = chop(bytes, lengths);
    assert.deepEqual(await collect(splitFrames(Readable.from(chunks), { header }), chunks), payloads);
  }
  assert.ok(calls > payloads.length * 3, "the header parser was retried after EndOfDataError");
  // A header parser's own errors pass through.
  await assert.rejects(collect(splitFrames(Readable.from([Uint8Array.of(1)]), { header: () => { throw new TypeError("bad magic"); } })), /bad magic/);
  await assert.rejects(collect(splitFrames(Readable.from([Uint8Array.of(1)]), { header: () => -1 })), (e: Error) => e instanceof OffheapRangeError && /options\.header returned -1/.test(e.message));
  // A length of the wrong type was a RangeError that printed "returned 1" for "1".
  await assert.rejects(collect(splitFrames(Readable.from([Uint8Array.of(1, 2)]), { header: (r) => String(r.readByte()) as unknown as number })),
    (e: Error) => e instanceof OffheapTypeError && /options\.header returned for the frame at stream offset 0 must be a number, got a string/.test(e.message));
  // A header that reads nothing and returns 0 made frames of no bytes forever (the Transform ran out of memory).
  await assert.rejects(collect(splitFrames(Readable.from([Uint8Array.of(1, 2, 3)]), { header: () => 0 })), (e: Error) => e instanceof OffheapRangeError && /read no bytes and returned 0/.test(e.message));
  // A Transform callback given undefined succeeds: a header that threw undefined was swallowed.
  await assert.rejects(pipeline(Readable.from([Uint8Array.of(1)]), new FrameSplitter({ header: () => { throw undefined; } }), async (frames) => {
    for await (const _ of frames);
  }), (e: Error) => e instanceof OffheapTypeError && /threw undefined/.test(e.message));
  const empty = await collect(splitFrames(Readable.from([Uint8Array.of(0, 0)]), { header: (r) => r.readByte() }));
  assert.equal(empty.length, 2, "a header of one byte and no payload is a frame");
});

test("empty frames are empty lists", async () => {
  const f: Format = { prefixBytes: 3, littleEndian: false, lengthIncludesPrefix: true };
  const frames: number[][] = [];
  for await (const frame of splitFrames(Readable.from(chop(encode([new Uint8Array(0), new Uint8Array(0), Uint8Array.of(5), new Uint8Array(0)], f), [2])), f)) {
    frames.push([frame.count, frame.size]);
  }
  assert.deepEqual(frames, [[0, 0], [0, 0], [1, 1], [0, 0]]);
});

test("a stream that ends inside a frame throws EndOfDataError naming where", async () => {
  const f: Format = { prefixBytes: 4, littleEndian: false, lengthIncludesPrefix: false };
  const whole = encode([Uint8Array.of(1, 2), new Uint8Array(10)], f);
  await assert.rejects(collect(splitFrames(Readable.from(chop(whole.subarray(0, whole.length - 3), [4])))), (e: Error) => {
    assert.ok(e instanceof EndOfDataError);
    assert.match(e.message, /splitFrames: the stream ended inside the frame at stream offset 6: 7 of its 10 payload bytes arrived/);
    return true;
  });
  await assert.rejects(collect(splitFrames(Readable.from(chop(whole.subarray(0, 8), [3])))), (e: Error) => {
    assert.ok(e instanceof EndOfDataError);
    assert.match(e.message, /inside the header of the frame at stream offset 6: 2 bytes arrived, fewer than its 4-byte length prefix/);
    return true;
  });
  await assert.rejects(collect(splitFrames(Readable.from([Uint8Array.of(0x80)]), { header: (r) => r.readLEB128() })), EndOfDataError);
  assert.deepEqual(await collect(splitFrames(Readable.from([]))), [], "an empty stream has no frames");
});

test("maxFrameBytes: a longer frame fails as soon as its header arrives, naming the length", async () => {
  const f: Format = { prefixBytes: 2, littleEndian: false, lengthIncludesPrefix: false };
  let pulledAfterHeader = false;
  async function* source(): AsyncGenerator<Uint8Array> {
    yield encode([new Uint8Array(99)], f);
    yield Uint8Array.from(prefix(100, f));
    pulledAfterHeader = true;
    yield new Uint8Array(100);
  }
  const got: number[] = [];
  await assert.rejects(
    (async () => {
      for await (const frame of splitFrames(source(), { ...f, maxFrameBytes: 99 })) got.push(frame.size);
    })(),
    (e: Error) => e instanceof OffheapRangeError && /stream offset 101 has a payload of 100 bytes, more than maxFrameBytes \(99\)/.test(e.message),
  );
  assert.deepEqual(got, [99]);
  assert.equal(pulledAfterHeader, false, "the payload was not awaited");

  const huge = Uint8Array.from(prefix(2 ** 60, { prefixBytes: 8, littleEndian: true, lengthIncludesPrefix: false }));
  await assert.rejects(collect(splitFrames(Readable.from([huge]), { prefixBytes: 8, littleEndian: true })), /payload of 1152921504606846976 bytes, more than maxFrameBytes \(16777216\)/);
  assert.equal(DEFAULT_MAX_FRAME_BYTES, 16 * MIB);
  await assert.rejects(collect(splitFrames(Readable.from([Uint8Array.of(0, 1)]), { prefixBytes: 2, lengthIncludesPrefix: true })), /has length 1, less than the 2-byte prefix it includes/);
});

test("bad options and sources throw at once; string chunks and source errors reach the consumer", async () => {
  const src = Readable.from([]);
  const bad: [FrameSplitterOptions, typeof OffheapRangeError | typeof OffheapTypeError, string][] = [
    [{ prefixBytes: 5 as Width }, OffheapRangeError, "options.prefixBytes 5"],
    [{ maxFrameBytes: -1 }, OffheapRangeError, "options.maxFrameBytes -1"],
    [{ header: (r) => r.readByte(), prefixBytes: 2 }, OffheapTypeError, "options.header replaces"],
    [{ littleEndian: "yes" as unknown as boolean }, OffheapTypeError, "options.littleEndian"],
    [{ memory: {} as FrameMemory }, OffheapTypeError, "options.memory"],
  ];
  for (const [options, type, message] of bad) {
    expectError(() => splitFrames(src, options), type, type === OffheapRangeError ? "ERR_OFFHEAP_OUT_OF_RANGE" : "ERR_OFFHEAP_INVALID_ARG_TYPE", `splitFrames: ${message}`);
  }
  expectError(() => splitFrames(new Uint8Array(4) as unknown as AsyncIterable<Uint8Array>), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE", "AsyncIterable");
  await assert.rejects(collect(splitFrames(Readable.from(["abc"]))), (e: Error) => e instanceof OffheapTypeError && /gave a string/.test(e.message));
  async function* failing(): AsyncGenerator<Uint8Array> {
    yield Uint8Array.of(0, 0, 0, 1);
    throw new Error("connection reset");
  }
  await assert.rejects(collect(splitFrames(failing())), /connection reset/);
});

test("breaking out of the loop closes the source", async () => {
  const readable = Readable.from(chop(encode([Uint8Array.of(1), Uint8Array.of(2)], { prefixBytes: 1, littleEndian: false, lengthIncludesPrefix: false }), [1]));
  for await (const frame of splitFrames(readable, { prefixBytes: 1 })) {
    assert.equal(frame.size, 1);
    break;
  }
  assert.equal(readable.destroyed, true);
});

test("memory option: frames spanning chunks are one block of RecyclableMemory, recycled when the next frame is requested", async () => {
  const heap = new Heap({ initialSize: 256 * KIB, maxSize: 16 * MIB });
  const allocator = new ScalableAllocator(heap, { initialSize: 4 * KIB });
  const memory = new RecyclableMemory(allocator);
  const log: string[] = [];
  const spy: FrameMemory = {
    nextN: (n) => (log.push(`nextN ${n}`), memory.nextN(n)),
    recycle: () => (log.push("recycle"), memory.recycle()),
  };
  const f: Format = { prefixBytes: 2, littleEndian: false, lengthIncludesPrefix: false };
  const payloads = [Uint8Array.of(1, 2, 3), new Uint8Array(3000).fill(4), new Uint8Array(0), Uint8Array.of(5), new Uint8Array(700).fill(6)];
  const chunks = chop(encode(payloads, f), [4, 1000]);
  // Which frames span chunks: a payload [start, end) inside no chunk's [from, to).
  const chunkEnds = chunks.map((c, i) => chunks.slice(0, i + 1).reduce((n, x) => n + x.length, 0));
  const spans: boolean[] = [];
  for (let start = 0, i = 0; i < payloads.length; start += 2 + payloads[i]!.length, i++) {
    const from = start + 2, to = from + payloads[i]!.length;
    spans.push(to > from && !chunkEnds.some((end, k) => (k === 0 ? 0 : chunkEnds[k - 1]!) <= from && to <= end));
  }
  assert.deepEqual(spans, [true, true, false, false, true], "the layout this test means to cover");
  const got: Uint8Array[] = [];
  for await (const frame of splitFrames(Readable.from(chunks), { ...f, memory: spy })) {
    frame.check();
    const copied = frame.at(0)?.buffer === heap.buffer;
    assert.equal(copied, spans[got.length], `frame ${got.length} copied iff it spans chunks`);
    if (copied) {
      assert.equal(frame.count, 1, "a copied frame is one buffer");
      assert.equal(allocator.inUse, frame.size, "only the current frame holds memory");
    } else {
      assert.ok(frame.count <= 1, "a frame inside one chunk is one view of it");
    }
    got.push(frame.toBytes());
  }
  assert.deepEqual(got, payloads);
  assert.deepEqual(log, ["nextN 3", "recycle", "nextN 3000", "recycle", "nextN 700", "recycle"], "each copy is recycled before the next frame");
  assert.equal(allocator.inUse, 0, "everything recycled when the iteration ended");
  allocator.check();
});

// ---- the Transform ---------------------------------------------------------------------

async function viaTransform(chunks: Uint8Array[], options?: ConstructorParameters<typeof FrameSplitter>[0]): Promise<Uint8Array[]> {
  const got: Uint8Array[] = [];
  const backings = new Set(chunks.map((c) => c.buffer));
  await pipeline(
    Readable.from(chunks),
    new FrameSplitter(options),
    new Writable({
      objectMode: true,
      write(frame: BufferList, _enc, callback) {
        frame.check();
        assert.ok(frame.buffers.every((b) => b.length > 0), "an empty buffer in a frame");
        for (const b of frame.buffers) assert.ok(backings.has(b.buffer), "a view of a written chunk");
        got.push(frame.toBytes());
        callback();
      },
    }),
  );
  return got;
}

test(`FrameSplitter in a pipeline(): random chunkings give the frames (seed ${SEED})`, async () => {
  await fc.assert(
    fc.asyncProperty(
      formatArb,
      payloadsArb(254),
      fc.array(fc.integer({ min: 0, max: 30 }), { minLength: 1, maxLength: 6 }),
      async (f, payloads, lengths) => {
        assert.deepEqual(await viaTransform(chop(encode(payloads, f), lengths), f), payloads.map((p) => Uint8Array.from(p)));
      },
    ),
    { seed: SEED, numRuns: 200 },
  );
  const leb = [new Uint8Array(300).fill(1), Uint8Array.of(2)];
  const chunks = chop(Uint8Array.from(leb.flatMap((p) => [...encodeLEB(p.length), ...p])), [1, 7]);
  assert.deepEqual(await viaTransform(chunks, { header: (r) => r.readLEB128() }), leb);
});

test("FrameSplitter fails the pipeline on a truncated stream or a too long frame, and refuses the memory option", async () => {
  const f: Format = { prefixBytes: 2, littleEndian: false, lengthIncludesPrefix: false };
  const whole = encode([Uint8Array.of(1, 2, 3)], f);
  await assert.rejects(viaTransform(chop(whole.subarray(0, 4), [1]), f), (e: Error) => e instanceof EndOfDataError && /FrameSplitter: the stream ended inside the frame at stream offset 0: 2 of its 3 payload bytes/.test(e.message));
  await assert.rejects(viaTransform(chop(whole, [2]), { ...f, maxFrameBytes: 2 }), (e: Error) => e instanceof OffheapRangeError && /FrameSplitter: .* payload of 3 bytes, more than maxFrameBytes \(2\)/.test(e.message));
  expectError(() => new FrameSplitter({ memory: { nextN: (n) => new Uint8Array(n), recycle: () => {} } } as FrameSplitterOptions), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE", "FrameSplitter: options.memory is not offered");
  expectError(() => new FrameSplitter({ prefixBytes: 6 as Width }), OffheapRangeError, "ERR_OFFHEAP_OUT_OF_RANGE", "FrameSplitter: options.prefixBytes 6");
});

test("splitFrames with bad options throws before it locks a web ReadableStream (found by the fuzzer)", () => {
  const stream = new ReadableStream<Uint8Array>({ start: (c) => c.close() });
  assert.throws(() => splitFrames(stream, { prefixBytes: 5 } as unknown as FrameSplitterOptions), OffheapRangeError);
  assert.equal(stream.locked, false);
});
