// GoMem's buffer-list and reader suites (WORKLOADS.md, "GoMem suites").
//
// As in alloc-suites.mjs, make(impl, lib) returns run(n), n iterations of one
// body, and the JS baseline is an adapter with the same method names, so both
// run the same body: JsList keeps an array of chunks (toBytes = Buffer.concat,
// copyTo = set chunk by chunk), JsReader concatenates its chunks with
// Buffer.concat when built and then reads the one Buffer with subarray,
// indexing and Buffer's read methods: what a program without a multi-chunk
// reader does. readBytes copies in both (GoMem's ReadBytes and ours do).

// Lists grow without bound in GoMem's PushOne and Push (b.N pushes on one
// list); here both lists are reset every RESET_EVERY iterations, so a long run
// does not measure a growing array's memory traffic instead of the push.
const RESET_EVERY = 1 << 16;

let escaped = null;

// Buffer#slice makes a view; this is the typed-array slice, which copies.
const U8_SLICE = Uint8Array.prototype.slice;

class JsList {
  constructor() {
    this.chunks = [];
    this.size = 0;
  }
  get count() {
    return this.chunks.length;
  }
  pushOne(chunk) {
    this.chunks.push(chunk);
    this.size += chunk.length;
  }
  push(...chunks) {
    for (const c of chunks) this.pushOne(c);
  }
  toBytes() {
    return Buffer.concat(this.chunks, this.size);
  }
  copyTo(target) {
    let off = 0;
    for (const c of this.chunks) {
      target.set(c, off);
      off += c.length;
    }
    return off;
  }
  range(cb) {
    for (const c of this.chunks) cb(c);
  }
  reset() {
    this.chunks = [];
    this.size = 0;
  }
}

