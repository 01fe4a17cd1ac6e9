// OffHeapMap's types: what keys and values may be, what the map's calls take
// and return, its options, and the check of the options every constructor
// and open() runs (map.ts).

import type { Heap } from "../heap/heap.js";
import { OffheapTypeError } from "../errors.js";
import { checkHeap, checkOptions, type OptionRules } from "../common/options.js";
import type { Collector } from "./collector.js";
import { K_BYTES, K_F64, K_I32, K_STRING, K_U32 } from "./map-layout.js";
import { type BigIntType, describe, isScalarType, type ScalarType } from "./scalar.js";
import { isStructType, type StructFields, type StructInit, type StructRecord, type StructType } from "./struct.js";

/** Key types: strings (UTF-8), byte arrays, or numbers stored as u32, i32 or f64. */
export type MapKeyType = "string" | "bytes" | "u32" | "i32" | "f64";
/** Value types: scalars, strings, byte arrays, or records of a struct type. */
export type MapValueType = ScalarType | "string" | "bytes" | StructType<any>;
/** The JS type of keys that keys() returns. */
export type MapKey<K extends MapKeyType> = K extends "string" ? string : K extends "bytes" ? Uint8Array : number;
/** What lookups take: for a string map also the key's UTF-8 bytes. */
export type MapKeyArg<K extends MapKeyType> = K extends "string" ? string | Uint8Array : MapKey<K>;
/** What get() returns: a number, bigint, string, a copy of the bytes, or an accessor object. */
export type MapValue<V extends MapValueType> =
  V extends StructType<infer F extends StructFields> ? StructRecord<F> : V extends "string" ? string : V extends "bytes" ? Uint8Array
    : V extends BigIntType ? bigint : number;
/** What set() takes: as MapValue, or for records their values (or undefined for a zeroed record). */
export type MapValueInit<V extends MapValueType> =
  V extends StructType<infer F extends StructFields> ? StructInit<F> | undefined : V extends "string" ? string : V extends "bytes" ? Uint8Array
    : V extends BigIntType ? bigint : number;

/** @internal The layout facts checkMap needs. */
export interface MapShape {
  slotBytes: number;
  valueOff: number;
  keyKind: number;
  valueKind: number;
  struct: StructType | null;
  /** Whether the header, tables and records are a Collector's blocks. */
  collected: boolean;
}

/** Options of `new OffHeapMap` (key and value) and OffHeapMap.open (the same key and value). */
export interface OffHeapMapOptions<K extends MapKeyType, V extends MapValueType> {
  key: K;
  value: V;
  /** Entries to make room for at once. Default 0 (the first table is made by the first insert). */
  capacity?: number;
  /** Hash seed (u32). Default: random per map, stored in the header. */
  hashSeed?: number;
  /**
   * The heap's Collector: the map is then collected (freed when no root
   * reaches its header), each record value is a collected record of its
   * own that "ref" fields elsewhere may point to (it outlives its entry
   * while they do), and the collector follows the records' refs. open()
   * finds this out from the image. Default: a plain map, freed by dispose.
   */
  collector?: Collector;
}

/** @internal The key kind (map-layout.ts) of each key type. */
export const KEY_CODES: Readonly<Record<MapKeyType, number>> = { string: K_STRING, bytes: K_BYTES, u32: K_U32, i32: K_I32, f64: K_F64 };
const KEY_TYPES = Object.keys(KEY_CODES).map((k) => JSON.stringify(k)).join(", ");
const VALUE_TYPES = 'a scalar type, "string", "bytes" or a struct type';
const OPTION_RULES: OptionRules = {
  key: { type: "string", required: true, values: `one of ${KEY_TYPES}` },
  value: { type: ["string", "function"], required: true, values: VALUE_TYPES },
  capacity: { type: "number" },
  hashSeed: { type: "number" },
  collector: { type: "object" },
};

// Checks the heap and options of the call `api` and the key and value types
// they name.
/** @internal */
export function mapTypes<K extends MapKeyType, V extends MapValueType>(api: string, heap: Heap, options: OffHeapMapOptions<K, V>): { key: K; value: V } {
  checkHeap(api, heap);
  const { key, value } = checkOptions(api, options, OPTION_RULES);
  if (!Object.prototype.hasOwnProperty.call(KEY_CODES, key)) throw new OffheapTypeError(`${api}: options.key ${describe(key)} is not one of ${KEY_TYPES}`);
  if (!(isStructType(value) || value === "string" || value === "bytes" || isScalarType(value))) {
    throw new OffheapTypeError(`${api}: options.value ${describe(value)} is not ${VALUE_TYPES}`);
  }
  return { key, value };
}
