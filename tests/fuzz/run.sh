#!/bin/sh
# tests/fuzz/run.sh — build every fuzz target with libFuzzer + ASan + UBSan
# and run each for SECONDS (default 60) from a copy of its seed corpus.
# Exits non-zero on the first crash; the crashing input is kept in
# build-fuzz/ and should become a regression test.
set -eu
cd "$(dirname "$0")/../.."
secs=${1:-60}
out=build-fuzz
mkdir -p "$out"
CC=${CC_FUZZ:-clang-14}
CFLAGS="-std=gnu11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -Isrc"

build() { # name sources... ; extra libs after --
    name=$1; shift
    $CC $CFLAGS "$@" -o "$out/$name"
}
build fuzz_resp_request tests/fuzz/fuzz_resp_request.c src/resp.c
build fuzz_resp_reply tests/fuzz/fuzz_resp_reply.c src/resp.c
build fuzz_conf tests/fuzz/fuzz_conf.c src/conf.c src/log.c $(pkg-config --cflags --libs yaml-0.1)

run() { # name corpus
    rm -rf "$out/corpus-$1"
    cp -r "tests/fuzz/corpus/$2" "$out/corpus-$1"
    (cd "$out" && ./"$1" -max_total_time="$secs" -print_final_stats=1 \
        -artifact_prefix="./crash-$1-" "corpus-$1" 2>"$1.log") || {
        echo "fuzz $1: crash, see $out/$1.log"; tail -n 30 "$out/$1.log"; exit 1; }
    echo "fuzz $1: $(grep -o 'stat::number_of_executed_units: *[0-9]*' "$out/$1.log" | grep -o '[0-9]*$') executions in ${secs}s, no crash"
}
run fuzz_resp_request resp_request
run fuzz_resp_reply resp_reply
run fuzz_conf conf
