// This thread's Heaps per image: which memory objects are one image, so
// that Heaps of one thread on one image share its slot (slots.ts).
//
// One image can reach a thread as several objects: a WebAssembly.Memory and
// the buffers it hands out; a shared memory posted to the thread twice (in
// workerData and in a message), or sent away and back, which structured
// cloning makes a new object each time. JavaScript cannot say whether two
// objects are the same bytes, so a new object is probed against the ones
// this thread listed: a word written through a listed one that reads back
// through the new one is the same memory (findImage).
//
// Nothing here keeps a memory alive without a Heap on it: WeakMaps, and
// WeakRefs only to the memories the program holds anyway. A WeakRef keeps
// its target alive to the end of the task that made it, and a list of every
// heap's memory kept all of a loop's thousands alive to the end of its run
// (a test that made them ran out of address space). So only a memory the
// program can hand on or copy is listed: one it passed in (Heap.attach,
// HeapOptions.memory) or read (heap.memory, heap.buffer: listMemory), at
// most LIST_PER_TASK per task. One that new Heap or Heap.load made and the
// program never read has no other object.
//
// Each object a Heap was attached through has an id, which a slot claimed
// for its first Heap records (SL_FLAGS >>> SLF_KEY_SHIFT). A slot of this
// thread that no listed object matches is taken over (slots.ts orphanSlot):
// its Heaps went without detach(), or it is in a copy of the image and they
// are on the original. Unless its id is that of a live object not listed,
// which may be the same bytes: then a Heap on the new object takes a slot
// of its own.

import type { Allocator } from "./allocator.js";

/**
 * Heaps of this thread attached, per image, under the memory object the
 * first of them was attached through (the image's key). A set's Heaps hold
 * their memory, and so their key: the entry lives as long as they do, and
 * goes with them (a WeakMap's entry holds its value only through its key).
 */
const heapsOf = new WeakMap<object, Set<Allocator>>();
/** The key in heapsOf of each memory object (and each buffer of a WebAssembly.Memory) a Heap of this thread was attached through. */
const imageKeys = new WeakMap<object, object>();
/** The WebAssembly.Memory of each buffer noteBuffer saw, so that Heap.attach(buffer) attaches through the memory. */
const memoryOfBuffer = new WeakMap<object, WebAssembly.Memory>();

/** Listed keys (see the top of this file); the collected ones are dropped when the list doubles, and before each probe. */
let listed: WeakRef<object>[] = [];
let pruneAt = 64;
const listedKeys = new WeakSet<object>();
const LIST_PER_TASK = 256;
let listBudget = LIST_PER_TASK;

/** Each key's id (24 bits, never 0). Started at random, so that another copy of this module in the thread rarely repeats one. */
const keyIds = new WeakMap<object, number>();
let lastKeyId = Math.floor(Math.random() * 0xffffff);
/** The ids of live keys of shared memories that are not listed; an id leaves when it is listed or its key is collected. */
const unlistedIds = new Set<number>();
const forgetId = typeof FinalizationRegistry === "function" ? new FinalizationRegistry<number>((id) => unlistedIds.delete(id)) : null;

/** The key of the image `memory` (a heap.memory a Heap of this thread was attached through) holds; `memory` itself if none was. */
export function imageOf(memory: object): object {
  return imageKeys.get(memory) ?? memory;
}

/** The Heaps of this thread attached to the image `memory` (a heap.memory) holds and not detached. */
export function heapsOnMemory(memory: object): number {
  return heapsOf.get(imageOf(memory))?.size ?? 0;
}

/**
 * The key of h's image (h not yet joined) if Heaps of this thread are on it:
 * through h.memoryObject, a WebAssembly.Memory's current buffer, or (with
 * `probe`) a listed object over the same bytes. Undefined if none is.
 */
export function findImage(h: Allocator, probe: boolean): object | undefined {
  const memory = h.memoryObject;
  let key = imageKeys.get(memory);
  if (key === undefined && memory instanceof WebAssembly.Memory) key = imageKeys.get(memory.buffer);
  if (key !== undefined && (heapsOf.get(key)?.size ?? 0) > 0) return key;
  return probe ? findListed(h) : undefined;
}

// The listed key of Heaps of this thread on h's image, if any. Two objects
// are the same bytes if a word written through one reads back through the
// other: word 0 of class 0's cache line in the listed Heaps' slot, which no
// class uses (layout.ts) and no other thread touches. It is put back.
function findListed(h: Allocator): object | undefined {
  pruneListed();
  for (const ref of listed) {
    const key = ref.deref()!;
    const heaps = heapsOf.get(key);
    if (heaps === undefined || heaps.size === 0) continue;
    const other = anyOf(heaps);
    const w = other.cacheW;
    if (w >= h.u32.length) continue;
    const before = other.u32[w]!;
    try {
      other.u32[w] = 0x2f6b1d3 ^ h.threadId;
      const first = h.u32[w] === other.u32[w];
      other.u32[w] = ~(0x2f6b1d3 ^ h.threadId);
      if (first && h.u32[w] === other.u32[w]) return key;
    } finally {
      other.u32[w] = before;
    }
  }
  return undefined;
}

