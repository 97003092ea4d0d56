/*
 * corral.c — command line entry point: options, configuration check, run.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "conf.h"
#include "log.h"
#include "metrics.h"
#include "server.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif
#define DEFAULT_CONF SYSCONFDIR "/corral/corral.yml"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: corral [-c FILE] [-t] [-V] [-h] [--describe-stats]\n"
            "  -c FILE           configuration file (default %s)\n"
            "  -t                check the configuration and exit\n"
            "  -V                print the version and exit\n"
            "  -h                print this help and exit\n"
            "  --describe-stats  list every metric with its help text\n",
            DEFAULT_CONF);
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "describe-stats", no_argument, NULL, 'D' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    const char *path = DEFAULT_CONF;
    int test = 0, opt, rc;
    struct conf conf;
    struct server srv;
    char err[512];

    while ((opt = getopt_long(argc, argv, "c:tVh", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            path = optarg;
            break;
        case 't':
            test = 1;
            break;
        case 'V':
            printf("corral %s\n", PACKAGE_VERSION);
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        case 'D':
            metrics_describe(stdout);
            return 0;
        default:
            usage(stderr);
            return 1;
        }
    }
    if (optind < argc) {
        usage(stderr);
        return 1;
    }
    if (conf_defaults(&conf) < 0) {
        fprintf(stderr, "corral: out of memory\n");
        return 1;
    }
    if (conf_load_file(&conf, path, err, sizeof(err)) < 0) {
        fprintf(stderr, "corral: %s\n", err);
        conf_free(&conf);
        return 1;
    }
    if (test) {
        printf("configuration OK\n");
        conf_free(&conf);
        return 0;
    }
    rc = server_start(&srv, &conf, path);
    if (rc == 0)
        rc = server_run(&srv);
    else
        rc = 1;
    server_free(&srv);
    log_info("exiting");
    return rc;
}
