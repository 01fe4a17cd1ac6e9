// Scalar element types shared by records, arrays and maps: their names,
// codes, sizes, and one reader and writer that switch on the code.
//
// Values are stored little-endian at their natural alignment and converted
// on write as a typed array converts them (300 in a "u8" is 44, 1.5 in an
// "i32" is 1); "u64"/"i64" hold bigints.

import type { Heap } from "../heap/heap.js";
import { OffheapTypeError } from "../errors.js";

/** Element types read as numbers. */
export type NumberType = "u8" | "i8" | "u16" | "i16" | "u32" | "i32" | "f32" | "f64";
/** Element types read as bigints. */
export type BigIntType = "u64" | "i64";
/** Every scalar element type. */
export type ScalarType = NumberType | BigIntType;
/** The JS value of a scalar type. */
export type ScalarValue<T extends ScalarType> = T extends BigIntType ? bigint : number;

// Codes are stored in nothing but fingerprints; they only select a branch.
export const T_U8 = 1;
export const T_I8 = 2;
export const T_U16 = 3;
export const T_I16 = 4;
export const T_U32 = 5;
export const T_I32 = 6;
export const T_F32 = 7;
export const T_F64 = 8;
export const T_U64 = 9;
export const T_I64 = 10;

const CODES: Readonly<Record<ScalarType, number>> = {
  u8: T_U8, i8: T_I8, u16: T_U16, i16: T_I16, u32: T_U32, i32: T_I32, f32: T_F32, f64: T_F64, u64: T_U64, i64: T_I64,
};

/** Bytes of each scalar code, indexed by code. */
export const SCALAR_BYTES: readonly number[] = [0, 1, 1, 2, 2, 4, 4, 4, 8, 8, 8];

/** True if `t` names a scalar type. */
export function isScalarType(t: unknown): t is ScalarType {
  return typeof t === "string" && Object.prototype.hasOwnProperty.call(CODES, t);
}

/** The code of scalar type `t`; throws OffheapTypeError naming `api` for anything else. */
export function scalarCode(api: string, t: unknown): number {
  if (!isScalarType(t)) throw new OffheapTypeError(`${api}: ${describe(t)} is not a scalar type (${Object.keys(CODES).join(", ")})`);
  return CODES[t];
}

/** True if the code's values are bigints. */
export function isBigIntCode(code: number): boolean {
  return code === T_U64 || code === T_I64;
}

/** Reads the scalar of type `code` at `addr` (aligned to its size). Cost: one load. */
export function readScalar(heap: Heap, code: number, addr: number): number | bigint {
  switch (code) {
    case T_U8: return heap.u8[addr]!;
    case T_I8: return heap.i8[addr]!;
    case T_U16: return heap.u16[addr >>> 1]!;
    case T_I16: return heap.i16[addr >>> 1]!;
    case T_U32: return heap.u32[addr >>> 2]!;
    case T_I32: return heap.i32[addr >>> 2]!;
    case T_F32: return heap.f32[addr >>> 2]!;
    case T_F64: return heap.f64[addr >>> 3]!;
    case T_U64: return heap.dataView.getBigUint64(addr, true);
    default: return heap.dataView.getBigInt64(addr, true);
  }
}

/** Writes `value` as the scalar of type `code` at `addr`; the caller has checked its JS type (checkScalar). */
export function writeScalar(heap: Heap, code: number, addr: number, value: number | bigint): void {
  switch (code) {
    case T_U8: heap.u8[addr] = value as number; return;
    case T_I8: heap.i8[addr] = value as number; return;
    case T_U16: heap.u16[addr >>> 1] = value as number; return;
    case T_I16: heap.i16[addr >>> 1] = value as number; return;
    case T_U32: heap.u32[addr >>> 2] = value as number; return;
    case T_I32: heap.i32[addr >>> 2] = value as number; return;
    case T_F32: heap.f32[addr >>> 2] = value as number; return;
    case T_F64: heap.f64[addr >>> 3] = value as number; return;
    case T_U64: heap.dataView.setBigUint64(addr, value as bigint, true); return;
    default: heap.dataView.setBigInt64(addr, value as bigint, true);
  }
}

/** Throws OffheapTypeError unless `value` is a number (a bigint for u64/i64). */
export function checkScalar(api: string, code: number, value: unknown): void {
  const want = isBigIntCode(code) ? "bigint" : "number";
  if (typeof value !== want) throw new OffheapTypeError(`${api}: expected a ${want}, got ${describe(value)}`);
}

/** A short description of a value for error messages. */
export function describe(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v.length > 40 ? v.slice(0, 40) + "…" : v);
  if (typeof v === "function") return `function ${v.name}`;
  if (v === null || v === undefined) return String(v);
  if (typeof v !== "object") return `${typeof v} ${String(v)}`;
  return v.constructor?.name ?? "object";
}