// One Heap of a set that holds some: they share their slot and listing.
function anyOf(heaps: Set<Allocator>): Allocator {
  return heaps.values().next().value!;
}

function pruneListed(): void {
  listed = listed.filter((ref) => ref.deref() !== undefined);
  pruneAt = 2 * listed.length + 64;
}

/** The slot of the Heaps under `key` (findImage's). */
export function slotOfImage(key: object): number {
  return anyOf(heapsOf.get(key)!).slot;
}

/**
 * Adds `h` to this thread's Heaps under `key` (findImage's; its own memory
 * if undefined). Returns the key's id, which a slot claimed for `h` records.
 */
export function joinImage(h: Allocator, key: object | undefined): number {
  const memory = h.memoryObject;
  key ??= memory;
  imageKeys.set(memory, key);
  noteBuffer(h);
  const heaps = heapsOf.get(key);
  if (heaps !== undefined && heaps.size > 0) {
    heaps.add(h);
    h.memoryListed = anyOf(heaps).memoryListed;
    return keyIds.get(key)!;
  }
  heapsOf.set(key, new Set([h]));
  let id = keyIds.get(key);
  if (id === undefined) {
    id = lastKeyId = lastKeyId % 0xffffff + 1;
    keyIds.set(key, id);
    // An unshared memory has no other object: it counts as listed.
    if (h.u32.buffer instanceof SharedArrayBuffer && !listedKeys.has(key)) {
      unlistedIds.add(id);
      forgetId?.register(key, id, key);
    }
  }
  h.memoryListed = !unlistedIds.has(id);
  return id;
}

/** Takes `h` out of this thread's Heaps; returns true if it was the last on its image. */
export function leaveImage(h: Allocator): boolean {
  const key = imageOf(h.memoryObject);
  const heaps = heapsOf.get(key);
  heaps?.delete(h);
  if (heaps !== undefined && heaps.size > 0) return false;
  heapsOf.delete(key);
  return true;
}

/** `h` and the other Heaps of this thread on its image (just `h` while it is not joined). */
export function siblingsOf(h: Allocator): Iterable<Allocator> {
  const heaps = heapsOf.get(imageOf(h.memoryObject));
  return heaps?.has(h) ? heaps : [h];
}

/** True if `id` (a slot's SL_FLAGS >>> SLF_KEY_SHIFT) is that of a live key of this thread that is not listed. */
export function unlistedKey(id: number): boolean {
  return unlistedIds.has(id);
}

/**
 * Lists the memory of `h` (see the top of this file), which the program
 * just read or passed in, unless it did already or the task listed
 * LIST_PER_TASK. Writes nothing in the image.
 */
export function listMemory(h: Allocator): void {
  if (h.memoryListed || listBudget === 0) return;
  const key = imageOf(h.memoryObject);
  const heaps = heapsOf.get(key);
  if (heaps === undefined || !heaps.has(h)) return; // detached
  if (listBudget-- === LIST_PER_TASK) {
    const timer = setTimeout(() => (listBudget = LIST_PER_TASK), 0);
    (timer as { unref?: () => void }).unref?.();
  }
  if (listed.length >= pruneAt) pruneListed();
  listed.push(new WeakRef(key));
  listedKeys.add(key);
  unlistedIds.delete(keyIds.get(key)!);
  forgetId?.unregister(key);
  for (const each of heaps) each.memoryListed = true;
}

/** Gives the current buffer of `h`'s WebAssembly.Memory its image's key (attach, and after a growth: Allocator.refreshViews). */
export function noteBuffer(h: Allocator): void {
  const memory = h.memoryObject;
  if (memory instanceof WebAssembly.Memory) {
    imageKeys.set(memory.buffer, imageOf(memory));
    memoryOfBuffer.set(memory.buffer, memory);
  }
}

/**
 * The WebAssembly.Memory whose buffer `memory` is, if a Heap of this thread
 * uses that memory; else `memory`. A buffer keeps the length it had when it
 * was read (an unshared memory's growth even detaches it), so a Heap
 * attached through it could not follow the heap's growth.
 */
export function attachableMemory<M extends object>(memory: M): M | WebAssembly.Memory {
  return memoryOfBuffer.get(memory) ?? memory;
}
