// Named roots and heap image files: setRoot/getRoot, save/load round trips
// after random work, the file header and run table byte for byte
// (little-endian, as the format defines it), version 1 files, and damaged or
// foreign files refused with InvalidImageError.
import { describe, test } from "node:test";
import fc from "fast-check";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { open } from "node:fs/promises";
import { endianness, tmpdir } from "node:os";
import { join } from "node:path";
import { ConcurrentModificationError, Heap, InvalidAddressError, InvalidImageError, OffheapRangeError, OffheapTypeError, PAGE_SIZE } from "../src/index.js";
import { checkHostByteOrder, FILE_HEADER_BYTES, imageChecksum } from "../src/heap/image-file.js";
import { SL_BUSY, slotWord, VERSION } from "../src/heap/layout.js";
import { defineStruct, OffHeapArray, OffHeapMap } from "../src/collections/index.js";
import { KIB, MIB, committedEnd, expectError, expectRejected, randInt, rng } from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "offheap-image-"));
process.on("exit", () => rmSync(dir, { recursive: true, force: true }));

describe("roots", () => {
  test("setRoot / getRoot / rootNames: add, replace, remove, grow the directory", () => {
    const heap = new Heap({ maxSize: 8 * MIB });
    assert.equal(heap.getRoot("missing"), 0);
    const blocks = Array.from({ length: 40 }, (_, i) => heap.alloc(16 + i));
    blocks.forEach((p, i) => heap.setRoot(`root-${i}`, p));
    heap.check();
    blocks.forEach((p, i) => assert.equal(heap.getRoot(`root-${i}`), p));
    assert.equal(heap.rootNames().length, 40);
    heap.setRoot("root-3", blocks[7]!);
    assert.equal(heap.getRoot("root-3"), blocks[7]);
    heap.setRoot("root-0", 0);
    assert.equal(heap.getRoot("root-0"), 0);
    assert.equal(heap.rootNames().length, 39);
    assert.equal(heap.getRoot("root-39"), blocks[39], "the entry moved into the hole is still found");
    heap.setRoot("never-set", 0);
    heap.check();
  });

  test("bad names and addresses are refused and change nothing", () => {
    const heap = new Heap({ maxSize: 8 * MIB });
    const p = heap.alloc(64);
    heap.setRoot("a", p);
    expectRejected(heap, () => heap.setRoot("b", p + 8), InvalidAddressError, "ERR_OFFHEAP_INVALID_ADDRESS");
    expectRejected(heap, () => heap.setRoot("", p), OffheapRangeError, "ERR_OFFHEAP_OUT_OF_RANGE", "1 to 256 characters");
    expectRejected(heap, () => heap.setRoot(7 as unknown as string, p), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE");
    expectError(() => heap.getRoot("x".repeat(300)), OffheapRangeError, "ERR_OFFHEAP_OUT_OF_RANGE");
    expectRejected(heap, () => heap.setRoot("offheap.gc", 0), OffheapRangeError, "ERR_OFFHEAP_OUT_OF_RANGE", "offheap's own");
    expectRejected(heap, () => heap.setRoot("offheap.mine", p), OffheapRangeError, "ERR_OFFHEAP_OUT_OF_RANGE", "offheap's own");
    assert.equal(heap.getRoot("a"), p);
  });

  test("roots are part of the image: a Heap attached to a copy finds them", () => {
    const heap = new Heap({ memory: new ArrayBuffer(4 * MIB) });
    const p = heap.fromString("kept");
    heap.setRoot("greeting", p);
    const copy = Heap.attach(heap.buffer.slice(0));
    assert.equal(copy.readString(copy.getRoot("greeting")), "kept");
    copy.check();
  });
});

/** Random work: live blocks filled with a pattern, a directory block listing them under the root "dir". */
function build(heap: Heap, seed: number, steps: number): Map<number, number> {
  const next = rng(seed);
  const live = new Map<number, number>(); // address -> size
  for (let i = 0; i < steps; i++) {
    if (live.size > 0 && next() < 0.4) {
      const keys = [...live.keys()];
      const p = keys[randInt(next, 0, keys.length - 1)]!;
      heap.free(p);
      live.delete(p);
    } else {
      const size = next() < 0.05 ? randInt(next, 33 * KIB, 200 * KIB) : randInt(next, 1, 2000);
      const p = heap.alloc(size);
      const u8 = heap.u8;
      for (let j = 0; j < size; j++) u8[p + j] = (p + j * 7) & 255;
      live.set(p, size);
    }
  }
  const d = heap.alloc(16 * live.size + 8);
  const f64 = heap.f64;
  f64[d >>> 3] = live.size;
  let k = 1;
  for (const [p, size] of live) {
    f64[(d >>> 3) + k++] = p;
    f64[(d >>> 3) + k++] = size;
  }
  heap.setRoot("dir", d);
  return live;
}

/** Follows the root "dir" and verifies every listed block's bytes. */
function verify(heap: Heap, live: Map<number, number>): void {
  heap.check();
  const d = heap.getRoot("dir");
  assert.notEqual(d, 0);
  const f64 = heap.f64;
  assert.equal(f64[d >>> 3], live.size);
  const u8 = heap.u8;
  for (let k = 0; k < live.size; k++) {
    const p = f64[(d >>> 3) + 1 + 2 * k]!;
    const size = f64[(d >>> 3) + 2 + 2 * k]!;
    assert.equal(live.get(p), size);
    assert.ok(heap.sizeOf(p) >= size);
    for (let j = 0; j < size; j++) if (u8[p + j] !== ((p + j * 7) & 255)) assert.fail(`byte ${j} of block 0x${p.toString(16)} changed`);
  }
}

interface HeaderFields {
  fileVersion?: number;
  layoutVersion?: number;
  /** Runs in the run table (version 2); 0 in version 1, where the word was flags. */
  runs?: number;
  imageBytes: number;
  rangeBytes: number;
  checksum: number;
}

/**
 * A file header as the format defines it (image-file.ts), built byte by byte
 * with Buffer's little-endian writers rather than by the code under test:
 * magic, versions, page size, runs, the two f64 sizes, the checksum of the
 * rest of the file, then the header checksum.
 */
function fileHeader(f: HeaderFields): Buffer {
  const b = Buffer.alloc(64);
  b.write("OFHPIMG\n", 0, "latin1");
  b.writeUInt32LE(f.fileVersion ?? 2, 8);
  b.writeUInt32LE(f.layoutVersion ?? VERSION, 12);
  b.writeUInt32LE(8192, 16);
  b.writeUInt32LE(f.runs ?? 0, 20);
  b.writeDoubleLE(f.imageBytes, 24);
  b.writeDoubleLE(f.rangeBytes, 32);
  b.writeUInt32LE(f.checksum, 40);
  return sealHeader(b);
}

/** Writes the header checksum (bytes 44..47): FNV-1a over the little-endian words of bytes 0..43. */
function sealHeader(b: Buffer): Buffer {
  let h = 0x811c9dc5;
  for (let off = 0; off < 44; off += 4) h = Math.imul(h ^ b.readUInt32LE(off), 0x01000193);
  b.writeUInt32LE(h >>> 0, 44);
  return b;
}

/** A version 2 run table: u32 pairs [first block, blocks], zero words to a multiple of 16 bytes. */
function runTable(runs: [number, number][]): Buffer {
  const b = Buffer.alloc(Math.ceil(runs.length / 2) * 16);
  runs.forEach(([first, n], i) => {
    b.writeUInt32LE(first, 8 * i);
    b.writeUInt32LE(n, 8 * i + 4);
  });
  return b;
}

const BLOCK = 4096;

describe("the file format", () => {
  test("save writes the little-endian header and run table built byte by byte here, leaves out only long zero runs, and load reads one", async () => {
    // A 64 MiB range: most of its metadata is never written.
    const heap = new Heap({ maxSize: 64 * MIB, initialSize: 64 * KIB });
    const live = build(heap, 31, 500);
    const path = join(dir, "header.heap");
    const written = await heap.save(path);
    const file = readFileSync(path);
    assert.equal(written, file.length);
    const imageBytes = committedEnd(heap);
    const image = new Uint8Array(heap.buffer, 0, imageBytes).slice(); // as saved (stats() below records a peak sample in it)
    // The runs, read from the file as the format defines them.
    const n = file.readUInt32LE(20);
    const tableBytes = Math.ceil(n / 2) * 16;
    const runs: [number, number][] = [];
    for (let i = 0; i < n; i++) runs.push([file.readUInt32LE(64 + 8 * i), file.readUInt32LE(68 + 8 * i)]);
    assert.ok(n >= 2, `${n} runs: the header page and the data pages, apart`);
    const data: Buffer[] = [];
    let next = 0;
    for (const [first, blocks] of runs) {
      assert.ok(blocks >= 1 && first >= next && (first + blocks) * BLOCK <= imageBytes, `run [${first}, +${blocks}) in order, inside the image`);
      for (let b = next; b < first; b++) assert.ok(image.subarray(b * BLOCK, (b + 1) * BLOCK).every((x) => x === 0), `block ${b}, left out, is zero`);
      if (next > 0) assert.ok(first - next >= 16, `the hole before block ${first} is at least 16 blocks`);
      data.push(Buffer.from(image.subarray(first * BLOCK, (first + blocks) * BLOCK)));
      next = first + blocks;
    }
    for (let b = next; b < imageBytes / BLOCK; b++) assert.ok(image.subarray(b * BLOCK, (b + 1) * BLOCK).every((x) => x === 0), `block ${b}, left out, is zero`);
    const rest = Buffer.concat([runTable(runs), ...data]);
    assert.equal(rest.length, tableBytes + data.reduce((a, d) => a + d.length, 0));
    assert.deepEqual(file.subarray(64), rest, "after the header: the run table, then the runs' bytes");
    assert.ok(file.length < imageBytes, `${file.length} bytes for an image of ${imageBytes}`);
    const { reservedBytes } = heap.stats();
    const header = fileHeader({ runs: n, imageBytes, rangeBytes: reservedBytes, checksum: imageChecksum(rest) });
    assert.equal(file.subarray(0, FILE_HEADER_BYTES).toString("hex"), header.toString("hex"));
    const built = join(dir, "built.heap");
    writeFileSync(built, Buffer.concat([header, rest]));
    const loaded = await Heap.load(built, { memory: "resizable" });
    assert.equal(loaded.buffer.byteLength, imageBytes, "the image size came from bytes 24..31");
    assert.equal((loaded.buffer as ArrayBuffer).maxByteLength, reservedBytes, "the address range came from bytes 32..39");
    assert.deepEqual(new Uint8Array(loaded.buffer, 0, imageBytes), image, "every byte of the image, the left-out zero blocks included");
    verify(loaded, live);
  });

  test("a version 1 file (the whole image after the header, its checksum over it) still loads", async () => {
    const heap = new Heap({ maxSize: 16 * MIB, initialSize: 64 * KIB });
    const live = build(heap, 32, 500);
    const image = new Uint8Array(heap.buffer, 0, committedEnd(heap));
    const path = join(dir, "version1.heap");
    writeFileSync(path, Buffer.concat([fileHeader({ fileVersion: 1, imageBytes: image.length, rangeBytes: heap.stats().reservedBytes, checksum: imageChecksum(image) }), image]));
    const loaded = await Heap.load(path);
    verify(loaded, live);
    assert.deepEqual(loaded.stats(), heap.stats());
  });

  test("a heap of one block in the default 2 GiB range saves to a file of tens of KiB, not its 74 MiB image", async () => {
    const heap = new Heap();
    const p = heap.alloc(100);
    heap.u8.fill(7, p, p + 100);
    heap.setRoot("p", p);
    const path = join(dir, "small.heap");
    const written = await heap.save(path);
    assert.ok(committedEnd(heap) > 64 * MIB, `an image of ${committedEnd(heap)} bytes`);
    assert.ok(written < 256 * KIB, `${written} bytes written`);
    const loaded = await Heap.load(path);
    loaded.check();
    assert.equal(loaded.getRoot("p"), p);
    assert.deepEqual(loaded.bytes(p), heap.bytes(p));
    assert.deepEqual(loaded.stats(), heap.stats());
  });

  test("the image checksum is fixed: files written by earlier versions keep loading", () => {
    const pattern = Uint8Array.from({ length: 4096 }, (_, i) => (i * 31 + 7) & 255);
    assert.equal(imageChecksum(pattern), 0x933978fd);
    assert.equal(imageChecksum(new Uint8Array(16)), 0x66da98cd);
  });

  test("save and load refuse a big-endian host, naming the call and why", () => {
    for (const api of ["Heap.save", "Heap.load"]) {
      const e = expectError(() => checkHostByteOrder(api, false), OffheapTypeError, "ERR_OFFHEAP_INVALID_ARG_TYPE", "big-endian", "the heap image in it is native-endian");
      assert.ok(e.message.startsWith(`${api}: heap image files need a little-endian host`), e.message);
      assert.doesNotThrow(() => checkHostByteOrder(api, true));
    }
    if (endianness() === "LE") assert.doesNotThrow(() => checkHostByteOrder("Heap.save"), "this host is little-endian");
    else assert.throws(() => checkHostByteOrder("Heap.save"), OffheapTypeError, "this host is big-endian");
  });
});

describe("save and load", () => {
  for (const memory of ["wasm", "resizable"] as const) {
    const SEED = 777 + memory.length;
    test(`a round trip after random work keeps every block, root and statistic (${memory}, seed ${SEED})`, async () => {
      const heap = new Heap({ maxSize: 64 * MIB, initialSize: 256 * KIB });
      const live = build(heap, SEED, 3000);
      const path = join(dir, `round-${memory}.heap`);
      const written = await heap.save(path);
      assert.equal(written, readFileSync(path).length);
      const loaded = await Heap.load(path, { memory });
      verify(loaded, live);
      assert.deepEqual(loaded.stats(), heap.stats());
      assert.equal(loaded.buffer instanceof ArrayBuffer && loaded.buffer.resizable, memory === "resizable");
      // the loaded heap keeps working, and a second round trip holds too
      const more = build(loaded, SEED + 1, 1000);
      await loaded.save(path);
      verify(await Heap.load(path), more);
      assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith(".tmp")), [], "no temporary file is left behind");
    });
  }

  test("a heap changed before save() settles: the save rejects with ConcurrentModificationError and writes nothing", async () => {
    // It resolved and wrote a file whose checksum could never match: Heap.load refused it later
    // (InvalidImageError), when the program had long taken it as saved. Found by an acceptance run.
    // The program writes a block while save's writes are in flight: here, as each write of the
    // file begins (FileHandle#write, wrapped), so that the change lands between a run's sum and
    // its write on every run, whatever the event loop's timing.
    const probe = await open(join(dir, "probe"), "w");
    const FileHandle = Object.getPrototypeOf(probe) as { write: (...args: unknown[]) => Promise<unknown> };
    await probe.close();
    const write = FileHandle.write;
    for (const memory of ["wasm", "resizable"] as const) {
      const heap = new Heap({ memory, maxSize: 64 * MIB, initialSize: 256 * KIB });
      const blocks = Array.from({ length: 2000 }, (_, i) => {
        const p = heap.alloc(1 + ((i * 37) % 3000));
        heap.u8[p] = 1 + (i % 255); // not zero: the file leaves zero blocks out
        return p;
      });
      const path = join(dir, `changed-${memory}.heap`);
      let writes = 0;
      FileHandle.write = function (this: unknown, ...args: unknown[]) {
        heap.u8.fill(++writes & 255, blocks[0]!, blocks[0]! + 16); // the program breaks the rule
        return write.apply(this, args);
      };
      try {
        await assert.rejects(heap.save(path), (e: Error) => e instanceof ConcurrentModificationError && /changed while/.test(e.message));
      } finally {
        FileHandle.write = write;
      }
      assert.ok(writes > 1);
      assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith(`changed-${memory}`)), [], "no file, no temporary file");
      heap.check();
      await heap.save(path); // left alone, it saves
      assert.equal((await Heap.load(path, { memory })).stats().liveBlocks, blocks.length);
    }
  });

  test("a slow path's transient word while save's writes are in flight: the file matches its sum and loads", async () => {
    // heap.stats() during a save sets and clears its slot's busy word in the image (slots.ts:
    // takeHeapLock). A file write reads its buffer on another thread: here the word is set as each
    // write begins and cleared once it is done, so a write that read the heap's memory would take
    // it set under a sum taken with it clear, and the file would not load.
    const probe = await open(join(dir, "probe-busy"), "w");
    const FileHandle = Object.getPrototypeOf(probe) as { write: (...args: unknown[]) => Promise<unknown> };
    await probe.close();
    const write = FileHandle.write;
    const heap = new Heap({ maxSize: 64 * MIB, initialSize: 256 * KIB });
    const blocks = Array.from({ length: 2000 }, (_, i) => heap.alloc(1 + ((i * 37) % 3000)));
    const busy = slotWord(0) + SL_BUSY;
    const path = join(dir, "busy.heap");
    let writes = 0;
    FileHandle.write = async function (this: unknown, ...args: unknown[]) {
      writes++;
      Atomics.store(heap.u32, busy, 1);
      try {
        return await write.apply(this, args);
      } finally {
        Atomics.store(heap.u32, busy, 0);
      }
    };
    try {
      await heap.save(path);
    } finally {
      FileHandle.write = write;
    }
    assert.ok(writes > 1);
    const loaded = await Heap.load(path);
    assert.equal(loaded.stats().liveBlocks, blocks.length);
    loaded.check();
  });

  test("a save that fails at its rename (the path is a directory) rejects and leaves no temporary file", async () => {
    const heap = new Heap({ maxSize: 8 * MIB });
    heap.setRoot("x", heap.fromString("kept"));
    const target = mkdtempSync(join(dir, "a-directory-"));
    await assert.rejects(heap.save(target), /EISDIR|EEXIST|ENOTEMPTY|EPERM/);
    assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith(".tmp")), [], "no temporary file is left behind (an acceptance run found one)");
    heap.check();
  });

  test("damaged, truncated, foreign and other-version files are refused with InvalidImageError", async () => {
    const heap = new Heap({ maxSize: 16 * MIB, initialSize: 64 * KIB });
    build(heap, 99, 300);
    const good = join(dir, "good.heap");
    await heap.save(good);
    const bytes = readFileSync(good);
    const cases: [string, Uint8Array, RegExp][] = [];
    const flipped = Uint8Array.from(bytes);
    flipped[FILE_HEADER_BYTES + 12345] = flipped[FILE_HEADER_BYTES + 12345]! ^ 0x10;
    cases.push(["a flipped image byte", flipped, /image is damaged/]);
    const header = Uint8Array.from(bytes);
    header[24] = header[24]! ^ 1;
    cases.push(["a flipped header byte", header, /header is damaged/]);
    for (const at of [48, 55, 63]) {
      // No checksum covers them; they must be zero (an acceptance run found flips there loaded).
      const reserved = Uint8Array.from(bytes);
      reserved[at] = reserved[at]! ^ 0x80;
      cases.push([`a flipped byte ${at} of the header's zero tail`, reserved, /header is damaged \(bytes 48 to 63 are not zero\)/]);
    }
    cases.push(["a truncated file", bytes.subarray(0, bytes.length - 8192), /truncated/]);
    cases.push(["trailing bytes", Buffer.concat([bytes, Buffer.alloc(8192)]), /trailing bytes/]);
    cases.push(["a JSON file", Buffer.from(JSON.stringify({ hello: "world" }).repeat(10)), /magic/]);
    cases.push(["an empty file", new Uint8Array(0), /shorter than the 64-byte header/]);
    const rest = bytes.subarray(FILE_HEADER_BYTES);
    const fields = { runs: bytes.readUInt32LE(20), imageBytes: bytes.readDoubleLE(24), rangeBytes: 16 * MIB, checksum: imageChecksum(rest) };
    assert.equal(bytes.subarray(0, FILE_HEADER_BYTES).toString("hex"), fileHeader(fields).toString("hex"));
    cases.push(["another layout version", Buffer.concat([fileHeader({ ...fields, layoutVersion: 999 }), rest]), /layout version 999/]);
    cases.push(["another file format version", Buffer.concat([fileHeader({ ...fields, fileVersion: 3 }), rest]), /file format version 3 \(this build reads 1 to 2\)/]);
    const bigEndian = fileHeader(fields);
    bigEndian.writeUInt32BE(PAGE_SIZE, 16);
    cases.push(["a page size written big-endian", Buffer.concat([sealHeader(bigEndian), rest]), /page size 2097152 \(this build uses 8192\)/]);
    // Run tables that break the format, each with a true checksum: the table is checked before any read.
    const blocks = fields.imageBytes / BLOCK;
    const withRuns = (runs: [number, number][], pad = 0): Buffer => {
      const table = runTable(runs);
      if (pad !== 0) table.writeUInt32LE(pad, table.length - 4);
      const data = Buffer.alloc(runs.reduce((a, [, n]) => a + n, 0) * BLOCK);
      return Buffer.concat([fileHeader({ ...fields, runs: runs.length, checksum: imageChecksum(Buffer.concat([table, data])) }), table, data]);
    };
    cases.push(["runs out of order", withRuns([[4, 2], [1, 1]]), /run table is damaged \(run 1 starts at block 1, before block 6\)/]);
    cases.push(["overlapping runs", withRuns([[0, 3], [2, 1]]), /run table is damaged \(run 1 starts at block 2, before block 3\)/]);
    cases.push(["a run past the image", withRuns([[0, 1], [blocks - 1, 2]]), new RegExp(`run table is damaged \\(run 1 of 2 blocks from block ${blocks - 1} in an image of ${blocks}\\)`)]);
    cases.push(["an empty run", withRuns([[0, 1], [3, 0]]), /run table is damaged \(run 1 of 0 blocks/]);
    cases.push(["a padding word that is not 0", withRuns([[0, 1]], 5), /padding word is not 0/]);
    cases.push(["more runs than the file holds", Buffer.concat([fileHeader({ ...fields, runs: 2 ** 30 }), rest]), /gives 1073741824 runs/]);
    for (const [what, data, pattern] of cases) {
      const path = join(dir, "bad.heap");
      writeFileSync(path, data);
      await assert.rejects(Heap.load(path), (e: unknown) => {
        assert.ok(e instanceof InvalidImageError, `${what}: ${String(e)}`);
        assert.equal(e.code, "ERR_OFFHEAP_INVALID_IMAGE");
        assert.match(e.message, pattern, what);
        return true;
      });
    }
    await assert.rejects(Heap.load(join(dir, "does-not-exist.heap")), /ENOENT/);
    verify(await Heap.load(good), build(new Heap({ maxSize: 16 * MIB, initialSize: 64 * KIB }), 99, 300));
  });

  test("an image longer than one read (Heap.load sums each 8 MiB chunk while it reads the next): a flipped bit in any chunk is found", async () => {
    const heap = new Heap({ maxSize: 64 * MIB, initialSize: 20 * MIB });
    const live = build(heap, 7, 300);
    const big = heap.alloc(17 * MIB); // its pages reach into the third chunk
    heap.u8.fill(0x5a, big, big + 17 * MIB);
    const path = join(dir, "big.heap");
    await heap.save(path);
    const bytes = readFileSync(path);
    const fileBytes = bytes.length - FILE_HEADER_BYTES;
    assert.ok(fileBytes > 16 * MIB, `${fileBytes} bytes after the header: three chunks`);
    const loaded = await Heap.load(path);
    verify(loaded, live);
    assert.equal(loaded.u8[big + 17 * MIB - 1], 0x5a);
    for (const at of [100, 8 * MIB - 1, 8 * MIB, 12 * MIB + 3, fileBytes - 1]) {
      const flipped = Uint8Array.from(bytes);
      flipped[FILE_HEADER_BYTES + at] = flipped[FILE_HEADER_BYTES + at]! ^ 0x04;
      writeFileSync(join(dir, "bad-big.heap"), flipped);
      await assert.rejects(Heap.load(join(dir, "bad-big.heap")), (e: unknown) => e instanceof InvalidImageError && /image is damaged/.test(e.message), `image byte ${at}`);
    }
  });
});

