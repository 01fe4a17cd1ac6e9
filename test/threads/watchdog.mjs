// The main thread's watchdog for test/threads.test.ts. A heap call that never
// returns on the main thread (a lock that is never released) blocks its event
// loop, so no timer there can report it; this worker can. The main thread
// bumps beat[0] from a timer and names what it is doing in `label`; if the
// beat stops for `limitMs`, the watchdog writes the label and the workers'
// records straight to fd 2 (the main thread, which relays a worker's
// console, is stuck) and kills the process so the run fails instead of hanging.
//
// workerData: { beat (Int32Array: [0] heartbeat, [1] label length), label
// (Uint8Array, UTF-8), limitMs }. Messages: { records: [name, Int32Array, base][] }
// replaces the records to report.
import { writeSync } from "node:fs";
import { parentPort, workerData } from "node:worker_threads";
import { describeRecord } from "./common.mjs";

const { beat, label, limitMs, replay } = workerData;
let records = [];
parentPort.on("message", (m) => (records = m.records));
let last = Atomics.load(beat, 0);
let since = Date.now();
setInterval(() => {
  const now = Atomics.load(beat, 0);
  if (now !== last) {
    last = now;
    since = Date.now();
    return;
  }
  if (Date.now() - since < limitMs) return;
  const doing = new TextDecoder().decode(label.slice(0, Atomics.load(beat, 1)));
  const lines = records.map(([name, rec, base]) => `  ${name}: ${describeRecord(rec, base)}`);
  writeSync(2, `\nthreads.test watchdog (${replay}): the main thread has not run for ${limitMs} ms, inside: ${doing}\n${lines.join("\n")}\n`);
  process.kill(process.pid, "SIGKILL");
}, 200);
