/*
 * test_stats — udr_stats_get: exact logical and physical bytes on small
 * repositories built here, checked against the scenario (a rewrite doubles
 * logical bytes and adds no physical ones, an append adds its chunk ...) and
 * against an oracle that recomputes them from udr_table_show.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "udrtest.h"

static const char *const KEY[] = {"id", NULL};
static const char *ROWS_SQL = "SELECT i AS id, 'name ' || i AS name, i * 1.5 AS score "
                              "FROM range(1, 5001) t(i)";

static udr_stats stats_of(udr_repo *r)
{
    udr_stats st;
    MUST(r, udr_stats_get(r, &st, NULL, NULL));
    return st;
}

static const udr_table_stats *table_of(const udr_stats *st, const char *name)
{
    for (size_t i = 0; i < st->ntables; i++)
        if (strcmp(st->tables[i].table, name) == 0)
            return &st->tables[i];
    return NULL;
}

/* ---- the oracle: the same figures from udr_table_log and udr_table_show -- */

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
    REQUIRE(s->hex != NULL);
    memcpy(s->hex[s->n++], hex, UDR_HASH_HEX + 1);
    return 1;
}

static uint64_t size_of(udr_repo *r, const char *hex)
{
    udr_hash h;
    uint64_t n = 0;
    MUST(r, udr_hash_from_hex(hex, &h));
    MUST(r, udr_object_size(r, &h, &n));
    return n;
}

/* Checks every table's and the total logical and physical bytes. */
static void check_oracle(udr_repo *r, const udr_stats *st)
{
    seen all = {0};
    uint64_t logical = 0, physical = 0, versions = 0, all_chunks = 0, all_unique = 0;
    for (size_t t = 0; t < st->ntables; t++) {
        const udr_table_stats *ts = &st->tables[t];
        seen mine = {0};
        uint64_t tl = 0, tp = 0, nv = 0, chunks = 0, uniq = 0;
        udr_version_info *v;
        size_t n;
        MUST(r, udr_table_log(r, ts->table, &v, &n));
        for (size_t i = 0; i < n; i++) {
            if (v[i].dropped)
                continue;
            nv++;
            char ref[32];
            snprintf(ref, sizeof ref, "%llu", (unsigned long long)v[i].version);
            udr_table_detail *d;
            MUST(r, udr_table_show(r, ts->table, ref, &d));
            size_t nd = d->nchunks + d->ndeletes;
            for (size_t k = 0; k < nd + d->npatches; k++) {
                int del = k >= d->nchunks;     /* a delete file or patch: sized in the store */
                const char *hex = k < d->nchunks ? d->chunk_hash[k]
                                  : k < nd       ? d->delete_hash[k - d->nchunks]
                                                 : d->patch_hash[k - nd];
                uint64_t b = del ? size_of(r, hex) : d->chunk_bytes[k];
                tl += b;
                chunks += !del;
                if (seen_add(&mine, hex)) {
                    tp += b;
                    uniq += !del;
                }
                all_chunks += !del;
                if (seen_add(&all, hex)) {
                    physical += b;
                    all_unique += !del;
                }
            }
            udr_table_detail_free(d);
        }
        udr_version_info_free(v, n);
        free(mine.hex);
        CHECK_INT(ts->logical_bytes, ==, tl);
        CHECK_INT(ts->physical_bytes, ==, tp);
        CHECK_INT(ts->versions, ==, nv);
        CHECK_INT(ts->chunks, ==, chunks);
        CHECK_INT(ts->unique_chunks, ==, uniq);
        logical += tl;
        versions += nv;
    }
    free(all.hex);
    CHECK_INT(st->logical_bytes, ==, logical);
    CHECK_INT(st->physical_bytes, ==, physical);
    CHECK_INT(st->versions, ==, versions);
    CHECK_INT(st->chunks, ==, all_chunks);
    CHECK_INT(st->unique_chunks, ==, all_unique);
}

/* ---- tests ---------------------------------------------------------------- */

static void test_empty(void)
{
    udr_repo *r = new_repo();
    udr_stats st = stats_of(r);
    CHECK_INT(st.ntables, ==, 0);
    CHECK_INT(st.logical_bytes, ==, 0);
    CHECK_INT(st.physical_bytes, ==, 0);
    CHECK_INT(st.versions, ==, 0);
    CHECK_INT(st.commits, ==, 0);
    CHECK_INT(st.branches, ==, 1);
    CHECK(st.dedup_ratio == 0.0);
    udr_stats_clear(&st);
    CHECK(st.tables == NULL && st.ntables == 0);
    udr_stats_clear(NULL);
    udr_close(r);
}

