// Shared by the benchmark entry points (run.mjs, buffers.mjs, traces.mjs):
// running one cell in its own process, options, tables and number formatting.
import { spawn } from "node:child_process";
import os from "node:os";

/**
 * Runs `node <args>` (or `command <args>` with `env`, for a native cell) as
 * one benchmark cell with a time limit. Resolves to
 * `{ ...base, wallS, status: "ok", ...the last JSON line of its stdout }`,
 * `{ status: "dnf", timeoutS }` if it ran out of time, or
 * `{ status: "error", error }` naming the thrown error's line.
 */
export function runCell(args, timeoutS, base, { command = process.execPath, env = process.env } = {}) {
  return new Promise((resolve) => {
    const started = performance.now();
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], env });
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    child.stdout.setEncoding("utf8").on("data", (s) => (stdout += s));
    child.stderr.setEncoding("utf8").on("data", (s) => (stderr += s));
    child.on("error", (err) => (stderr += `\nError: ${err.message}`)); // could not start (no such file); "close" follows
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutS * 1000);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const done = { ...base, wallS: (performance.now() - started) / 1000 };
      if (timedOut) return resolve({ ...done, status: "dnf", timeoutS });
      const line = stdout.trim().split("\n").findLast((l) => l.startsWith("{"));
      if (code === 0 && line) return resolve({ ...done, status: "ok", ...JSON.parse(line) });
      const lines = stderr.trim().split("\n");
      // The thrown error's own line ("RangeError: ..."), not the source line Node prints above it.
      const why = lines.find((l) => /^\w*Error\b.*: /.test(l)) ?? lines.find((l) => /Error|error:|abort/.test(l)) ?? lines.pop();
      resolve({ ...done, status: "error", error: `${signal ?? `exit ${code}`}: ${why || "no output"}` });
    });
  });
}

/**
 * Reads command-line options: `handlers` maps each option ("--only") to a
 * function called with `value()`, which takes the option's argument. Throws
 * RangeError for an option not in `handlers` (pointing at `script`'s opening
 * comment) or a missing argument.
 */
export function parseOptions(argv, handlers, script) {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const handler = handlers[arg];
    if (!handler) throw new RangeError(`unknown option ${arg} (see the first lines of ${script})`);
    handler(() => {
      if (i + 1 >= argv.length) throw new RangeError(`${arg} needs a value`);
      return argv[++i];
    });
  }
}

/** A comma-separated option value as a list of trimmed, non-empty names. */
export const optionList = (s) => s.split(",").map((x) => x.trim()).filter(Boolean);

/** The median of a non-empty array of numbers (the mean of the two middle ones for an even count). */
export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >>> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** A Markdown table; its first `textColumns` columns are left-aligned, the rest (numbers) right-aligned. */
export function markdownTable(header, rows, textColumns = 1) {
  const line = (cells) => `| ${cells.join(" | ")} |`;
  return [line(header), line(header.map((_, i) => (i < textColumns ? "---" : "--:"))), ...rows.map(line)].join("\n");
}

/** ns/op as the tables print it: 2 decimals below 1, 1 below 100, then grouped integers. */
export function fmtNs(ns) {
  if (ns < 1) return ns.toFixed(2);
  if (ns < 100) return ns.toFixed(1);
  return Math.round(ns).toLocaleString("en-US");
}

/** The machine a run measures on; taken at start, since other busy processes skew every cell and the load average makes that visible. */
export function machineInfo() {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model ?? "unknown CPU",
    cores: cpus.length,
    memGiB: os.totalmem() / 2 ** 30,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    loadAvg: os.loadavg()[0].toFixed(2),
  };
}

/** The "Machine: ..." line both reports print. */
export function machineLine(machine) {
  return `Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memGiB.toFixed(1)} GiB RAM, ${machine.os}; Node ${process.version}; load average ${machine.loadAvg} at start.`;
}
