#!/bin/sh
# bench/stats_cost.sh — what latency recording costs on the cache-hit path.
#
#   sh bench/stats_cost.sh
#
# Builds corral twice out of tree in a temp directory under /tmp, with and
# without ./configure --disable-stats (CORRAL_NO_STATS: no histogram
# recording), starts both in front of one redis-server with the same
# configuration, warms their caches with 1000 keys, then measures GET-hit
# throughput (50 clients, -P 16, 1000 keys) alternating between the two
# builds (ABBA order) for BENCH_REPS pairs (default 9) of BENCH_N
# requests (default 4000000). Prints each build's median throughput and
# corral CPU time per request, and the medians of the per-pair differences:
# the cost of stats in percent of the no-stats figure. The CPU figure is
# the steadier one on a shared machine, where other processes move the
# throughput. The client is bench/loadgen.c, which needs less CPU per hit
# than corral, so that corral sets the pace and the throughput shows its
# cost (redis-benchmark, which does not, when there is no C compiler).
# When taskset is available and there are 2+ CPUs, the client
# runs on CPU 0 and both corrals on CPU 1, to cut scheduler noise.
#
# A source tree configured in place cannot be configured again out of
# tree, so the sources are then exported (git ls-files, or a copy of the
# known directories) and autoreconf'd first. CPPFLAGS from the environment
# is passed to configure.
set -u
top=$(CDPATH='' cd -- "$(dirname -- "$0")/.." && pwd)
. "$top/bench/lib.sh"

for t in redis-server redis-cli redis-benchmark make; do
    command -v $t >/dev/null 2>&1 || die "needs $t"
done
REPS=${BENCH_REPS:-9}
N=${BENCH_N:-4000000}
KEYS=1000

lib_init corral-stats-cost

