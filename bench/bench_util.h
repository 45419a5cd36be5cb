/*
 * bench_util — small helpers the C benchmarks share. Define BENCH_NAME (the
 * program's name, for messages) before including it.
 */
#ifndef UDR_BENCH_UTIL_H
#define UDR_BENCH_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "udr.h"

/* Seconds on the monotonic clock. */
static inline double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Ends the benchmark: what failed, and the repository's message. */
static inline void die(const char *what, udr_repo *r)
{
    fprintf(stderr, BENCH_NAME ": %s: %s\n", what, r ? udr_errmsg(r) : "");
    exit(1);
}

/* The first value of a query, as an integer; ends the benchmark on error. */
static inline long long int_of(udr_repo *r, const char *sql)
{
    udr_result *res;
    if (udr_query(r, sql, NULL, 0, &res) != UDR_OK)
        die(sql, r);
    long long v = udr_result_int64(res, 0, 0);
    udr_result_free(res);
    return v;
}

/* For qsort of doubles, ascending. */
static inline int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Bytes this process has read through system calls so far. */
static inline unsigned long long rchar(void)
{
    FILE *f = fopen("/proc/self/io", "r");
    unsigned long long v = 0;
    char line[128];
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "rchar: %llu", &v) == 1)
            break;
    if (f)
        fclose(f);
    return v;
}

#endif