class JsReader {
  constructor(list) {
    this.buf = Buffer.concat(list.chunks, list.size);
    this.pos = 0;
  }
  get remaining() {
    return this.buf.length - this.pos;
  }
  read(target) {
    const n = Math.min(target.length, this.buf.length - this.pos);
    target.set(this.buf.subarray(this.pos, this.pos + n));
    this.pos += n;
    return n;
  }
  readByte() {
    if (this.pos >= this.buf.length) throw new RangeError("end of data");
    return this.buf[this.pos++];
  }
  readBytes(n) {
    if (this.pos + n > this.buf.length) throw new RangeError("end of data");
    const v = U8_SLICE.call(this.buf, this.pos, this.pos + n); // a copy, as BufferReader.readBytes
    this.pos += n;
    return v;
  }
  readUint32BE() {
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  skip(n) {
    if (this.pos + n > this.buf.length) throw new RangeError("end of data");
    this.pos += n;
  }
  range(cb) {
    cb(this.buf.subarray(this.pos));
  }
  rangeN(n, cb) {
    cb(this.buf.subarray(this.pos, this.pos + n));
  }
  readLEB128() {
    let v = 0;
    let shift = 0;
    for (;;) {
      const b = this.readByte();
      v += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return v;
      shift += 7;
    }
  }
}

const listOf = (impl, lib) => (impl === "js" ? new JsList() : new lib.BufferList());

/** A list of `count` chunks of `sizeBytes` (zeros) for impl. */
function filledList(impl, lib, count, sizeBytes, fill) {
  const list = listOf(impl, lib);
  for (let i = 0; i < count; i++) {
    const chunk = new Uint8Array(sizeBytes);
    if (fill) fill(chunk);
    list.pushOne(chunk);
  }
  return list;
}

/** A new reader over `list` for impl; what each iteration of a reader suite builds. */
function readerFactory(impl, lib, list) {
  if (impl === "js") return () => new JsReader(list);
  const { BufferReader } = lib;
  return () => new BufferReader(list);
}

function readerSuite(chunks, sizeBytes, body, fill) {
  return (impl, lib) => body(readerFactory(impl, lib, filledList(impl, lib, chunks, sizeBytes, fill)));
}

/** Buffer list and reader. */
export const LIST_GROUPS = [
  {
    id: "list",
    title: "Buffer list",
    impls: ["offheap"],
    needs: ["BufferList"],
    gomemColumns: ["GoMem"],
    note: "JS baseline: an array of chunks; toBytes = `Buffer.concat`, copyTo = `set` chunk by chunk. PushOne and Push reset both lists every " +
      `${RESET_EVERY.toLocaleString("en-US")} iterations (GoMem's list grows for the whole run).`,
    suites: [
      {
        name: "PushOne",
        gomem: [35],
        js: true,
        make: (impl, lib) => {
          const list = listOf(impl, lib);
          const data = new Uint8Array(1024);
          let k = 0;
          return (n) => {
            let sink = 0;
            for (let i = 0; i < n; i++) {
              list.pushOne(data);
              if (++k === RESET_EVERY) {
                sink += list.size;
                list.reset();
                k = 0;
              }
            }
            return sink + list.size;
          };
        },
      },
      {
        name: "Push",
        gomem: [70],
        js: true,
        make: (impl, lib) => {
          const list = listOf(impl, lib);
          const data1 = new Uint8Array(512);
          const data2 = new Uint8Array(512);
          let k = 0;
          return (n) => {
            let sink = 0;
            for (let i = 0; i < n; i++) {
              list.push(data1, data2);
              if (++k === RESET_EVERY) {
                sink += list.size;
                list.reset();
                k = 0;
              }
            }
            return sink + list.size;
          };
        },
      },
      {
        name: "ToBytes",
        gomem: [11806],
        js: true,
        make: (impl, lib) => {
          const list = filledList(impl, lib, 100, 1024);
          return (n) => {
            let sink = 0;
            for (let i = 0; i < n; i++) {
              const bytes = list.toBytes();
              escaped = bytes;
              sink += bytes.length;
            }
            return sink;
          };
        },
      },
      {
        name: "CopyTo",
        gomem: [2905],
        js: true,
        make: (impl, lib) => {
          const list = filledList(impl, lib, 100, 1024);
          const target = new Uint8Array(list.size);
          return (n) => {
            let sink = 0;
            for (let i = 0; i < n; i++) {
              list.copyTo(target);
              sink += target[i & 1023];
            }
            return sink;
          };
        },
      },
      {
        name: "Count",
        gomem: [0.32],
        js: true,
        make: (impl, lib) => {
          const list = filledList(impl, lib, 100, 1024);
          return (n) => {
            let sink = 0;
            for (let i = 0; i < n; i++) sink += list.count;
            return sink;
          };
        },
      },
      {
        name: "Range",
        gomem: [36],
        js: true,
        make: (impl, lib) => {
          const list = filledList(impl, lib, 100, 1024);
          let total = 0;
          const visit = (chunk) => {
            total += chunk.length;
          };
          return (n) => {
            for (let i = 0; i < n; i++) list.range(visit);
            return total;
          };
        },
      },
    ],
  },
  {
    id: "reader",
    title: "Reader (each iteration builds a new reader)",
    impls: ["offheap"],
    needs: ["BufferReader", "BufferList"],
    gomemColumns: ["GoMem"],
    note: "Ours: `new BufferReader(list)` over a BufferList of the suite's chunks. JS baseline: `Buffer.concat` of the same chunks " +
      "(a copy even of a single 1 KiB chunk), then `subarray`, indexing and `readUInt32BE` on the one Buffer; readBytes copies " +
      "in both (typed-array `slice` for the baseline).",
    suites: [
      {
        name: "Read",
        gomem: [112],
        js: true,
        make: readerSuite(3, 1024, (newReader) => {
          const readBuf = new Uint8Array(1024);
          return (n) => {
            let sink = 0;
            for (let i = 0; i < n; i++) {
              const r = newReader();
              while (r.remaining > 0) {
                const k = r.read(readBuf);
                if (k === 0) break;
                sink += k + readBuf[0];
              }
            }
            return sink;
          };
        }),
      },
      {
        name: "ReadByte",
        gomem: [2235],
        js: true,
        make: readerSuite(1, 1024, (newReader) => (n) => {
          let sink = 0;
          for (let i = 0; i < n; i++) {
            const r = newReader();
            while (r.remaining > 0) sink += r.readByte();
          }
          return sink;
        }, (c) => c.forEach((_, i) => (c[i] = i))),
      },
      {
        name: "ReadBytes",
        gomem: [609],
        js: true,
        make: readerSuite(1, 1024, (newReader) => (n) => {
          let sink = 0;
          for (let i = 0; i < n; i++) {
            const r = newReader();
            while (r.remaining > 0) {
              const v = r.readBytes(64);
              escaped = v;
              sink += v.length;
            }
          }
          return sink;
        }),
      },
      {
        name: "ReadBE",
        gomem: [3587],
        js: true,
        make: readerSuite(1, 1024, (newReader) => (n) => {
          let sink = 0;
          for (let i = 0; i < n; i++) {
            const r = newReader();
            while (r.remaining >= 4) sink += r.readUint32BE();
          }
          return sink;
        }, (c) => c.forEach((_, i) => (c[i] = i))),
      },
      {
        name: "Skip",
        gomem: [126],
        js: true,
        make: readerSuite(1, 1024, (newReader) => (n) => {
          let sink = 0;
          for (let i = 0; i < n; i++) {
            const r = newReader();
            while (r.remaining > 0) {
              r.skip(64);
              sink++;
            }
          }
          return sink;
        }),
      },
      {
        name: "Range",
        gomem: [71],
        js: true,
        make: readerSuite(2, 512, (newReader) => {
          let total = 0;
          const visit = (chunk) => {
            total += chunk.length;
          };
          return (n) => {
            for (let i = 0; i < n; i++) newReader().range(visit);
            return total;
          };
        }),
      },
      {
        name: "RangeN",
        gomem: [79],
        js: true,
        make: readerSuite(2, 512, (newReader) => {
          let total = 0;
          const visit = (chunk) => {
            total += chunk.length;
          };
          return (n) => {
            for (let i = 0; i < n; i++) newReader().rangeN(2, visit);
            return total;
          };
        }),
      },
      {
        name: "LEB128",
        gomem: [3052],
        js: true,
        make: readerSuite(1, 1024, (newReader) => (n) => {
          let sink = 0;
          for (let i = 0; i < n; i++) {
            const r = newReader();
            while (r.remaining > 0) sink += r.readLEB128();
          }
          return sink;
        }, (c) => c.forEach((_, i) => (c[i] = i % 128))),
      },
    ],
  },
];

/** Keeps `escaped` observable, so a body's stores to it cannot be dropped. */
export function escapedLength() {
  return escaped === null ? 0 : escaped.length;
}
