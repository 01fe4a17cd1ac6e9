// Validation of what callers hand the heap: addresses (liveSpan, which
// names exactly why an address is not a live block), sizes, options, and
// images to attach. See heap.ts for an overview.

import { DoubleFreeError, hex, HeapCorruptionError, InvalidAddressError, OffheapRangeError, OffheapTypeError } from "../errors.js";
import { type MemoryOption, WASM_PAGE_SIZE } from "../memory/backing.js";
import type { Core } from "./core.js";
import {
  ALIGN_MASK, D_CLASS, D_KIND, D_NPAGES, D_OWNER, D_USED, DESC_SHIFT, KIND_LARGE, KIND_SMALL, MAX_RANGE_BYTES, PAGE_SHIFT, PAGE_SIZE,
} from "./layout.js";
import { isLive } from "./granules.js";
import { CLASS_OBJECTS, CLASS_SIZE } from "./size-classes.js";

const DEFAULT_MAX_SIZE = 2 ** 31;

/**
 * Returns the descriptor word index of the span holding the live block at
 * `addr`, or throws the error that names why it is not one:
 * InvalidAddressError (outside, misaligned, inside a block, free pages),
 * DoubleFreeError for a free object's start when `freeing`, and
 * HeapCorruptionError (B1) for a live granule outside every span. The caller
 * has checked that addr is a number and synced the heap's views.
 */
export function liveSpan(h: Core, addr: number, api: string, freeing: boolean): number {
  const lo = h.firstDataPage * PAGE_SIZE;
  const hi = h.endPage * PAGE_SIZE;
  if (!Number.isInteger(addr) || addr < lo || addr >= hi) {
    throw new InvalidAddressError(`${api}: ${Number.isInteger(addr) && addr >= 0 ? hex(addr) : String(addr)} is outside the heap's pages [${hex(lo)}, ${hex(hi)})`);
  }
  if ((addr & ALIGN_MASK) !== 0) throw new InvalidAddressError(`${api}: ${hex(addr)} is misaligned (blocks start at multiples of 8)`);
  const u32 = h.u32;
  const page = addr >>> PAGE_SHIFT;
  const s = u32[h.descW + (page << DESC_SHIFT) + D_OWNER]!;
  const dw = h.descW + (s << DESC_SHIFT);
  const kind = u32[dw + D_KIND]!;
  const inSpan = (kind === KIND_SMALL || kind === KIND_LARGE) && s <= page && page < s + u32[dw + D_NPAGES]!;
  if (isLive(u32, addr)) {
    if (!inSpan) throw new HeapCorruptionError("B1", `${api}: ${hex(addr)} has a live granule but lies in no span`);
    return dw;
  }
  if (!inSpan) {
    throw new InvalidAddressError(`${api}: ${hex(addr)} is in free pages, not in a live block (a large block freed earlier, or never allocated)`);
  }
  const base = s * PAGE_SIZE;
  if (kind === KIND_LARGE) {
    throw new InvalidAddressError(`${api}: ${hex(addr)} is not the start of a live block (inside a ${u32[dw + D_USED]}-byte block at ${hex(base)})`);
  }
  const cls = u32[dw + D_CLASS]!;
  const size = CLASS_SIZE[cls]!;
  const off = (addr - base) % size;
  if (addr - base >= CLASS_OBJECTS[cls]! * size) {
    throw new InvalidAddressError(`${api}: ${hex(addr)} is not the start of a live block (in the unused tail of a span of ${size}-byte objects)`);
  }
  if (off !== 0) {
    throw new InvalidAddressError(`${api}: ${hex(addr)} is not the start of a live block (inside a ${size}-byte object at ${hex(addr - off)})`);
  }
  const what = `${hex(addr)} is not allocated: the ${size}-byte object there was freed already or never handed out`;
  throw freeing ? new DoubleFreeError(`${api}: ${what} (double free)`) : new InvalidAddressError(`${api}: ${what}`);
}

// A WebAssembly.Memory's maximum is readable only where the engine has the
// type-reflection API; elsewhere the memory's current size is the default,
// and a heap that should grow into it needs an explicit maxSize.
export function defaultMaxSize(memory: MemoryOption): number {
  if (!(memory instanceof WebAssembly.Memory)) return DEFAULT_MAX_SIZE;
  const type = (memory as { type?: () => { maximum?: number } }).type?.();
  return Math.min(MAX_RANGE_BYTES, (type?.maximum ?? memory.buffer.byteLength / WASM_PAGE_SIZE) * WASM_PAGE_SIZE);
}

export function checkSize(api: string, size: unknown, totalPages: number): asserts size is number {
  if (typeof size !== "number") throw new OffheapTypeError(`${api}: size must be a number, got ${typeof size}`);
  if (!Number.isSafeInteger(size) || size < 0) throw new OffheapRangeError(`${api}: size ${size} is not a non-negative safe integer`);
  if (size > totalPages * PAGE_SIZE) throw new OffheapRangeError(`${api}: size ${size} exceeds the heap's maxSize ${totalPages * PAGE_SIZE}`);
}

export function checkOption(name: string, value: unknown, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || Number.isNaN(value) || value < min || value > max) {
    throw new OffheapRangeError(`Heap: option ${name} must be a number in [${min}, ${max}], got ${String(value)}`);
  }
  return value;
}

/**
 * Usable bytes of the live block at `addr` (the caller checked it): its
 * class size, or its whole pages. One descriptor load for a small block
 * (D_CLASS is set on every page of a small span); a large block's start
 * page is its owner.
 */
export function usableBytes(h: Core, addr: number): number {
  const u32 = h.u32;
  const dw = h.descW + ((addr >>> PAGE_SHIFT) << DESC_SHIFT);
  const cls = u32[dw + D_CLASS]!;
  return cls !== 0 ? CLASS_SIZE[cls]! : u32[dw + D_NPAGES]! * PAGE_SIZE;
}
