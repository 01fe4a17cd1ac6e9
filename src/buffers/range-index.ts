// The node table and the tree walks shared by both indexes of RangeAllocator
// (see range-allocator.ts for the overview; range-treap.ts and range-avl.ts
// supply the balancing).
//
// Every free range is one node, and every node sits in two binary search
// trees at once: the size tree, ordered by (size, start), which finds the
// best fit, and the offset tree, ordered by start, which finds a freed
// range's neighbours. Nodes are 32-byte records in one Uint32Array, `mem`,
// so a descent touches one cache line per level:
//
//   word  +0        +1          +2    +3    +4    +5    +6    +7
//        +---------+-----------+-----+-----+-----+-----+-----+-----+
//        | START   | SIZE_M1   | size tree | offset tree | balance   |
//        |         |           | left right| left right  |           |
//        +---------+-----------+-----+-----+-----+-----+-----+-----+
//   START    first offset of the free range
//   SIZE_M1  its size minus 1, so that a 2^32-byte range fits in 32 bits
//   links    node indices, 0 = none
//   balance  the index's own: a treap priority, or the AVL heights per tree
//
// A "slot" is the word index of a link. Node 0 is both NIL (a link of 0
// means no child) and the header, whose link words hold the roots: the size
// tree's root at word 2, the offset tree's at word 4. So the child slots of
// node n in tree k (0 = size, 1 = offset) are (n << 3) + 2 + 2k + {0, 1},
// for n = 0 the root slot, and writing a subtree through its slot needs no
// "is this the root?" branch. Released nodes chain through word +2 from
// freeHead; the table doubles when the chain is empty and every node below
// `top` is in use.
//
// Invariants (checked by checkTrees, named in HeapCorruptionError):
//   RA1 the size tree's in-order sequence is strictly increasing in (size, start)
//   RA2 the offset tree's in-order sequence is strictly increasing in start
//   RA3 both trees hold the same `count` nodes, each once; links stay inside
//      [0, top); nodes + released nodes == top - 1
//   RA4 every range is non-empty and inside [0, regionBytes)
//   RA5 consecutive ranges in offset order neither overlap nor touch
//      (prev.start + prev.size < next.start: fully coalesced)
//   RA6 the sizes sum to the allocator's freeBytes
// plus each index's balance invariants (TR1 in range-treap.ts, AV1-AV2 in range-avl.ts).

import { HeapCorruptionError, OffheapRangeError } from "../errors.js";

/** log2 of the words per node: 8 words, 32 bytes. A node's START is its word +0, read as mem[n << NODE_SHIFT]. */
export const NODE_SHIFT = 3;
/** Word offset of SIZE_M1 (size − 1) in a node. */
export const W_SIZE_M1 = 1;
/** Word offset of the first link: +2, +3 size tree left, right; +4, +5 offset tree left, right. */
export const W_LINK = 2;
/** Word offset of the index's balance data (+6, +7). */
export const W_BALANCE = 6;
/**
 * Entries of the descent path, a power of two above the AVL height bound for
 * MAX_NODES (1.44 × 28 ≈ 40). Descents store at depth & PATH_MASK: AVL
 * depths never wrap, and the treap reads only the last entry.
 */
export const PATH_SLOTS = 64;
/** PATH_SLOTS - 1: descents store path entries at depth & PATH_MASK. */
export const PATH_MASK = PATH_SLOTS - 1;
/** Nodes the table starts with (header included); it doubles when full. */
const INITIAL_NODES = 16;
/** Most nodes a table can hold: node << NODE_SHIFT must stay a positive int32. */
const MAX_NODES = 2 ** 28;

/** Summary returned by RangeAllocator.check(): the shape of both trees. */
export interface RangeTreeShape {
  /** Free ranges (nodes in each tree). */
  ranges: number;
  /** Height of the size tree (0 when empty). */
  sizeTreeHeight: number;
  /** Height of the offset tree (0 when empty). */
  offsetTreeHeight: number;
}

