// Runs the compiled test suite: every build/test/**/*.test.js under Node's
// built-in test runner with the spec reporter.
//
//   node scripts/run-tests.mjs [extra node --test args...]
//
// `npm test` builds first (its pretest empties build/ and dist/, then
// compiles src and test into them). A compiled test whose source under test/
// is gone (deleted or renamed) is refused rather than run.
// The file list is found here rather than by `node --test` globbing, which
// Node 20 does not support; arguments given to this script go to
// `node --test` before the file list (e.g. --test-name-pattern=attach).
// Exits with the test runner's exit code.
import { spawn } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../", import.meta.url));
const testDir = join(root, "build", "test");

function findTests(dir) {
  const found = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...findTests(path));
    else if (entry.isFile() && entry.name.endsWith(".test.js")) found.push(path);
  }
  return found;
}

if (!existsSync(testDir)) {
  console.error(`run-tests: ${relative(root, testDir)} does not exist; run "npm test" (it builds first) or "npx tsc -p tsconfig.test.json"`);
  process.exit(1);
}
const files = findTests(testDir).sort();
if (files.length === 0) {
  console.error(`run-tests: no *.test.js files under ${relative(root, testDir)}`);
  process.exit(1);
}

const stale = files.filter((f) => !existsSync(join(root, relative(join(root, "build"), f)).replace(/\.js$/, ".ts")));
if (stale.length > 0) {
  console.error(`run-tests: ${stale.map((f) => relative(root, f)).join(", ")}: no such test under test/ (deleted or renamed); run "npm test", which empties build/ first`);
  process.exit(1);
}

const args = ["--test", "--test-reporter=spec", ...process.argv.slice(2), ...files.map((f) => relative(root, f))];
const child = spawn(process.execPath, args, { cwd: root, stdio: "inherit" });
child.on("error", (err) => {
  console.error(`run-tests: cannot start ${process.execPath}: ${err.message}`);
  process.exit(1);
});
child.on("exit", (code, signal) => {
  if (signal) {
    console.error(`run-tests: test runner killed by ${signal}`);
    process.exit(1);
  }
  process.exit(code ?? 1);
});
