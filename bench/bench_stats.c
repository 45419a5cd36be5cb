/*
 * bench_stats — storage and dedup (issue 8, must-show 2): how many bytes 50
 * versions of a table take against one version, and what `udr stats` costs.
 *
 *   A ROWS-row keyed table (default 1,000,000: id, an integer, a string), then
 *   VERSIONS - 1 UPDATEs (default 49, so VERSIONS versions in all), each of
 *   1 % of the rows at keys drawn afresh each time (a hash of id and the
 *   round), each committed on its own (udr_query, autocommit). Then
 *   udr_stats_get: physical bytes against the bytes of one version (the
 *   first), the dedup ratio, and its time (best of 3). The physical bytes
 *   are split into the first version's chunks, later chunks (the updated rows,
 *   and whole new chunks where a change compacted the table), delete files
 *   and patches (an UPDATE of v stores its new values only: src/patch.c),
 *   and the versions that compacted (neither) are counted:
 *   small changes compact by themselves once half of the stored rows are
 *   deleted ones; the chunks those compactions wrote are reported apart, and
 *   the ratio without them.
 *
 * Prints "key value" lines that bench/run.sh turns into bench/RESULTS.md.
 * Usage: bench_stats DIR [ROWS] [VERSIONS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BENCH_NAME "bench_stats"
#include "bench_util.h"
#include "udr.h"

/* The distinct objects seen so far, by hex (a few thousand at most). */
typedef struct seen {
    char (*hex)[UDR_HASH_HEX + 1];
    size_t n;
} seen;

static int seen_add(seen *s, const char *hex)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->hex[i], hex) == 0)
            return 0;
    s->hex = realloc(s->hex, (s->n + 1) * sizeof *s->hex);
    if (s->hex == NULL)
        die("out of memory", NULL);
    memcpy(s->hex[s->n++], hex, UDR_HASH_HEX + 1);
    return 1;
}

