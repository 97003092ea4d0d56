#!/bin/sh
# stats_screenshot.sh — render the stats page with headless Chromium and save
# a PNG, to check by eye that the page draws.
#
# usage: stats_screenshot.sh URL OUT.png [WIDTHxHEIGHT]
# Exits non-zero when Chromium is missing or fails, or the PNG is missing or
# empty. CHROMIUM may name the browser binary (default: chromium, then
# chromium-browser, google-chrome).
set -u

if [ $# -lt 2 ] || [ $# -gt 3 ]; then
    echo "usage: $0 URL OUT.png [WIDTHxHEIGHT]" >&2
    exit 2
fi
url=$1
out=$2
size=${3:-1200x1400}
case $size in
    *[!0-9x]* | x* | *x | *x*x* | [!0-9]*) echo "$0: bad size '$size'" >&2; exit 2 ;;
    *x*) ;;
    *) echo "$0: bad size '$size'" >&2; exit 2 ;;
esac
width=${size%x*}
height=${size#*x}

browser=${CHROMIUM:-}
if [ -z "$browser" ]; then
    for b in chromium chromium-browser google-chrome; do
        if command -v "$b" >/dev/null 2>&1; then
            browser=$b
            break
        fi
    done
fi
if [ -z "$browser" ] || ! command -v "$browser" >/dev/null 2>&1; then
    echo "$0: chromium not found (apt-get install chromium)" >&2
    exit 1
fi

profile=$(mktemp -d "${TMPDIR:-/tmp}/stats_screenshot.XXXXXX") || exit 1
trap 'rm -rf "$profile"' EXIT INT TERM
rm -f "$out"

# The page polls /stats every 2 s; the virtual time budget lets the first
# answers arrive and be drawn before the shot.
if ! "$browser" --headless --no-sandbox --disable-gpu --disable-quic \
        --no-first-run --disable-background-networking \
        --disable-component-update --disable-sync \
        --user-data-dir="$profile" --virtual-time-budget=5000 \
        --hide-scrollbars --screenshot="$out" \
        --window-size="$width,$height" "$url" >"$profile/log" 2>&1; then
    echo "$0: $browser failed:" >&2
    tail -n 20 "$profile/log" >&2
    exit 1
fi
if [ ! -s "$out" ]; then
    echo "$0: no screenshot written to $out" >&2
    tail -n 20 "$profile/log" >&2
    exit 1
fi
# A PNG starts with \211PNG.
if [ "$(head -c 4 "$out" | tail -c 3)" != "PNG" ]; then
    echo "$0: $out is not a PNG" >&2
    exit 1
fi
exit 0
