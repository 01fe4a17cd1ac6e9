// The package's "development" entry point (export condition "development",
// e.g. `node --conditions=development`): the same API as index.ts, with
// debug mode on for every heap made without a `debug` option.

import { debugDefaults } from "./heap/debug.js";

debugDefaults.debug = true;

export * from "./index.js";
