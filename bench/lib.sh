# bench/lib.sh — helpers shared by the benchmark scripts (sourced, not run).
#
# Provides: a private temp directory, background processes that are stopped
# on exit (also on Ctrl-C), free loopback ports, readiness waits, one
# load-generator run (redis-benchmark or bench/loadgen.c) with its result
# in $RPS, medians, reading counters from Redis (INFO commandstats) and
# from corral's stats port, and how much CPU other processes took
# meanwhile.
#
# The sourcing script sets $top (the source tree) and calls lib_init first.
# shellcheck disable=SC2034  # HAVE_CURL and others are read by the scripts

# lib_init NAME: make the temp directory $TMP and install the cleanup traps.
lib_init() {
    TMP=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX") || exit 1
    PIDS=""
    trap lib_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    TIMEOUT=""
    command -v timeout >/dev/null 2>&1 && TIMEOUT="timeout 120"
    HAVE_CURL=0
    command -v curl >/dev/null 2>&1 && HAVE_CURL=1
    USED_PORTS=""
    CORRAL_WRAP=""
    BENCH_WRAP=""
    SERVER_CPUS=""
    LIMIT_DIR=""
    LOADGEN=""
}

# pin_layout: where the processes run. With BENCH_PIN=1 (the default when
# taskset exists and there are 2+ CPUs) redis-benchmark runs on CPU 0 and
# the servers on the other CPUs, as a load generator on a machine of its
# own would: the client then does not compete for CPU with the system
# under test (Redis alone, or a proxy and Redis), and which of the three
# processes the scheduler happens to put together stops deciding the
# result. BENCH_PIN=0 lets the scheduler place everything. Sets
# BENCH_WRAP, SERVER_CPUS and LAYOUT (a line for the report).
pin_layout() {
    n=$(nproc)
    pin=${BENCH_PIN:-1}
    if [ "$pin" = 1 ] && command -v taskset >/dev/null 2>&1 && [ "$n" -ge 2 ]; then
        BENCH_WRAP="taskset -c 0"
        SERVER_CPUS="1-$((n - 1))"
        where="CPUs $SERVER_CPUS"
        [ "$n" = 2 ] && where="CPU 1"
        LAYOUT="redis-benchmark on CPU 0, servers on $where (BENCH_PIN=0 to unpin)"
    else
        BENCH_WRAP=""
        SERVER_CPUS=""
        LAYOUT="unpinned: redis-benchmark and the servers share all $n CPUs"
    fi
}

# pin_server PID: move every thread of PID onto $SERVER_CPUS (nothing when
# unpinned).
pin_server() {
    [ -n "$SERVER_CPUS" ] || return 0
    taskset -a -p -c "$SERVER_CPUS" "$1" >/dev/null ||
        die "cannot pin pid $1 to CPUs $SERVER_CPUS"
}

