#!/bin/sh
# bench/throughput.sh — requests per second of Redis direct, twemproxy and
# corral, measured in one run on this machine with redis-benchmark and,
# for cache hits, also with bench/loadgen.c.
#
#   sh bench/throughput.sh [path/to/corral]
#
# Default binary: build/src/corral, else src/corral. Starts its own
# redis-server, nutcracker and corral on free loopback ports and stops them
# on exit. Rows (50 clients, with and without -P 16):
#   pass-through SET and GET of one key: Redis, twemproxy (4 server
#     connections) and a corral with cache.enabled and lease.enabled false
#     (4 upstream connections), so no answer can come from the cache;
#   cache hits: GET over 1000 pre-filled keys (-r 1000), Redis against a
#     second corral with the default cache (but a 1 h TTL, so that no
#     entry expires during the rows), warmed before measuring;
#   the same hit rows with bench/loadgen.c as the client: it needs less
#     CPU per request than the servers, so they set the pace (skipped
#     without a C compiler);
#   the same hit rows with redis-benchmark, Redis and that corral each
#     limited to BENCH_SERVER_CPU CPUs (default 0.5) by a cgroup CPU
#     quota, the other way to let the server set the pace (needs a
#     writable cgroup cpu controller; BENCH_SERVER_CPU=0 skips them).
# With 2+ CPUs the client runs on CPU 0 and every server on the others
# (BENCH_PIN=0: no pinning; see pin_layout in lib.sh).
# Runs alternate between targets; each cell is the median of BENCH_REPS
# runs (default 3). BENCH_N1 / BENCH_N16 set the requests per run without
# and with pipelining. Every run is checked: the client must succeed
# (loadgen also fails on any reply that is not a value),
# every pass-through request must reach Redis without error (INFO
# commandstats), and with curl present every hit-row request must be a
# cache hit (corral's stats port). A final check writes through corral and
# around it and reads the values back. Exit status 0 only if every check
# held.
set -u
top=$(CDPATH='' cd -- "$(dirname -- "$0")/.." && pwd)
. "$top/bench/lib.sh"

CORRAL=${1:-}
if [ -z "$CORRAL" ]; then
    for c in "$top/build/src/corral" "$top/src/corral"; do
        if [ -x "$c" ]; then
            CORRAL=$c
            break
        fi
    done
fi
if [ -z "$CORRAL" ] || [ ! -x "$CORRAL" ]; then
    die "no corral binary (build it, or pass its path)"
fi
for t in redis-server redis-cli redis-benchmark; do
    command -v $t >/dev/null 2>&1 || die "needs $t"
done

REPS=${BENCH_REPS:-3}
N1=${BENCH_N1:-250000}
N16=${BENCH_N16:-2000000}
KEYS=1000

lib_init corral-bench
FAILED=0
pin_layout
start_redis
pin_server "$REDIS_PID"

# ---- twemproxy ----
TWEM_PORT=""
if command -v nutcracker >/dev/null 2>&1; then
    free_port
    TWEM_STATS=$PORT
    cat >"$TMP/nutcracker.yml.in" <<EOF
bench:
  listen: 127.0.0.1:@PORT@
  redis: true
  hash: fnv1a_64
  distribution: ketama
  auto_eject_hosts: false
  preconnect: true
  server_connections: 4
  servers:
   - 127.0.0.1:$REDIS_PORT:1
EOF
    # the listen port is chosen inside start_server: this wrapper writes
    # the configuration for the port it is given
    cat >"$TMP/nutcracker.sh" <<EOF
sed "s/@PORT@/\$1/" "$TMP/nutcracker.yml.in" >"$TMP/nutcracker.yml" &&
    exec nutcracker -c "$TMP/nutcracker.yml" -v 3 -o "$TMP/nutcracker.log" \\
        -s "$TWEM_STATS" -a 127.0.0.1
EOF
    start_server nutcracker "$TMP/nutcracker.out" sh "$TMP/nutcracker.sh" @PORT@
    TWEM_PORT=$PORT
    TWEM_PID=$PID
    pin_server "$TWEM_PID"
else
    echo "nutcracker not installed: twemproxy column skipped" >&2
fi

# ---- corral, cache and leases off: pure pass-through ----
start_corral "$CORRAL" passthrough 'cache:
  enabled: false
lease:
  enabled: false
stats:
  listen: ""'
PT_PORT=$CORRAL_PORT
PT_PID=$CORRAL_PID
pin_server "$PT_PID"

