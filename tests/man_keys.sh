#!/bin/sh
# man_keys.sh — fails unless every configuration key the loader accepts
# (conf_keys[] in src/conf.c) is documented as an item of
# man/corral.yml.5 (".It Ic <dotted key>").
#
# The key list comes from tests/conf_keys_dump: $CONF_KEYS_DUMP if set, else
# ./tests/conf_keys_dump in the build directory, else it is compiled here
# from $srcdir/src/conf.c with $CC and pkg-config.
set -eu

srcdir=${srcdir:-.}
man="$srcdir/man/corral.yml.5"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

dump=${CONF_KEYS_DUMP:-}
if [ -z "$dump" ] && [ -x ./tests/conf_keys_dump ]; then
    dump=./tests/conf_keys_dump
fi
if [ -z "$dump" ]; then
    dump="$tmp/conf_keys_dump"
    # shellcheck disable=SC2046
    ${CC:-cc} -std=gnu11 -D_GNU_SOURCE -I"$srcdir/src" \
        "$srcdir/src/conf.c" "$srcdir/tests/conf_keys_dump.c" \
        $(pkg-config --cflags --libs yaml-0.1) -o "$dump"
fi

[ -r "$man" ] || { echo "man_keys: cannot read $man" >&2; exit 1; }
"$dump" > "$tmp/keys"
[ -s "$tmp/keys" ] || { echo "man_keys: no keys from $dump" >&2; exit 1; }

# keys documented as list items
awk '$1 == ".It" && $2 == "Ic" { print $3 }' "$man" | sort -u > "$tmp/documented"

status=0
while IFS= read -r key; do
    if ! grep -Fxq -- "$key" "$tmp/documented"; then
        echo "man_keys: $key is not documented in $man" >&2
        status=1
    fi
done < "$tmp/keys"
[ "$status" -eq 0 ] && echo "man_keys: all $(wc -l < "$tmp/keys") keys documented"
exit "$status"