lib_cleanup() {
    for p in $PIDS; do
        kill "$p" 2>/dev/null
    done
    for p in $PIDS; do
        i=0
        while kill -0 "$p" 2>/dev/null && [ $i -lt 30 ]; do
            sleep 0.1
            i=$((i + 1))
        done
        kill -9 "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    PIDS=""
    if [ -n "$LIMIT_DIR" ]; then
        rmdir "$LIMIT_DIR"/* "$LIMIT_DIR" 2>/dev/null
        LIMIT_DIR=""
    fi
    [ -n "${KEEP_TMP:-}" ] || rm -rf "$TMP"
}

die() {
    echo "$0: $*" >&2
    exit 1
}

# spawn LOG CMD...: run CMD in the background, output to LOG; pid in $PID.
spawn() {
    log=$1
    shift
    "$@" >"$log" 2>&1 &
    PID=$!
    PIDS="$PIDS $PID"
}

# free_port: a TCP port nobody listens on or uses, below the kernel's
# ephemeral range (so that no outgoing connection takes it before the
# server binds it), and not handed out before by this script; in $PORT.
free_port() {
    inuse=$(awk 'FNR > 1 {
            split($2, a, ":"); h = toupper(a[2]); v = 0
            for (i = 1; i <= length(h); i++)
                v = v * 16 + index("0123456789ABCDEF", substr(h, i, 1)) - 1
            print v
        }' /proc/net/tcp /proc/net/tcp6 2>/dev/null)
    lo=20000
    hi=$(awk '{ print $1 - 1 }' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null)
    if [ -z "$hi" ] || [ "$hi" -lt $((lo + 1000)) ]; then
        lo=10000
        hi=19999
    fi
    PORT=$(awk -v seed=$$ -v lo=$lo -v hi="$hi" \
        'BEGIN { srand(); print lo + int(rand() * (hi - lo) + seed) % (hi - lo) }')
    while :; do
        case " $inuse $USED_PORTS " in
        *" $PORT "*) PORT=$((PORT + 1)) ;;
        *) break ;;
        esac
        [ "$PORT" -le "$hi" ] || PORT=$lo
    done
    USED_PORTS="$USED_PORTS $PORT"
}

# try_ping PORT PID: wait up to 5 s until PORT answers PING. Returns 0 when
# it does, 1 when process PID exited first (e.g. the port was taken in the
# meantime), 2 on timeout.
try_ping() {
    i=0
    while [ $i -lt 50 ]; do
        if [ "$(redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null)" = PONG ]; then
            # still alive: the answer did not come from another server
            # that held the port while ours failed to bind it
            sleep 0.2
            kill -0 "$2" 2>/dev/null || return 1
            return 0
        fi
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.1
        i=$((i + 1))
    done
    return 2
}

# wait_ping PORT PID NAME LOG: try_ping, and on failure show LOG and exit.
wait_ping() {
    try_ping "$1" "$2" && return 0
    echo "$3 did not come up on port $1; its log:" >&2
    tail -n 20 "$4" >&2
    exit 1
}

# spawn_at LOG PORT CMD...: spawn CMD with @PORT@ in its arguments
# replaced by PORT.
spawn_at() {
    log=$1
    port=$2
    shift 2
    n=$#
    for a in "$@"; do
        case $a in
        *@PORT@*) a=$(printf '%s' "$a" | sed "s/@PORT@/$port/g") ;;
        esac
        set -- "$@" "$a"
    done
    shift "$n"
    spawn "$log" "$@"
}

# start_server NAME LOG CMD...: start a server on a free port, retrying
# with another port if it exits before answering (another program took
# the port between the check and the bind). @PORT@ in the arguments is
# replaced by the port. Port in $PORT, pid in $PID.
start_server() {
    name=$1
    slog=$2
    shift 2
    tries=0
    while :; do
        free_port
        spawn_at "$slog" "$PORT" "$@"
        try_ping "$PORT" "$PID"
        rc=$?
        [ $rc = 0 ] && return 0
        tries=$((tries + 1))
        if [ $rc = 2 ] || [ $tries -ge 5 ]; then
            echo "$name did not come up on port $PORT; its log:" >&2
            tail -n 20 "$slog" >&2
            exit 1
        fi
    done
}

# start_redis: redis-server on a free port, no persistence; port in
# $REDIS_PORT, pid in $REDIS_PID.
start_redis() {
    start_server redis-server "$TMP/redis.log" redis-server --port @PORT@ \
        --bind 127.0.0.1 --save '' --appendonly no --daemonize no --dir "$TMP"
    REDIS_PORT=$PORT
    REDIS_PID=$PID
}

# start_corral BIN NAME EXTRA_YAML: corral in front of $REDIS_PORT with
# 4 upstream connections, log level warn and what EXTRA_YAML adds; port in
# $CORRAL_PORT, pid in $CORRAL_PID. $CORRAL_WRAP (e.g. "taskset -c 1") is
# prefixed to the command line.
start_corral() {
    tries=0
    while :; do
        free_port
        CORRAL_PORT=$PORT
        {
            echo "listen: 127.0.0.1:$CORRAL_PORT"
            echo "upstream:"
            echo "  address: 127.0.0.1:$REDIS_PORT"
            echo "  connections: 4"
            echo "log:"
            echo "  level: warn"
            printf '%s\n' "$3"
        } >"$TMP/$2.yml"
        "$1" -t -c "$TMP/$2.yml" >"$TMP/$2.check" 2>&1 ||
            die "corral rejects $TMP/$2.yml: $(cat "$TMP/$2.check")"
        # shellcheck disable=SC2086
        spawn "$TMP/$2.log" $CORRAL_WRAP "$1" -c "$TMP/$2.yml"
        CORRAL_PID=$PID
        try_ping "$CORRAL_PORT" "$PID"
        rc=$?
        [ $rc = 0 ] && return 0
        tries=$((tries + 1))
        if [ $rc = 2 ] || [ $tries -ge 5 ]; then
            echo "corral ($2) did not come up on port $CORRAL_PORT; its log:" >&2
            tail -n 20 "$TMP/$2.log" >&2
            exit 1
        fi
    done
}

# run_client CMD...: one run of a load generator, under $TIMEOUT and
# $BENCH_WRAP, with its output in $TMP/bench.out; the CPU time it used, in
# ns, in $BENCH_CPU_NS. A failed run (error reply, lost connection,
# timeout) stops the script.
run_client() {
    shell_times
    bench_c0=$CHILD_NS
    # shellcheck disable=SC2086
    if ! $TIMEOUT $BENCH_WRAP "$@" >"$TMP/bench.out" 2>"$TMP/bench.err"; then
        echo "$* failed:" >&2
        cat "$TMP/bench.out" "$TMP/bench.err" >&2
        exit 1
    fi
    shell_times
    BENCH_CPU_NS=$((CHILD_NS - bench_c0))
}

# bench PORT TEST PIPELINE REQUESTS KEYSPACE: one redis-benchmark run of
# TEST (get or set) with 50 clients (run_client); requests per second in
# $RPS.
bench() {
    set -- "$1" "$2" "$3" "$4" "$5" -h 127.0.0.1 -p "$1" -c 50 -P "$3" \
        -n "$4" -t "$2" --csv
    [ "$5" -gt 0 ] && set -- "$@" -r "$5"
    shift 5
    run_client redis-benchmark "$@"
    RPS=$(awk -F'"' 'NR > 1 && $4 != "" { r = $4 } END { print r }' "$TMP/bench.out")
    [ -n "$RPS" ] || die "no result from redis-benchmark $*"
}

# build_loadgen: compile bench/loadgen.c (with src/resp.c) into $TMP; its
# path in $LOADGEN. Returns 1, with the reason in $LOADGEN_WHY, when there
# is no C compiler; a failed build stops the script.
build_loadgen() {
    LOADGEN=""
    cc=${CC:-cc}
    if ! command -v "$cc" >/dev/null 2>&1; then
        LOADGEN_WHY="no C compiler ($cc)"
        return 1
    fi
    # shellcheck disable=SC2154  # $top: set by the sourcing script
    "$cc" -std=gnu11 -D_GNU_SOURCE -O2 -I"$top/src" "$top/src/resp.c" \
        "$top/bench/loadgen.c" -o "$TMP/loadgen" ||
        die "cannot build bench/loadgen.c"
    LOADGEN=$TMP/loadgen
}

# loadgen PORT PIPELINE REQUESTS KEYSPACE: one run of bench/loadgen (GETs
# of keys that must all exist) with 50 clients (run_client); requests per
# second in $RPS.
loadgen() {
    run_client "$LOADGEN" -h 127.0.0.1 -p "$1" -c 50 -P "$2" -n "$3" -r "$4"
    RPS=$(awk '/requests per second/ { r = $2 } END { print r }' "$TMP/bench.out")
    [ -n "$RPS" ] || die "no result from loadgen"
}

# shell_times: CPU time (user + system) of this shell in $SELF_NS and of
# its reaped children (redis-benchmark, redis-cli) in $CHILD_NS, in ns, as
# the times builtin reports them. Not to be called in a subshell: times
# would report the subshell.
shell_times() {
    times >"$TMP/times"
    # shellcheck disable=SC2046  # two numbers, split on purpose
    set -- $(awk '{ s = 0
        for (i = 1; i <= 2; i++) { split($i, p, "m"); s += p[1] * 60 + p[2] }
        printf "%.0f ", s * 1e9 }' "$TMP/times")
    SELF_NS=$1
    CHILD_NS=$2
}

# busy_jiffies: CPU time, in clock ticks, of every process on the machine:
# each live process's own time plus that of the children it reaped, so an
# exited process still counts once (in its parent). Per-process figures,
# like own_jiffies, so that the two compare (/proc/stat counts differently).
busy_jiffies() {
    cat /proc/[0-9]*/stat 2>/dev/null | sed 's/.*) //' |
        awk '{ s += $12 + $13 + $14 + $15 } END { printf "%d\n", s }'
}

