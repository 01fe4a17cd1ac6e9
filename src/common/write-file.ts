// Files, for the heap image (heap/image-file.ts) and the tools (heap map,
// heap profile): Node only, through a dynamic import of node:fs on first
// use, so the package still loads in browsers.

import { OffheapTypeError } from "../errors.js";

// The slice of node:fs/promises used here, typed locally: src/ is compiled
// without Node's types.
interface Fs {
  writeFile(path: string, data: Uint8Array): Promise<void>;
}

/**
 * node:fs/promises, typed as the caller's slice `T` of it; `api` names the
 * caller in the OffheapTypeError thrown where the platform has no node:fs.
 */
export async function nodeFs<T>(api: string): Promise<T> {
  const specifier = "node:fs/promises"; // a variable, so bundlers for browsers leave it alone
  try {
    return (await import(specifier)) as T;
  } catch {
    throw new OffheapTypeError(`${api}: this platform has no node:fs`);
  }
}

/**
 * Writes `bytes` to the file `path`; `api` names the caller in errors.
 * Rejects with TypeError for a path that is not a string or a platform
 * without node:fs, and with the fs error (e.g. ENOENT) if the file cannot
 * be written.
 */
export async function writeFileBytes(api: string, path: unknown, bytes: Uint8Array): Promise<void> {
  if (typeof path !== "string") throw new OffheapTypeError(`${api}: path must be a string, got ${typeof path}`);
  const fs = await nodeFs<Fs>(api);
  await fs.writeFile(path, bytes);
}