echo "corral: $CORRAL" >&2
cpu_mark
echo "machine: $(nproc) CPUs, $(uname -r); $REPS runs per cell, median" >&2
echo "layout: $LAYOUT" >&2

# record ROW TARGET RPS PID CPU0 N: append one result; the CPU time per
# request (ns) of the client in the run just made, as K_ROW_TARGET, and of
# the server PID since CPU0, as C_ROW_TARGET.
record() {
    eval "R_$1_$2=\"\${R_$1_$2:-} $3\""
    ns=$(awk -v c="$BENCH_CPU_NS" -v n="$6" 'BEGIN { printf "%.0f\n", c / n }')
    eval "K_$1_$2=\"\${K_$1_$2:-} $ns\""
    ns=$(awk -v a="$5" -v b="$(cpu_ns "$4")" -v n="$6" 'BEGIN { printf "%.0f\n", (b - a) / n }')
    eval "C_$1_$2=\"\${C_$1_$2:-} $ns\""
}

# check_passthrough CMD BEFORE N LABEL: Redis must have run CMD at least N
# more times than BEFORE ("calls failed"), none failing.
check_passthrough() {
    now=$(redis_calls "$1")
    calls=$((${now% *} - ${2% *}))
    fails=$((${now#* } - ${2#* }))
    if [ "$calls" -lt "$3" ] || [ "$fails" -ne 0 ]; then
        echo "CHECK FAILED $4: Redis ran $calls of $3 $1 ($fails failed)" >&2
        FAILED=1
    fi
}

# run_passthrough ROW TEST PIPELINE N: one row over the three targets.
run_passthrough() {
    r=1
    while [ $r -le "$REPS" ]; do
        for t in redis twem corral; do
            case $t in
            redis) port=$REDIS_PORT pid=$REDIS_PID ;;
            twem) port=$TWEM_PORT pid=${TWEM_PID:-} ;;
            corral) port=$PT_PORT pid=$PT_PID ;;
            esac
            [ -n "$port" ] || continue
            before=$(redis_calls "$2")
            cpu0=$(cpu_ns "$pid")
            bench "$port" "$2" "$3" "$4" 0
            check_passthrough "$2" "$before" "$4" "$1/$t"
            record "$1" "$t" "$RPS" "$pid" "$cpu0" "$4"
            printf '  %-8s %-7s run %d: %s rps\n' "$1" "$t" "$r" "$RPS" >&2
        done
        r=$((r + 1))
    done
}

echo "pass-through (corral: cache.enabled false, lease.enabled false)" >&2
# SET first, so that the GET rows read an existing 3-byte value.
run_passthrough set1 set 1 "$N1"
run_passthrough set16 set 16 "$N16"
run_passthrough get1 get 1 "$N1"
run_passthrough get16 get 16 "$N16"

# ---- corral with the default cache: hits ----
# The default cache, but entries live for an hour instead of 60 s: the hit
# rows take longer than a minute, and an entry that expired in the middle
# of a row would be a miss.
STATS_LISTEN='""'
if [ "$HAVE_CURL" = 1 ]; then
    free_port
    CACHE_STATS=$PORT
    STATS_LISTEN=127.0.0.1:$CACHE_STATS
fi
start_corral "$CORRAL" cache "cache:
  ttl: 1h
stats:
  listen: $STATS_LISTEN"
CACHE_PORT=$CORRAL_PORT
CACHE_PID=$CORRAL_PID
pin_server "$CACHE_PID"

# Pre-fill the keys redis-benchmark -r uses (key:%012d), then warm the cache.
awk -v n=$KEYS 'BEGIN { for (i = 0; i < n; i++) printf "SET key:%012d xxx\n", i }' |
    redis-cli -h 127.0.0.1 -p "$REDIS_PORT" >/dev/null
bench "$CACHE_PORT" get 1 100000 $KEYS
if [ "$HAVE_CURL" = 1 ]; then
    entries=$(corral_metric "$CACHE_STATS" corral_cache_entries)
    [ "$entries" -ge $KEYS ] ||
        { echo "CHECK FAILED: cache holds $entries of $KEYS keys after warming" >&2; FAILED=1; }
fi

