#!/usr/bin/env node
// The offheap command line (package.json "bin"): `offheap map <image-file>
// -o heap.html`. Node only; reaches node:fs through the modules it calls,
// never by a static import. See heap/heap.ts for an overview.

import { writeHeapMap } from "./debug/write-heap-map.js";
import { heapSnapshot } from "./heap/snapshot.js";
import { HeapCorruptionError, InvalidImageError } from "./errors.js";
import { Heap } from "./heap/heap.js";

// The slice of Node's process used here, typed locally: src/ is compiled
// without Node's types.
interface Process {
  argv: string[];
  exitCode?: number | undefined;
  stdout: { write(text: string): boolean };
  stderr: { write(text: string): boolean };
}
const proc = (globalThis as unknown as { process: Process }).process;

const USAGE = `Usage: offheap map <image-file> [-o <out.html>] [-t <title>]

Draws a heap image file, as written by heap.save(path), as one self-contained
HTML page: every page of the heap a cell coloured by what owns it, per-class
bars of live and free bytes, and the heap's statistics. Open it in a browser.

Options:
  -o, --output <file>  where to write the page (default: <image-file>.html)
  -t, --title <text>   the page's title (default: "heap map of <image-file>")
  -h, --help           print this help

Exit status: 0 when the page is written; 1 when the image file is missing,
unreadable, not a heap image or damaged, or the page cannot be written;
2 for a usage error.
`;

class UsageError extends Error {}

interface MapArgs {
  image: string;
  output: string;
  title: string;
}

// Parses the arguments after "map"; null means --help.
function parseMapArgs(args: string[]): MapArgs | null {
  let image: string | undefined;
  let output: string | undefined;
  let title: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const eq = arg.startsWith("--") ? arg.indexOf("=") : -1;
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const value = (): string => {
      const v = eq > 0 ? arg.slice(eq + 1) : args[++i];
      if (v === undefined || v === "") throw new UsageError(`${flag} needs a value`);
      return v;
    };
    if (flag === "-h" || flag === "--help") return null;
    else if (flag === "-o" || flag === "--output") output = value();
    else if (flag === "-t" || flag === "--title") title = value();
    else if (arg.startsWith("-") && arg !== "-") throw new UsageError(`unknown option ${arg}`);
    else if (image === undefined) image = arg;
    else throw new UsageError(`one image file expected, got ${JSON.stringify(image)} and ${JSON.stringify(arg)}`);
  }
  if (image === undefined) throw new UsageError("no image file given");
  return { image, output: output ?? `${image}.html`, title: title ?? `heap map of ${image}` };
}

async function map(args: MapArgs): Promise<number> {
  let heap: Heap;
  try {
    heap = await Heap.load(args.image);
    heap.check();
  } catch (err) {
    if (err instanceof InvalidImageError) return fail(err.message);
    if (err instanceof HeapCorruptionError) return fail(`${args.image} holds a damaged heap: ${err.message}`);
    return fail(`cannot read ${args.image}: ${message(err)}`);
  }
  const snapshot = heapSnapshot(heap);
  let written: number;
  try {
    written = await writeHeapMap(args.output, snapshot, { title: args.title });
  } catch (err) {
    return fail(`cannot write ${args.output}: ${message(err)}`);
  }
  const pages = snapshot.endPage - snapshot.firstDataPage;
  proc.stdout.write(`offheap map: wrote ${args.output} (${written} bytes): ${pages} pages, ${snapshot.spans.length} spans and free runs, ${snapshot.stats.liveBlocks} live blocks\n`);
  return 0;
}

function fail(text: string): number {
  proc.stderr.write(`offheap map: ${text}\n`);
  return 1;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === "-h" || command === "--help" || command === "help") {
    proc.stdout.write(USAGE);
    return 0;
  }
  try {
    if (command !== "map") throw new UsageError(command === undefined ? "no command given" : `unknown command ${JSON.stringify(command)}`);
    const args = parseMapArgs(rest);
    if (args === null) {
      proc.stdout.write(USAGE);
      return 0;
    }
    return await map(args);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    proc.stderr.write(`offheap: ${err.message}\n\n${USAGE}`);
    return 2;
  }
}

proc.exitCode = await main(proc.argv.slice(2));
