#!/bin/sh
# Re-records the committed traces in bench/traces/data/ (see bench/README.md,
# "Real-program traces"): runs six real programs on real inputs under the
# LD_PRELOAD tracer of /work/shared/traces (or $TRACES_KIT), converts the
# process that did the work (the largest raw file: the program itself, or
# cc1 under gcc) with convert.py and gzips it. What each trace is: catalog.mjs.
#
#   sh bench/traces/record.sh              # all six (about 1 min)
#   sh bench/traces/record.sh git-log      # only the named ones
#
# Inputs: typescript.js of the typescript devDependency (node_modules),
# this repository's own history, and wrapt's _wrappers.c ($WRAPT_C; found
# under the Python installs if unset). A program or input that is missing is
# skipped with a note. Needs cc, python3 and gzip.
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
KIT=${TRACES_KIT:-/work/shared/traces}
DATA=$ROOT/bench/traces/data
PROGRAMS=$ROOT/bench/traces/programs
WORK=$ROOT/.bench-cache/traces
TS=$ROOT/node_modules/typescript/lib/typescript.js
GIT_REV=a73b611
PY=/usr/bin/python3
WRAPT_C=${WRAPT_C:-$(find /usr /root/.pyenv -path '*wrapt/_wrappers.c' 2>/dev/null | head -n 1)}
mkdir -p "$DATA" "$WORK"
cc -O2 -shared -fPIC -o "$WORK/tracer.so" "$KIT/tracer.c" -ldl
[ -f "$TS" ] || { echo "record.sh: $TS missing (run npm install)"; exit 1; }
head -c 3000000 "$TS" > "$WORK/ts-3m.js"
head -c 1000000 "$TS" > "$WORK/ts-1m.js"
# One CSV row per line of typescript.js: its number and its text.
{ echo "n,text"; awk '{ gsub(/"/, "\"\""); printf "%d,\"%s\"\n", NR, $0 }' "$TS"; } > "$WORK/lines.csv"

ONLY="$*"
want() { [ -z "$ONLY" ] && return 0; for w in $ONLY; do [ "$w" = "$1" ] && return 0; done; return 1; }

# record NAME COMMAND...: traces COMMAND (run in $WORK) and writes data/NAME.trace.gz.
record() {
  name=$1; shift
  want "$name" || return 0
  raw=$WORK/raw-$name
  rm -rf "$raw"; mkdir "$raw"
  (cd "$WORK" && TRACE_OUT=$raw/t LD_PRELOAD=$WORK/tracer.so "$@" > /dev/null 2>&1)
  biggest=$(ls -S "$raw" | head -n 1)
  python3 "$KIT/convert.py" "$raw/$biggest" "$WORK/$name.trace"
  gzip -9 -n -c "$WORK/$name.trace" > "$DATA/$name.trace.gz"
  rm -rf "$raw" "$WORK/$name.trace"
}

have() { command -v "$1" > /dev/null 2>&1 || { echo "record.sh: $1 not found, skipping $2"; return 1; }; }

if have "$PY" python-index; then record python-index env PYTHONMALLOC=malloc "$PY" "$PROGRAMS/py-index.py" ts-3m.js; fi
if have "$PY" python-lines; then record python-lines env PYTHONMALLOC=malloc "$PY" "$PROGRAMS/py-lines.py" ts-1m.js; fi
if have perl perl-words; then record perl-words perl "$PROGRAMS/perl-words.pl" ts-1m.js; fi
if have sqlite3 sqlite-lines; then record sqlite-lines sqlite3 -init /dev/null :memory: ".read $PROGRAMS/sqlite-lines.sql"; fi
if [ -z "$WRAPT_C" ] || [ ! -f "$WRAPT_C" ]; then echo "record.sh: wrapt's _wrappers.c not found (set WRAPT_C), skipping gcc-wrapt"
elif have gcc gcc-wrapt && have "$PY-config" gcc-wrapt; then record gcc-wrapt gcc -O2 -c $("$PY-config" --includes) "$WRAPT_C" -o wrappers.o; fi
if have git git-log; then record git-log git -C "$ROOT" log -p --stat "$GIT_REV"; fi

ls -l "$DATA"