# run_hits ROW PIPELINE N CLIENT: one hit row, Redis and corral
# alternating; CLIENT is bench (redis-benchmark) or loadgen.
run_hits() {
    r=1
    while [ $r -le "$REPS" ]; do
        for t in redis corral; do
            port=$REDIS_PORT
            [ $t = corral ] && port=$CACHE_PORT
            before=$(redis_calls get)
            hits=0
            [ $t = corral ] && [ "$HAVE_CURL" = 1 ] &&
                hits=$(corral_metric "$CACHE_STATS" corral_cache_hits_total)
            pid=$CACHE_PID
            [ $t = redis ] && pid=$REDIS_PID
            cpu0=$(cpu_ns "$pid")
            if [ "$4" = loadgen ]; then
                loadgen "$port" "$2" "$3" $KEYS
            else
                bench "$port" get "$2" "$3" $KEYS
            fi
            if [ $t = redis ]; then
                check_passthrough get "$before" "$3" "$1/$t"
            else
                upstream=$(($(redis_calls get | cut -d' ' -f1) - ${before% *}))
                if [ "$upstream" -gt $(($3 / 100)) ]; then
                    echo "CHECK FAILED $1: $upstream of $3 GETs reached Redis" >&2
                    FAILED=1
                fi
                if [ "$HAVE_CURL" = 1 ]; then
                    now=$(corral_metric "$CACHE_STATS" corral_cache_hits_total)
                    if [ $((now - hits)) -lt "$3" ]; then
                        echo "CHECK FAILED $1: $((now - hits)) hits for $3 GETs" >&2
                        FAILED=1
                    fi
                fi
            fi
            record "$1" "$t" "$RPS" "$pid" "$cpu0" "$3"
            printf '  %-8s %-7s run %d: %s rps\n' "$1" "$t" "$r" "$RPS" >&2
        done
        r=$((r + 1))
    done
}

echo "cache hits (corral: default cache with a 1 h TTL, $KEYS keys warmed)" >&2
run_hits hit1 1 "$N1" bench
run_hits hit16 16 "$N16" bench

LEAN=0
if build_loadgen; then
    LEAN=1
    echo "cache hits, client bench/loadgen.c" >&2
    run_hits ghit1 1 "$N1" loadgen
    run_hits ghit16 16 "$N16" loadgen
else
    echo "loadgen hit rows skipped: $LOADGEN_WHY" >&2
fi

# The same rows with each server's CPU limited: last, as the servers stay
# in their groups. Half as many requests, at about half the speed.
LIMIT=${BENCH_SERVER_CPU:-0.5}
LIMITED=0
if [ "$LIMIT" = 0 ]; then
    echo "CPU-limited hit rows skipped (BENCH_SERVER_CPU=0)" >&2
elif cpu_limit_init "$LIMIT" redis corral; then
    cpu_limit "$REDIS_PID" redis
    cpu_limit "$CACHE_PID" corral
    LIMITED=1
    echo "cache hits, Redis and corral each limited to $LIMIT CPU" >&2
    run_hits lhit1 1 $((N1 / 2)) bench
    run_hits lhit16 16 $((N16 / 2)) bench
else
    echo "CPU-limited hit rows skipped: $LIMIT_WHY" >&2
fi

# ---- final correctness check ----
# expect LABEL WANT GOT
expect() {
    if [ "$2" != "$3" ]; then
        echo "CHECK FAILED $1: expected '$2', got '$3'" >&2
        FAILED=1
    fi
}
cli() {
    redis-cli -h 127.0.0.1 -p "$@" 2>&1
}
v1="check-$$-1"
expect "SET via pass-through corral" OK "$(cli "$PT_PORT" set bench:check "$v1")"
expect "GET in Redis after SET via corral" "$v1" "$(cli "$REDIS_PORT" get bench:check)"
[ -n "$TWEM_PORT" ] &&
    expect "GET via twemproxy" "$v1" "$(cli "$TWEM_PORT" get bench:check)"
expect "cached GET via corral" xxx "$(cli "$CACHE_PORT" get key:000000000007)"
v2="check-$$-2"
cli "$REDIS_PORT" set key:000000000007 "$v2" >/dev/null
i=0
got=""
while [ $i -lt 20 ]; do
    got=$(cli "$CACHE_PORT" get key:000000000007)
    [ "$got" = "$v2" ] && break
    sleep 0.1
    i=$((i + 1))
done
expect "GET via corral after a write around it (2 s)" "$v2" "$got"
v3="check-$$-3"
expect "SET via caching corral" OK "$(cli "$CACHE_PORT" set key:000000000007 "$v3")"
expect "GET via corral right after its own SET" "$v3" "$(cli "$CACHE_PORT" get key:000000000007)"