static void test_rewrite_identical(void)
{
    udr_repo *r = new_repo();
    udr_write_info w1, w2;
    must_write(r, "t", ROWS_SQL, KEY, &w1);
    udr_stats a = stats_of(r);
    CHECK_INT(a.logical_bytes, ==, w1.bytes);
    CHECK_INT(a.physical_bytes, ==, w1.bytes);
    CHECK(a.dedup_ratio == 0.0);
    must_write(r, "t", ROWS_SQL, KEY, &w2);
    CHECK_INT(w2.version, ==, 2);
    udr_stats b = stats_of(r);
    CHECK_INT(b.versions, ==, 2);
    CHECK_INT(b.commits, ==, 2);
    CHECK_INT(b.logical_bytes, ==, 2 * w1.bytes);      /* doubles */
    CHECK_INT(b.physical_bytes, ==, w1.bytes);         /* unchanged */
    CHECK(b.dedup_ratio > 0.4999 && b.dedup_ratio < 0.5001);
    const udr_table_stats *t = table_of(&b, "t");
    REQUIRE(t != NULL);
    CHECK_INT(t->versions, ==, 2);
    CHECK_INT(t->live_rows, ==, 5000);
    CHECK_INT(t->chunks, ==, 2 * w1.chunks);
    CHECK_INT(t->unique_chunks, ==, w1.chunks);
    CHECK_INT(b.chunks, ==, 2 * w1.chunks);
    CHECK_INT(b.unique_chunks, ==, w1.chunks);
    check_oracle(r, &b);
    udr_stats_clear(&a);
    udr_stats_clear(&b);
    udr_close(r);
}

static void test_append_adds_its_chunk(void)
{
    udr_repo *r = new_repo();
    udr_write_info w1, w2;
    must_write(r, "t", ROWS_SQL, KEY, &w1);
    MUST(r, udr_table_append(r, "t", "SELECT i AS id, 'new' AS name, 0.5 AS score "
                                     "FROM range(100001, 100011) t(i)", NULL, &w2));
    CHECK(w2.new_bytes > 0);
    udr_stats st = stats_of(r);
    CHECK_INT(st.logical_bytes, ==, w1.bytes + w2.bytes);
    CHECK_INT(st.physical_bytes, ==, w1.bytes + w2.new_bytes);
    CHECK_INT(w2.bytes, ==, w1.bytes + w2.new_bytes);  /* the old chunks, and one more */
    CHECK_INT(table_of(&st, "t")->live_rows, ==, 5010);
    check_oracle(r, &st);
    udr_stats_clear(&st);
    udr_close(r);
}

static void test_tables_share_content(void)
{
    udr_repo *r = new_repo();
    udr_write_info wa, wb;
    must_write(r, "a", ROWS_SQL, KEY, &wa);
    must_write(r, "b", ROWS_SQL, KEY, &wb);
    CHECK_INT(wb.new_bytes, ==, 0);                    /* the same chunks */
    udr_stats st = stats_of(r);
    REQUIRE(st.ntables == 2);
    CHECK_STR(st.tables[0].table, "a");
    CHECK_STR(st.tables[1].table, "b");
    CHECK_INT(st.logical_bytes, ==, 2 * wa.bytes);
    CHECK_INT(st.physical_bytes, ==, wa.bytes);        /* dedup across tables */
    CHECK_INT(st.tables[0].physical_bytes, ==, wa.bytes);   /* each table's own */
    CHECK_INT(st.tables[1].physical_bytes, ==, wa.bytes);
    CHECK_INT(st.unique_chunks, ==, wa.chunks);          /* shared: counted once */
    CHECK_INT(st.tables[0].unique_chunks + st.tables[1].unique_chunks, ==, 2 * wa.chunks);
    check_oracle(r, &st);
    udr_stats_clear(&st);
    udr_close(r);
}

static void test_branch_adds_nothing(void)
{
    udr_repo *r = new_repo();
    must_write(r, "t", ROWS_SQL, KEY, NULL);
    udr_stats a = stats_of(r);
    MUST(r, udr_branch_create(r, "feature", NULL, NULL));
    MUST(r, udr_tag_create(r, "v1", NULL, NULL));
    udr_stats b = stats_of(r);
    CHECK_INT(b.branches, ==, 2);
    CHECK_INT(b.tags, ==, 1);
    CHECK_INT(b.logical_bytes, ==, a.logical_bytes);
    CHECK_INT(b.physical_bytes, ==, a.physical_bytes);
    CHECK_INT(b.versions, ==, a.versions);
    /* a version on the branch is counted, and its live rows are main's */
    MUST(r, udr_use_branch(r, "feature"));
    udr_write_info w;
    must_write(r, "t", "SELECT * FROM t WHERE id <= 4000", KEY, &w);
    MUST(r, udr_use_branch(r, "main"));
    udr_stats c = stats_of(r);
    CHECK_INT(c.versions, ==, 2);
    CHECK_INT(table_of(&c, "t")->live_rows, ==, 5000);
    CHECK_INT(c.physical_bytes, ==, a.physical_bytes + w.new_bytes);
    check_oracle(r, &c);
    udr_stats_clear(&a);
    udr_stats_clear(&b);
    udr_stats_clear(&c);
    udr_close(r);
}

