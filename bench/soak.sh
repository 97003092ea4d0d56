#!/bin/sh
# bench/soak.sh — a bounded soak of corral with Redis restarted under load.
#
#   sh bench/soak.sh [path/to/corral]
#
# Runs for SOAK_SECONDS (default 120, clamped to 10..3600). Starts its own
# redis-server (AOF on, appendfsync always, in a temporary directory, so
# every write Redis acknowledged survives a kill) and a corral in front of
# it, on free loopback ports. Load, all through corral:
#   - redis-benchmark, run after run, with a mix of reads and writes
#     (SET GET INCR LPUSH RPOP SADD HSET MSET), pipelined;
#   - SOAK_INCR writer processes, each doing INCR on keys of its own, one
#     request at a time, counting the acknowledged ones (integer replies)
#     and the ones in doubt (an error reply or a lost connection: the INCR
#     may or may not have run);
#   - SOAK_READERS reader processes doing GET of keys written once before
#     the load starts and never again: every reply must be that value or an
#     error — never nil, never another value.
# At 1/3 and 2/3 of the run Redis is killed with SIGKILL and started again
# on the same port and directory.
#
# Checks at the end (exit status 0 only if all hold):
#   durable  for every INCR key, acked <= value in Redis <= acked + in doubt.
#            The lower bound is the one that matters: no acknowledged write
#            was lost across the kills. The value equals acked exactly when
#            nothing was in flight at a kill; a request in flight may have
#            run (and been fsynced) without its reply reaching the client,
#            which is why the upper bound allows the ones in doubt and the
#            lower bound is the strict check.
#   replies  no INCR reply contradicted those bounds at the time it came
#            (each reply value >= acked so far, <= acked + in doubt), and
#            no GET of an immutable key returned anything but its value or
#            an error;
#   service  corral is still running, answers PING, and the benchmark ran.
# Counts are printed on lines starting "soak:".
set -u
top=$(CDPATH='' cd -- "$(dirname -- "$0")/.." && pwd)
. "$top/bench/lib.sh"

CORRAL=${1:-${CORRAL_BIN:-}}
if [ -z "$CORRAL" ]; then
    for c in "$top/build/src/corral" "$top/src/corral"; do
        if [ -x "$c" ]; then
            CORRAL=$c
            break
        fi
    done
fi
[ -n "$CORRAL" ] && [ -x "$CORRAL" ] ||
    die "no corral binary (build it, or pass its path)"
for t in redis-server redis-cli redis-benchmark pkg-config cc; do
    command -v "$t" >/dev/null 2>&1 || die "needs $t"
done

SECONDS_RUN=${SOAK_SECONDS:-120}
case $SECONDS_RUN in
'' | *[!0-9]*) die "SOAK_SECONDS must be a number of seconds" ;;
esac
[ "$SECONDS_RUN" -lt 10 ] && SECONDS_RUN=10
[ "$SECONDS_RUN" -gt 3600 ] && SECONDS_RUN=3600
WRITERS=${SOAK_INCR:-4}
READERS=${SOAK_READERS:-4}
KEYS_PER_WRITER=50
IMMUTABLE=200

lib_init corral-soak

# ---- the load driver (C, hiredis) ----
cat >"$TMP/driver.c" <<'EOF'
/* soak driver: INCR writers, GET readers of immutable keys, and the final
 * check against Redis. Every call has a timeout; loops end at a deadline. */
#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static redisContext *dial(int port, double deadline)
{
    struct timeval tv = { 1, 0 };

    while (now() < deadline) {
        redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);

        if (c && !c->err) {
            tv.tv_sec = 2;
            redisSetTimeout(c, tv);
            return c;
        }
        if (c)
            redisFree(c);
        usleep(20000);
    }
    return NULL;
}

/* The value of immutable key k: its own text, some of them long. */
static void imm_value(int k, char *buf, size_t len)
{
    size_t n = (size_t)snprintf(buf, len, "immutable-%d-", k);
    size_t want = k % 10 == 0 ? 8000 : 40, i;

    for (i = n; i < want && i + 1 < len; i++)
        buf[i] = (char)('a' + (k + i) % 26);
    buf[i] = '\0';
}

