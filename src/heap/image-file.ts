// Heap image files: Heap.save writes the image to a file and Heap.load opens
// it again. See heap.ts for an overview.
//
// A file is a 64-byte header, a run table, and the image's committed bytes,
// [0, endPage * PAGE_SIZE), as they are in memory but for its long runs of
// zero blocks, which the file leaves out: the table lists the runs of 4 KiB
// blocks it holds (FILE_BLOCK_BYTES), and every block outside them is zero.
// Much of an image is zero: the metadata is laid out for the whole address
// range (maxSize) and written only for the committed pages, so a heap of one
// block made with the default 2 GiB range has a 74.5 MiB image of which
// 11 blocks are not zero. Loading reads each run into a new backing memory,
// whose pages start zero, so the pages of the zero blocks are never touched
// (on the bench VM a first touch costs 11-14 us a 4 KiB page: most of what a
// load costs).
//
// The header, little-endian, read and written through a DataView at the
// offsets OFF_FILE_<FIELD> below:
//
//    0 +---------------------------------------------+
//      | magic "OFHPIMG\n" (8 bytes)                 |
//    8 | u32 FILE_VERSION, the format of this header |
//   12 | u32 layout VERSION of the image             |
//   16 | u32 PAGE_SIZE                               |
//   20 | u32 runs in the run table (0 in version 1)  |
//   24 | f64 image bytes                             |
//   32 | f64 address range of the heap (maxSize)     |
//   40 | u32 checksum of the rest of the file        |
//   44 | u32 header checksum of bytes [0, 44)        |
//   48 | zero                                        |
//   64 +---------------------------------------------+
//      | run table: for each run, u32 first block,   |
//      | u32 blocks; in address order, apart; zero   |
//      | words after it to a multiple of 16 bytes    |
//      +---------------------------------------------+
//      | the runs' bytes, one after the other        |
//      +---------------------------------------------+
//
// Version 1 files, which Heap.load still reads, had no run table: the image
// whole after the header, flags 0 at offset 20, and their checksum over it.
//
// The image is the heap's memory, whose words are in the host's byte order:
// only a little-endian host's image matches the header, so on a big-endian
// host save and load refuse to run (checkHostByteOrder).
//
// The checksum is four interleaved multiply-rotate lanes over the 32-bit
// words after the header (the shape of xxHash32), which runs at memory
// speed in V8; the header checksum is FNV-1a taken a word at a time. They
// catch damage and truncation, and are no defence against a deliberately
// forged file.
//
// save() writes to a temporary file next to the target and renames it over
// the target, so a crash never leaves a half-written image under the name.
// load() checks the header and the run table against the file's length,
// reads the runs into a new memory and checks the checksum before
// Heap.attach sees it: a damaged or foreign file is refused with
// InvalidImageError and nothing is opened. These functions use node:fs,
// imported on first use, so the rest of the package still runs in browsers.

import { ConcurrentModificationError, InvalidImageError, OffheapTypeError } from "../errors.js";
import { createMemory } from "../memory/backing.js";
import { nodeFs } from "../common/write-file.js";
import { OLDEST_VERSION, PAGE_SIZE, VERSION } from "./layout.js";

/** Version of the file format (the header above); the image inside has its own layout VERSION. */
export const FILE_VERSION = 2;
/** The oldest file format version Heap.load reads. */
const OLDEST_FILE_VERSION = 1;
/** The unit of the run table: an OS page, the unit in which fresh memory is backed. */
const FILE_BLOCK_BYTES = 4096;
/** Zero runs shorter than this many blocks are written out: a run costs a read call (tens of microseconds) and 8 bytes of table. */
const MIN_HOLE_BLOCKS = 16;
/** Bytes of the file header; the run table (version 1: the image) starts at this file offset. */
export const FILE_HEADER_BYTES = 64;
const FILE_MAGIC = "OFHPIMG\n";

