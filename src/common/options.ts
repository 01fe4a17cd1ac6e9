// Checks of the arguments that configure a public call rather than carry its
// data: the options object, and the heap a layer above the heap works in.
// Every public constructor and function of offheap/buffers and
// offheap/collections states its options as rules (the file that defines the
// options holds them) and runs them through checkOptions, so that a missing,
// null or wrongly typed option fails in one way, before anything changes:
//
//   OffHeapMap: options.key is required (one of "string", "bytes", ...)
//   splitFrames: options.littleEndian must be a boolean, got a string
//   RangeAllocator: options must be an object or undefined, got null
//   ScalableAllocator: heap must be a Heap, got undefined
//
// Types only: a number of the right type but out of range is the caller's to
// reject with OffheapRangeError, as is a string outside an option's values.
// Options the rules do not name are ignored.

import { OffheapTypeError } from "../errors.js";

/** A JS type an option may have: a `typeof` name, where "object" means a non-null object that is not an array. */
export type OptionType = "number" | "boolean" | "string" | "function" | "object";

/** What one option must be. */
export interface OptionRule {
  /** Its type, or the types it may have. */
  readonly type: OptionType | readonly OptionType[];
  /** It must be given (not undefined). Default false. */
  readonly required?: boolean;
  /** Its values as messages list them, e.g. `one of "treap", "avl"`. */
  readonly values?: string;
}

/** The rules of one call's options, by option name. */
export type OptionRules = Readonly<Record<string, OptionRule>>;

const NO_OPTIONS = Object.freeze({});

/**
 * Checks `options` of the call `api` against `rules` and returns it, or an
 * empty object for undefined options (a required rule then reports its
 * option as missing). Throws OffheapTypeError naming `api` and the option
 * (`path` prefixes option names: "options", or "options.debug" for a nested
 * object) for options that are not an object, a required option that is
 * missing, or an option of the wrong type. O(rules); allocates nothing
 * unless it throws.
 *
 * @example
 * const { index } = checkOptions("RangeAllocator", options, { index: { type: "string" } });
 */
export function checkOptions<T extends object>(api: string, options: T | null | undefined, rules: OptionRules, path = "options"): T {
  if (options === undefined) options = NO_OPTIONS as T;
  else if (!isObject(options)) {
    const required = Object.keys(rules).filter((name) => rules[name]!.required === true);
    const shape = required.length === 0 ? " or undefined" : ` with ${required.join(" and ")}`;
    throw new OffheapTypeError(`${api}: ${path} must be an object${shape}, got ${describe(options)}`);
  }
  for (const name in rules) {
    const rule = rules[name]!;
    const value: unknown = (options as Record<string, unknown>)[name];
    const values = rule.values === undefined ? "" : ` (${rule.values})`;
    if (value === undefined) {
      if (rule.required === true) throw new OffheapTypeError(`${api}: ${path}.${name} is required${values}`);
    } else if (!hasType(value, rule.type)) {
      throw new OffheapTypeError(`${api}: ${path}.${name} must be ${typeText(rule.type)}${values}, got ${describe(value)}`);
    }
  }
  return options;
}

/**
 * Throws OffheapTypeError naming `api` unless `heap` has the shape of a
 * Heap (alloc, free and the u32 view). A structural test, as a layer above
 * the heap uses only its public API and needs no runtime import of it. O(1).
 *
 * @example checkHeap("OffHeapMap", heap);
 */
export function checkHeap(api: string, heap: unknown): void {
  if (!isHeap(heap)) throw new OffheapTypeError(`${api}: heap must be a Heap, got ${describe(heap)}`);
}

/**
 * The test of checkHeap, for a caller that makes the name of its call only
 * when the test fails. O(1).
 *
 * @example if (!isHeap(heap)) checkHeap(nameOfTheCall(), heap);
 */
export function isHeap(heap: unknown): boolean {
  const h = heap as { alloc?: unknown; free?: unknown; u32?: unknown } | null;
  return typeof h === "object" && h !== null && typeof h.alloc === "function" && typeof h.free === "function" && h.u32 instanceof Uint32Array;
}

/**
 * Throws OffheapTypeError, naming `api` and the argument `what`, unless
 * `value` is a number: the test before a range check, so that a string
 * where a count or index belongs is a type error, not a range error.
 */
export function checkNumber(api: string, what: string, value: unknown): asserts value is number {
  if (typeof value !== "number") throw new OffheapTypeError(`${api}: ${what} must be a number, got ${describe(value)}`);
}

/**
 * Throws OffheapTypeError, naming `api` and the argument `what`, unless
 * `value` is a function (or undefined, when `optional`): before the call
 * consumes or drops anything it would hand to it.
 */
export function checkCallback(api: string, what: string, value: unknown, optional = false): void {
  if (typeof value !== "function" && !(optional && value === undefined)) throw new OffheapTypeError(`${api}: ${what} must be a function, got ${describe(value)}`);
}

/**
 * A short description of a value for error messages: its type or class
 * name (`null`, `a string`, `an Array`, `function f`), or a number's value.
 *
 * @example describe([1]) // "an Array"
 */
export function describe(value: unknown): string {
  if (value === null) return "null";
  switch (typeof value) {
    case "string": return "a string";
    case "function": return value.name === "" ? "a function" : `function ${value.name}`;
    case "bigint": return `${value}n`;
    case "object": {
      const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
      return typeof name === "string" ? `${/^[AEIO]/.test(name) ? "an" : "a"} ${name}` : "an object";
    }
    default: return String(value);
  }
}

function isObject(value: unknown): value is object {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function hasType(value: unknown, type: OptionType | readonly OptionType[]): boolean {
  if (typeof type !== "string") return type.some((t) => hasType(value, t));
  return type === "object" ? isObject(value) : typeof value === type;
}

function typeText(type: OptionType | readonly OptionType[]): string {
  if (typeof type !== "string") return type.map(typeText).join(" or ");
  return type === "object" ? "an object" : `a ${type}`;
}
