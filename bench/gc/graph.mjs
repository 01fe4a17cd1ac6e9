// The linked graph of `npm run bench:gc`, once as V8 objects and once off
// heap under offheap's Collector; the same shape, values and rng draws.
//
// Build: `nodes` nodes, node i with value rng() >>> 2 and k = 2 + rng() % 3
// edges (slots e0 … e(k-1)) to random earlier nodes (index rng() % i): a DAG
// whose nodes are shared. Then every node with rng() % 4 == 0 whose slot e3
// is empty gets an edge to any node (rng() % nodes): cycles. ROOTS root nodes
// are drawn from the later half; V8 keeps them in an Array, offheap in one
// record of ROOTS ref fields under a named root. The build keeps every node
// in an index (an Array of the nodes; a Uint32Array of addresses, which is
// no root to the collector), dropped at the end of the build; the collector
// does not run during the build.
//
// Rounds: `opsPerRound` rewirings of a random slot j of a node reached by a
// walk (from a random root, up to rng() % 8 hops along random slots, stopping
// at an empty one): x = rng() % 8 < 3 stores a new node whose 2-4 edges go to
// walked nodes, < 6 a walked node, else null. Dropped edges cut off parts of
// the graph. Off heap, gc.step(stepMs) runs after every `stepEvery`
// rewirings (the Collector's pacer decides when a cycle starts), and at
// the end of the last round the cycle in progress is finished in steps,
// then, untimed, one collect() runs (as for the tree).
import { reseed, rng } from "../workloads.mjs";

/** Root nodes of the graph. */
export const ROOTS = 1024;

function rootIndex(nodes) {
  const half = nodes >>> 1;
  return half + (rng() % (nodes - half));
}

/**
 * The walk of the rounds, for either world (one world per process, so the
 * calls stay monomorphic): from roots[rng() % ROOTS], up to rng() % 8 hops
 * along slot rng() % 4, stopping at an empty slot (null or 0). sum() is the
 * sum of the values of the nodes reached: both worlds must get the same.
 */
function makeWalker(roots, edgeOf, valueOf) {
  let sum = 0;
  return {
    walk() {
      let n = roots[rng() % ROOTS];
      for (let s = rng() & 7; s > 0; s--) {
        const next = edgeOf(n, rng() & 3);
        if (!next) break;
        n = next;
      }
      sum = (sum + valueOf(n)) >>> 0;
      return n;
    },
    sum: () => sum,
  };
}

function edgeV8(n, j) {
  switch (j) {
    case 0: return n.e0;
    case 1: return n.e1;
    case 2: return n.e2;
    default: return n.e3;
  }
}

function setEdgeV8(n, j, v) {
  switch (j) {
    case 0: n.e0 = v; break;
    case 1: n.e1 = v; break;
    case 2: n.e2 = v; break;
    default: n.e3 = v;
  }
}

/** The graph as `{ e0, e1, e2, e3, value }` objects. Resolves to { memory(), verify() }. */
export async function graphV8({ nodes, rounds, opsPerRound }, meter) {
  reseed();
  const newNode = () => ({ e0: null, e1: null, e2: null, e3: null, value: rng() >>> 2 });
  meter.begin();
  let index = new Array(nodes);
  for (let i = 0; i < nodes; i++) {
    const n = newNode();
    const k = 2 + (rng() % 3);
    if (i > 0) for (let j = 0; j < k; j++) setEdgeV8(n, j, index[rng() % i]);
    index[i] = n;
  }
  for (let i = 0; i < nodes; i++) {
    if ((rng() & 3) !== 0) continue;
    const target = index[rng() % nodes];
    if (index[i].e3 === null) index[i].e3 = target;
  }
  const roots = new Array(ROOTS);
  for (let r = 0; r < ROOTS; r++) roots[r] = index[rootIndex(nodes)];
  index = null;
  await meter.phaseEnd("build");

  const walker = makeWalker(roots, edgeV8, (n) => n.value);
  const walk = walker.walk;
  for (let round = 0; round < rounds; round++) {
    for (let op = 0; op < opsPerRound; op++) {
      const a = walk();
      const j = rng() & 3;
      const x = rng() & 7;
      let v = null;
      if (x < 3) {
        v = newNode();
        const k = 2 + (rng() % 3);
        for (let e = 0; e < k; e++) setEdgeV8(v, e, walk());
      } else if (x < 6) {
        v = walk();
      }
      setEdgeV8(a, j, v);
    }
    await meter.phaseEnd("rounds");
  }
  return {
    memory: () => ({}),
    verify() {
      const seen = new Set(roots);
      const stack = [...seen];
      let checksum = 0;
      while (stack.length > 0) {
        const n = stack.pop();
        checksum = (checksum + n.value) >>> 0;
        for (let j = 0; j < 4; j++) {
          const t = edgeV8(n, j);
          if (t !== null && !seen.has(t)) {
            seen.add(t);
            stack.push(t);
          }
        }
      }
      return { reachable: seen.size, checksum, walkSum: walker.sum() };
    },
  };
}

