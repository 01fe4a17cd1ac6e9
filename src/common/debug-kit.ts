// What both debug modes share (the heap's, heap/debug.ts, and the
// ScalableAllocator's, buffers/scalable-debug.ts): their options, fill
// patterns, the FIFO quarantine of freed memory, grouping of live blocks by
// allocation site, and stack formatting. A neutral module below both
// layers, so neither reaches into the other's internals.

import { OffheapRangeError, OutOfMemoryError } from "../errors.js";
import type { OptionRules } from "./options.js";

/** Default bound of a quarantine, in bytes. */
const DEFAULT_QUARANTINE_BYTES = 4 << 20;

/** Options of debug mode (`HeapOptions.debug`). */
export interface DebugOptions {
  /**
   * Capture the allocation site (a stack) of every block (`true`, default),
   * of one block in N (a number), or none (`false`). Stacks are kept outside
   * the heap image; `leaks()` groups live blocks by them.
   */
  stacks?: boolean | number;
  /**
   * Bytes of freed blocks held in the quarantine before they can be reused.
   * Default 4 MiB. The quarantine is a bound, not a reservation: an
   * allocation the heap (or a ScalableAllocator's regions) cannot serve
   * releases its oldest blocks and tries again before it throws
   * OutOfMemoryError.
   */
  quarantineBytes?: number;
}

/** The types of DebugOptions, for checkOptions (common/options.ts): the heap's and the ScalableAllocator's debug options. */
export const DEBUG_OPTION_RULES: OptionRules = {
  stacks: { type: ["boolean", "number"] },
  quarantineBytes: { type: "number" },
};

/** A group of live blocks with one allocation site, as `heap.leaks()` lists them. */
export interface LeakSite {
  /** The stack that allocated them (`"(not recorded)"` for blocks whose site was not sampled). */
  site: string;
  /** Live blocks allocated there. */
  blocks: number;
  /** Bytes requested by those blocks. */
  bytes: number;
  /** Addresses of up to 8 of them. */
  addresses: number[];
}

/** Fill byte of new blocks (uninitialised memory). */
export const JUNK_ALLOC = 0xa5;
/** Fill byte of freed blocks in the quarantine. */
export const POISON = 0x5a;
/** Fill byte of the canary after a block's requested bytes. */
export const CANARY = 0xcb;
/** Validated debug options: capture every Nth allocation's stack (0 = none), quarantine bound in bytes. Throws RangeError. */
export function debugSettings(api: string, options: DebugOptions): { sampleEvery: number; quarantineLimit: number } {
  const stacks = options.stacks ?? true;
  const sampleEvery = stacks === true ? 1 : stacks === false ? 0 : stacks;
  if (!Number.isSafeInteger(sampleEvery) || sampleEvery < 0) {
    throw new OffheapRangeError(`${api}: option debug.stacks must be a boolean or a non-negative integer, got ${String(stacks)}`);
  }
  const quarantineLimit = options.quarantineBytes ?? DEFAULT_QUARANTINE_BYTES;
  if (!Number.isSafeInteger(quarantineLimit) || quarantineLimit < 0) {
    throw new OffheapRangeError(`${api}: option debug.quarantineBytes must be a non-negative integer, got ${String(quarantineLimit)}`);
  }
  return { sampleEvery, quarantineLimit };
}

/**
 * The FIFO of freed blocks both debug modes keep, bounded in bytes. Items
 * leave it oldest first; each is verified, then released, and one whose
 * check fails is released all the same: evict throws the first failure
 * once every item that had to leave has left.
 */
export class Quarantine<T> {
  private items: T[] = [];
  private sizes: number[] = [];
  private head = 0;
  /** Bytes waiting. */
  bytes = 0;

  push(item: T, size: number): void {
    this.items.push(item);
    this.sizes.push(size);
    this.bytes += size;
  }

  /** Lets items leave, oldest first, while more than `limit` bytes wait. */
  evict(limit: number, verify: (item: T, size: number) => void, release: (item: T) => void): void {
    let failure: unknown = null;
    while (this.bytes > limit && this.head < this.items.length) {
      const i = this.head++;
      const item = this.items[i]!;
      const size = this.sizes[i]!;
      this.bytes -= size;
      try {
        verify(item, size);
      } catch (e) {
        failure ??= e;
      }
      release(item);
    }
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items.splice(0, this.head);
      this.sizes.splice(0, this.head);
      this.head = 0;
    }
    if (failure !== null) throw failure;
  }

  /**
   * Runs `take` (an allocation of `n` bytes); while it throws
   * OutOfMemoryError and items wait, lets the oldest leave through `evict`
   * (which calls this.evict with its verify and release) and tries again:
   * at least n bytes of them, then twice as many at each try (O(log) tries),
   * the whole quarantine at the last. The quarantine is a bound, not a
   * reservation (as AddressSanitizer's). A verify that finds damage throws
   * its error instead.
   */
  takeReleasing<R>(n: number, take: () => R, evict: (limit: number) => void): R {
    for (let releaseBytes = n; ; releaseBytes *= 2) {
      try {
        return take();
      } catch (e) {
        if (!(e instanceof OutOfMemoryError) || this.bytes === 0) throw e;
        evict(Math.max(0, this.bytes - releaseBytes));
      }
    }
  }

  /** The waiting items, oldest first. */
  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = this.head; i < this.items.length; i++) yield this.items[i]!;
  }

  /** Forgets every item (without releasing it). */
  clear(): void {
    this.items = [];
    this.sizes = [];
    this.head = 0;
    this.bytes = 0;
  }
}

/** Live blocks grouped by allocation site, for leaks(). */
export class LeakGroups {
  private readonly groups = new Map<string, LeakSite>();

  add(addr: number, bytes: number, stack: Error | undefined): void {
    const site = stack === undefined ? "(not recorded)" : formatStack(stack);
    let g = this.groups.get(site);
    if (g === undefined) this.groups.set(site, (g = { site, blocks: 0, bytes: 0, addresses: [] }));
    g.blocks++;
    g.bytes += bytes;
    if (g.addresses.length < 8) g.addresses.push(addr);
  }

  /** The groups, most bytes first. */
  sites(): LeakSite[] {
    return [...this.groups.values()].sort((a, b) => b.bytes - a.bytes || b.blocks - a.blocks);
  }
}

// A stack line in offheap's own code, by its file: a module of tsc's output
// (or of src/, under --enable-source-maps) in a folder whose code allocates,
// or a shared chunk of the Node bundle (scripts/bundle.mjs names them
// dist/node/offheap-<hash>.js; its buffers and collections entries are in
// folders of those names).
const OWN_LINE = /[\\/](?:(?:heap|buffers|collections)[\\/][\w-]+\.[jt]s|dist[\\/]node[\\/]offheap-[A-Z0-9]+\.js):\d+/;

/** The frames of a captured stack below offheap's own code. */
export function formatStack(e: Error): string {
  const lines = (e.stack ?? "").split("\n").slice(1).map((l) => l.trim());
  let first = 0;
  while (first < lines.length - 1 && OWN_LINE.test(lines[first]!)) first++;
  return lines.slice(first).map((l) => `    ${l}`).join("\n");
}