# ---- sources ----
src=$top
if [ -f "$top/config.status" ] || [ ! -x "$top/configure" ]; then
    command -v autoreconf >/dev/null 2>&1 || die "needs autoreconf"
    src=$TMP/src
    mkdir -p "$src"
    if git -C "$top" rev-parse --git-dir >/dev/null 2>&1; then
        git -C "$top" ls-files --cached --others --exclude-standard |
            (cd "$top" && while IFS= read -r f; do
                [ -f "$f" ] && printf '%s\n' "$f"
            done) | (cd "$top" && tar -cf - -T -) | (cd "$src" && tar -xf -) ||
            die "cannot export the sources"
    else
        for f in configure.ac Makefile.am README.md src etc m4 man systemd tests; do
            [ -e "$top/$f" ] && cp -r "$top/$f" "$src/"
        done
        rm -f "$src"/src/*.o "$src/src/corral"
    fi
    mkdir -p "$src/m4"
    echo "exporting the sources to $src and running autoreconf" >&2
    (cd "$src" && autoreconf -fi >"$TMP/autoreconf.log" 2>&1) ||
        { tail -n 20 "$TMP/autoreconf.log" >&2; die "autoreconf failed"; }
fi

# build DIR CONFIGURE_ARGS...: configure in DIR and build src/corral there.
build() {
    dir=$1
    shift
    mkdir -p "$dir"
    echo "building in $dir (configure $*)" >&2
    (cd "$dir" && "$src/configure" -q "$@" >"$dir/configure.out" 2>&1) ||
        { tail -n 20 "$dir/configure.out" >&2; die "configure failed in $dir"; }
    make -C "$dir" -j"$(nproc)" src/corral >"$dir/make.out" 2>&1 ||
        { tail -n 30 "$dir/make.out" >&2; die "build failed in $dir"; }
}
build "$TMP/stats"
build "$TMP/nostats" --disable-stats
grep -q '^#define CORRAL_NO_STATS 1' "$TMP/nostats/config.h" ||
    die "--disable-stats did not define CORRAL_NO_STATS"
grep -q '^#define CORRAL_NO_STATS' "$TMP/stats/config.h" &&
    die "the default build defines CORRAL_NO_STATS"
# The option only works where config.h is included: the no-stats binary
# must call hist_record from fewer places.
if command -v objdump >/dev/null 2>&1; then
    calls() {
        objdump -d --no-show-raw-insn "$1" | grep -c 'call.*<hist_record'
    }
    ca=$(calls "$TMP/stats/src/corral")
    cb=$(calls "$TMP/nostats/src/corral")
    echo "calls to hist_record: $ca with stats, $cb with --disable-stats" >&2
    [ "$cb" -lt "$ca" ] ||
        die "--disable-stats removed no hist_record call (is config.h included where CORRAL_NO_STATS is tested?)"
fi

# ---- servers ----
PIN_CLIENT=""
PIN_CORRAL=""
if command -v taskset >/dev/null 2>&1 && [ "$(nproc)" -ge 2 ]; then
    PIN_CLIENT="taskset -c 0"
    PIN_CORRAL="taskset -c 1"
fi
start_redis
awk -v n=$KEYS 'BEGIN { for (i = 0; i < n; i++) printf "SET key:%012d xxx\n", i }' |
    redis-cli -h 127.0.0.1 -p "$REDIS_PORT" >/dev/null
# entries live for an hour, so that none expires during the runs
NOSTATS_YAML='cache:
  ttl: 1h
stats:
  listen: ""'
CORRAL_WRAP=$PIN_CORRAL
TIMEOUT="$PIN_CLIENT $TIMEOUT"
start_corral "$TMP/stats/src/corral" stats "$NOSTATS_YAML"
PORT_A=$CORRAL_PORT
PID_A=$CORRAL_PID
start_corral "$TMP/nostats/src/corral" nostats "$NOSTATS_YAML"
PORT_B=$CORRAL_PORT
PID_B=$CORRAL_PID
bench "$PORT_A" get 1 100000 $KEYS
bench "$PORT_B" get 1 100000 $KEYS
build_loadgen || echo "client: redis-benchmark ($LOADGEN_WHY)" >&2

# one PORT PID: a hit run; requests per second in $RPS and corral's CPU
# time per request (ns) in $NS. Every GET must be answered from the cache.
one() {
    before=$(redis_calls get | cut -d' ' -f1)
    c0=$(cpu_ns "$2")
    if [ -n "$LOADGEN" ]; then
        loadgen "$1" 16 "$N" $KEYS
    else
        bench "$1" get 16 "$N" $KEYS
    fi
    c1=$(cpu_ns "$2")
    NS=$(awk -v a="$c0" -v b="$c1" -v n="$N" 'BEGIN { printf "%.1f\n", (b - a) / n }')
    upstream=$(($(redis_calls get | cut -d' ' -f1) - before))
    [ "$upstream" -le $((N / 100)) ] ||
        die "$upstream of $N GETs reached Redis: not a cache-hit run"
}

# pct X Y: how much worse X is than Y, in percent of Y (1: higher is
# better, 0: lower is better).
pct() {
    awk -v x="$1" -v y="$2" -v hi="$3" 'BEGIN {
        printf "%.2f\n", hi ? (y - x) / y * 100 : (x - y) / y * 100 }'
}

# med V...: the median with two decimals.
med() {
    printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END {
        if (NR % 2) printf "%.2f\n", a[(NR + 1) / 2]
        else printf "%.2f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

A=""
B=""
D=""
CA=""
CB=""
CD=""
cpu_mark
i=1
while [ $i -le "$REPS" ]; do
    if [ $((i % 2)) = 1 ]; then
        one "$PORT_A" "$PID_A"; a=$RPS; ca=$NS
        one "$PORT_B" "$PID_B"; b=$RPS; cb=$NS
    else
        one "$PORT_B" "$PID_B"; b=$RPS; cb=$NS
        one "$PORT_A" "$PID_A"; a=$RPS; ca=$NS
    fi
    d=$(pct "$a" "$b" 1)
    cd=$(pct "$ca" "$cb" 0)
    printf '  pair %d: stats %s rps %s ns/req, no stats %s rps %s ns/req: cost %s%% (rps) %s%% (cpu)\n' \
        "$i" "$a" "$ca" "$b" "$cb" "$d" "$cd" >&2
    A="$A $a"
    B="$B $b"
    D="$D $d"
    CA="$CA $ca"
    CB="$CB $cb"
    CD="$CD $cd"
    i=$((i + 1))
done

# shellcheck disable=SC2086
ma=$(median $A)
# shellcheck disable=SC2086
mb=$(median $B)
# shellcheck disable=SC2086
md=$(med $D)
# shellcheck disable=SC2086
mca=$(med $CA)
# shellcheck disable=SC2086
mcb=$(med $CB)
# shellcheck disable=SC2086
mcd=$(med $CD)
verdict() {
    if awk -v d="$1" 'BEGIN { exit !(d < 3) }'; then
        echo ok
    else
        echo "ABOVE TARGET"
    fi
}
echo
cpu_foreign
echo "GET hits, 50 clients, -P 16, $N requests per run, $REPS pairs, client $(basename "${LOADGEN:-redis-benchmark}")${PIN_CLIENT:+ (client on CPU 0, corral on CPU 1)}"
printf '%-16s %12s %14s\n' "" "rps" "corral ns/req"
printf '%-16s %12s %14s\n' "with stats" "$ma" "$mca"
printf '%-16s %12s %14s\n' "--disable-stats" "$mb" "$mcb"
printf 'cost of stats, median of the pairs: %s%% throughput (%s), %s%% CPU per request (%s); target < 3%%\n' \
    "$md" "$(verdict "$md")" "$mcd" "$(verdict "$mcd")"
