// The GCBench-style tree of `npm run bench:gc`, once as V8 objects and once
// off heap under offheap's Collector; the same shape, values and rng draws.
//
// A balanced binary tree of exactly `nodes` nodes (the root, then (n-1) -
// (n-1)/2 nodes on the left and (n-1)/2 on the right, recursively), built top
// down in preorder: each node is linked to its parent as soon as it exists,
// so an off-heap node is reachable before the collector can run. Each node's
// value is rng() >>> 2 (30 bits: a small integer to V8, no heap number).
// Then `rounds` rounds each build a new subtree the size of the root's left
// (even rounds) or right (odd rounds) subtree under a scratch node and swap
// it in, which drops the old one: the peak is the tree plus half of it.
//
// Off heap, after every `stepEvery` allocations the mutator calls
// gc.step(stepMs) (the Collector's pacer decides when a cycle starts),
// and after the last round finishes the cycle in progress in steps of
// stepMs. Then, untimed, one collect() before the walk that checks what
// the collector kept (cell.mjs: settle). V8 collects on its own schedule.
import { reseed, rng } from "../workloads.mjs";

/** Sizes of the root's two subtrees for a tree of `nodes` nodes. */
function halves(nodes) {
  const right = (nodes - 1) >>> 1;
  return { left: nodes - 1 - right, right };
}

/**
 * The timed part, the same in both worlds: the root's two halves, then
 * `rounds` rounds each growing a new half under `scratch` and calling
 * swapIn(left, last) to put it in place of the root's left or right one.
 */
async function buildAndReplace(rounds, sizes, meter, root, scratch, grow, swapIn) {
  meter.begin();
  grow(root, true, sizes.left);
  grow(root, false, sizes.right);
  await meter.phaseEnd("build");
  for (let round = 0; round < rounds; round++) {
    const left = round % 2 === 0;
    grow(scratch, true, left ? sizes.left : sizes.right);
    await swapIn(left, round === rounds - 1);
    await meter.phaseEnd("rounds");
  }
}

/** The tree as `{ left, right, value }` objects. Resolves to { memory(), verify() }. */
export async function treeV8({ nodes, rounds }, meter) {
  reseed();
  const sizes = halves(nodes);
  function grow(parent, isLeft, n) {
    const node = { left: null, right: null, value: rng() >>> 2 };
    if (isLeft) parent.left = node;
    else parent.right = node;
    if (n > 1) {
      const r = (n - 1) >>> 1;
      grow(node, true, n - 1 - r);
      if (r > 0) grow(node, false, r);
    }
  }
  const scratch = { left: null, right: null, value: 0 };
  const root = { left: null, right: null, value: rng() >>> 2 };
  await buildAndReplace(rounds, sizes, meter, root, scratch, grow, (left) => {
    if (left) root.left = scratch.left;
    else root.right = scratch.left;
    scratch.left = null;
  });
  return {
    memory: () => ({}),
    verify() {
      let reachable = 0;
      let checksum = 0;
      const stack = [root, scratch];
      while (stack.length > 0) {
        const n = stack.pop();
        reachable++;
        checksum = (checksum + n.value) >>> 0;
        if (n.left !== null) stack.push(n.left);
        if (n.right !== null) stack.push(n.right);
      }
      return { reachable, checksum };
    },
  };
}

/** The same tree off heap: records of { left: ref, right: ref, value: u32 }. */
export async function treeOffheap({ nodes, rounds, stepEvery }, lib, meter) {
  reseed();
  const sizes = halves(nodes);
  const heap = lib.newHeap();
  const gc = new lib.Collector(heap, lib.collectorOptions);
  const Node = lib.defineStruct({ left: "ref", right: "ref", value: "u32" });
  const step = meter.stepper(gc);
  const cur = Node.at(heap, 0);
  let sinceStep = 0;
  function grow(parent, isLeft, n) {
    const a = gc.alloc(Node);
    cur.addr = a;
    cur.value = rng() >>> 2;
    cur.addr = parent;
    if (isLeft) cur.left = a;
    else cur.right = a;
    if (++sinceStep === stepEvery) {
      sinceStep = 0;
      step();
    }
    if (n > 1) {
      const r = (n - 1) >>> 1;
      grow(a, true, n - 1 - r);
      if (r > 0) grow(a, false, r);
    }
  }
  const scratch = gc.alloc(Node);
  heap.setRoot("scratch", scratch);
  const root = gc.alloc(Node);
  heap.setRoot("tree", root);
  cur.addr = root;
  cur.value = rng() >>> 2;
  await buildAndReplace(rounds, sizes, meter, root, scratch, grow, async (left, last) => {
    cur.addr = scratch;
    const fresh = cur.left;
    cur.left = 0;
    cur.addr = root;
    if (left) cur.left = fresh;
    else cur.right = fresh;
    if (last) await meter.finishCycle(step); // the pacer alone between rounds, as V8's own schedule

  });
  return {
    memory: () => ({ committedBytes: heap.stats().committedBytes, collector: gc.stats() }),
    settle: () => meter.settle(gc),
    verify() {
      let reachable = 0;
      let checksum = 0;
      const stack = [root, scratch];
      while (stack.length > 0) {
        cur.addr = stack.pop();
        reachable++;
        checksum = (checksum + cur.value) >>> 0;
        if (cur.left !== 0) stack.push(cur.left);
        if (cur.right !== 0) stack.push(cur.right);
      }
      return { reachable, checksum, liveBlocks: gc.stats().liveBlocks };
    },
  };
}
