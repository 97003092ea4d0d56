/*
 * fuzz_conf.c — libFuzzer target for the configuration loader: any bytes
 * given to conf_load_string must give either a loaded config or a
 * "fuzz:line: message" error, without crashing, leaking or hanging.
 * Build: clang -fsanitize=fuzzer,address,undefined -Isrc src/conf.c
 *        tests/fuzz/fuzz_conf.c $(pkg-config --cflags --libs yaml-0.1)
 */
#include "conf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct conf c;
    struct conf_policy p;
    char err[256];
    char *s;
    uint64_t v;
    size_t i;

    if (conf_defaults(&c) < 0)
        return 0;
    if (conf_load_string(&c, "fuzz", (const char *)data, size, err, sizeof(err)) == 0) {
        for (i = 0; i < c.cache.nrules; i++)
            if (!c.cache.rules[i].prefix)
                abort();
        conf_policy(&c, (const char *)data, size, &p);
        if (p.cache && !c.cache.enabled)
            abort();
        if (p.lease && !c.lease.enabled)
            abort();
    } else if (strncmp(err, "fuzz:", 5) != 0) {
        abort();
    }
    conf_free(&c);

    /* the command-line parsers take NUL-terminated text */
    s = malloc(size + 1);
    if (s) {
        memcpy(s, data, size);
        s[size] = '\0';
        (void)conf_parse_size(s, &v);
        (void)conf_parse_duration(s, &v);
        free(s);
    }
    return 0;
}