// Byte offsets of the header's fields (the diagram above).
const OFF_FILE_MAGIC = 0;
const OFF_FILE_VERSION = 8;
const OFF_FILE_LAYOUT_VERSION = 12;
const OFF_FILE_PAGE_SIZE = 16;
const OFF_FILE_RUNS = 20;
const OFF_FILE_IMAGE_BYTES = 24;
const OFF_FILE_RANGE_BYTES = 32;
const OFF_FILE_CHECKSUM = 40;
const OFF_FILE_HEADER_CHECKSUM = 44; // the checksum covers every byte before it
const OFF_FILE_RESERVED = 48; // zero to the header's end: load refuses a file where they are not
const LE = true; // DataView's littleEndian argument

const CHUNK_BYTES = 64 << 20; // fs reads and writes move at most this many bytes per call
const COPY_BYTES = 4 << 20; // Heap.save copies the image out of the heap's memory this many bytes at a time (a multiple of 16: the checksum's pieces)
const READ_CHUNK_BYTES = 8 << 20; // Heap.load sums one chunk of this size while it reads the next ones (a multiple of 16)
const READS_IN_FLIGHT = 2; // Heap.load's reads at once (readSummed)

// True where a Uint32Array stores its low byte first, as the file's header does.
const HOST_LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;

/**
 * Throws OffheapTypeError on a big-endian host: the file header is
 * little-endian but the image in the file is the heap's memory in the
 * host's byte order, so a file written or read there would not match the
 * format. `api` names the caller; `littleEndian` is the host's byte order
 * (a parameter so that a test can check the refusal). Cost: O(1).
 *
 * @example
 * checkHostByteOrder("Heap.save"); // returns on a little-endian host (x86, ARM as configured by every major OS)
 */
export function checkHostByteOrder(api: string, littleEndian = HOST_LITTLE_ENDIAN): void {
  if (!littleEndian) {
    throw new OffheapTypeError(`${api}: heap image files need a little-endian host and this one is big-endian (the file header is little-endian, the heap image in it is native-endian); Heap.attach on the memory itself works on any host`);
  }
}

// The slice of node:fs/promises used here, typed locally: src/ is compiled
// without Node's types so that nothing else in it can depend on Node.
interface FileHandle {
  read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
  write(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesWritten: number }>;
  stat(): Promise<{ size: number }>;
  sync(): Promise<void>;
  close(): Promise<void>;
}
interface Fs {
  open(path: string, flags: string): Promise<FileHandle>;
  rename(from: string, to: string): Promise<void>;
  rm(path: string, options: { force: boolean }): Promise<void>;
}

/**
 * Checksum of `bytes` (a multiple of 16 bytes long, 4-aligned): four
 * xxHash32-style lanes over its words, folded. Cost: about one pass over
 * memory.
 */
export function imageChecksum(bytes: Uint8Array): number {
  const sum = new ImageChecksum();
  sum.update(bytes, 0, bytes.length);
  return sum.digest();
}

const P1 = -1640531535; // 2654435761
const P2 = -2048144777; // 2246822519
/** Bytes the checksum takes per call of its loop: a call count at which V8 optimizes the loop whole, not only by on-stack replacement. */
const LANE_STEP_BYTES = 1 << 20;

/** imageChecksum taken piece by piece, so that it can follow the reads of a file (loadImage). */
class ImageChecksum {
  private a = 0x24234428;
  private b = P2;
  private c = 0;
  private d = 1640531535;

  /** Adds bytes [from, to) of `bytes` (both multiples of 16), in order after what was added before. */
  update(bytes: Uint8Array, from: number, to: number): void {
    // Word indexes by division, not >>>: a 4 GiB image ends at byte 2^32, which >>> takes as 0.
    const w = new Int32Array(bytes.buffer, bytes.byteOffset, Math.floor(bytes.byteLength / 4));
    for (let at = from; at < to; at += LANE_STEP_BYTES) this.lanes(w, at / 4, Math.min(to, at + LANE_STEP_BYTES) / 4);
  }