// Damage anywhere in a file: Heap.load refuses it with InvalidImageError, or
// (damage to what no check covers, as the header's zero tail, or a header
// field resealed that leaves the image valid) opens the image as it was saved.
const DAMAGE_SEED = Number(process.env.OFFHEAP_SEED ?? (Date.now() ^ (Math.random() * 2 ** 31)) >>> 0);
test(`a damaged file is refused or opens the image as saved, never another (fast-check, seed ${DAMAGE_SEED})`, async () => {
  type Damage =
    | { kind: "flip"; at: number; bit: number }
    | { kind: "truncate"; at: number }
    | { kind: "append"; bytes: number }
    | { kind: "field"; offset: 20 | 24 | 32 | 40; value: number }
    | { kind: "tail"; at: number; bit: number } // the header's zero bytes [48, 64), which no checksum covers: refused all the same
    | { kind: "grow"; offset: 24 | 32; pages: number }; // image bytes or range this many pages larger, resealed: still valid
  const damage: fc.Arbitrary<Damage> = fc.oneof(
    fc.record({ kind: fc.constant("flip" as const), at: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), bit: fc.integer({ min: 0, max: 7 }) }),
    fc.record({ kind: fc.constant("truncate" as const), at: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }) }),
    fc.record({ kind: fc.constant("append" as const), bytes: fc.integer({ min: 1, max: 9000 }) }),
    fc.record({ kind: fc.constant("field" as const), offset: fc.constantFrom(20 as const, 24 as const, 32 as const, 40 as const), value: fc.integer({ min: 0, max: 2 ** 32 - 1 }) }),
    fc.record({ kind: fc.constant("tail" as const), at: fc.integer({ min: 48, max: 63 }), bit: fc.integer({ min: 0, max: 7 }) }),
    fc.record({ kind: fc.constant("grow" as const), offset: fc.constantFrom(24 as const, 32 as const), pages: fc.integer({ min: 0, max: 64 }) }),
  );
  let loaded = 0;
  let refused = 0;
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.array(damage, { minLength: 1, maxLength: 6 }), async (seed, damages) => {
      const heap = new Heap({ maxSize: 8 * MIB, initialSize: 64 * KIB });
      build(heap, seed, 60);
      const path = join(dir, "damage.heap");
      await heap.save(path);
      const image = new Uint8Array(heap.buffer, 0, committedEnd(heap)).slice();
      const good = readFileSync(path);
      for (const d of damages) {
        let bytes: Buffer = Buffer.from(good);
        if (d.kind === "flip" || d.kind === "tail") {
          const at = d.kind === "tail" ? d.at : Math.floor(d.at * bytes.length);
          bytes[at] = bytes[at]! ^ (1 << d.bit);
        } else if (d.kind === "grow") {
          // the range grows with the image, which may not pass it
          for (const offset of d.offset === 24 ? [24, 32] : [32]) bytes.writeDoubleLE(bytes.readDoubleLE(offset) + d.pages * PAGE_SIZE, offset);
          sealHeader(bytes);
        } else if (d.kind === "truncate") bytes = bytes.subarray(0, Math.floor(d.at * bytes.length));
        else if (d.kind === "append") bytes = Buffer.concat([bytes, Buffer.alloc(d.bytes, 0x33)]);
        else if (d.offset === 24 || d.offset === 32) {
          bytes.writeDoubleLE(d.value * PAGE_SIZE, d.offset); // a whole number of pages, or a range, resealed
          sealHeader(bytes);
        } else {
          bytes.writeUInt32LE(d.value, d.offset);
          sealHeader(bytes);
        }
        writeFileSync(path, bytes);
        try {
          const copy = await Heap.load(path);
          assert.deepEqual(new Uint8Array(copy.buffer, 0, image.length), image, `${JSON.stringify(d)} opened another image`);
          copy.check();
          loaded++;
        } catch (e) {
          if (!(e instanceof InvalidImageError)) throw e;
          refused++;
        }
      }
    }),
    { seed: DAMAGE_SEED, numRuns: 25 },
  );
  assert.ok(refused > 0 && loaded > 0, `${refused} damaged files refused, ${loaded} opened as saved: both happen`);
});

