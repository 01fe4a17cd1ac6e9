// heap/wasm-cas.ts: the shared fast paths' compare-exchange as one
// WebAssembly instruction over a shared WebAssembly.Memory. It must do what
// Atomics.compareExchange does on a Uint32Array of the same memory, for
// words of 2^31 and more too, at addresses the memory's growth added.
import { test } from "node:test";
import assert from "node:assert/strict";
import { wasmCompareExchange } from "../src/heap/wasm-cas.js";

const WASM_PAGE = 65536;

test("compare-exchange on a shared WebAssembly.Memory: swaps only an expected word, returns the old one, reaches grown pages", () => {
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 8, shared: true });
  const cas = wasmCompareExchange(memory);
  assert.ok(cas !== null);
  const u32 = new Uint32Array(memory.buffer);
  u32[16] = 0x80000001;
  assert.equal(cas(64, 0x80000001, 5) >>> 0, 0x80000001, "the old word, as the caller compares it");
  assert.equal(u32[16], 5, "swapped");
  assert.equal(cas(64, 7, 9) >>> 0, 5, "the word that did not match");
  assert.equal(u32[16], 5, "not swapped");
  assert.equal(cas(64, 5, 0xfffffffe) >>> 0, 5);
  assert.equal(u32[16], 0xfffffffe, "a replacement of 2^31 and more");
  memory.grow(2);
  const far = 2 * WASM_PAGE + 8;
  assert.equal(cas(far, 0, 0xc0000000) >>> 0, 0);
  assert.equal(new Uint32Array(memory.buffer)[far >>> 2], 0xc0000000, "a page the growth added");
  assert.equal(wasmCompareExchange(memory), cas, "one instance per memory");
});

test("no WebAssembly compare-exchange where a module cannot import the memory: unshared memories and buffers", () => {
  assert.equal(wasmCompareExchange(new WebAssembly.Memory({ initial: 1, maximum: 2 })), null);
  assert.equal(wasmCompareExchange(new SharedArrayBuffer(64)), null);
  assert.equal(wasmCompareExchange(new ArrayBuffer(64)), null);
  const a = wasmCompareExchange(new WebAssembly.Memory({ initial: 1, maximum: 2, shared: true }));
  const b = wasmCompareExchange(new WebAssembly.Memory({ initial: 1, maximum: 2, shared: true }));
  assert.ok(a !== null && b !== null && a !== b, "each memory its own instance");
});