/**
 * The node table and the operations both indexes share; subclasses supply
 * insert/remove for tree k and their balance check. Internal to the buffers
 * layer: RangeAllocator validates every argument before calling in.
 */
export abstract class RangeIndex {
  /** The node table (see the layout above); replaced when it grows. */
  mem = new Uint32Array(INITIAL_NODES << NODE_SHIFT);
  /** Live nodes: the number of free ranges. */
  count = 0;
  /** Nodes handed out so far, header included (nodes >= top were never used). */
  protected top = 1;
  /** First released node, chained through word +2; 0 when none. */
  protected freeHead = 0;
  /**
   * The slots the last descent passed: path[d & PATH_MASK] is the slot
   * holding the node at depth d (the root's is at d = 0).
   */
  protected readonly path = new Int32Array(PATH_SLOTS);
  /** Results of locate(): the last range starting before `end`, the first starting at or after it (0 = none). */
  private pred = 0;
  private succ = 0;
  /** Set by descendTo(): the last node whose left subtree the descent entered (n's successor if n has no right child). */
  private lastLeft = 0;

  /** Links node n into tree k (0 = size, 1 = offset) by its current key. */
  protected abstract insert(k: number, n: number): void;
  /**
   * Unlinks node n from tree k, given the descent that reached it: n sits at
   * depth `depth`, in the slot path[depth & PATH_MASK], below the slots
   * path[0 … depth - 1].
   */
  protected abstract unlinkAt(k: number, n: number, depth: number): void;
  /** Initializes the balance words of the fresh nodes [from, to) after the table grew. */
  protected abstract initBalance(from: number, to: number): void;
  /** Checks the balance invariants of node n in tree k (its children are linked and in range). */
  protected abstract checkBalance(k: number, n: number): void;

  /** First offset of node n's range. */
  startOf(n: number): number {
    return this.mem[n << NODE_SHIFT]!;
  }

  /** Size of node n's range. */
  sizeOf(n: number): number {
    return this.mem[(n << NODE_SHIFT) + W_SIZE_M1]! + 1;
  }

  /**
   * Which child of node t a descent for the key (size − 1 = sizeM1, start)
   * takes in tree k: 0 (left) when the key precedes t, else 1. Tree 0 orders
   * by (size, start), tree 1 by start alone. Callers keep their key in
   * locals, so each level loads only t's words.
   */
  protected dir(k: number, sizeM1: number, start: number, t: number): number {
    const mem = this.mem;
    const tw = t << NODE_SHIFT;
    if (k === 0) {
      const s = mem[tw + W_SIZE_M1]!;
      return sizeM1 < s || (sizeM1 === s && start < mem[tw]!) ? 0 : 1;
    }
    return start < mem[tw]! ? 0 : 1;
  }

  /** Empties both trees and, when regionBytes > 0, adds the one range [0, regionBytes). Keeps the table's capacity. */
  resetTo(regionBytes: number): void {
    this.top = 1;
    this.freeHead = 0;
    this.count = 0;
    this.mem[W_LINK] = 0;
    this.mem[W_LINK + 2] = 0;
    if (regionBytes > 0) {
      const n = this.acquire(0, regionBytes);
      this.insert(0, n);
      this.insert(1, n);
    }
  }

  /** The best-fit node for `sizeBytes` (smallest size >= sizeBytes, then lowest start), or 0. O(height). */
  bestFit(sizeBytes: number): number {
    const mem = this.mem;
    const wantM1 = sizeBytes - 1;
    let t = mem[W_LINK]!;
    let best = 0;
    while (t !== 0) {
      const tw = t << NODE_SHIFT;
      if (mem[tw + W_SIZE_M1]! >= wantM1) {
        best = t;
        t = mem[tw + W_LINK]!;
      } else {
        t = mem[tw + W_LINK + 1]!;
      }
    }
    return best;
  }

