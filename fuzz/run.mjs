// Fuzzer: seeded random programs against every allocator of the built
// package (dist/, imported through the package's own exports), with
// validators after every step and deliberate misuse that must raise its
// typed error (class and code) and leave the structure valid and unchanged.
//
//   npm run fuzz -- [--seconds N] [--seed S] [--from S] [--target NAME] [--steps N] [--trace] [--quiet]
//
//   --seconds N  run programs for N seconds (default 10); each starts only
//                if time is left, so a run ends within about one program
//   --seed S     replay the one program of seed S (its target follows from
//                the seed) and stop; --trace prints each step it runs
//   --from S     first seed of the run (default: a random one, printed);
//                program k of a run has seed from + k (with --target, the
//                k-th seed of that target from there)
//   --target T   run only programs of target T (see TARGETS below)
//   --steps N    steps per program (default: each target's own)
//   --quiet      print only failures and the summary
//
// A program is a target (heap, heap-debug, heap-links, range-treap, range-avl, buddy,
// scalable, recyclable, map, array, reader, collector) and a seed; the seed alone decides
// every choice, so a failure replays with `--seed S`. On failure the
// fuzzer prints the seed, target, step and operation, the replay command,
// and exits 1. At the end it prints the programs and steps run and how many
// misuses of each kind were caught. Exit code 0: every program passed.
//
// Files: lib.mjs (generator, expectations), heap.mjs, links.mjs, buffers.mjs,
// collections.mjs, readers.mjs, collector.mjs (the programs). Build first: `npm run build`.
import { heapProgram } from "./heap.mjs";
import { linksProgram } from "./links.mjs";
import { buddyProgram, rangeProgram, scalableProgram } from "./buffers.mjs";
import { arrayProgram, mapProgram } from "./collections.mjs";
import { readerProgram } from "./readers.mjs";
import { collectorProgram } from "./collector.mjs";
import { Program } from "./lib.mjs";

/** Target name -> [default steps, program]. The order is the rotation: seed % TARGETS.length picks the target. */
const TARGETS = [
  ["heap", 400, (p, n) => heapProgram(p, n, { debug: false })],
  ["heap-debug", 250, (p, n) => heapProgram(p, n, { debug: true })],
  ["heap-links", 300, (p, n) => linksProgram(p, n)],
  ["range-treap", 1500, (p, n) => rangeProgram(p, n, { index: "treap" })],
  ["range-avl", 1500, (p, n) => rangeProgram(p, n, { index: "avl" })],
  ["buddy", 1500, (p, n) => buddyProgram(p, n)],
  ["scalable", 500, (p, n) => scalableProgram(p, n, { recyclable: false })],
  ["recyclable", 500, (p, n) => scalableProgram(p, n, { recyclable: true })],
  ["map", 800, (p, n) => mapProgram(p, n)],
  ["array", 800, (p, n) => arrayProgram(p, n)],
  ["reader", 600, (p, n) => readerProgram(p, n)],
  ["collector", 300, (p, n) => collectorProgram(p, n)],
];

