// Every suite of the buffers benchmark, grouped as in WORKLOADS.md ("GoMem suites").
//
// A group: { id, title, impls (ours: "treap"/"avl" or "offheap"), needs
// (classes from the build), gomemColumns, note, suites }; a suite: { name,
// gomem (published ns/op, one per GoMem column), js (has a JS baseline),
// make(impl, lib) -> run(n) }.
import { ALLOC_GROUPS, GOMEM_MACHINE, escapedLength as allocEscaped } from "./alloc-suites.mjs";
import { LIST_GROUPS, escapedLength as listEscaped } from "./list-suites.mjs";

export { GOMEM_MACHINE };

/** All groups, in the order of WORKLOADS.md. */
export const GROUPS = [...ALLOC_GROUPS, ...LIST_GROUPS];

/** The group and suite named; throws RangeError naming the choices if there is none. */
export function findSuite(groupId, suiteName) {
  const group = GROUPS.find((g) => g.id === groupId);
  if (!group) throw new RangeError(`unknown group "${groupId}" (${GROUPS.map((g) => g.id).join(", ")})`);
  const suite = group.suites.find((s) => s.name === suiteName);
  if (!suite) throw new RangeError(`unknown suite "${groupId}/${suiteName}" (${group.suites.map((s) => s.name).join(", ")})`);
  return { group, suite };
}

/** Length of the last view the bodies stored aside; read once per cell, so those stores are observable. */
export function escapedLength() {
  return allocEscaped() + listEscaped();
}
