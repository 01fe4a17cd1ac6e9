// BufferList.writeTo (write-to.ts) against real node:stream Writables: one
// vectored write, backpressure, errors, and a promise that settles however
// the stream ends: destroyed, errored or ended before the call (refused,
// nothing written), destroyed while it waits, and ended while it waits.
// Run on Node 20 and 24.

import { test } from "node:test";
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { Writable } from "node:stream";
import { BufferList } from "../../src/buffers/buffer-list.js";
import { OffheapError, OffheapTypeError } from "../../src/errors.js";

function bytes(...values: number[]): Uint8Array {
  return Uint8Array.from(values);
}

function concat(bufs: readonly Uint8Array[]): Uint8Array {
  return Uint8Array.from(bufs.flatMap((b) => [...b]));
}

/** How `promise` settles within `ms`: "resolved", "rejected CODE" (or the message), or "pending". */
async function outcome(promise: Promise<void>, ms = 1000): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const pending = new Promise<string>((resolve) => (timer = setTimeout(() => resolve("pending"), ms)));
  const settled = promise.then(() => "resolved", (e: Error & { code?: string }) => `rejected ${e.code ?? e.message}`);
  try {
    return await Promise.race([settled, pending]);
  } finally {
    clearTimeout(timer);
  }
}

/** A Writable whose writes never complete (a stuck resource), with a highWaterMark of 1 so that writeTo waits. */
function stuck(options: { emitClose?: boolean; destroy?: (error: Error | null, callback: (error?: Error | null) => void) => void } = {}): Writable {
  return new Writable({ highWaterMark: 1, write: () => {}, ...options });
}

/** Fails unless writeTo left no listener on `stream`, nor any own property. */
function assertLeftAlone(stream: Writable): void {
  for (const event of ["drain", "error", "close"]) assert.equal(stream.listenerCount(event), 0, `no "${event}" listener left`);
  assert.equal(Object.hasOwn(stream, "destroy"), false, "destroy is the prototype's again");
}

test("writeTo rejects something that is no writable stream with OffheapTypeError", async () => {
  const list = new BufferList([bytes(3)]);
  for (const bad of [null, {}, 42, { write() { return true; } }]) {
    await assert.rejects(list.writeTo(bad as never), (e: Error) => e instanceof OffheapTypeError && /expected a writable stream/.test(e.message));
  }
});

test("writeTo makes one writev call on a Writable with _writev and resolves", async () => {
  const calls: Uint8Array[][] = [];
  const sink = new Writable({
    writev(chunks, callback) {
      calls.push(chunks.map((c) => c.chunk as Uint8Array));
      callback();
    },
  });
  const parts = [bytes(1, 2), new Uint8Array(0), Buffer.from([3]), bytes(4, 5, 6)];
  await new BufferList(parts).writeTo(sink);
  assert.equal(calls.length, 1, "a single writev");
  assert.equal(calls[0]!.length, 3, "one chunk per non-empty buffer");
  assert.deepEqual(concat(calls[0]!), bytes(1, 2, 3, 4, 5, 6));
});

test("writeTo writes every byte in order to a Writable without _writev, and an empty list writes nothing", async () => {
  const got: number[] = [];
  let writes = 0;
  const sink = new Writable({
    write(chunk: Buffer, _enc, callback) {
      writes++;
      got.push(...chunk);
      callback();
    },
  });
  await new BufferList([bytes(1), bytes(2, 3)]).writeTo(sink);
  await new BufferList([new Uint8Array(0)]).writeTo(sink);
  await new BufferList().writeTo(sink);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(got, [1, 2, 3]);
  assert.equal(writes, 2);
});

test("writeTo respects backpressure: with a small highWaterMark it resolves only after 'drain'", async () => {
  const events: string[] = [];
  let release: () => void = () => {};
  const sink = new Writable({
    highWaterMark: 4,
    write(chunk: Buffer, _enc, callback) {
      events.push(`write ${chunk.length}`);
      release = () => callback();
    },
  });
  sink.on("drain", () => events.push("drain"));
  let resolved = false;
  const done = new BufferList([new Uint8Array(3), new Uint8Array(5)]).writeTo(sink).then(() => {
    resolved = true;
  });
  await new Promise((r) => setImmediate(r));
  assert.equal(resolved, false, "still waiting: the stream's buffer is over its highWaterMark");
  release(); // first chunk written
  await new Promise((r) => setImmediate(r));
  assert.equal(resolved, false);
  release(); // second chunk written: drain
  await done;
  assert.deepEqual(events, ["write 3", "write 5", "drain"]);
  assert.equal(sink.listenerCount("error"), 0, "writeTo removed its listeners");
  assert.equal(sink.listenerCount("close"), 0);
});

test("writeTo resolves at once when the stream accepts the data under its highWaterMark", async () => {
  const sink = new Writable({ highWaterMark: 1024, write: (_c, _e, cb) => setTimeout(cb, 5) });
  let resolved = false;
  const p = new BufferList([new Uint8Array(10)]).writeTo(sink).then(() => (resolved = true));
  await Promise.resolve();
  await Promise.resolve();
  assert.equal(resolved, true);
  await p;
});