# own_jiffies: CPU time, in clock ticks, used by this shell, its reaped
# children and the servers it started; in $OWN. Not to be called in a
# subshell (see shell_times).
own_jiffies() {
    shell_times
    OWN=$(awk -v a="$SELF_NS" -v b="$CHILD_NS" -v hz="$(getconf CLK_TCK)" \
        'BEGIN { printf "%d\n", (a + b) / 1e9 * hz }')
    for p in $PIDS; do
        [ -r "/proc/$p/stat" ] || continue
        OWN=$((OWN + $(sed 's/.*) //' "/proc/$p/stat" | awk '{ print $12 + $13 }')))
    done
}

# cpu_mark: remember the clock and CPU counters; cpu_foreign later prints
# how much of the machine other processes used in between.
cpu_mark() {
    MARK_BUSY=$(busy_jiffies)
    own_jiffies
    MARK_OWN=$OWN
    MARK_T=$(date +%s)
}

cpu_foreign() {
    busy=$(($(busy_jiffies) - MARK_BUSY))
    own_jiffies
    own=$((OWN - MARK_OWN))
    secs=$(($(date +%s) - MARK_T))
    [ "$secs" -gt 0 ] || secs=1
    awk -v b="$busy" -v o="$own" -v s="$secs" -v n="$(nproc)" \
        -v hz="$(getconf CLK_TCK)" 'BEGIN {
        f = (b - o) / hz / s / n * 100
        if (f < 0) f = 0
        note = ""
        if (f > 10) note = ": numbers are unreliable, run again on a quiet machine"
        printf "other processes used %.0f%% of the CPUs during the runs%s\n", f, note }'
}