  /**
   * Carves `sizeBytes` from the start of the best-fit range and returns its
   * offset, or -1 when no range is large enough. O(height).
   *
   * The offset tree keeps the node in place: its start moves up but stays
   * below its successor's. The size tree keeps it in place too when its
   * smaller key still follows its in-order predecessor, which the descent
   * finds for free: the last node where a lower-bound search turns right is
   * the largest node below the bound. Only otherwise is it re-inserted.
   */
  allocate(sizeBytes: number): number {
    const mem = this.mem;
    const path = this.path;
    const wantM1 = sizeBytes - 1;
    let slot = W_LINK;
    let t = mem[slot]!;
    let depth = 0;
    let n = 0;
    let nDepth = 0;
    let floor = 0;
    while (t !== 0) {
      path[depth & PATH_MASK] = slot;
      const tw = t << NODE_SHIFT;
      if (mem[tw + W_SIZE_M1]! >= wantM1) {
        n = t;
        nDepth = depth;
        slot = tw + W_LINK;
      } else {
        floor = t;
        slot = tw + W_LINK + 1;
      }
      t = mem[slot]!;
      depth++;
    }
    if (n === 0) return -1;
    const nw = n << NODE_SHIFT;
    const offset = mem[nw]!;
    const rest = mem[nw + W_SIZE_M1]! + 1 - sizeBytes;
    if (rest === 0) {
      this.unlinkAt(0, n, nDepth);
      this.remove(1, n);
      this.release(n);
      return offset;
    }
    const stays = floor === 0 || this.dir(0, rest - 1, offset + sizeBytes, floor) === 1;
    if (!stays) this.unlinkAt(0, n, nDepth);
    mem[nw] = offset + sizeBytes;
    mem[nw + W_SIZE_M1] = rest - 1;
    if (!stays) this.insert(0, n);
    return offset;
  }

  /**
   * Adds [offset, offset + sizeBytes) to the free ranges, coalescing with a
   * range ending at `offset` and one starting at its end. Returns 0, or,
   * changing nothing, the node of a free range it overlaps. O(height).
   */
  free(offset: number, sizeBytes: number): number {
    const end = offset + sizeBytes;
    this.locate(end);
    const pred = this.pred;
    const succ = this.succ;
    const mem = this.mem;
    // Ranges are disjoint, so pred (the last one starting before `end`) is
    // the only one that can overlap, and the only possible left neighbour.
    let predEnd = -1;
    if (pred !== 0) {
      predEnd = mem[pred << NODE_SHIFT]! + mem[(pred << NODE_SHIFT) + W_SIZE_M1]! + 1;
      if (predEnd > offset) return pred;
    }
    const joinsRight = succ !== 0 && mem[succ << NODE_SHIFT] === end;
    if (predEnd === offset) {
      const predStart = mem[pred << NODE_SHIFT]!;
      if (joinsRight) {
        const succSize = mem[(succ << NODE_SHIFT) + W_SIZE_M1]! + 1;
        this.remove(0, succ);
        this.remove(1, succ);
        this.release(succ);
        this.regrow(pred, predStart, end + succSize - predStart);
      } else {
        this.regrow(pred, predStart, end - predStart);
      }
    } else if (joinsRight) {
      // succ grows downwards; in the offset tree it stays after pred, which
      // ends before `offset`.
      this.regrow(succ, offset, mem[(succ << NODE_SHIFT) + W_SIZE_M1]! + 1 + sizeBytes);
    } else {
      const n = this.acquire(offset, sizeBytes);
      this.insert(0, n);
      this.insert(1, n);
    }
    return 0;
  }

  /**
   * Gives node n the larger size `sizeBytes` and the start `offset` (which
   * keeps its place in the offset tree). The size tree keeps n in place when
   * the new key still precedes n's successor, the common case when a range
   * grows by a little; otherwise n is re-inserted.
   */
  private regrow(n: number, offset: number, sizeBytes: number): void {
    const mem = this.mem;
    const nw = n << NODE_SHIFT;
    // n's successor: the leftmost node of its right subtree, else the last
    // node whose left subtree the descent to n entered.
    let depth = -1;
    let next = mem[nw + W_LINK + 1]!;
    if (next !== 0) {
      for (let l = mem[(next << NODE_SHIFT) + W_LINK]!; l !== 0; l = mem[(l << NODE_SHIFT) + W_LINK]!) next = l;
    } else {
      depth = this.descendTo(0, n);
      next = this.lastLeft;
    }
    const sizeM1 = sizeBytes - 1;
    const stays = next === 0 || this.dir(0, sizeM1, offset, next) === 0;
    if (!stays) this.unlinkAt(0, n, depth >= 0 ? depth : this.descendTo(0, n));
    mem[nw] = offset;
    mem[nw + W_SIZE_M1] = sizeM1;
    if (!stays) this.insert(0, n);
  }