test("writeTo rejects with the stream's error and when the stream is destroyed", async () => {
  const failing = new Writable({
    highWaterMark: 1,
    writev(_chunks, callback) {
      setImmediate(() => callback(new Error("disk full")));
    },
  });
  failing.on("error", () => {}); // the stream also emits it
  await assert.rejects(new BufferList([bytes(1), bytes(2)]).writeTo(failing), /disk full/);

  const destroyed = new Writable({ write: (_c, _e, cb) => cb() });
  destroyed.on("error", () => {});
  destroyed.destroy();
  const closedCodes = ["ERR_STREAM_DESTROYED", "ERR_STREAM_PREMATURE_CLOSE"];
  await assert.rejects(new BufferList([bytes(1)]).writeTo(destroyed), (e: Error & { code?: string }) => closedCodes.includes(e.code!));

  const closing = new Writable({ highWaterMark: 1, write: () => {} }); // never calls back
  const p = new BufferList([bytes(1, 2)]).writeTo(closing);
  setImmediate(() => closing.destroy());
  await assert.rejects(p, (e: Error & { code?: string }) => e instanceof OffheapError && e.code === "ERR_STREAM_PREMATURE_CLOSE");
});

test("writeTo rejects with the error a stream is destroyed with while it waits, emitClose or not, with no 'error' listener of the caller's", async () => {
  for (const emitClose of [true, false]) {
    const sink = stuck({ emitClose });
    const p = new BufferList([bytes(1, 2)]).writeTo(sink);
    setImmediate(() => sink.destroy(new Error("reset by peer")));
    assert.equal(await outcome(p), "rejected reset by peer", `emitClose ${emitClose}`);
    assertLeftAlone(sink);
  }
});

test("writeTo resolves when end() is called while it waits: the data is written, though no 'drain' comes", async () => {
  for (const emitClose of [true, false]) {
    const got: number[] = [];
    const sink = new Writable({ emitClose, highWaterMark: 1, write: (chunk: Buffer, _e, cb) => { got.push(...chunk); setTimeout(cb, 5); } });
    const p = new BufferList([bytes(1), bytes(2, 3)]).writeTo(sink);
    sink.end();
    assert.equal(await outcome(p), "resolved", `emitClose ${emitClose}`);
    assert.deepEqual(got, [1, 2, 3]);
    assertLeftAlone(sink);
  }
});

test("writeTo refuses a stream destroyed, errored or ended before the call, writing nothing and changing nothing", async () => {
  const failure = new Error("disk full");
  const cases: [string, () => Writable, string][] = [
    ["destroyed", () => new Writable({ write: (_c, _e, cb) => cb() }).destroy(), "rejected ERR_STREAM_DESTROYED"],
    ["destroyed, emitClose: false", () => new Writable({ emitClose: false, write: (_c, _e, cb) => cb() }).destroy(), "rejected ERR_STREAM_DESTROYED"],
    ["errored", () => new Writable({ write: (_c, _e, cb) => cb() }).on("error", () => {}).destroy(failure), "rejected disk full"],
    ["errored, autoDestroy: false", () => new Writable({ autoDestroy: false, write: (_c, _e, cb) => cb() }).on("error", () => {}).destroy(failure), "rejected disk full"],
    ["ended, a write still in flight", () => { const s = stuck(); s.write(bytes(9)); return s.end(); }, "rejected ERR_STREAM_WRITE_AFTER_END"],
  ];
  for (const [what, make, want] of cases) {
    const sink = make();
    await new Promise((r) => setImmediate(r));
    const destroyed = sink.destroyed;
    let writes = 0;
    const write = sink.write.bind(sink);
    sink.write = ((...args: Parameters<Writable["write"]>) => (writes++, write(...args))) as Writable["write"];
    const errors: Error[] = [];
    sink.on("error", (e) => errors.push(e));
    assert.equal(await outcome(new BufferList([bytes(1), bytes(2)]).writeTo(sink)), want, what);
    assert.equal(await outcome(new BufferList().writeTo(sink)), want, `${what}, an empty list`);
    await new Promise((r) => setImmediate(r));
    assert.equal(writes, 0, `${what}: nothing written`);
    assert.deepEqual(errors, [], `${what}: no "error" emitted`);
    assert.equal(sink.destroyed, destroyed, `${what}: not destroyed by the call`);
  }
});

test("writeTo on a stream-like object of its own (frozen) settles by its events", async () => {
  const emitter = new EventEmitter();
  const frozen = Object.freeze({
    write: (_chunk: Uint8Array) => false,
    once: (event: string, listener: (error?: Error) => void) => emitter.once(event, listener),
    removeListener: (event: string, listener: (error?: Error) => void) => emitter.removeListener(event, listener),
    destroy: () => emitter.emit("close"),
  });
  const p = new BufferList([bytes(1)]).writeTo(frozen);
  frozen.destroy();
  assert.equal(await outcome(p), "rejected ERR_STREAM_PREMATURE_CLOSE");
});
