// A module worker of test/browser-threads.test.ts that never touches the
// heap: it holds the control words, so the test can still ask what every
// thread was doing (globalThis.offheapProgress, via Playwright's
// worker.evaluate) when the page and the workers hang, for instance spinning
// on a heap lock that is never released.
import { progress } from "./common.mjs";

self.onmessage = (e) => {
  const control = e.data.control;
  globalThis.offheapProgress = () => progress(control);
};
