// The shared fast paths' compare-exchange, as one WebAssembly instruction.
//
// allocShared and freeShared (shared-paths.ts) change a granule of the
// allocation bitmap with a compare-exchange of its 32-bit word. V8 does not
// inline Atomics: Atomics.compareExchange is a call of a builtin, 11.0 ns on
// a word in the cache (Node 20 and 24; Atomics.load 5.3 ns; the same
// instruction in C, 5.6 ns). The same exchange as a WebAssembly function of
// one i32.atomic.rmw.cmpxchg, called from JavaScript, takes 8.2-8.6 ns, and
// made pair64 on a heap with a second thread attached 14.4 -> 11.3 ns/op
// (bench/HISTORY.md, stop 34). A module must import the memory it works on,
// so this serves heaps on a shared WebAssembly.Memory (the default); a heap
// on a SharedArrayBuffer keeps Atomics.compareExchange.

/**
 * The module, written out: it imports a shared memory and exports
 * `cas(byteAddress, expected, replacement)`, which returns the word's old
 * value as an int32 (the exchange happened if it equals `expected`).
 */
const CAS_MODULE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // "\0asm", version 1
  0x01, 0x08, 0x01, 0x60, 0x03, 0x7f, 0x7f, 0x7f, 0x01, 0x7f, // types: (i32, i32, i32) -> i32
  0x02, 0x12, 0x01, 0x03, 0x65, 0x6e, 0x76, 0x06, 0x6d, 0x65, 0x6d, 0x6f, 0x72, 0x79, // imports: "env" "memory"
  0x02, 0x03, 0x01, 0x80, 0x80, 0x04, //   a memory, shared, 1 to 65536 pages (any heap's)
  0x03, 0x02, 0x01, 0x00, // functions: one, of type 0
  0x07, 0x07, 0x01, 0x03, 0x63, 0x61, 0x73, 0x00, 0x00, // exports: "cas", function 0
  0x0a, 0x0e, 0x01, 0x0c, 0x00, // code: one body of 12 bytes, no locals
  0x20, 0x00, 0x20, 0x01, 0x20, 0x02, // local.get 0, 1, 2
  0xfe, 0x48, 0x02, 0x00, // i32.atomic.rmw.cmpxchg, align 4, offset 0
  0x0b, // end
]);

/** A compare-exchange of the 32-bit word at byte address `byteAddress`; returns the old value (as int32 or uint32: compare after `>>> 0`). */
export type CompareExchange = (byteAddress: number, expected: number, replacement: number) => number;

/** The compiled module; false where the platform refuses to compile one (a page whose CSP lacks 'wasm-unsafe-eval'). */
let casModule: WebAssembly.Module | false | null = null;
const casOfMemory = new WeakMap<WebAssembly.Memory, CompareExchange>();

/**
 * The WebAssembly compare-exchange over `memory` if it is a shared
 * WebAssembly.Memory (one instance per memory, made at the first call), else
 * null, as where the platform does not compile WebAssembly. Cost: about
 * 0.1 ms for a memory's first call, then O(1).
 */
export function wasmCompareExchange(memory: object): CompareExchange | null {
  if (!(memory instanceof WebAssembly.Memory) || typeof SharedArrayBuffer === "undefined" || !(memory.buffer instanceof SharedArrayBuffer)) return null;
  let cas = casOfMemory.get(memory);
  if (cas === undefined) {
    if (casModule === null) {
      try {
        casModule = new WebAssembly.Module(CAS_MODULE);
      } catch {
        casModule = false;
      }
    }
    if (casModule === false) return null;
    cas = (new WebAssembly.Instance(casModule, { env: { memory } }).exports as { cas: CompareExchange }).cas;
    casOfMemory.set(memory, cas);
  }
  return cas;
}