  private lanes(w: Int32Array, i: number, end: number): void {
    let a = this.a;
    let b = this.b;
    let c = this.c;
    let d = this.d;
    for (; i < end; i += 4) {
      a = a + Math.imul(w[i]!, P2);
      a = Math.imul((a << 13) | (a >>> 19), P1);
      b = b + Math.imul(w[i + 1]!, P2);
      b = Math.imul((b << 13) | (b >>> 19), P1);
      c = c + Math.imul(w[i + 2]!, P2);
      c = Math.imul((c << 13) | (c >>> 19), P1);
      d = d + Math.imul(w[i + 3]!, P2);
      d = Math.imul((d << 13) | (d >>> 19), P1);
    }
    this.a = a;
    this.b = b;
    this.c = c;
    this.d = d;
  }

  digest(): number {
    const { a, b, c, d } = this;
    let h = ((a << 1) | (a >>> 31)) + ((b << 7) | (b >>> 25)) + ((c << 12) | (c >>> 20)) + ((d << 18) | (d >>> 14));
    h = Math.imul(h ^ (h >>> 15), P2);
    h = Math.imul(h ^ (h >>> 13), -1028477379);
    return (h ^ (h >>> 16)) >>> 0;
  }
}

// FNV-1a, a 32-bit word at a time, over the little-endian words of header bytes [0, OFF_FILE_HEADER_CHECKSUM).
function headerChecksum(header: DataView): number {
  let h = 0x811c9dc5;
  for (let off = 0; off < OFF_FILE_HEADER_CHECKSUM; off += 4) h = Math.imul(h ^ header.getUint32(off, LE), 0x01000193);
  return h >>> 0;
}

/** Writes the image, the first `imageBytes` of `buffer`, to `path` (atomically, by rename); returns the file's length in bytes. */
export async function saveImage(buffer: ArrayBuffer | SharedArrayBuffer, imageBytes: number, rangeBytes: number, path: string): Promise<number> {
  if (typeof path !== "string") throw new OffheapTypeError(`Heap.save: path must be a string, got ${typeof path}`);
  checkHostByteOrder("Heap.save");
  const fs = await nodeFs<Fs>("Heap.save");
  const image = new Uint8Array(buffer, 0, imageBytes);
  const runs = dataRuns(image);
  const table = runTable(runs);
  const tmp = `${path}.${Date.now().toString(36)}${Math.floor(Math.random() * 1e9).toString(36)}.tmp`;
  const file = await fs.open(tmp, "w");
  let at = FILE_HEADER_BYTES + table.length;
  let open = true;
  try {
    // The table and the runs, summed as they are written; then the header, which holds the sum.
    const sum = new ImageChecksum();
    sum.update(table, 0, table.length);
    await writeAll(file, table, FILE_HEADER_BYTES);
    // Each piece is copied out of the heap's memory on this thread, then summed and written: a
    // file write reads its buffer on another thread while this one runs on, and a slow path of the
    // heap (stats(), say) sets and clears its slot's busy word in the image meanwhile. Written
    // straight from the heap's memory, a file could hold the word set, under a sum taken with it
    // clear: a file that Heap.load refuses, from a save that succeeded (test/handles.test.ts's
    // save during collections caught it 1 run in 5).
    const copy = new Uint8Array(Math.min(COPY_BYTES, imageBytes));
    for (let r = 0; r < runs.length; r += 2) {
      for (let a = runs[r]! * FILE_BLOCK_BYTES, end = (runs[r]! + runs[r + 1]!) * FILE_BLOCK_BYTES; a < end; ) {
        const n = Math.min(copy.length, end - a);
        copy.set(image.subarray(a, a + n));
        sum.update(copy, 0, n);
        await writeAll(file, copy.subarray(0, n), at);
        a += n;
        at += n;
      }
    }
    // A heap that changed while it was written (the program, or a thread, went on) wrote pieces
    // copied at different times: summed again, it is refused here rather than loaded.
    const again = new ImageChecksum();
    again.update(table, 0, table.length);
    for (let r = 0; r < runs.length; r += 2) again.update(image, runs[r]! * FILE_BLOCK_BYTES, (runs[r]! + runs[r + 1]!) * FILE_BLOCK_BYTES);
    if (again.digest() !== sum.digest()) {
      throw new ConcurrentModificationError(`Heap.save: the heap changed while ${path} was being written (wait for save() to settle before changing it); nothing was saved`);
    }
    const header = new Uint8Array(FILE_HEADER_BYTES);
    const view = new DataView(header.buffer);
    for (let i = 0; i < FILE_MAGIC.length; i++) view.setUint8(OFF_FILE_MAGIC + i, FILE_MAGIC.charCodeAt(i));
    view.setUint32(OFF_FILE_VERSION, FILE_VERSION, LE);
    view.setUint32(OFF_FILE_LAYOUT_VERSION, VERSION, LE);
    view.setUint32(OFF_FILE_PAGE_SIZE, PAGE_SIZE, LE);
    view.setUint32(OFF_FILE_RUNS, runs.length / 2, LE);
    view.setFloat64(OFF_FILE_IMAGE_BYTES, imageBytes, LE);
    view.setFloat64(OFF_FILE_RANGE_BYTES, rangeBytes, LE);
    view.setUint32(OFF_FILE_CHECKSUM, sum.digest(), LE);
    view.setUint32(OFF_FILE_HEADER_CHECKSUM, headerChecksum(view), LE);
    await writeAll(file, header, 0);
    await file.sync();
    open = false;
    await file.close();
    await fs.rename(tmp, path); // a failed rename (path is a directory, say) leaves no temporary file either
  } catch (err) {
    if (open) await file.close().catch(() => undefined);
    await fs.rm(tmp, { force: true });
    throw err;
  }
  return at;
}

