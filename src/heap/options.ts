// The options of a Heap: what `new Heap`, `Heap.attach` and `Heap.load`
// accept, and how they are checked. See heap.ts for an overview.

import { OffheapRangeError, OffheapTypeError } from "../errors.js";
import { DEBUG_OPTION_RULES, type DebugOptions } from "../common/debug-kit.js";
import { checkOptions, describe, type OptionRules } from "../common/options.js";
import { isMemoryObject, type MemoryOption } from "../memory/backing.js";
import type { ProfileOptions } from "./profile.js";

/** Options of `new Heap()`. Sizes are in bytes. */
export interface HeapOptions {
  /** Bytes of pages committed at creation, beyond the metadata. Default 1 MiB. */
  initialSize?: number;
  /**
   * Address range of the heap: the backing memory never grows past it, and
   * its metadata (2%) is sized for it. Default 2 GiB, at most 4 GiB. Up to
   * 2 GiB every address is a small integer to V8; above it, addresses past
   * 2 GiB are heap numbers and may cost an allocation when returned.
   */
  maxSize?: number;
  /**
   * Backing memory: `"wasm"` (default: a WebAssembly.Memory, shared where the
   * platform allows, grows in place, full-speed views, usable by wasm code),
   * `"resizable"` (a resizable ArrayBuffer: trim() returns memory to the OS,
   * views about 2x slower), or
   * an existing ArrayBuffer, SharedArrayBuffer or WebAssembly.Memory, which
   * the heap formats from offset 0 and grows only as far as the object can
   * (for a WebAssembly.Memory, pass maxSize unless the engine can report the
   * memory's maximum; the default is then its current size).
   */
  memory?: MemoryOption;
  /** Bytes added beyond the need when the heap grows. Default: a sixteenth of the committed pages, at least 256 KiB. */
  growBy?: number;
  /** Grow ahead of need once pages in use exceed this share of committed pages, in (0, 1]. Default 1 (grow on need). */
  growAt?: number;
  /**
   * Debug mode (debug.ts): overflow canaries, use-after-free poisoning with
   * a quarantine, junk-filled new blocks and allocation sites for
   * `leaks()`. `true` or options; default off, or on under the package's
   * "development" export condition. Off, it costs nothing.
   */
  debug?: boolean | DebugOptions;
  /**
   * Sampling heap profiler (profile.ts): one sample on average every
   * `sampleInterval` bytes (default 512 KiB), read by `profile()` and
   * `writeHeapProfile()` (offheap/debug). `true` or options; default off (no cost).
   */
  profile?: boolean | ProfileOptions;
}

/**
 * The default growth policy (growBy unset): the heap grows by a sixteenth of
 * its `committedBytes` beyond the need, at least 256 KiB. The step is what a
 * heap commits past its need at its peak, so it is small: on the traces of
 * bench:traces an eighth and 1 MiB left 0.5-1 MiB of free pages at the peak
 * of the 3-6 MiB heaps and 10 MiB at the 73 MiB one (peak footprint 1.29x
 * peak live; 1.16x with a sixteenth). Every backing memory grows in place,
 * so a growth costs a resize and new views, a few microseconds: the ~70
 * growths from 1 MiB to 100 MiB do not show (bench/growth.mjs).
 */
export function defaultGrowBytes(committedBytes: number): number {
  return Math.max(256 << 10, committedBytes / 16);
}

/** Options of `Heap.attach`. */
export type AttachOptions = Pick<HeapOptions, "growBy" | "growAt" | "debug" | "profile">;

/** Options of `Heap.load`: the kind of backing memory to load into, and the growth policy. */
export interface LoadOptions extends AttachOptions {
  /** `"wasm"` (default) or `"resizable"`, as in HeapOptions.memory. */
  memory?: "wasm" | "resizable";
}

// The types of the options, for checkOptions (common/options.ts): a
// missing, null or wrongly typed option is an OffheapTypeError naming the
// call and the option; values out of range are checked where they are used.
const TOOL_RULES: OptionRules = {
  growBy: { type: "number" },
  growAt: { type: "number" },
  debug: { type: ["boolean", "object"] },
  profile: { type: ["boolean", "object"] },
};
const PROFILE_OPTION_RULES: OptionRules = { sampleInterval: { type: "number" } };
const MEMORY_VALUES = `"wasm", "resizable", an ArrayBuffer, a SharedArrayBuffer or a WebAssembly.Memory`;

/** What new Heap, Heap.attach and Heap.load check their options against. */
export const HEAP_OPTION_RULES: OptionRules = {
  ...TOOL_RULES,
  initialSize: { type: "number" },
  maxSize: { type: "number" },
  memory: { type: ["string", "object"], values: MEMORY_VALUES },
};
export const ATTACH_OPTION_RULES: OptionRules = TOOL_RULES;
export const LOAD_OPTION_RULES: OptionRules = { ...TOOL_RULES, memory: { type: "string", values: `"wasm" or "resizable"` } };

/**
 * Checks the options of `api` (new Heap, Heap.attach, Heap.load) against
 * `rules`, with the nested debug and profile options, and returns them ({}
 * for undefined). Throws OffheapTypeError for options, or an option, of the
 * wrong type, and OffheapRangeError for a `memory` string that names no
 * kind of memory. O(options).
 */
export function checkHeapOptions<T extends AttachOptions & { memory?: unknown }>(api: string, options: T | undefined, rules: OptionRules): T {
  const o = checkOptions(api, options, rules);
  if (typeof o.debug === "object") checkOptions(api, o.debug, DEBUG_OPTION_RULES, "options.debug");
  if (typeof o.profile === "object") checkOptions(api, o.profile, PROFILE_OPTION_RULES, "options.profile");
  const memory = o.memory;
  if (typeof memory === "string" && memory !== "wasm" && memory !== "resizable") {
    throw new OffheapRangeError(`${api}: options.memory must be ${rules === LOAD_OPTION_RULES ? `"wasm" or "resizable"` : MEMORY_VALUES}, got "${memory}"`);
  }
  if (typeof memory === "object" && !isMemoryObject(memory)) {
    throw new OffheapTypeError(`${api}: options.memory must be ${MEMORY_VALUES}, got ${describe(memory)}`);
  }
  return o;
}
