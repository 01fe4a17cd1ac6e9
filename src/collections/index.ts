// offheap/collections: maps, arrays and records whose storage lives in a
// Heap, and the collector that frees records no root reaches. Re-exports
// only; see map.ts, array.ts, struct.ts and collector.ts.

export {
  defineStruct, isStructType, StructBase, type FieldInfo, type FieldType, type FieldValue, type StructCursor, type StructFields,
  type StructInit, type StructOptions, type StructRecord, type StructType, type StructValues,
} from "./struct.js";
export type { BigIntType, NumberType, ScalarType, ScalarValue } from "./scalar.js";
export {
  OffHeapArray, type ElementInit, type ElementPlain, type ElementType, type ElementValue, type OffHeapArrayOptions,
} from "./array.js";
export {
  OffHeapMap, type MapKey, type MapKeyArg, type MapKeyType, type MapValue, type MapValueInit, type MapValueType, type OffHeapMapOptions,
} from "./map.js";
export { Collector, type CollectorOptions, type CollectorStats } from "./collector.js";
export { ConcurrentModificationError, DisposedError, WorkerTimeoutError } from "../errors.js";