/**
 * The runs of `image` (a multiple of FILE_BLOCK_BYTES long) that a file
 * holds: [first block, blocks] pairs, in order, covering every block that
 * is not zero; zero runs shorter than MIN_HOLE_BLOCKS stay inside a run.
 * Cost: a read of the image's words, up to the first non-zero word of each
 * block.
 */
function dataRuns(image: Uint8Array): number[] {
  const words = new Int32Array(image.buffer, image.byteOffset, image.length >>> 2);
  const wordsPerBlock = FILE_BLOCK_BYTES >>> 2;
  const blocks = image.length / FILE_BLOCK_BYTES;
  const runs: number[] = [];
  let first = -1; // the current run's first block, -1 outside one
  let zeros = 0; // zero blocks since the current run's last non-zero one
  for (let b = 0; b < blocks; b++) {
    let zero = true;
    for (let w = b * wordsPerBlock, end = w + wordsPerBlock; w < end; w++) {
      if (words[w] !== 0) {
        zero = false;
        break;
      }
    }
    if (!zero) {
      if (first < 0) first = b;
      else if (zeros >= MIN_HOLE_BLOCKS) {
        runs.push(first, b - zeros - first);
        first = b;
      }
      zeros = 0;
    } else if (first >= 0) zeros++;
  }
  if (first >= 0) runs.push(first, blocks - zeros - first);
  return runs;
}

/** Bytes of a run table of `n` runs: 8 a run, to a multiple of 16 (the checksum's step). */
function tableBytes(n: number): number {
  return Math.ceil(n / 2) * 16;
}

/** The run table's bytes for `runs`: little-endian u32 pairs, then zero words (tableBytes). */
function runTable(runs: number[]): Uint8Array {
  const table = new Uint8Array(tableBytes(runs.length / 2));
  const view = new DataView(table.buffer);
  for (let i = 0; i < runs.length; i++) view.setUint32(i * 4, runs[i]!, LE);
  return table;
}

async function writeAll(file: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  for (let done = 0; done < bytes.length; ) {
    const n = Math.min(CHUNK_BYTES, bytes.length - done);
    const { bytesWritten } = await file.write(bytes, done, n, position + done);
    done += bytesWritten;
  }
}

