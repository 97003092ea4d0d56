#!/bin/sh
# tests/lint.sh — man pages (mandoc -Tlint) and the systemd unit
# (systemd-analyze verify) must be clean.
set -eu
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/man/man5" "$tmp/man/man8"
cp man/corral.yml.5 "$tmp/man/man5/"
cp man/corral.8 "$tmp/man/man8/"
MANPATH="$tmp/man" mandoc -Tlint -Wwarning man/corral.8 man/corral.yml.5
echo "man pages: mandoc -Tlint clean"
sed -e "s|@sbindir@|$tmp|g" -e "s|@sysconfdir@|$tmp/etc|g" \
    systemd/corral.service.in > "$tmp/corral.service"
printf '#!/bin/sh\nexit 0\n' > "$tmp/corral"
chmod +x "$tmp/corral"
out=$(MANPATH="$tmp/man" systemd-analyze verify "$tmp/corral.service" 2>&1 || true)
if [ -n "$out" ]; then
    echo "$out"
    echo "systemd-analyze verify: not clean"
    exit 1
fi
echo "systemd unit: systemd-analyze verify clean"
