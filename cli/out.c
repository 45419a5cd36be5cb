/*
 * out — how the udr tool speaks: errors on stderr, progress on terminals.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

int out_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("udr: error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return EXIT_FAIL;
}

int out_usage(const char *verb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("udr: ", stderr);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n(see 'udr %s--help')\n", verb ? verb : "");
    va_end(ap);
    return EXIT_USAGE;
}

int out_repo_error(udr_repo *repo)
{
    return out_error("%s", udr_errmsg(repo));
}

int out_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            return 0;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return 1;
    }
    return 0;
}

udr_repo *cli_open_repo(cli *c)
{
    udr_repo *repo;
    if (udr_open(c->repo_dir, &repo) != UDR_OK) {
        out_repo_error(repo);
        udr_close(repo);
        return NULL;
    }
    return repo;
}

const char *out_bytes(uint64_t n, char *buf, int size)
{
    static const char *units[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB"};
    double v = (double)n;
    int u = 0;
    while (v >= 1024 && u < 5) {
        v /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(buf, (size_t)size, "%llu bytes", (unsigned long long)n);
    else
        snprintf(buf, (size_t)size, "%.1f %s", v, units[u]);
    return buf;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void progress_begin(progress *p, const cli *c)
{
    p->on = !c->quiet && isatty(STDERR_FILENO);
    p->start_s = p->last_s = now_s();
    p->shown = 0;
}

void progress_update(progress *p, const char *what, uint64_t count, const char *unit,
                     uint64_t bytes)
{
    if (!p->on)
        return;
    double t = now_s();
    if (t - p->last_s < 0.1 && p->shown)
        return;                /* at most ten updates a second */
    p->last_s = t;
    p->shown = 1;
    char b[32], r[32];
    double el = t - p->start_s;
    fprintf(stderr, "\r%s: %llu %s, %s, %s/s   ", what, (unsigned long long)count, unit,
            out_bytes(bytes, b, sizeof b),
            out_bytes(el > 0 ? (uint64_t)((double)bytes / el) : 0, r, sizeof r));
    fflush(stderr);
}

void progress_end(progress *p)
{
    if (p->on && p->shown)
        fputs("\r\033[K", stderr);
    p->shown = 0;
}
