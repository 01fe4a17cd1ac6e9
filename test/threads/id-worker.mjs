// A worker of test/threads.test.ts whose code makes a Heap before it imports
// node:worker_threads itself: the Heap must still take the worker's
// threadId (heap/slots.ts currentThreadId tells a worker from the main
// thread by the modules its bootstrap loaded). Posts both ids.
import { Heap } from "../../dist/index.js";

const heapThreadId = new Heap({ maxSize: 4 << 20 }).threadId;
const { parentPort, threadId } = await import("node:worker_threads");
parentPort.postMessage({ heapThreadId, threadId });