static int incr(int port, double secs, int id, int nkeys, const char *out)
{
    long *acked = calloc((size_t)nkeys, sizeof(long));
    long *doubt = calloc((size_t)nkeys, sizeof(long));
    long sent = 0, ok = 0, errs = 0, lost = 0, wrong = 0;
    double end = now() + secs;
    redisContext *c = NULL;
    FILE *f;
    int k = 0, i;

    if (!acked || !doubt)
        return 2;
    while (now() < end) {
        redisReply *r;

        if (!c && !(c = dial(port, end)))
            break;
        r = redisCommand(c, "INCR soak:incr:%d:%d", id, k);
        sent++;
        if (!r) {
            /* connection lost or timed out: the INCR may have run */
            doubt[k]++;
            lost++;
            redisFree(c);
            c = NULL;
        } else if (r->type == REDIS_REPLY_INTEGER) {
            acked[k]++;
            ok++;
            if (r->integer < acked[k] || r->integer > acked[k] + doubt[k])
                wrong++;
        } else {
            doubt[k]++;
            errs++;
        }
        if (r)
            freeReplyObject(r);
        k = (k + 1) % nkeys;
    }
    if (c)
        redisFree(c);
    f = fopen(out, "w");
    if (!f)
        return 2;
    for (i = 0; i < nkeys; i++)
        fprintf(f, "soak:incr:%d:%d %ld %ld\n", id, i, acked[i], doubt[i]);
    fclose(f);
    printf("incr %d %ld %ld %ld %ld %ld\n", id, sent, ok, errs, lost, wrong);
    return 0;
}

static int get(int port, double secs, int id, int nkeys)
{
    long sent = 0, ok = 0, errs = 0, lost = 0, wrong = 0;
    double end = now() + secs;
    redisContext *c = NULL;
    char want[8192];
    int k = id;

    while (now() < end) {
        redisReply *r;

        if (!c && !(c = dial(port, end)))
            break;
        imm_value(k, want, sizeof(want));
        r = redisCommand(c, "GET soak:imm:%d", k);
        sent++;
        if (!r) {
            lost++;
            redisFree(c);
            c = NULL;
        } else if (r->type == REDIS_REPLY_ERROR) {
            errs++;
        } else if (r->type == REDIS_REPLY_STRING && strcmp(r->str, want) == 0) {
            ok++;
        } else {
            wrong++;
            if (wrong <= 5)
                fprintf(stderr, "GET soak:imm:%d: wrong reply (type %d)\n",
                        k, r->type);
        }
        if (r)
            freeReplyObject(r);
        k = (k + 7) % nkeys;
    }
    if (c)
        redisFree(c);
    printf("get %d %ld %ld %ld %ld %ld\n", id, sent, ok, errs, lost, wrong);
    return 0;
}

static int setimm(int port, int nkeys)
{
    redisContext *c = dial(port, now() + 10);
    char v[8192];
    int k;

    if (!c)
        return 1;
    for (k = 0; k < nkeys; k++) {
        redisReply *r;

        imm_value(k, v, sizeof(v));
        r = redisCommand(c, "SET soak:imm:%d %s", k, v);
        if (!r || r->type != REDIS_REPLY_STATUS)
            return 1;
        freeReplyObject(r);
    }
    redisFree(c);
    return 0;
}

/* Lines "key acked doubt" on stdin, checked against Redis on port. */
static int verify(int port)
{
    redisContext *c = dial(port, now() + 10);
    char key[128];
    long acked, doubt, keys = 0, exact = 0, bad = 0, tacked = 0, tdoubt = 0;
    long long tvalue = 0;

    if (!c)
        return 2;
    while (scanf("%127s %ld %ld", key, &acked, &doubt) == 3) {
        redisReply *r = redisCommand(c, "GET %s", key);
        long long v = 0;

        if (r && r->type == REDIS_REPLY_STRING)
            v = atoll(r->str);
        else if (!r || r->type != REDIS_REPLY_NIL)
            v = -1;
        if (r)
            freeReplyObject(r);
        keys++;
        tacked += acked;
        tdoubt += doubt;
        tvalue += v;
        if (v < acked || v > acked + doubt) {
            bad++;
            fprintf(stderr, "%s: value %lld, acknowledged %ld, in doubt %ld\n",
                    key, v, acked, doubt);
        }
        exact += v == acked;
    }
    redisFree(c);
    printf("verify %ld %ld %ld %ld %ld %lld\n", keys, exact, bad, tacked,
           tdoubt, tvalue);
    return bad ? 1 : 0;
}

/* A loopback port the kernel hands out as free (bound, then released). */
static int port(void)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
        return 1;
    printf("%d\n", ntohs(sa.sin_port));
    close(fd);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "port") == 0)
        return port();
    if (argc >= 3 && strcmp(argv[1], "verify") == 0)
        return verify(atoi(argv[2]));
    if (argc >= 4 && strcmp(argv[1], "setimm") == 0)
        return setimm(atoi(argv[2]), atoi(argv[3]));
    if (argc >= 7 && strcmp(argv[1], "incr") == 0)
        return incr(atoi(argv[2]), atof(argv[3]), atoi(argv[4]),
                    atoi(argv[5]), argv[6]);
    if (argc >= 6 && strcmp(argv[1], "get") == 0)
        return get(atoi(argv[2]), atof(argv[3]), atoi(argv[4]), atoi(argv[5]));
    fprintf(stderr, "usage: driver incr|get|setimm|verify|port ...\n");
    return 2;
}
EOF
# shellcheck disable=SC2046
cc -std=gnu11 -O2 -Wall -o "$TMP/driver" "$TMP/driver.c" \
    $(pkg-config --cflags --libs hiredis) || die "cannot build the driver"

