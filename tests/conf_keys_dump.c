/*
 * conf_keys_dump.c — prints conf_keys[], one key per line, for
 * tests/man_keys.sh to check the man page against.
 */
#include "conf.h"

#include <stdio.h>

int main(void)
{
    size_t i;

    for (i = 0; conf_keys[i]; i++)
        if (puts(conf_keys[i]) == EOF)
            return 1;
    return fflush(stdout) == 0 ? 0 : 1;
}
