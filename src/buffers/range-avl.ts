// The "avl" index of RangeAllocator: both trees of range-index.ts are AVL
// trees, as in GoMem's two-tree allocator (see range-allocator.ts for the
// overview).
//
// A node's balance words hold its subtree heights: word +6 in the size tree,
// +7 in the offset tree (a leaf is 1; NIL, node 0, is 0 and never written).
// Insert walks down recording the slots it passes in `path`; unlink gets
// that path from the descent that found the node (see range-index.ts). Both
// then retrace upwards rebalancing with single or double rotations, and stop
// at the first subtree whose height did not change. An AVL tree of n nodes is
// at most 1.44 log2(n + 2) high, so PATH_SLOTS (64) entries cover any node table.
//
// Invariants:
//   AV1 height(n) == 1 + max(height of n's children), in each tree
//   AV2 the children's heights differ by at most 1

import * as layout from "./range-index.js";
import { fail, RangeIndex, show } from "./range-index.js";
const { NODE_SHIFT, W_BALANCE, W_LINK, W_SIZE_M1 } = layout;

/** AVL-tree index over the node table of RangeIndex. */
export class AvlIndex extends RangeIndex {
  constructor(regionBytes: number) {
    super();
    this.resetTo(regionBytes);
  }

  /** Heights are set when a node is inserted; nothing to draw. */
  protected initBalance(): void {}

  protected insert(k: number, n: number): void {
    const mem = this.mem;
    const path = this.path;
    const nw = n << NODE_SHIFT;
    const sizeM1 = mem[nw + W_SIZE_M1]!;
    const start = mem[nw]!;
    const side = W_LINK + (k << 1);
    let depth = 0;
    let slot = side;
    let t = mem[slot]!;
    while (t !== 0) {
      path[depth++] = slot;
      slot = (t << NODE_SHIFT) + side + this.dir(k, sizeM1, start, t);
      t = mem[slot]!;
    }
    mem[slot] = n;
    mem[nw + side] = 0;
    mem[nw + side + 1] = 0;
    mem[nw + W_BALANCE + k] = 1;
    this.retrace(k, depth);
  }

  protected unlinkAt(k: number, n: number, depth: number): void {
    const mem = this.mem;
    const path = this.path;
    const nw = n << NODE_SHIFT;
    const side = W_LINK + (k << 1);
    const slot = path[depth]!;
    const nl = mem[nw + side]!;
    const nr = mem[nw + side + 1]!;
    if (nl === 0 || nr === 0) {
      mem[slot] = nl !== 0 ? nl : nr;
    } else {
      // Two children: n's successor m (the leftmost node of its right
      // subtree) takes n's place. The path runs through n's slot, where m
      // will be, and down to m's old parent.
      const nDepth = depth++;
      let mSlot = nw + side + 1;
      let m = nr;
      while (mem[(m << NODE_SHIFT) + side] !== 0) {
        path[depth++] = mSlot;
        mSlot = (m << NODE_SHIFT) + side;
        m = mem[mSlot]!;
      }
      const mw = m << NODE_SHIFT;
      mem[mSlot] = mem[mw + side + 1]!;
      mem[mw + side] = nl;
      mem[mw + side + 1] = mem[nw + side + 1]!;
      mem[mw + W_BALANCE + k] = mem[nw + W_BALANCE + k]!;
      mem[slot] = m;
      // The entry after n's was n's right slot; that slot now belongs to m.
      if (depth > nDepth + 1) path[nDepth + 1] = mw + side + 1;
    }
    this.retrace(k, depth);
  }

  /** Rebalances the subtrees at path[depth - 1] up to the root, stopping at the first whose height is unchanged. */
  private retrace(k: number, depth: number): void {
    const mem = this.mem;
    const hk = W_BALANCE + k;
    while (depth > 0) {
      const slot = this.path[--depth]!;
      const before = mem[(mem[slot]! << NODE_SHIFT) + hk]!;
      this.rebalance(k, slot);
      if (mem[(mem[slot]! << NODE_SHIFT) + hk] === before) return;
    }
  }