# ---- table ----
# cell ROW TARGET [C|K]: median of a cell (of the server's CPU figures with
# C, of the client's with K), or "-".
cell() {
    eval "vals=\${${3:-R}_$1_$2:-}"
    if [ -n "$vals" ]; then
        # shellcheck disable=SC2086
        median $vals
    else
        echo -
    fi
}
ratio() {
    if [ "$1" = - ] || [ "$2" = - ]; then
        echo -
    else
        awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f\n", a / b }'
    fi
}
# busy ROW [C|K]: percent of its CPU that corral (C) or the client (K)
# used in corral's runs of ROW (CPU per request times requests per second),
# at most 100.
busy() {
    awk -v k="$(cell "$1" corral "$2")" -v q="$(cell "$1" corral)" 'BEGIN {
        if (k == "-" || q == "-") { print 0; exit }
        b = k * q / 1e7
        printf "%.0f\n", (b > 100 ? 100 : b) }'
}
# verdict CORRAL/REDIS CORRAL/TWEM MIN_REDIS ROW: "ok" when the targets
# hold; a miss is marked client-bound when in corral's runs the client
# used 95% or more of its CPU and corral less than 95% of its own.
verdict() {
    awk -v r="$1" -v t="$2" -v m="$3" -v k="$(busy "$4" K)" \
        -v c="$(busy "$4" C)" 'BEGIN {
        ok = 1
        if (m != "-" && r + 0 < m + 0) ok = 0
        if (t != "-" && t + 0 < 1) ok = 0
        print ok ? "ok" : (k >= 95 && c < 95 ? "BELOW (client-bound)" : "BELOW") }'
}

# The rows: ID|LABEL|MIN_REDIS|TARGET_TEXT, in the order measured.
ROWS='set1|SET pass-through|0.9|>=0.9x redis, >=twem
get1|GET pass-through|0.9|>=0.9x redis, >=twem
set16|SET pass-through P16|-|>=twem
get16|GET pass-through P16|-|>=twem
hit1|GET hit|1.0|>=1.0x redis
hit16|GET hit P16|1.0|>=1.0x redis'
[ $LEAN = 1 ] && ROWS="$ROWS
ghit1|GET hit, loadgen|1.0|>=1.0x redis
ghit16|GET hit P16, loadgen|1.0|>=1.0x redis"
[ $LIMITED = 1 ] && ROWS="$ROWS
lhit1|GET hit, $LIMIT CPU|1.0|>=1.0x redis
lhit16|GET hit P16, $LIMIT CPU|1.0|>=1.0x redis"

echo
printf '%-23s %10s %10s %10s %8s %8s  %-22s %s\n' row redis twemproxy corral \
    c/redis c/twem target verdict
while IFS='|' read -r id label min text; do
    red=$(cell "$id" redis)
    twm=$(cell "$id" twem)
    cor=$(cell "$id" corral)
    cr=$(ratio "$cor" "$red")
    ct=$(ratio "$cor" "$twm")
    printf '%-23s %10s %10s %10s %8s %8s  %-22s %s\n' "$label" "$red" "$twm" \
        "$cor" "$cr" "$ct" "$text" "$(verdict "$cr" "$ct" "$min" "$id")"
done <<EOF
$ROWS
EOF
echo
echo "requests/s, median of $REPS; 50 clients; $N1 requests per run, $N16 with -P 16"
[ $LIMITED = 1 ] &&
    echo "(half as many in the rows where each server is limited to $LIMIT CPU)"
echo "client: redis-benchmark, or bench/loadgen.c in the rows that say loadgen"
echo "layout: $LAYOUT"
echo
echo "CPU time per request, ns (median; steadier than requests/s on a busy"
echo "machine): of the server measured (Redis direct, twemproxy, corral), and of"
echo "the client in the same runs"
printf '%-23s %8s %8s %8s   %13s %13s %13s\n' row redis twemproxy corral \
    client:redis client:twem client:corral
BOUND=""
while IFS='|' read -r id label _ _; do
    printf '%-23s %8s %8s %8s   %13s %13s %13s\n' "$label" \
        "$(cell "$id" redis C)" "$(cell "$id" twem C)" "$(cell "$id" corral C)" \
        "$(cell "$id" redis K)" "$(cell "$id" twem K)" "$(cell "$id" corral K)"
    k=$(busy "$id" K)
    c=$(busy "$id" C)
    [ "$k" -ge 95 ] && [ "$c" -lt 95 ] && BOUND="$BOUND
  $label: the client used $k% of a CPU against corral, corral $c%"
done <<EOF
$ROWS
EOF
[ -n "$BOUND" ] &&
    echo "rows where the client, not the server, set the pace:$BOUND"
cpu_foreign
if [ $FAILED = 0 ]; then
    echo "checks: every run succeeded and answered correctly"
else
    echo "checks: FAILED (see above)"
fi
exit $FAILED
