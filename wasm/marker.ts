// The collector's mark loop in WebAssembly (AssemblyScript): markJs of
// src/collections/gc-mark.ts, the same algorithm over the same image,
// for heaps whose memory is a WebAssembly.Memory. `npm run gen:marker`
// compiles it into src/collections/gc-mark-wasm.ts; gc-mark.ts says when
// it runs and what stays in JavaScript.
//
// It imports the heap's memory and reads the image as markJs does: the
// chunk table of the collector's bitmaps, the granule and word bitmaps,
// the page descriptors for a block's size. Its own state is in the
// marker's workspace, a heap block (gc-mark.ts draws it): the top of the
// gray stack, the slice in progress, the batch, a copy of the class sizes
// and what it counted (two globals cache a chunk-table lookup within one
// call, nothing more). No data segment, no allocation, no import but the
// memory: nothing of the heap is written but MARK bits and the workspace.
// In the shared module, with `shared`, MARK is set with i32.atomic.rmw.or
// and a block is pushed only by the thread whose or set it: the helper
// thread of gc-helper.ts marks the same bitmaps at the same time.
// A damaged image can make it load past the memory's end: the trap
// reaches gc-mark.ts, which throws HeapCorruptionError.

// Workspace words (u32 indexes from the workspace's address); gc-mark.ts has the same.
const WS_SLICE_POS: u32 = 0;
const WS_SLICE_END: u32 = 1;
const WS_BLOCKS: u32 = 2;
const WS_BYTES: u32 = 3;
const WS_TOUCHED: u32 = 4;
const WS_UNITS_LEFT: u32 = 5;
const WS_BATCH_FROM: u32 = 8;
const WS_BATCH_TO: u32 = 24;
const WS_CLASS_SIZE: u32 = 64;
const WS_GRAY: u32 = 256;

const BATCH: i32 = 16;
const FAR_UNITS: i32 = 8;
const SLICE_UNITS: i32 = 64;
const SLICE_BYTES: u32 = 512;
const PAGE_SHIFT: u32 = 13;
const CHUNK_SHIFT: u32 = 20;
const CHUNK_GRANULE_BYTES: u32 = 32768;
const EVEN_BITS: u32 = 0x55555555;
const START: u32 = 1;
const MARK: u32 = 2;
// Page descriptor words (layout.ts): 8 u32 a page, the class at D_CLASS (0: a large block starts here), its pages at D_NPAGES.
const DESC_SHIFT: u32 = 3;
const D_CLASS: u32 = 1;
const D_NPAGES: u32 = 3;

@inline function word(i: u32): u32 {
  return load<u32>(i << 2);
}

@inline function setWord(i: u32, v: u32): void {
  store<u32>(i << 2, v);
}

// Bitmap word index of address a in the chunk table at word t: granule bitmap (g) or word bitmap (w).
@inline function gWord(t: u32, a: u32): u32 {
  return gChunkBase(t, a >>> CHUNK_SHIFT) + (a >>> 7);
}

// gWord less a >>> 7, for an address in chunk c: the same for every address of the chunk.
@inline function gChunkBase(t: u32, c: u32): u32 {
  return (word(t + c) >>> 2) - (c << 13);
}

@inline function wWord(t: u32, a: u32): u32 {
  const c = a >>> CHUNK_SHIFT;
  return ((word(t + c) + CHUNK_GRANULE_BYTES) >>> 2) - (c << 14) + (a >>> 6);
}

@inline function rangeMask(lo: i32, hi: i32): u32 {
  return (hi == 16 ? <u32>0xffffffff : (<u32>1 << (<u32>hi * 2)) - 1) & ~((<u32>1 << (<u32>lo * 2)) - 1);
}

// Usable bytes of the block at addr: its class's size, or a large block's pages.
@inline function blockBytes(addr: u32, descW: u32, sizes: u32): u32 {
  const dw = descW + ((addr >>> PAGE_SHIFT) << DESC_SHIFT);
  const cls = word(dw + D_CLASS);
  return cls != 0 ? word(sizes + cls) : word(dw + D_NPAGES) << PAGE_SHIFT;
}

// The chunk of the last target scanRange looked up, and its gChunkBase: a
// target is mostly in the chunk of the one before, so its bitmap word is
// found without the chunk table's load. scan() forgets them: the table may
// have moved or grown since its last call.
let gChunk: u32 = 0xffffffff;
let gChunkOff: u32 = 0;

// Shades the targets of the W_REF words of heap words [first, end), last
// first, pushing them on the gray stack at word `gray`; returns the new sp.
// `far`: the block is one of a batch of far blocks (a random graph), whose
// targets are rarely in one chunk, so the chunk cache only costs there.
@inline function scanRange(first: i32, end: i32, sp: u32, gray: u32, table: u32, base: u32, cover: u32, shared: bool, far: bool): u32 {
  for (let q = (end - 1) & ~15; q + 16 > first; q -= 16) {
    let x = word(wWord(table, <u32>q << 2)) & EVEN_BITS & rangeMask(max(first - q, 0), min(16, end - q));
    while (x != 0) {
      const bit = 31 - clz(x);
      x ^= <u32>1 << bit;
      const t = word(<u32>q + (bit >>> 1));
      if (((t & 7) | <u32>(t - base >= cover - base)) != 0) continue; // not a heap address: null, or damage
      let gw: u32;
      if (far) {
        gw = gWord(table, t);
      } else {
        const c = t >>> CHUNK_SHIFT;
        if (c != gChunk) {
          gChunk = c;
          gChunkOff = gChunkBase(table, c);
        }
        gw = gChunkOff + (t >>> 7);
      }
      const shift = (t >>> 2) & 30;
      const g = word(gw);
      if (((g >>> shift) & 3) != START) continue;
      if (ASC_FEATURE_THREADS && shared) {
        // Another thread marks too (a helper, gc-helper.ts): a test-and-set, so that one of them pushes the block.
        if (((atomic.or<u32>(gw << 2, MARK << shift) >>> shift) & MARK) != 0) continue;
      } else {
        setWord(gw, g | (MARK << shift));
      }
      setWord(gray + sp, t);
      sp++;
    }
  }
  return sp;
}