  /** Unlinks node n, which must be in tree k, from tree k. O(height). */
  protected remove(k: number, n: number): void {
    this.unlinkAt(k, n, this.descendTo(k, n));
  }

  /**
   * Descends tree k from the root to node n by n's key, recording the path;
   * returns n's depth and sets lastLeft. Throws RA3 if n is not in the tree.
   */
  private descendTo(k: number, n: number): number {
    const mem = this.mem;
    const path = this.path;
    const nw = n << NODE_SHIFT;
    const sizeM1 = mem[nw + W_SIZE_M1]!;
    const start = mem[nw]!;
    const side = W_LINK + (k << 1);
    let slot = side;
    let t = mem[slot]!;
    let depth = 0;
    let lastLeft = 0;
    while (t !== n) {
      if (t === 0) fail("RA3", `${show(this, n)} is missing from tree ${k}`);
      path[depth & PATH_MASK] = slot;
      depth++;
      const d = this.dir(k, sizeM1, start, t);
      if (d === 0) lastLeft = t;
      slot = (t << NODE_SHIFT) + side + d;
      t = mem[slot]!;
    }
    path[depth & PATH_MASK] = slot;
    this.lastLeft = lastLeft;
    return depth;
  }

  /** Sets pred/succ: the last node of the offset tree starting before `end`, the first starting at or after it. */
  private locate(end: number): void {
    const mem = this.mem;
    let t = mem[W_LINK + 2]!;
    let pred = 0;
    let succ = 0;
    while (t !== 0) {
      const tw = t << NODE_SHIFT;
      if (mem[tw]! < end) {
        pred = t;
        t = mem[tw + W_LINK + 3]!;
      } else {
        succ = t;
        t = mem[tw + W_LINK + 2]!;
      }
    }
    this.pred = pred;
    this.succ = succ;
  }

  /**
   * A node for the range [offset, offset + sizeBytes), not yet linked. May
   * replace `mem` (growth); throws OffheapRangeError, changing nothing, when
   * the table would pass MAX_NODES.
   */
  protected acquire(offset: number, sizeBytes: number): number {
    let n = this.freeHead;
    if (n !== 0) {
      this.freeHead = this.mem[(n << NODE_SHIFT) + W_LINK]!;
    } else {
      if (this.top === this.mem.length >>> NODE_SHIFT) this.grow();
      n = this.top++;
    }
    this.mem[n << NODE_SHIFT] = offset;
    this.mem[(n << NODE_SHIFT) + W_SIZE_M1] = sizeBytes - 1;
    this.count++;
    return n;
  }

  /** Returns node n, unlinked from both trees, to the released chain. */
  protected release(n: number): void {
    this.mem[(n << NODE_SHIFT) + W_LINK] = this.freeHead;
    this.freeHead = n;
    this.count--;
  }

  private grow(): void {
    const nodes = this.top * 2;
    if (nodes > MAX_NODES) throw new OffheapRangeError(`RangeAllocator: more than ${MAX_NODES} free ranges`);
    const mem = new Uint32Array(nodes << NODE_SHIFT);
    mem.set(this.mem);
    this.mem = mem;
    this.initBalance(this.top, nodes);
  }

  /** The free ranges in address order as [start, size] pairs, flattened. Not a hot path. */
  ranges(): number[] {
    const out: number[] = [];
    for (const n of this.inOrder(1, new Uint8Array(this.top)).nodes) out.push(this.startOf(n), this.sizeOf(n));
    return out;
  }