/** The same graph off heap: records of { e0 … e3: ref, value: u32 }. */
export async function graphOffheap({ nodes, rounds, opsPerRound, stepEvery }, lib, meter) {
  reseed();
  const heap = lib.newHeap();
  const gc = new lib.Collector(heap, lib.collectorOptions);
  const Node = lib.defineStruct({ e0: "ref", e1: "ref", e2: "ref", e3: "ref", value: "u32" });
  const RootTable = lib.defineStruct(Object.fromEntries(Array.from({ length: ROOTS }, (_, r) => [`r${r}`, "ref"])));
  const step = meter.stepper(gc);
  const cur = Node.at(heap, 0);
  const edge = (j) => {
    switch (j) {
      case 0: return cur.e0;
      case 1: return cur.e1;
      case 2: return cur.e2;
      default: return cur.e3;
    }
  };
  const setEdge = (j, v) => {
    switch (j) {
      case 0: cur.e0 = v; break;
      case 1: cur.e1 = v; break;
      case 2: cur.e2 = v; break;
      default: cur.e3 = v;
    }
  };
  const newNode = () => {
    const a = gc.alloc(Node);
    cur.addr = a;
    cur.value = rng() >>> 2;
    return a;
  };
  meter.begin();
  let index = new Uint32Array(nodes);
  for (let i = 0; i < nodes; i++) {
    const a = newNode();
    const k = 2 + (rng() % 3);
    if (i > 0) for (let j = 0; j < k; j++) setEdge(j, index[rng() % i]);
    index[i] = a;
  }
  for (let i = 0; i < nodes; i++) {
    if ((rng() & 3) !== 0) continue;
    const target = index[rng() % nodes];
    cur.addr = index[i];
    if (cur.e3 === 0) cur.e3 = target;
  }
  const table = gc.alloc(RootTable);
  heap.setRoot("graph", table);
  const tableCursor = RootTable.at(heap, table);
  const roots = new Uint32Array(ROOTS);
  for (let r = 0; r < ROOTS; r++) tableCursor[`r${r}`] = roots[r] = index[rootIndex(nodes)];
  index = null;
  await meter.phaseEnd("build");

  const walker = makeWalker(roots, (n, j) => {
    cur.addr = n;
    return edge(j);
  }, (n) => {
    cur.addr = n;
    return cur.value;
  });
  const walk = walker.walk;
  let sinceStep = 0;
  for (let round = 0; round < rounds; round++) {
    for (let op = 0; op < opsPerRound; op++) {
      const a = walk();
      const j = rng() & 3;
      const x = rng() & 7;
      let v = 0;
      if (x < 3) {
        v = newNode();
        const k = 2 + (rng() % 3);
        for (let e = 0; e < k; e++) {
          const t = walk();
          cur.addr = v;
          setEdge(e, t);
        }
      } else if (x < 6) {
        v = walk();
      }
      cur.addr = a;
      setEdge(j, v);
      if (++sinceStep === stepEvery) {
        sinceStep = 0;
        step();
      }
    }
    if (round === rounds - 1) await meter.finishCycle(step); // the pacer alone between rounds, as V8's own schedule
    await meter.phaseEnd("rounds");
  }
  return {
    memory: () => ({ committedBytes: heap.stats().committedBytes, collector: gc.stats() }),
    settle: () => meter.settle(gc),
    verify() {
      const seen = new Uint8Array((heap.u8.length >>> 3) + 1);
      const stack = [];
      for (const r of roots) {
        if (seen[r >>> 3] === 0) stack.push(r);
        seen[r >>> 3] = 1;
      }
      let reachable = stack.length;
      let checksum = 0;
      while (stack.length > 0) {
        cur.addr = stack.pop();
        checksum = (checksum + cur.value) >>> 0;
        for (let j = 0; j < 4; j++) {
          const t = edge(j);
          if (t !== 0 && seen[t >>> 3] === 0) {
            seen[t >>> 3] = 1;
            reachable++;
            stack.push(t);
          }
        }
      }
      // The root table is a collected block too.
      return { reachable, checksum, walkSum: walker.sum(), liveBlocks: gc.stats().liveBlocks - 1 };
    },
  };
}