  /** Restores AV1 and AV2 at the node in `slot`, whose children satisfy them and differ in height by at most 2. */
  private rebalance(k: number, slot: number): void {
    const mem = this.mem;
    const side = W_LINK + (k << 1);
    const hk = W_BALANCE + k;
    const n = mem[slot]!;
    const ns = (n << NODE_SHIFT) + side;
    const l = mem[ns]!;
    const r = mem[ns + 1]!;
    const hl = mem[(l << NODE_SHIFT) + hk]!;
    const hr = mem[(r << NODE_SHIFT) + hk]!;
    if (hl > hr + 1) {
      const ls = (l << NODE_SHIFT) + side;
      if (mem[(mem[ls + 1]! << NODE_SHIFT) + hk]! > mem[(mem[ls]! << NODE_SHIFT) + hk]!) mem[ns] = this.rotateLeft(k, l);
      mem[slot] = this.rotateRight(k, n);
    } else if (hr > hl + 1) {
      const rs = (r << NODE_SHIFT) + side;
      if (mem[(mem[rs]! << NODE_SHIFT) + hk]! > mem[(mem[rs + 1]! << NODE_SHIFT) + hk]!) mem[ns + 1] = this.rotateRight(k, r);
      mem[slot] = this.rotateLeft(k, n);
    } else {
      mem[(n << NODE_SHIFT) + hk] = (hl > hr ? hl : hr) + 1;
    }
  }

  /** Rotates n's right child up; returns the subtree's new root. */
  private rotateLeft(k: number, n: number): number {
    const mem = this.mem;
    const side = W_LINK + (k << 1);
    const r = mem[(n << NODE_SHIFT) + side + 1]!;
    mem[(n << NODE_SHIFT) + side + 1] = mem[(r << NODE_SHIFT) + side]!;
    mem[(r << NODE_SHIFT) + side] = n;
    this.fixHeight(k, n);
    this.fixHeight(k, r);
    return r;
  }

  /** Rotates n's left child up; returns the subtree's new root. */
  private rotateRight(k: number, n: number): number {
    const mem = this.mem;
    const side = W_LINK + (k << 1);
    const l = mem[(n << NODE_SHIFT) + side]!;
    mem[(n << NODE_SHIFT) + side] = mem[(l << NODE_SHIFT) + side + 1]!;
    mem[(l << NODE_SHIFT) + side + 1] = n;
    this.fixHeight(k, n);
    this.fixHeight(k, l);
    return l;
  }

  private fixHeight(k: number, n: number): void {
    const mem = this.mem;
    const nw = n << NODE_SHIFT;
    const side = W_LINK + (k << 1);
    const hk = W_BALANCE + k;
    const hl = mem[(mem[nw + side]! << NODE_SHIFT) + hk]!;
    const hr = mem[(mem[nw + side + 1]! << NODE_SHIFT) + hk]!;
    mem[nw + hk] = (hl > hr ? hl : hr) + 1;
  }

  protected checkBalance(k: number, n: number): void {
    const mem = this.mem;
    const nw = n << NODE_SHIFT;
    const side = W_LINK + (k << 1);
    const hk = W_BALANCE + k;
    const hl = mem[(mem[nw + side]! << NODE_SHIFT) + hk]!;
    const hr = mem[(mem[nw + side + 1]! << NODE_SHIFT) + hk]!;
    const h = mem[nw + hk]!;
    if (h !== 1 + Math.max(hl, hr)) fail("AV1", `in tree ${k}, ${show(this, n)} records height ${h}, but its children have heights ${hl} and ${hr}`);
    if (Math.abs(hl - hr) > 1) fail("AV2", `in tree ${k}, ${show(this, n)} has children of heights ${hl} and ${hr}`);
  }
}