/** Reads and checks the image file at `path` into a new memory of `kind`; returns that memory. */
export async function loadImage(path: string, kind: "wasm" | "resizable"): Promise<WebAssembly.Memory | ArrayBuffer> {
  if (typeof path !== "string") throw new OffheapTypeError(`Heap.load: path must be a string, got ${typeof path}`);
  checkHostByteOrder("Heap.load");
  const fs = await nodeFs<Fs>("Heap.load");
  const file = await fs.open(path, "r");
  try {
    const { size } = await file.stat();
    const refuse = (why: string): never => {
      throw new InvalidImageError(`Heap.load: ${path} is not a heap image this version can open: ${why}`);
    };
    if (size < FILE_HEADER_BYTES) refuse(`${size} bytes is shorter than the ${FILE_HEADER_BYTES}-byte header`);
    const header = new Uint8Array(FILE_HEADER_BYTES);
    await readAll(file, header, 0);
    const view = new DataView(header.buffer);
    for (let i = 0; i < FILE_MAGIC.length; i++) {
      if (view.getUint8(OFF_FILE_MAGIC + i) !== FILE_MAGIC.charCodeAt(i)) refuse("no heap image magic at its start");
    }
    if (view.getUint32(OFF_FILE_HEADER_CHECKSUM, LE) !== headerChecksum(view)) refuse("its header is damaged (header checksum mismatch)");
    for (let off = OFF_FILE_RESERVED; off < FILE_HEADER_BYTES; off += 4) {
      if (view.getUint32(off, LE) !== 0) refuse(`its header is damaged (bytes ${OFF_FILE_RESERVED} to ${FILE_HEADER_BYTES - 1} are not zero)`);
    }
    const fileVersion = view.getUint32(OFF_FILE_VERSION, LE);
    if (!(fileVersion >= OLDEST_FILE_VERSION && fileVersion <= FILE_VERSION)) refuse(`file format version ${fileVersion} (this build reads ${OLDEST_FILE_VERSION} to ${FILE_VERSION})`);
    const layoutVersion = view.getUint32(OFF_FILE_LAYOUT_VERSION, LE);
    if (!(layoutVersion >= OLDEST_VERSION && layoutVersion <= VERSION)) refuse(`image layout version ${layoutVersion} (this build reads ${OLDEST_VERSION} to ${VERSION})`);
    const pageSize = view.getUint32(OFF_FILE_PAGE_SIZE, LE);
    if (pageSize !== PAGE_SIZE) refuse(`page size ${pageSize} (this build uses ${PAGE_SIZE})`);
    const imageBytes = view.getFloat64(OFF_FILE_IMAGE_BYTES, LE);
    const rangeBytes = view.getFloat64(OFF_FILE_RANGE_BYTES, LE);
    if (!Number.isSafeInteger(imageBytes) || imageBytes % PAGE_SIZE !== 0 || imageBytes <= 0 || !(imageBytes <= rangeBytes) || rangeBytes > 2 ** 32) {
      refuse(`its header gives an image of ${imageBytes} bytes in a range of ${rangeBytes}`);
    }
    const blocks = imageBytes / FILE_BLOCK_BYTES;
    // Version 1: the whole image after the header (its word at OFF_FILE_RUNS was 0).
    let table = new Uint8Array(0);
    let runs = [0, blocks];
    if (fileVersion > 1) {
      const n = view.getUint32(OFF_FILE_RUNS, LE);
      if (tableBytes(n) > size - FILE_HEADER_BYTES) refuse(`its header gives ${n} runs but the file holds ${size - FILE_HEADER_BYTES} bytes after it (truncated)`);
      table = new Uint8Array(tableBytes(n));
      await readAll(file, table, FILE_HEADER_BYTES);
      const words = new DataView(table.buffer);
      runs = [];
      for (let r = 0, next = 0; r < n; r++) {
        const first = words.getUint32(8 * r, LE);
        const count = words.getUint32(8 * r + 4, LE);
        if (first < next) refuse(`its run table is damaged (run ${r} starts at block ${first}, before block ${next})`);
        if (count === 0 || first + count > blocks) refuse(`its run table is damaged (run ${r} of ${count} blocks from block ${first} in an image of ${blocks})`);
        runs.push(first, count);
        next = first + count;
      }
      for (let off = 8 * n; off < table.length; off += 4) {
        if (words.getUint32(off, LE) !== 0) refuse("its run table is damaged (a padding word is not 0)");
      }
    }
    let dataBytes = 0;
    for (let r = 1; r < runs.length; r += 2) dataBytes += runs[r]! * FILE_BLOCK_BYTES;
    const want = FILE_HEADER_BYTES + table.length + dataBytes;
    if (size !== want) refuse(`the header promises ${want} bytes but the file holds ${size} (${size < want ? "truncated" : "trailing bytes"})`);
    const memory = createMemory(kind, imageBytes, rangeBytes);
    const buffer = memory instanceof WebAssembly.Memory ? memory.buffer : memory;
    const sum = new ImageChecksum();
    sum.update(table, 0, table.length);
    if (await readSummed(file, new Uint8Array(buffer, 0, imageBytes), runs, FILE_HEADER_BYTES + table.length, sum) !== view.getUint32(OFF_FILE_CHECKSUM, LE)) {
      refuse("its image is damaged (checksum mismatch)");
    }
    return memory;
  } finally {
    await file.close();
  }
}

