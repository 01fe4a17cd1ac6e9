// The committed traces (data/NAME.trace.gz, recorded by record.sh): what
// program made each one, on what input. Counts (ops, peak live bytes) are
// computed from the files themselves (trace-file.mjs traceStats).

/** One entry per trace, in table order. */
export const TRACES = [
  {
    name: "python-index",
    kind: "interpreter, large live set",
    program: "CPython 3.11.2 (PYTHONMALLOC=malloc), programs/py-index.py",
    input: "first 3,000,000 bytes of typescript.js (typescript 5.9.3): tokenize, index every token's positions, JSON round trip, all kept live",
  },
  {
    name: "python-lines",
    kind: "interpreter, small live set",
    program: "CPython 3.11.2 (PYTHONMALLOC=malloc), programs/py-lines.py",
    input: "first 1,000,000 bytes of typescript.js, streamed line by line: regex substitution, word split, counters",
  },
  {
    name: "perl-words",
    kind: "interpreter, text processing",
    program: "perl 5.36.0, programs/perl-words.pl",
    input: "first 1,000,000 bytes of typescript.js: word and bigram counts in hashes, sorted top 10",
  },
  {
    name: "sqlite-lines",
    kind: "database",
    program: "sqlite3 3.40.1, :memory:, programs/sqlite-lines.sql",
    input: "all 200,276 lines of typescript.js as CSV rows: import, copy into a table, two indexes, group-by, LIKE and self-join queries",
  },
  {
    name: "gcc-wrapt",
    kind: "compiler",
    program: "cc1 of gcc 12.2.0, -O2 -c",
    input: "wrapt 2.1.2's _wrappers.c (115,800 bytes, a CPython extension) with the Python 3.11 headers",
  },
  {
    name: "git-log",
    kind: "short run",
    program: "git 2.39, git log -p --stat",
    input: "this repository's history up to a73b611 (79 commits)",
  },
];