test("collections survive save and load: re-opened from their roots with every entry", async () => {
  const Rec = defineStruct({ id: "u32", name: "string", score: "f64" });
  const heap = new Heap({ maxSize: 64 * MIB });
  const map = new OffHeapMap(heap, { key: "string", value: Rec });
  const arr = new OffHeapArray(heap, "f64");
  const cur = Rec.at(heap, 0);
  for (let i = 0; i < 20_000; i++) {
    cur.addr = map.getOrInsertRef(`user:${i}`);
    cur.id = i;
    cur.name = `name ${i}`;
    cur.score = i / 3;
    arr.push(i * 1.5);
  }
  for (let i = 0; i < 20_000; i += 3) map.delete(`user:${i}`);
  heap.setRoot("users", map.address);
  heap.setRoot("scores", arr.address);
  const path = join(dir, "collections.heap");
  await heap.save(path);
  const loaded = await Heap.load(path);
  loaded.check();
  const map2 = OffHeapMap.open(loaded, loaded.getRoot("users"), { key: "string", value: Rec });
  const arr2 = OffHeapArray.open(loaded, loaded.getRoot("scores"), "f64");
  map2.check();
  assert.equal(map2.size, map.size);
  assert.equal(arr2.length, 20_000);
  const c2 = Rec.at(loaded, 0);
  for (let i = 0; i < 20_000; i++) {
    const ref = map2.getRef(`user:${i}`);
    if (i % 3 === 0) {
      assert.equal(ref, 0);
      continue;
    }
    c2.addr = ref;
    assert.deepEqual([c2.id, c2.name, c2.score], [i, `name ${i}`, i / 3]);
    assert.equal(arr2.get(i), i * 1.5);
  }
});