/**
 * Scans gray blocks for about n units of work, as markJs: ws is the
 * workspace's word index, sp the gray entries in it, table the chunk
 * table's word index, [base, cover) the covered space, descW the page
 * descriptors' word index; shared (only in the shared module): MARK is set
 * by a test-and-set, as another thread marks the same bitmaps. Stops when the units are spent, when the gray
 * stack and the slice are empty, or before a batch or slice when fewer
 * than `room` entries are free in the gray region of `capacity` (the most
 * a batch pushes: BATCH blocks of up to SLICE_BYTES). Returns the new sp;
 * the workspace gets the blocks and bytes it marked and the units left.
 */
export function scan(ws: u32, n: i32, sp: u32, capacity: u32, room: u32, table: u32, base: u32, cover: u32, descW: u32, shared: bool): u32 {
  gChunk = 0xffffffff;
  const gray = ws + WS_GRAY;
  const from = ws + WS_BATCH_FROM;
  const to = ws + WS_BATCH_TO;
  const sizes = ws + WS_CLASS_SIZE;
  let slicePos = word(ws + WS_SLICE_POS);
  let sliceEnd = word(ws + WS_SLICE_END);
  let blocks: u32 = 0;
  let bytes: u32 = 0;
  let touched: u32 = 0;
  let page: u32 = 0xffffffff;
  let pageSize: u32 = 0;
  let lastPage: u32 = 0xfffffffe;
  let farBefore = false;
  while (n > 0 && sp <= capacity - room) {
    if (sliceEnd != 0) {
      // The next slice of a large block (an array's elements).
      const first = slicePos;
      slicePos = min(sliceEnd, slicePos + SLICE_BYTES);
      if (slicePos == sliceEnd) sliceEnd = 0;
      n -= SLICE_UNITS;
      lastPage = first >>> PAGE_SHIFT;
      sp = scanRange(<i32>(first >>> 2), <i32>(slicePos >>> 2), sp, gray, table, base, cover, shared, false);
      continue;
    }
    if (sp == 0) break;
    const top = word(gray + sp - 1);
    if ((top >>> PAGE_SHIFT) - lastPage <= 1 || !farBefore) {
      // One block, scanned at once: near the last, or the first far one after near ones.
      sp--;
      farBefore = (top >>> PAGE_SHIFT) - lastPage > 1;
      n -= farBefore ? FAR_UNITS : 1;
      if (top >>> PAGE_SHIFT != page) {
        // A page holds one class, or starts one large block: its size is looked up once.
        page = top >>> PAGE_SHIFT;
        pageSize = blockBytes(top, descW, sizes);
      }
      const size = pageSize;
      blocks++;
      bytes += size;
      lastPage = top >>> PAGE_SHIFT;
      let end = top + size;
      if (size > SLICE_BYTES) {
        slicePos = end = top + SLICE_BYTES;
        sliceEnd = top + size;
      }
      sp = scanRange(<i32>(top >>> 2), <i32>(end >>> 2), sp, gray, table, base, cover, shared, false);
      continue;
    }
    // A batch of far blocks: their first words and tag words are loaded
    // before any is scanned, so that their misses overlap.
    let k: i32 = 0;
    for (; k < BATCH && sp > 0; k++) {
      sp--;
      const addr = word(gray + sp);
      touched ^= word(wWord(table, addr)) ^ word(addr >>> 2);
      setWord(from + <u32>k, addr);
    }
    for (let j: i32 = 0; j < k; j++) {
      const addr = word(from + <u32>j);
      const size = blockBytes(addr, descW, sizes);
      blocks++;
      bytes += size;
      if (size > SLICE_BYTES) {
        // A large block ends the batch: the blocks taken after it go back on the stack, in their order.
        for (let i = k - 1; i > j; i--) {
          setWord(gray + sp, word(from + <u32>i));
          sp++;
        }
        slicePos = addr + SLICE_BYTES;
        setWord(to + <u32>j, slicePos);
        sliceEnd = addr + size;
        k = j + 1;
        break;
      }
      setWord(to + <u32>j, addr + size);
    }
    n -= FAR_UNITS * k;
    // The batch's last block first, so that the children of the one taken first end on top.
    for (let j = k - 1; j >= 0; j--) {
      const first = word(from + <u32>j);
      lastPage = first >>> PAGE_SHIFT;
      sp = scanRange(<i32>(first >>> 2), <i32>(word(to + <u32>j) >>> 2), sp, gray, table, base, cover, shared, true);
    }
  }
  setWord(ws + WS_SLICE_POS, slicePos);
  setWord(ws + WS_SLICE_END, sliceEnd);
  setWord(ws + WS_BLOCKS, blocks);
  setWord(ws + WS_BYTES, bytes);
  setWord(ws + WS_TOUCHED, touched);
  setWord(ws + WS_UNITS_LEFT, <u32>n);
  return sp;
}