# cpu_ns PID: CPU time the process has used, in ns (scheduler statistics,
# else clock ticks).
cpu_ns() {
    if [ -r "/proc/$1/schedstat" ]; then
        cut -d' ' -f1 "/proc/$1/schedstat"
    else
        sed 's/.*) //' "/proc/$1/stat" |
            awk -v hz="$(getconf CLK_TCK)" '{ printf "%.0f\n", ($12 + $13) * 1e9 / hz }'
    fi
}

# median V...: the median of the numbers, printed.
median() {
    printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END {
        if (NR == 0) print "nan"
        else if (NR % 2) printf "%.0f\n", a[(NR + 1) / 2]
        else printf "%.0f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

# redis_calls CMD: how many times Redis on $REDIS_PORT ran CMD, and how many
# of those failed, as "calls failed".
redis_calls() {
    redis-cli -h 127.0.0.1 -p "$REDIS_PORT" info commandstats 2>/dev/null |
        tr -d '\r' | awk -F'[:,=]' -v c="cmdstat_$1" '
            $1 == c { for (i = 2; i < NF; i += 2) v[$i] = $(i + 1) }
            END { printf "%d %d\n", v["calls"], v["failed_calls"] + v["rejected_calls"] }'
}

# corral_metric PORT NAME: a counter from corral's stats port (0 if absent).
corral_metric() {
    curl -s "http://127.0.0.1:$1/metrics" |
        awk -v n="$2" '$1 == n { v = $2 } END { printf "%d\n", v }'
}

# cpu_limit_init CPUS GROUP...: make one cgroup per GROUP whose processes
# may together use at most CPUS CPUs' worth of time (CFS bandwidth: a
# quota per 10 ms period), as a container with a CPU limit gets; a sidecar
# usually runs with one. With each server under test in a group of its own
# they all get the same CPU budget, and the server, not the load generator,
# is what limits the requests per second. Returns 0 with the groups under
# $LIMIT_DIR; otherwise 1 with the reason in $LIMIT_WHY (no writable cgroup
# cpu controller, e.g. not root). lib_cleanup removes the groups.
cpu_limit_init() {
    quota=$(awk -v c="$1" 'BEGIN { printf "%d\n", c * 10000 }')
    shift
    if [ "$quota" -lt 1000 ]; then
        LIMIT_WHY="CPU limit below 0.1"
        return 1
    fi
    v1=$(awk '$3 == "cgroup" && $4 ~ /(^|,)cpu(,|$)/ { print $2; exit }' /proc/mounts)
    v2=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
    if [ -n "$v1" ] && [ -w "$v1" ]; then
        LIMIT_DIR="$v1/corral-bench.$$"
        mkdir "$LIMIT_DIR" 2>/dev/null || { LIMIT_DIR=""; LIMIT_WHY="cannot create a group in $v1"; return 1; }
        for g in "$@"; do
            if ! { mkdir "$LIMIT_DIR/$g" &&
                echo 10000 >"$LIMIT_DIR/$g/cpu.cfs_period_us" &&
                echo "$quota" >"$LIMIT_DIR/$g/cpu.cfs_quota_us"; }; then
                LIMIT_WHY="cannot set a CPU quota in $v1"
                return 1
            fi
        done
    elif [ -n "$v2" ] && grep -qw cpu "$v2/cgroup.controllers" 2>/dev/null; then
        LIMIT_DIR="$v2/corral-bench.$$"
        mkdir "$LIMIT_DIR" 2>/dev/null || { LIMIT_DIR=""; LIMIT_WHY="cannot create a group in $v2"; return 1; }
        grep -qw cpu "$v2/cgroup.subtree_control" 2>/dev/null ||
            echo +cpu >"$v2/cgroup.subtree_control" 2>/dev/null
        echo +cpu >"$LIMIT_DIR/cgroup.subtree_control" 2>/dev/null
        for g in "$@"; do
            if ! { mkdir "$LIMIT_DIR/$g" &&
                echo "$quota 10000" >"$LIMIT_DIR/$g/cpu.max"; }; then
                LIMIT_WHY="cannot set cpu.max under $v2"
                return 1
            fi
        done
    else
        LIMIT_WHY="no cgroup cpu controller"
        return 1
    fi
    return 0
}

# cpu_limit PID GROUP: move process PID (all its threads) into GROUP.
cpu_limit() {
    echo "$1" >"$LIMIT_DIR/$2/cgroup.procs" ||
        die "cannot move pid $1 into $LIMIT_DIR/$2"
}