# Ports come from the kernel (bind to port 0), which also avoids ports held
# by connections in TIME_WAIT; this replaces lib.sh's random pick for the
# ports this script asks for.
free_port() {
    PORT=$("$TMP/driver" port) || die "no free port"
    USED_PORTS="$USED_PORTS $PORT"
}

# ---- Redis with AOF, corral ----
mkdir -p "$TMP/redis"
free_port
REDIS_PORT=$PORT
start_aof_redis() {
    spawn "$TMP/redis.log" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 \
        --dir "$TMP/redis" --save '' --appendonly yes --appendfsync always \
        --auto-aof-rewrite-min-size 8mb --daemonize no
    REDIS_PID=$PID
    # PONG, not -LOADING: the AOF has been read back
    wait_ping "$REDIS_PORT" "$REDIS_PID" redis-server "$TMP/redis.log"
}
start_aof_redis
free_port
STATS_PORT=$PORT
free_port
CORRAL_PORT=$PORT
cat >"$TMP/corral.yml" <<EOF
listen: 127.0.0.1:$CORRAL_PORT
upstream:
  address: 127.0.0.1:$REDIS_PORT
stats:
  listen: 127.0.0.1:$STATS_PORT
log:
  level: ${SOAK_LOG_LEVEL:-warn}
EOF
"$CORRAL" -t -c "$TMP/corral.yml" >"$TMP/corral.check" 2>&1 ||
    die "corral rejects $TMP/corral.yml: $(cat "$TMP/corral.check")"
spawn "$TMP/corral.log" "$CORRAL" -c "$TMP/corral.yml"
CORRAL_PID=$PID
wait_ping "$CORRAL_PORT" "$CORRAL_PID" corral "$TMP/corral.log"
rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }
RSS0=$(rss "$CORRAL_PID")

"$TMP/driver" setimm "$CORRAL_PORT" "$IMMUTABLE" ||
    die "cannot write the immutable keys"

# ---- load ----
START=$(date +%s)
END=$((START + SECONDS_RUN))
DRIVERS=""
i=0
while [ $i -lt "$WRITERS" ]; do
    "$TMP/driver" incr "$CORRAL_PORT" "$SECONDS_RUN" $i "$KEYS_PER_WRITER" \
        "$TMP/acked.$i" >"$TMP/incr.$i.out" 2>&1 &
    DRIVERS="$DRIVERS $!"
    i=$((i + 1))
done
i=0
while [ $i -lt "$READERS" ]; do
    "$TMP/driver" get "$CORRAL_PORT" "$SECONDS_RUN" $i "$IMMUTABLE" \
        >"$TMP/get.$i.out" 2>&1 &
    DRIVERS="$DRIVERS $!"
    i=$((i + 1))
done
PIDS="$PIDS $DRIVERS"

# redis-benchmark, run after run until the end (each run bounded)
(
    ok=0 failed=0 requests=0
    while [ "$(date +%s)" -lt "$END" ]; do
        left=$((END - $(date +%s) + 1))
        timeout "$left" redis-benchmark -h 127.0.0.1 -p "$CORRAL_PORT" -c 20 \
            -P 8 -n 50000 -r 10000 -d 32 -q \
            -t set,get,incr,lpush,rpop,sadd,hset,mset \
            >"$TMP/bench.last" 2>&1
        rc=$?
        if [ $rc = 0 ]; then
            ok=$((ok + 1))
            requests=$((requests + 8 * 50000))
        elif [ $rc != 124 ]; then
            # (124: the run was cut at the end of the soak)
            failed=$((failed + 1))
            cp "$TMP/bench.last" "$TMP/bench.failed.$failed"
        fi
    done
    echo "$ok $failed $requests" >"$TMP/bench.counts"
) &
BENCH=$!
PIDS="$PIDS $BENCH"

# two kills and restarts, at 1/3 and 2/3 of the run
RESTARTS=0
for frac in 1 2; do
    at=$((START + SECONDS_RUN * frac / 3))
    while [ "$(date +%s)" -lt "$at" ]; do
        sleep 1
    done
    kill -9 "$REDIS_PID" 2>/dev/null
    wait "$REDIS_PID" 2>/dev/null
    echo "soak: killed Redis (SIGKILL) at +$(($(date +%s) - START)) s"
    start_aof_redis
    RESTARTS=$((RESTARTS + 1))
    t0=$(date +%s)
    wait_ping "$CORRAL_PORT" "$CORRAL_PID" corral "$TMP/corral.log"
    echo "soak: Redis restarted, corral answering again after" \
        "$(($(date +%s) - t0)) s"