function parseArgs(argv) {
  const opts = { seconds: 10, seed: null, from: null, target: null, steps: null, trace: false, quiet: false };
  const u32 = (name, v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError(`${name} must be an integer in [0, 2^32), got ${v}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new RangeError(`${arg} needs a value`);
      return argv[++i];
    };
    if (arg === "--seconds") {
      opts.seconds = Number(value());
      if (!(opts.seconds > 0)) throw new RangeError("--seconds must be a positive number");
    } else if (arg === "--seed") opts.seed = u32("--seed", value());
    else if (arg === "--from") opts.from = u32("--from", value());
    else if (arg === "--steps") opts.steps = u32("--steps", value());
    else if (arg === "--target") {
      opts.target = value();
      if (!TARGETS.some(([name]) => name === opts.target)) throw new RangeError(`--target: unknown target "${opts.target}" (${TARGETS.map(([n]) => n).join(", ")})`);
    } else if (arg === "--trace") opts.trace = true;
    else if (arg === "--quiet") opts.quiet = true;
    else throw new RangeError(`unknown option ${arg} (see the first lines of fuzz/run.mjs)`);
  }
  return opts;
}

const hex32 = (n) => `0x${(n >>> 0).toString(16).padStart(8, "0")}`;

function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error(`fuzz: ${e.message}`);
    process.exit(2);
  }
  const counts = { steps: 0, misuse: new Map(), events: new Map() };
  const perTarget = new Map(TARGETS.map(([name]) => [name, 0]));
  const started = performance.now();
  const from = opts.seed ?? opts.from ?? ((Math.random() * 2 ** 32) >>> 0);
  if (!opts.quiet) console.log(`fuzz: Node ${process.version}; ${opts.seed !== null ? `replaying seed ${opts.seed}` : `${opts.seconds} s from seed ${from} (${hex32(from)})`}`);

  let programs = 0;
  for (let k = 0; ; k++) {
    if (opts.seed !== null ? k > 0 : (performance.now() - started) / 1000 >= opts.seconds) break;
    let seed = (from + k) >>> 0;
    if (opts.target !== null && opts.seed === null) {
      // Keep the seed sequence's spacing: the k-th program of a one-target run is the k-th seed of that target.
      const t = TARGETS.findIndex(([name]) => name === opts.target);
      seed = (from - (from % TARGETS.length) + t + k * TARGETS.length) >>> 0;
    }
    const [target, defaultSteps, run] = TARGETS[seed % TARGETS.length];
    const p = new Program(seed, target, counts, opts.trace);
    const steps = opts.steps ?? defaultSteps;
    const misusesBefore = [...counts.misuse.values()].reduce((a, b) => a + b, 0);
    const t0 = performance.now();
    if (!opts.quiet) process.stdout.write(`#${programs + 1} seed ${seed} ${target}${opts.trace ? "\n" : ""}`); // before running: a hang still shows the seed
    try {
      run(p, steps);
    } catch (e) {
      console.error(`\nFAIL program #${programs + 1}, seed ${seed} (${hex32(seed)}), target ${target}${p.note ? ` (${p.note})` : ""}, step ${p.step} (${p.op}):`);
      console.error(e instanceof Error ? e.stack : String(e));
      console.error(`replay: npm run fuzz -- --seed ${seed} --trace${opts.steps !== null ? ` --steps ${opts.steps}` : ""}`);
      process.exit(1);
    }
    programs++;
    perTarget.set(target, perTarget.get(target) + 1);
    if (!opts.quiet) {
      const misuses = [...counts.misuse.values()].reduce((a, b) => a + b, 0) - misusesBefore;
      console.log(`${p.note ? ` (${p.note})` : ""}: ${steps} steps, ${misuses} misuses caught, ${((performance.now() - t0) / 1000).toFixed(2)} s`);
    }
  }

  const seconds = (performance.now() - started) / 1000;
  const rows = (m) => [...m].sort((a, b) => a[0].localeCompare(b[0])).map(([kind, n]) => `  ${kind.padEnd(58)} ${String(n).padStart(8)}`);
  const total = [...counts.misuse.values()].reduce((a, b) => a + b, 0);
  // Totals last, so that the tail of the output (what CI keeps) ends with them.
  console.log("\nmisuses caught, by kind (each raised its typed error and code, and left the structure unchanged and valid):");
  for (const line of rows(counts.misuse)) console.log(line);
  if (counts.events.size > 0) {
    console.log("other events (expected):");
    for (const line of rows(counts.events)) console.log(line);
  }
  console.log(`programs per target: ${[...perTarget].filter(([, n]) => n > 0).map(([t, n]) => `${t} ${n}`).join(", ")}`);
  console.log(`fuzz: ok: ${programs} programs, ${counts.steps} steps, ${total} misuses caught in ${seconds.toFixed(1)} s (Node ${process.version}), from seed ${from}${opts.target ? `, target ${opts.target}` : ""}`);
}

main();