  /**
   * Validates RA1-RA6 and the subclass's balance invariants; throws
   * HeapCorruptionError naming the first broken one. O(count).
   */
  checkTrees(regionBytes: number, freeBytes: number): RangeTreeShape {
    const seenBySize = new Uint8Array(this.top);
    const bySize = this.inOrder(0, seenBySize);
    const byOffset = this.inOrder(1, new Uint8Array(this.top));
    for (let i = 1; i < bySize.nodes.length; i++) {
      const a = bySize.nodes[i - 1]!;
      const b = bySize.nodes[i]!;
      if (this.dir(0, this.sizeOf(a) - 1, this.startOf(a), b) !== 0) fail("RA1", `the size tree holds ${show(this, a)} before ${show(this, b)}`);
    }
    if (bySize.nodes.length !== this.count || byOffset.nodes.length !== this.count) {
      fail("RA3", `the size tree holds ${bySize.nodes.length} nodes and the offset tree ${byOffset.nodes.length}, expected ${this.count}`);
    }
    let released = 0;
    for (let n = this.freeHead; n !== 0; n = this.mem[(n << NODE_SHIFT) + W_LINK]!) {
      if (n >= this.top || seenBySize[n] !== 0 || ++released > this.top) fail("RA3", `released node ${n} is out of range, linked in a tree or on a cycle`);
    }
    if (this.count + released !== this.top - 1) fail("RA3", `${this.count} nodes and ${released} released nodes, expected ${this.top - 1} in all`);
    let sum = 0;
    let prevEnd = -1;
    for (const n of byOffset.nodes) {
      if (seenBySize[n] === 0) fail("RA3", `${show(this, n)} is in the offset tree but not in the size tree`);
      const s = this.startOf(n);
      const end = s + this.sizeOf(n);
      if (end > regionBytes) fail("RA4", `${show(this, n)} ends outside the region [0, ${regionBytes})`);
      if (s < prevEnd) fail("RA2", `the offset tree holds ${show(this, n)} after a range ending at ${prevEnd}`);
      if (s === prevEnd) fail("RA5", `${show(this, n)} touches the free range before it (not coalesced)`);
      prevEnd = end;
      sum += end - s;
    }
    if (sum !== freeBytes) fail("RA6", `the free ranges sum to ${sum} bytes, but freeSize is ${freeBytes}`);
    for (const k of [0, 1]) for (const n of (k === 0 ? bySize : byOffset).nodes) this.checkBalance(k, n);
    return { ranges: this.count, sizeTreeHeight: bySize.height, offsetTreeHeight: byOffset.height };
  }

  /** Nodes of tree k in order, and its height; marks each in `seen`; throws RA3 on a link out of range or a node reached twice. */
  private inOrder(k: number, seen: Uint8Array): { nodes: number[]; height: number } {
    const mem = this.mem;
    const side = W_LINK + (k << 1);
    const nodes: number[] = [];
    const stack: number[] = [];
    let height = 0;
    let t = mem[side]!;
    let depth = 1;
    while (t !== 0 || stack.length > 0) {
      while (t !== 0) {
        if (t >= this.top) fail("RA3", `tree ${k} links to node ${t}, outside [1, ${this.top})`);
        if (seen[t] !== 0) fail("RA3", `tree ${k} reaches node ${t} twice`);
        seen[t] = 1;
        if (depth > height) height = depth;
        stack.push(t, depth);
        t = mem[(t << NODE_SHIFT) + side]!;
        depth++;
      }
      depth = stack.pop()! + 1;
      t = stack.pop()!;
      nodes.push(t);
      t = mem[(t << NODE_SHIFT) + side + 1]!;
    }
    return { nodes, height };
  }
}

/** Throws HeapCorruptionError for invariant `id`. */
export function fail(id: string, message: string): never {
  throw new HeapCorruptionError(id, `RangeAllocator.check: ${message}`);
}

/** A node as messages print it: `[start, end) (node n)`. */
export function show(index: RangeIndex, n: number): string {
  const s = index.startOf(n);
  return `[${s}, ${s + index.sizeOf(n)}) (node ${n})`;
}
