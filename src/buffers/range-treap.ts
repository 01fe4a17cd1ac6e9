// The "treap" index of RangeAllocator: both trees of range-index.ts are
// randomized treaps (see range-allocator.ts for the overview).
//
// Each node carries one random priority in its balance word (+6), drawn when
// the node table grows, and both trees keep it in max-heap order. The keys a
// node receives depend only on the calls made, never on the priorities, so
// each tree has the shape of a random BST: expected depth about
// 1.39 log2(ranges), height about 3 log2(ranges), whatever the order of the
// calls — unlike GoMem's single tree, which is heap-ordered by size and
// degenerates into a list.
//
// Insert and unlink write through slots (see range-index.ts), with no
// recursion and no rotations:
//   insert: descend while the node met outranks n, then split the rest of
//           that subtree by n's key into n's two children;
//   unlink: given n's slot from the descent that found it, zip n's two
//           subtrees together in its place.
//
// Invariant TR1: in both trees, priority(parent) >= priority(child).

import * as layout from "./range-index.js";
import { fail, RangeIndex, show } from "./range-index.js";
const { NODE_SHIFT, PATH_MASK, W_BALANCE, W_LINK, W_SIZE_M1 } = layout;

/** Seed of the priority generator: fixed, so tree shapes (and check() heights) replay exactly. */
const PRIORITY_SEED = 0x2545f491;

/** Randomized-treap index over the node table of RangeIndex. */
export class TreapIndex extends RangeIndex {
  private seed = PRIORITY_SEED;

  constructor(regionBytes: number) {
    super();
    this.initBalance(1, this.mem.length >>> NODE_SHIFT);
    this.resetTo(regionBytes);
  }

  /** Draws the priorities of nodes [from, to) from xorshift32; a node keeps its priority when reused. */
  protected initBalance(from: number, to: number): void {
    const mem = this.mem;
    let s = this.seed;
    for (let n = from; n < to; n++) {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      mem[(n << NODE_SHIFT) + W_BALANCE] = s;
    }
    this.seed = s;
  }

  protected insert(k: number, n: number): void {
    const mem = this.mem;
    const nw = n << NODE_SHIFT;
    const p = mem[nw + W_BALANCE]!;
    const sizeM1 = mem[nw + W_SIZE_M1]!;
    const start = mem[nw]!;
    const side = W_LINK + (k << 1);
    let slot = side;
    let t = mem[slot]!;
    while (t !== 0 && mem[(t << NODE_SHIFT) + W_BALANCE]! > p) {
      slot = (t << NODE_SHIFT) + side + this.dir(k, sizeM1, start, t);
      t = mem[slot]!;
    }
    mem[slot] = n;
    // Split the subtree t by n's key: l and r are the slots still to fill
    // with the nodes before n and after n.
    let l = nw + side;
    let r = l + 1;
    while (t !== 0) {
      if (this.dir(k, sizeM1, start, t) === 1) {
        mem[l] = t;
        l = (t << NODE_SHIFT) + side + 1;
        t = mem[l]!;
      } else {
        mem[r] = t;
        r = (t << NODE_SHIFT) + side;
        t = mem[r]!;
      }
    }
    mem[l] = 0;
    mem[r] = 0;
  }

  protected unlinkAt(k: number, n: number, depth: number): void {
    const mem = this.mem;
    const nw = n << NODE_SHIFT;
    const side = W_LINK + (k << 1);
    let slot = this.path[depth & PATH_MASK]!;
    // Zip n's subtrees a (all before b) into n's slot, higher priority on top.
    let a = mem[nw + side]!;
    let b = mem[nw + side + 1]!;
    while (a !== 0 && b !== 0) {
      if (mem[(a << NODE_SHIFT) + W_BALANCE]! > mem[(b << NODE_SHIFT) + W_BALANCE]!) {
        mem[slot] = a;
        slot = (a << NODE_SHIFT) + side + 1;
        a = mem[slot]!;
      } else {
        mem[slot] = b;
        slot = (b << NODE_SHIFT) + side;
        b = mem[slot]!;
      }
    }
    mem[slot] = a !== 0 ? a : b;
  }

  protected checkBalance(k: number, n: number): void {
    const mem = this.mem;
    const p = mem[(n << NODE_SHIFT) + W_BALANCE]!;
    for (let c = 0; c < 2; c++) {
      const child = mem[(n << NODE_SHIFT) + W_LINK + (k << 1) + c]!;
      const q = mem[(child << NODE_SHIFT) + W_BALANCE]!;
      if (child !== 0 && q > p) fail("TR1", `in tree ${k}, ${show(this, child)} has priority ${q} above its parent ${show(this, n)} (${p})`);
    }
  }
}