static uint64_t size_of(udr_repo *r, const char *hex)
{
    udr_hash h;
    uint64_t n = 0;
    if (udr_hash_from_hex(hex, &h) != UDR_OK || udr_object_size(r, &h, &n) != UDR_OK)
        die("object size", r);
    return n;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_stats DIR [ROWS] [VERSIONS]\n");
        return 2;
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/repo", argv[1]);
    long long rows = argc > 2 ? atoll(argv[2]) : 1000000;
    int versions = argc > 3 ? atoi(argv[3]) : 50;
    udr_repo *r;
    if (udr_init(path, &r) != UDR_OK)
        die("init", r);

    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT i AS id, hash(i) %% 1000000 AS v, 'name ' || i AS name FROM range(%lld) t(i)",
             rows);
    const char *key[] = {"id", NULL};
    udr_write_opts wo = {key, "first version", NULL};
    udr_write_info w1;
    double t0 = now_s();
    if (udr_table_write(r, "t", sql, &wo, &w1) != UDR_OK)
        die("write", r);
    printf("stats_rows %lld\n", rows);
    printf("stats_versions %d\n", versions);
    printf("stats_write_s %.2f\n", now_s() - t0);
    printf("stats_version_bytes %llu\n", (unsigned long long)w1.bytes);
    printf("stats_version_chunks %llu\n", (unsigned long long)w1.chunks);

    t0 = now_s();
    for (int k = 1; k < versions; k++) {
        snprintf(sql, sizeof sql, "UPDATE t SET v = v + 1 WHERE hash(id + %d * 1000003) %% 100 = 0",
                 k);
        udr_result *res;
        if (udr_query(r, sql, NULL, 0, &res) != UDR_OK)
            die(sql, r);
        udr_result_free(res);
    }
    printf("stats_updates_s %.2f\n", now_s() - t0);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM udr_changes('t', '%d', '%d') WHERE _op = 'update_after'",
             versions, versions);
    printf("stats_updated_rows_last %lld\n", int_of(r, sql));

    udr_stats st;
    double best = 1e9;
    for (int i = 0; i < 3; i++) {
        if (i > 0)
            udr_stats_clear(&st);
        double s0 = now_s();
        if (udr_stats_get(r, &st, NULL, NULL) != UDR_OK)
            die("stats", r);
        double el = now_s() - s0;
        best = el < best ? el : best;
    }
    printf("stats_table_versions %llu\n", (unsigned long long)st.versions);
    printf("stats_logical_bytes %llu\n", (unsigned long long)st.logical_bytes);
    printf("stats_physical_bytes %llu\n", (unsigned long long)st.physical_bytes);
    printf("stats_object_bytes %llu\n", (unsigned long long)st.object_bytes);
    printf("stats_objects %llu\n", (unsigned long long)st.objects);
    printf("stats_dedup_ratio %.4f\n", st.dedup_ratio);
    printf("stats_physical_over_version %.3f\n",
           (double)st.physical_bytes / (double)w1.bytes);
    printf("stats_time_ms %.2f\n", best * 1000.0);

    /* Where the physical bytes are: the first version's chunks, later
     * chunks, delete files; and which versions compacted. */
    seen s = {0};
    uint64_t first = 0, later = 0, deletes = 0, patches = 0, compacted = 0;
    int compactions = 0;
    uint64_t last_bytes = 0;
    for (int v = 1; v <= versions; v++) {
        char ref[32];
        snprintf(ref, sizeof ref, "%d", v);
        udr_table_detail *d;
        if (udr_table_show(r, "t", ref, &d) != UDR_OK)
            die("show", r);
        int clean = d->ndeletes == 0 && d->npatches == 0;
        if (v > 1 && clean)
            compactions++;
        last_bytes = 0;
        for (size_t i = 0; i < d->nchunks; i++) {
            last_bytes += d->chunk_bytes[i];
            if (seen_add(&s, d->chunk_hash[i])) {
                *(v == 1 ? &first : &later) += d->chunk_bytes[i];
                if (v > 1 && clean)
                    compacted += d->chunk_bytes[i];
            }
        }
        for (size_t i = 0; i < d->ndeletes; i++)
            if (seen_add(&s, d->delete_hash[i]))
                deletes += size_of(r, d->delete_hash[i]);
        for (size_t i = 0; i < d->npatches; i++)
            if (seen_add(&s, d->patch_hash[i]))
                patches += size_of(r, d->patch_hash[i]);
        udr_table_detail_free(d);
    }
    free(s.hex);
    printf("stats_first_chunk_bytes %llu\n", (unsigned long long)first);
    printf("stats_later_chunk_bytes %llu\n", (unsigned long long)later);
    printf("stats_delete_bytes %llu\n", (unsigned long long)deletes);
    printf("stats_patch_bytes %llu\n", (unsigned long long)patches);
    printf("stats_compactions %d\n", compactions);
    printf("stats_compacted_bytes %llu\n", (unsigned long long)compacted);
    printf("stats_physical_over_version_uncompacted %.3f\n",
           (double)(st.physical_bytes - compacted) / (double)w1.bytes);
    printf("stats_last_version_bytes %llu\n", (unsigned long long)last_bytes);
    if (first + later + deletes + patches != st.physical_bytes)
        die("the split does not add up to udr_stats_get's physical bytes", NULL);
    udr_stats_clear(&st);

    /* What reading the last version costs, its deleted rows left out by
     * deletion vectors, against the same rows written afresh. */
    const char *key_cols[] = {"id", NULL};
    udr_write_opts fo = {key_cols, "the last version's rows, written afresh", NULL};
    if (udr_table_write(r, "fresh", "SELECT * FROM t", &fo, NULL) != UDR_OK)
        die("fresh", r);
    long long lo = rows / 2, hi = rows / 2 + rows / 100;
    char filter[256], point[256];
    snprintf(filter, sizeof filter, "SELECT count(*), sum(v) FROM %%s WHERE id BETWEEN %lld AND %lld",
             lo, hi);
    snprintf(point, sizeof point, "SELECT v, name FROM %%s WHERE id = %lld", lo + 7);
    const query_case qs[] = {
        {"scan", "SELECT sum(v), count(*), max(name) FROM %s"},
        {"filter", filter},
        {"point", point},
    };
    compare_queries(r, "stats", "query", qs, sizeof qs / sizeof qs[0], "t", "fresh");
    if (int_of(r, "SELECT count(*) FROM (SELECT * FROM t EXCEPT SELECT * FROM fresh)") != 0)
        die("the fresh copy differs", NULL);
    udr_close(r);
    return 0;
}