/**
 * Reads the file from `position` on into the runs of `image` that `runs`
 * names ([first block, blocks] pairs, in order, as the file holds them one
 * after the other), adds what it read to `sum` and returns its digest.
 * READS_IN_FLIGHT chunks of at most READ_CHUNK_BYTES are read at once (on
 * libuv's thread pool) while the chunk before them is summed, in order.
 * Reading into fresh memory costs a page fault per page; two reads fault
 * on two cores: a 455 MiB image took 1.67 s with one read at a time, 0.82 s
 * with two (three gained nothing on 2 cores), and the sum (0.15-0.2 s
 * warm) runs beside them.
 */
async function readSummed(file: FileHandle, image: Uint8Array, runs: number[], position: number, sum: ImageChecksum): Promise<number> {
  const chunks: number[] = []; // [image offset, file offset, bytes] triples
  for (let r = 0, at = position; r < runs.length; r += 2) {
    for (let from = runs[r]! * FILE_BLOCK_BYTES, end = from + runs[r + 1]! * FILE_BLOCK_BYTES; from < end; from += READ_CHUNK_BYTES) {
      const bytes = Math.min(READ_CHUNK_BYTES, end - from);
      chunks.push(from, at, bytes);
      at += bytes;
    }
  }
  const n = chunks.length / 3;
  const reads: Promise<void>[] = [];
  const start = (k: number): void => {
    const from = chunks[3 * k]!;
    const read = readAll(file, image.subarray(from, from + chunks[3 * k + 2]!), chunks[3 * k + 1]!);
    read.catch(() => undefined); // a failure is thrown where the chunk is awaited, or dropped if an earlier one failed
    reads.push(read);
  };
  for (let k = 0; k < Math.min(READS_IN_FLIGHT, n); k++) start(k);
  for (let k = 0; k < n; k++) {
    await reads[k];
    if (k + READS_IN_FLIGHT < n) start(k + READS_IN_FLIGHT);
    sum.update(image, chunks[3 * k]!, chunks[3 * k]! + chunks[3 * k + 2]!);
  }
  return sum.digest();
}

async function readAll(file: FileHandle, into: Uint8Array, position: number): Promise<void> {
  for (let done = 0; done < into.length; ) {
    const n = Math.min(CHUNK_BYTES, into.length - done);
    const { bytesRead } = await file.read(into, done, n, position + done);
    if (bytesRead === 0) throw new InvalidImageError(`Heap.load: the file ended ${into.length - done} bytes early (it changed while being read)`);
    done += bytesRead;
  }
}
