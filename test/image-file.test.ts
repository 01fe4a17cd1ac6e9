// Named roots and heap image files: setRoot/getRoot, save/load round trips
// after random work, the file header byte for byte (little-endian, as the
// format defines it), and damaged or foreign files refused with
// InvalidImageError.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { endianness, tmpdir } from "node:os";
import { join } from "node:path";
import { Heap, InvalidAddressError, InvalidImageError, OffheapRangeError, OffheapTypeError, PAGE_SIZE } from "../src/index.js";
import { checkHostByteOrder, FILE_HEADER_BYTES, imageChecksum } from "../src/heap/image-file.js";
import { VERSION } from "../src/heap/layout.js";
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
  imageBytes: number;
  rangeBytes: number;
  imageChecksum: number;
}

/**
 * A file header as the format defines it (image-file.ts), built byte by byte
 * with Buffer's little-endian writers rather than by the code under test:
 * magic, versions, page size, flags, the two f64 sizes, the image checksum,
 * then the header checksum.
 */
function fileHeader(f: HeaderFields): Buffer {
  const b = Buffer.alloc(64);
  b.write("OFHPIMG\n", 0, "latin1");
  b.writeUInt32LE(f.fileVersion ?? 1, 8);
  b.writeUInt32LE(f.layoutVersion ?? VERSION, 12);
  b.writeUInt32LE(8192, 16);
  b.writeUInt32LE(0, 20);
  b.writeDoubleLE(f.imageBytes, 24);
  b.writeDoubleLE(f.rangeBytes, 32);
  b.writeUInt32LE(f.imageChecksum, 40);
  return sealHeader(b);
}

/** Writes the header checksum (bytes 44..47): FNV-1a over the little-endian words of bytes 0..43. */
function sealHeader(b: Buffer): Buffer {
  let h = 0x811c9dc5;
  for (let off = 0; off < 44; off += 4) h = Math.imul(h ^ b.readUInt32LE(off), 0x01000193);
  b.writeUInt32LE(h >>> 0, 44);
  return b;
}

describe("the file format", () => {
  test("save writes exactly the little-endian header built byte by byte here, and load reads one", async () => {
    const heap = new Heap({ maxSize: 16 * MIB, initialSize: 64 * KIB });
    const live = build(heap, 31, 500);
    const path = join(dir, "header.heap");
    await heap.save(path);
    const file = readFileSync(path);
    const image = file.subarray(FILE_HEADER_BYTES);
    const imageBytes = committedEnd(heap);
    const { reservedBytes } = heap.stats();
    assert.equal(image.length, imageBytes, "the image is the committed pages");
    const header = fileHeader({ imageBytes, rangeBytes: reservedBytes, imageChecksum: imageChecksum(image) });
    assert.equal(file.subarray(0, FILE_HEADER_BYTES).toString("hex"), header.toString("hex"));
    const built = join(dir, "built.heap");
    writeFileSync(built, Buffer.concat([header, image]));
    const loaded = await Heap.load(built, { memory: "resizable" });
    assert.equal(loaded.buffer.byteLength, imageBytes, "the image size came from bytes 24..31");
    assert.equal((loaded.buffer as ArrayBuffer).maxByteLength, reservedBytes, "the address range came from bytes 32..39");
    verify(loaded, live);
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
    cases.push(["a truncated file", bytes.subarray(0, bytes.length - 8192), /truncated/]);
    cases.push(["trailing bytes", Buffer.concat([bytes, Buffer.alloc(8192)]), /trailing bytes/]);
    cases.push(["a JSON file", Buffer.from(JSON.stringify({ hello: "world" }).repeat(10)), /magic/]);
    cases.push(["an empty file", new Uint8Array(0), /shorter than the 64-byte header/]);
    const image = bytes.subarray(FILE_HEADER_BYTES);
    const fields = { imageBytes: image.length, rangeBytes: 16 * MIB, imageChecksum: imageChecksum(image) };
    cases.push(["another layout version", Buffer.concat([fileHeader({ ...fields, layoutVersion: 999 }), image]), /layout version 999/]);
    cases.push(["another file format version", Buffer.concat([fileHeader({ ...fields, fileVersion: 2 }), image]), /file format version 2 \(this build reads 1\)/]);
    const bigEndian = fileHeader(fields);
    bigEndian.writeUInt32BE(PAGE_SIZE, 16);
    cases.push(["a page size written big-endian", Buffer.concat([sealHeader(bigEndian), image]), /page size 2097152 \(this build uses 8192\)/]);
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
    const imageBytes = bytes.length - FILE_HEADER_BYTES;
    assert.ok(imageBytes > 16 * MIB, `${imageBytes} image bytes: three chunks`);
    const loaded = await Heap.load(path);
    verify(loaded, live);
    assert.equal(loaded.u8[big + 17 * MIB - 1], 0x5a);
    for (const at of [100, 8 * MIB - 1, 8 * MIB, 12 * MIB + 3, imageBytes - 1]) {
      const flipped = Uint8Array.from(bytes);
      flipped[FILE_HEADER_BYTES + at] = flipped[FILE_HEADER_BYTES + at]! ^ 0x04;
      writeFileSync(join(dir, "bad-big.heap"), flipped);
      await assert.rejects(Heap.load(join(dir, "bad-big.heap")), (e: unknown) => e instanceof InvalidImageError && /image is damaged/.test(e.message), `image byte ${at}`);
    }
  });
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
