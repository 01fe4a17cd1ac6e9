// Shared by the Collector's seeded model tests (collector.test.ts,
// collector-roots.test.ts): the record type, the program's view of a
// record, and the snapshot-at-the-beginning rules that say exactly which
// records a cycle frees.

import assert from "node:assert/strict";
import type { Heap } from "../../src/index.js";
import { Collector, defineStruct } from "../../src/collections/index.js";

export const Node = defineStruct({ a: "ref", b: "ref", value: "u32", name: "string" });
export const FIELDS = ["a", "b"] as const;

/** A record as the program sees it: its address, contents and references. */
export interface ModelNode {
  addr: number;
  value: number;
  name: string;
  a: ModelNode | null;
  b: ModelNode | null;
}

/** The nodes reachable from `roots` through their references. */
export function reachableFrom(roots: Iterable<ModelNode>): Set<ModelNode> {
  const seen = new Set<ModelNode>();
  const stack = [...roots];
  while (stack.length > 0) {
    const n = stack.pop()!;
    if (seen.has(n)) continue;
    seen.add(n);
    for (const f of FIELDS) if (n[f] !== null) stack.push(n[f]!);
  }
  return seen;
}

/** Asserts that each node's record holds the node's value, name and references. */
export function verify(heap: Heap, nodes: Iterable<ModelNode>, what: string): void {
  const cur = Node.at(heap, 0);
  for (const n of nodes) {
    cur.addr = n.addr;
    assert.equal(cur.value, n.value, `${what}: value of ${n.addr}`);
    assert.equal(cur.name, n.name, `${what}: name of ${n.addr}`);
    for (const f of FIELDS) assert.equal(cur[f], n[f]?.addr ?? 0, `${what}: field ${f} of ${n.addr}`);
  }
}

/** A collector that starts a cycle at every step() from idle (no pacing), so small graphs exercise every phase. */
/**
 * Heap blocks that are the collector's and the roots' own: its directory,
 * its chunk table, a bitmap block per covered chunk, the wasm marker's
 * workspace and the helper thread's block if it has them (gc-layout.ts:
 * DIR_WORKSPACE +4, DIR_COVER +5, DIR_BASE +8, DIR_HELPER +9, 1 MiB
 * chunks), then the root directory and each root's name.
 */
export function ownBlocks(heap: Heap): number {
  const d = heap.getRoot("offheap.gc") >>> 2;
  const workspace = heap.u32[d + 4] !== 0 ? 1 : 0;
  const helper = heap.u32[d + 9] !== 0 ? 1 : 0;
  return 2 + ((heap.u32[d + 5]! - heap.u32[d + 8]!) >>> 20) + workspace + helper + 1 + heap.rootNames().length + 1; // + "offheap.gc", which rootNames leaves out
}

export function eager(heap: Heap): Collector {
  return new Collector(heap, { minBytes: 0, growth: 0 });
}

/**
 * What the collector keeps, by its rules (snapshot at the beginning): a
 * cycle starts at the first step() while idle; when it ends, it has freed
 * exactly the records allocated before it started and not reachable then
 * (everything reachable then, or allocated since, survives it). collect()
 * leaves exactly the records reachable when it is called.
 */
/** A chain of n + 1 records from the root "chain" (set first, so marking scans roots set later before it); returns [head, last]. */
export function rootedChain(heap: Heap, gc: Collector, n: number): [number, number] {
  const head = gc.alloc(Node);
  heap.setRoot("chain", head);
  const cur = Node.at(heap, head);
  for (let i = 0; i < n; i++) {
    const next = gc.alloc(Node, { value: i });
    cur.a = next;
    cur.addr = next;
  }
  return [head, cur.addr];
}

export class CycleModel {
  /** Every node the collector has not freed yet (by these rules). */
  readonly all = new Set<ModelNode>();
  private snapshotReach = new Set<ModelNode>();
  private atStart = new Set<ModelNode>();

  /** `reachable` returns the nodes reachable now from every root the collector scans. */
  constructor(private readonly gc: Collector, private readonly reachable: () => Set<ModelNode>) {}

  /** gc.step(0), and the model's part: the snapshot if it starts a cycle, the frees if it ends one. */
  step(): void {
    if (this.gc.phase === "idle") {
      this.snapshotReach = this.reachable();
      this.atStart = new Set(this.all);
    }
    if (this.gc.step(0)) {
      for (const n of this.atStart) if (!this.snapshotReach.has(n)) this.all.delete(n);
      assert.equal(this.gc.stats().liveBlocks, this.all.size, "live blocks after a cycle");
    }
  }

  /** gc.collect(): it finishes the cycle in progress and runs a fresh one, so exactly the reachable nodes are left. */
  collect(): void {
    this.gc.collect();
    const reach = this.reachable();
    for (const n of this.all) if (!reach.has(n)) this.all.delete(n);
    assert.equal(this.gc.stats().liveBlocks, this.all.size, "live blocks after collect()");
  }
}
