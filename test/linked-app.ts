// An application for the tests of the package as users get it (bundler,
// published types): a temporary directory whose node_modules/offheap is a
// link to this repository, so that tools resolve "offheap" by name, through
// package.json "exports", "types" and "sideEffects".
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, unlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root (this file runs as build/test/linked-app.js). */
export const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** Makes the application directory; returns it and a function that removes it (the link first, so nothing behind it is touched). */
export function linkedApp(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const link = join(dir, "node_modules", "offheap");
  mkdirSync(join(dir, "node_modules"));
  symlinkSync(ROOT, link, "junction");
  return {
    dir,
    remove: () => {
      unlinkSync(link);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
