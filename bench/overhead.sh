#!/bin/sh
# bench/overhead.sh — microbenchmarks of two hot-path modules, no servers:
#   bench/cache_overhead.c  memory charged per cache entry and ns per
#                           cache set/get (skipped if the file is absent);
#   bench/hist_record.c     ns per latency-histogram record.
#
#   sh bench/overhead.sh
#
# Builds each with gcc -O2 against the module's source in src/ into a temp
# directory and prints its output. Exit status is non-zero if a build or a
# run fails.
set -u
top=$(CDPATH='' cd -- "$(dirname -- "$0")/.." && pwd)
cd "$top" || exit 1
CC=${CC:-gcc}
CFLAGS="-std=gnu11 -D_GNU_SOURCE -O2 -Isrc"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/corral-overhead.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
status=0

# run NAME SOURCES... -- LIBS...: build bench/NAME.c with SOURCES and run it.
run() {
    name=$1
    shift
    srcs=""
    while [ $# -gt 0 ] && [ "$1" != -- ]; do
        srcs="$srcs $1"
        shift
    done
    [ $# -gt 0 ] && shift
    echo "== $name"
    # shellcheck disable=SC2086
    if ! $CC $CFLAGS $srcs "bench/$name.c" -o "$TMP/$name" "$@"; then
        echo "$name: build failed" >&2
        status=1
        return
    fi
    if ! "$TMP/$name"; then
        echo "$name: run failed" >&2
        status=1
    fi
}

if [ -f bench/cache_overhead.c ]; then
    run cache_overhead src/cache.c --
else
    echo "== cache_overhead: bench/cache_overhead.c not present, skipped"
fi
run hist_record src/hist.c -- -lm
exit $status
