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

/* Runs a query and drops its result; ends the benchmark on error. */
static inline void run_sql(udr_repo *r, const char *sql)
{
    udr_result *res;
    if (udr_query(r, sql, NULL, 0, &res) != UDR_OK)
        die(sql, r);
    udr_result_free(res);
}

/* A query to time, with %s where the table's name goes. */
typedef struct query_case {
    const char *name, *sql;
} query_case;

/* Each query on table a against the same on table b: the median over 15
 * rounds of the per-round ratio (a's time / b's, the order alternating so
 * that neither always runs warm), and each side's best time. Prints
 * PREFIX_STAGE_NAME_s, ..._fresh_s (b's) and ..._ratio. */
static inline void compare_queries(udr_repo *r, const char *prefix, const char *stage,
                                   const query_case *qs, size_t n, const char *a_table,
                                   const char *b_table)
{
    enum { ROUNDS = 15 };
    for (size_t i = 0; i < n; i++) {
        char a[512], b[512];
        snprintf(a, sizeof a, qs[i].sql, a_table);
        snprintf(b, sizeof b, qs[i].sql, b_table);
        run_sql(r, a);
        run_sql(r, b);
        double ratios[ROUNDS], ta = 1e9, tb = 1e9;
        for (int k = 0; k < ROUNDS; k++) {
            double x = 0, y = 1, s;
            for (int o = 0; o < 2; o++) {
                int first_a = (k + o) % 2 == 0;
                s = now_s();
                run_sql(r, first_a ? a : b);
                if (first_a)
                    x = now_s() - s;
                else
                    y = now_s() - s;
            }
            ratios[k] = x / y;
            ta = x < ta ? x : ta;
            tb = y < tb ? y : tb;
        }
        qsort(ratios, ROUNDS, sizeof ratios[0], cmp_double);
        printf("%s_%s_%s_s %.5f\n%s_%s_%s_fresh_s %.5f\n%s_%s_%s_ratio %.3f\n", prefix, stage,
               qs[i].name, ta, prefix, stage, qs[i].name, tb, prefix, stage, qs[i].name,
               ratios[ROUNDS / 2]);
    }
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
