// Reclaimers: the hook a tracing collector (collections/collector.ts) uses to own heap blocks. Minimal version: the scopes and handles change replaces it.
import type { Heap } from "./heap.js";
import { hex, OffheapTypeError } from "../errors.js";
export interface Reclaimer { owns(addr: number): boolean; readonly name: string }
const ATTACHED = new WeakMap<Heap, Reclaimer>();
export function attachReclaimer(heap: Heap, r: Reclaimer): void {
  if (ATTACHED.has(heap)) throw new OffheapTypeError(`${r.name}: the heap has a ${ATTACHED.get(heap)!.name} already`);
  ATTACHED.set(heap, r);
  const free = heap.free;
  const h = heap as unknown as { free: (a: number) => void };
  h.free = (addr: number) => { if (r.owns(addr)) throw new OffheapTypeError(`Heap.free: ${hex(addr)} is a block the ${r.name} manages`); free.call(heap, addr); };
}
export function detachReclaimer(heap: Heap, _r: Reclaimer): void { ATTACHED.delete(heap); delete (heap as unknown as { free?: unknown }).free; }
export function reclaimerOf(heap: Heap): Reclaimer | null { return ATTACHED.get(heap) ?? null; }
export function forEachPinned(_heap: Heap, _visit: (addr: number) => void): void {}
export function pinInScope(_heap: Heap, _addr: number): void {}