static void test_update_counts_delete_file(void)
{
    udr_repo *r = new_repo();
    udr_write_info w1;
    must_write(r, "t", ROWS_SQL, KEY, &w1);
    udr_result *res;
    MUST(r, udr_query(r, "UPDATE t SET score = -1 WHERE id = 77", NULL, 0, &res));
    udr_result_free(res);
    udr_table_detail *d;
    MUST(r, udr_table_show(r, "t", NULL, &d));
    REQUIRE(d->ndeletes == 1);
    uint64_t del = size_of(r, d->delete_hash[0]);
    uint64_t v2_chunks = 0, new_chunks = 0;
    for (size_t i = 0; i < d->nchunks; i++)
        v2_chunks += d->chunk_bytes[i];
    new_chunks = v2_chunks - w1.bytes;                 /* the old chunks, and the new row's */
    udr_table_detail_free(d);
    CHECK(del > 0);
    udr_stats st = stats_of(r);
    CHECK_INT(st.logical_bytes, ==, w1.bytes + v2_chunks + del);
    CHECK_INT(st.physical_bytes, ==, w1.bytes + new_chunks + del);
    CHECK_INT(table_of(&st, "t")->live_rows, ==, 5000);
    check_oracle(r, &st);
    udr_stats_clear(&st);
    udr_close(r);
}

/* An UPDATE of a fixed-width non-key column stores a patch: its bytes are
 * physical (and logical) bytes, as a delete file's are, counted once
 * however many versions list it; a missing patch stops stats, named. */
static void test_update_counts_patch(void)
{
    udr_repo *r = new_repo();
    udr_write_info w1;
    must_write(r, "t", "SELECT i AS id, i * 2 AS v, 'x' || i AS name FROM range(10000) t(i)",
               KEY, &w1);
    CHECK_STR(value(r, "UPDATE t SET v = v + 1 WHERE id % 100 = 0"), "100");
    udr_table_detail *d;
    MUST(r, udr_table_show(r, "t", NULL, &d));
    REQUIRE(d->npatches == 1);                        /* a patch, not a delete file */
    CHECK_INT(d->ndeletes, ==, 0);
    CHECK_INT(d->patch_rows[0], ==, 100);
    CHECK_INT(d->patch_cols[0], ==, 2);               /* v */
    char patch[UDR_HASH_HEX + 1];
    memcpy(patch, d->patch_hash[0], sizeof patch);
    uint64_t pb = size_of(r, patch), v2_chunks = 0;
    for (size_t i = 0; i < d->nchunks; i++)
        v2_chunks += d->chunk_bytes[i];
    udr_table_detail_free(d);
    CHECK(pb > 0);
    CHECK_INT(v2_chunks, ==, w1.bytes);               /* the rows kept their chunks */
    udr_stats st = stats_of(r);
    CHECK_INT(st.logical_bytes, ==, 2 * w1.bytes + pb);
    CHECK_INT(st.physical_bytes, ==, w1.bytes + pb);
    CHECK_INT(table_of(&st, "t")->physical_bytes, ==, w1.bytes + pb);
    CHECK_INT(st.unique_chunks, ==, w1.chunks);       /* a patch is not a chunk */
    CHECK_INT(st.chunks, ==, 2 * w1.chunks);
    CHECK_INT(table_of(&st, "t")->live_rows, ==, 10000);
    check_oracle(r, &st);
    uint64_t physical = st.physical_bytes;
    udr_stats_clear(&st);

    /* A version on a branch that lists the same patch (an append keeps it)
     * adds only its new chunk's bytes. */
    MUST(r, udr_branch_create(r, "b", NULL, NULL));
    MUST(r, udr_use_branch(r, "b"));
    udr_write_info w3;
    MUST(r, udr_table_append(r, "t", "SELECT 20000 AS id, 1 AS v, 'late' AS name", NULL, &w3));
    MUST(r, udr_table_show(r, "t", NULL, &d));
    int shared = d->npatches == 1 && strcmp(d->patch_hash[0], patch) == 0;
    udr_table_detail_free(d);
    MUST(r, udr_use_branch(r, "main"));
    st = stats_of(r);
    if (shared)
        CHECK_INT(st.physical_bytes, ==, physical + w3.new_bytes);
    check_oracle(r, &st);
    udr_stats_clear(&st);

    udr_hash h;
    MUST(r, udr_hash_from_hex(patch, &h));
    MUST(r, udr_object_delete(r, &h));
    int rc = udr_stats_get(r, &st, NULL, NULL);
    CHECK_INT(rc, ==, UDR_ENOTFOUND);
    CHECK_CONTAINS(udr_errmsg(r), "table t version 2: patch");
    CHECK_CONTAINS(udr_errmsg(r), patch);
    CHECK(st.tables == NULL && st.ntables == 0);
    udr_close(r);
}