done

# the drivers stop at the deadline by themselves; bound the wait anyway
for p in $DRIVERS $BENCH; do
    n=0
    while kill -0 "$p" 2>/dev/null && [ $n -lt 600 ]; do
        sleep 0.1
        n=$((n + 1))
        [ "$(date +%s)" -gt $((END + 60)) ] && kill "$p" 2>/dev/null
    done
    wait "$p" 2>/dev/null
done

# ---- checks ----
PASSED=0
FAILED=0
check() { # NAME OK(0/1) DETAIL
    if [ "$2" = 1 ]; then
        PASSED=$((PASSED + 1))
        echo "soak: check $1: ok ($3)"
    else
        FAILED=$((FAILED + 1))
        echo "soak: check $1: FAILED ($3)"
    fi
}

cat "$TMP"/acked.* 2>/dev/null >"$TMP/acked.all"
"$TMP/driver" verify "$REDIS_PORT" <"$TMP/acked.all" >"$TMP/verify.out" \
    2>"$TMP/verify.err"
# shellcheck disable=SC2046 # split into fields on purpose
set -- $(cat "$TMP/verify.out") x 0 0 0 0 0 0
[ "$1" = verify ] || set -- verify 0 0 1 0 0 0
VKEYS=$2 VEXACT=$3 VBAD=$4 VACKED=$5 VDOUBT=$6 VVALUE=$7
head -n 5 "$TMP/verify.err" >&2
ok=0
[ "$VKEYS" -eq $((WRITERS * KEYS_PER_WRITER)) ] && [ "$VBAD" -eq 0 ] && ok=1
check durable $ok "keys=$VKEYS acknowledged=$VACKED in_doubt=$VDOUBT \
sum_in_redis=$VVALUE keys_exact=$VEXACT keys_out_of_bounds=$VBAD"

isent=0 iok=0 ierr=0 ilost=0 iwrong=0
for f in "$TMP"/incr.*.out; do
    # shellcheck disable=SC2046 # split into fields on purpose
    set -- $(grep '^incr ' "$f") incr 0 0 0 0 0 0
    isent=$((isent + $3)) iok=$((iok + $4)) ierr=$((ierr + $5))
    ilost=$((ilost + $6)) iwrong=$((iwrong + $7))
done
gsent=0 gok=0 gerr=0 glost=0 gwrong=0
for f in "$TMP"/get.*.out; do
    # shellcheck disable=SC2046 # split into fields on purpose
    set -- $(grep '^get ' "$f") get 0 0 0 0 0 0
    gsent=$((gsent + $3)) gok=$((gok + $4)) gerr=$((gerr + $5))
    glost=$((glost + $6)) gwrong=$((gwrong + $7))
    grep 'wrong reply' "$f" | head -n 3 >&2
done
echo "soak: INCR sent=$isent acknowledged=$iok errors=$ierr" \
    "connections_lost=$ilost contradicting_replies=$iwrong"
echo "soak: GET of immutable keys sent=$gsent right=$gok errors=$gerr" \
    "connections_lost=$glost wrong=$gwrong"
ok=0
[ "$iwrong" -eq 0 ] && [ "$gwrong" -eq 0 ] && [ "$iok" -gt 0 ] &&
    [ "$gok" -gt 0 ] && ok=1
check replies $ok "incr_contradictions=$iwrong wrong_gets=$gwrong"

# shellcheck disable=SC2046 # split into fields on purpose
set -- $(cat "$TMP/bench.counts" 2>/dev/null) 0 0 0
BOK=$1 BFAILED=$2 BREQ=$3
echo "soak: redis-benchmark runs ok=$BOK failed=$BFAILED" \
    "(a run that overlaps a kill may fail) requests_in_ok_runs=$BREQ"
RSS1=$(rss "$CORRAL_PID")
ok=0
if kill -0 "$CORRAL_PID" 2>/dev/null &&
    [ "$(redis-cli -h 127.0.0.1 -p "$CORRAL_PORT" ping 2>/dev/null)" = PONG ] &&
    [ "$BOK" -gt 0 ]; then
    ok=1
fi
RECONNECTS=""
if [ "$HAVE_CURL" = 1 ]; then
    n=$(corral_metric "$STATS_PORT" corral_upstream_reconnects_total)
    RECONNECTS=" upstream_reconnects=$n"
fi
check service $ok "corral running, rss_kb=${RSS0:-?}->${RSS1:-?}, \
redis_restarts=$RESTARTS$RECONNECTS"

echo "soak: ${SECONDS_RUN} s: $PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
