#!/bin/sh
# tests/setup.sh — the two set-up commands of README.md, on a Debian machine.
#
#   sh tests/setup.sh run     install what is missing, build, and run corral
#                             on 127.0.0.1:6380 in front of a local
#                             redis-server on 6379 (foreground)
#   sh tests/setup.sh check   install what is missing, build, and run the
#                             whole test suite: unit and integration tests,
#                             the same under ASan+UBSan, the fuzzers, lint of
#                             the man pages and the systemd unit, distcheck
#
# Builds happen out of tree: build/ (normal) and build-asan/ (sanitizers).
set -eu
cd "$(dirname "$0")/.."
top=$(pwd)
mode=${1:-run}

# what running needs, and what the whole suite needs on top
PKGS="build-essential autoconf automake pkg-config libevent-dev \
libhiredis-dev libyaml-dev check redis-server redis-tools"
[ "$mode" = run ] || PKGS="$PKGS nutcracker clang-14 libclang-rt-14-dev \
mandoc systemd prometheus curl"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
        missing="$missing $p"
done
if [ -n "$missing" ]; then
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO=sudo
    echo "installing:$missing"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
        --no-install-recommends $missing >/dev/null
fi

[ -x configure ] || autoreconf -fi >/dev/null
build() { # dir configure-args...
    dir=$1; shift
    mkdir -p "$dir"
    [ -f "$dir/Makefile" ] || (cd "$dir" && "$top/configure" -q "$@")
    make -s -C "$dir" -j"$(nproc)"
}
build build

# Print a log's failing tests and fail.
check_in() { # dir
    if ! make -s -C "$1" -j"$(nproc)" check; then
        for f in $(grep -l -E '^(FAIL|ERROR)' "$1"/tests/*.log 2>/dev/null); do
            echo "==== $f"; tail -n 60 "$f"
        done
        echo "---- corral logs:"; tail -n 40 /tmp/corral-test-*/corral-*.log 2>/dev/null || true
        exit 1
    fi
    grep -h -E '^# (PASS|FAIL|ERROR)' "$1/test-suite.log" 2>/dev/null || true
}

case "$mode" in
run)
    if ! redis-cli -p 6379 ping >/dev/null 2>&1; then
        redis-server --port 6379 --save '' --appendonly no --daemonize yes >/dev/null
    fi
    echo "corral on 127.0.0.1:6380 -> redis 127.0.0.1:6379; try: redis-cli -p 6380"
    exec build/src/corral -c etc/corral.yml
    ;;
check)
    check_in build
    build build-asan --enable-sanitizers
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 check_in build-asan
    sh tests/fuzz/run.sh "${FUZZ_SECONDS:-60}"
    sh tests/lint.sh
    make -s -C build distcheck >/dev/null
    echo "distcheck passed"
    pass=$(cat build/test-suite.log build-asan/test-suite.log | sed -n 's/^# PASS: *//p' | awk '{s+=$1} END {print s+0}')
    fail=$(cat build/test-suite.log build-asan/test-suite.log | sed -n 's/^# FAIL: *//p' | awk '{s+=$1} END {print s+0}')
    echo "$pass passed, $fail failed"
    ;;
*)
    echo "usage: sh tests/setup.sh run|check" >&2
    exit 2
    ;;
esac