typedef struct count {
    uint64_t n, bytes;
} count;

static int on_object(void *ctx, const udr_hash *h, uint64_t size_bytes)
{
    count *c = ctx;
    (void)h;
    c->n++;
    c->bytes += size_bytes;
    return 0;
}

static void test_objects_match_foreach(void)
{
    udr_repo *r = new_repo();
    must_write(r, "t", ROWS_SQL, KEY, NULL);
    must_write(r, "u", "SELECT 1 AS x", NULL, NULL);
    udr_hash h;
    MUST(r, udr_object_put(r, "loose", 5, &h));       /* referenced by nothing */
    udr_stats st = stats_of(r);
    count c = {0, 0};
    MUST(r, udr_object_foreach(r, on_object, &c));
    CHECK_INT(st.objects, ==, c.n);
    CHECK_INT(st.object_bytes, ==, c.bytes);
    CHECK(st.object_bytes > st.physical_bytes);        /* metadata and the loose one */
    udr_stats_clear(&st);
    udr_close(r);
}

static void test_dropped_table(void)
{
    udr_repo *r = new_repo();
    udr_write_info w;
    must_write(r, "gone", ROWS_SQL, KEY, &w);
    MUST(r, udr_table_drop(r, "gone", NULL));
    udr_stats st = stats_of(r);
    const udr_table_stats *t = table_of(&st, "gone");
    REQUIRE(t != NULL);
    CHECK_INT(t->versions, ==, 1);                     /* the drop is not a version */
    CHECK_INT(t->live_rows, ==, 0);
    CHECK_INT(t->logical_bytes, ==, w.bytes);
    CHECK_INT(st.commits, ==, 2);
    udr_stats_clear(&st);
    udr_close(r);
}

static void test_missing_version_named(void)
{
    udr_repo *r = new_repo();
    must_write(r, "t", ROWS_SQL, KEY, NULL);
    udr_version_info *v;
    size_t n;
    MUST(r, udr_table_log(r, "t", &v, &n));
    udr_hash h;
    MUST(r, udr_hash_from_hex(v[0].content, &h));
    udr_version_info_free(v, n);
    MUST(r, udr_object_delete(r, &h));
    udr_stats st;
    int rc = udr_stats_get(r, &st, NULL, NULL);
    CHECK_INT(rc, ==, UDR_ENOTFOUND);
    CHECK_CONTAINS(udr_errmsg(r), "table t version 1");
    CHECK(st.tables == NULL && st.ntables == 0);
    udr_close(r);
}

static void on_progress(void *ctx, const udr_fsck_stats *s)
{
    *(uint64_t *)ctx = s->objects;
}

static void test_progress(void)
{
    udr_repo *r = new_repo();
    for (int i = 0; i < 20; i++)
        must_write(r, "t", i % 2 ? ROWS_SQL : "SELECT 1 AS id", KEY, NULL);
    uint64_t last = 0;
    udr_stats st;
    MUST(r, udr_stats_get(r, &st, on_progress, &last));
    CHECK_INT(last, ==, 20);                           /* the last call: every version */
    CHECK_INT(st.versions, ==, 20);
    check_oracle(r, &st);
    udr_stats_clear(&st);
    udr_close(r);
}

static const test_case TESTS[] = {
    TEST_ENTRY(test_empty),
    TEST_ENTRY(test_rewrite_identical),
    TEST_ENTRY(test_append_adds_its_chunk),
    TEST_ENTRY(test_tables_share_content),
    TEST_ENTRY(test_branch_adds_nothing),
    TEST_ENTRY(test_update_counts_delete_file),
    TEST_ENTRY(test_update_counts_patch),
    TEST_ENTRY(test_objects_match_foreach),
    TEST_ENTRY(test_dropped_table),
    TEST_ENTRY(test_missing_version_named),
    TEST_ENTRY(test_progress),
};

HARNESS_MAIN("stats", TESTS)
