// One of the two racers of test/threads.test.ts's double-free test. Each
// round, both racers pass a barrier and free the same block at once; the
// result of each free goes to results[2 * round + role]: RES_OK, or the code
// of the error's class.
//
// workerData: { memory, ctrl (Int32Array: barrier words 0 and 1), blocks
// (Int32Array, one address per round), results (Int32Array), role (0 or 1),
// seed, allocBy ("main": the parent allocated every block up front;
// "racers": in each round one racer, chosen by the seed, allocates the block
// and patterns it, so the race is between the owner's local free and a
// remote one), reallocTo (optional, with allocBy "main": an Int32Array of
// a size per round that moves the round's block; racer 1 then reallocs the
// block to it instead of freeing it, and frees the moved block if it won) }.
// Posts { errors } (unexpected error messages) when done.
import { workerData, parentPort } from "node:worker_threads";
import { Heap } from "../../dist/index.js";
import {
  barrier, drawSize, RES_DOUBLE_FREE, RES_INVALID_ADDRESS, RES_OK, RES_OTHER, rng, subSeed, verifyPattern, writePattern,
} from "./common.mjs";

const { memory, ctrl, blocks, results, role, seed, allocBy, reallocTo } = workerData;
const reallocs = reallocTo !== undefined && role === 1;
const heap = Heap.attach(memory);
const errors = [];

for (let round = 0; round < blocks.length; round++) {
  // Both racers draw the same numbers from the round's seed: who allocates, and each one's delay.
  const next = rng(subSeed(seed, round));
  const allocator = next() < 0.5 ? 0 : 1;
  const delays = [Math.floor(next() * 64), Math.floor(next() * 64)];
  if (allocBy === "racers") {
    // The first barrier: the previous round's frees are both done, so the
    // new block cannot be the old address while a free of it is in flight.
    barrier(ctrl, 0, 2);
    if (role === allocator) {
      const size = drawSize(next);
      const a = heap.alloc(size);
      writePattern(heap, a, size);
      verifyPattern(heap, a, `racer ${role} round ${round}`);
      Atomics.store(blocks, round, a);
    }
  }
  barrier(ctrl, 0, 2);
  // The last to arrive leaves the barrier a few hundred nanoseconds ahead
  // of the spinning one and would win almost every round; a random delay of
  // up to that much on each side lets both orders and near-ties happen.
  for (let k = delays[role]; k > 0; k--) Atomics.load(ctrl, 1);
  const a = Atomics.load(blocks, round);
  let res = RES_OK;
  try {
    if (reallocs) heap.free(heap.realloc(a, reallocTo[round]));
    else heap.free(a);
  } catch (e) {
    if (e?.name === "DoubleFreeError") res = RES_DOUBLE_FREE;
    else if (e?.name === "InvalidAddressError") res = RES_INVALID_ADDRESS;
    else {
      res = RES_OTHER;
      if (errors.length < 10) errors.push(`round ${round}, ${reallocs ? "realloc" : "free"}(0x${a.toString(16)}): ${e?.name}: ${e?.message}`);
    }
  }
  results[2 * round + role] = res;
}
heap.detach();
parentPort.postMessage({ errors });
