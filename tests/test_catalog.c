/*
 * Tests of the catalog: names, the canonical metadata objects, commits and
 * version numbers, the index rebuilt from the log, resolving references,
 * concurrent committers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "catalog.h"
#include "harness.h"
#include "hash.h"
#include "repo.h"
#include "util/buf.h"

static udr_repo *new_repo(void)
{
    udr_repo *r;
    REQUIRE(udr_init(t_path("repo"), &r) == UDR_OK);
    return r;
}

static void open_catalog(udr_repo *r, catalog *c, udr_err *err)
{
    int rc = catalog_open(c, repo_store(r), t_path("repo"), err);
    if (rc != UDR_OK)
        harness_fail(__FILE__, __LINE__, "catalog_open: %s", err->msg);
    REQUIRE(rc == UDR_OK);
}

static void test_names(void)
{
    udr_err err = {0, ""};
    const char *good[] = {"users", "_x", "Orders2026", "a_b_c"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        CHECK_INT(catalog_check_name(good[i], &err), ==, UDR_OK);
    char longname[CATALOG_NAME_MAX + 2];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    const char *bad[] = {"", "../../etc", "a b", "1abc", "users@3", "x\ny", "tab\tle", "naïve",
                         "a/b", "a;drop", longname};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err.msg[0] = '\0';
        CHECK_INT(catalog_check_name(bad[i], &err), ==, UDR_EINVAL);
        CHECK(err.msg[0] != '\0');
    }
    catalog_check_name("x\ny", &err);
    CHECK_CONTAINS(err.msg, "x%0Ay");          /* the bad name, shown safely */
    catalog_check_name(longname, &err);
    CHECK_CONTAINS(err.msg, "too long");
    CHECK_INT(catalog_check_name(NULL, &err), ==, UDR_EINVAL);
}

static cat_tablever sample_tv(void)
{
    static cat_column cols[] = {{"id", "BIGINT"}, {"name", "VARCHAR"},
                                {"tags", "STRUCT(a INTEGER, \"b c\" VARCHAR[])"}};
    static char *key[] = {"id"};
    static cat_chunk chunks[2];
    udr_hash_buffer("a", 1, &chunks[0].hash);
    udr_hash_buffer("b", 1, &chunks[1].hash);
    chunks[0].rows = 10;
    chunks[0].bytes = 1000;
    chunks[1].rows = 5;
    chunks[1].bytes = 700;
    cat_tablever tv = {0};
    tv.rows = 15;
    tv.cols = cols;
    tv.ncols = 3;
    tv.key = key;
    tv.nkey = 1;
    tv.chunks = chunks;
    tv.nchunks = 2;
    return tv;
}

static void test_tablever_round_trip_canonical(void)
{
    udr_err err = {0, ""};
    cat_tablever tv = sample_tv();
    for (int with_parent = 0; with_parent < 2; with_parent++) {
        tv.has_parent = with_parent;
        udr_hash_buffer("p", 1, &tv.parent);
        size_t len, len2;
        char *text = catv_encode(&tv, &len);
        REQUIRE(text != NULL);
        CHECK_CONTAINS(text, "column tags STRUCT(a%20INTEGER,%20\"b%20c\"%20VARCHAR[])\n");
        cat_tablever back;
        REQUIRE(catv_decode(text, len, &back, &err) == UDR_OK);
        CHECK_INT(back.ncols, ==, 3);
        CHECK_STR(back.cols[2].type, tv.cols[2].type);
        CHECK_INT(back.nkey, ==, 1);
        CHECK_INT(back.nchunks, ==, 2);
        CHECK_INT(back.rows, ==, 15);
        CHECK_INT(back.has_parent, ==, with_parent);
        char *again = catv_encode(&back, &len2);
        CHECK(again != NULL && len2 == len && memcmp(text, again, len) == 0);
        free(again);
        catv_free(&back);
        free(text);
    }
}

static void expect_tv_refused(const char *text, const char *what)
{
    udr_err err = {0, ""};
    cat_tablever tv;
    int rc = catv_decode(text, strlen(text), &tv, &err);
    if (rc != UDR_ECORRUPT)
        harness_fail(__FILE__, __LINE__, "accepted a table version with %s", what);
    else
        CHECK_CONTAINS(err.msg, "malformed");
}

static void test_tablever_refuses_malformed(void)
{
    const char *h = "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262";
    char t[1024];
    expect_tv_refused("", "nothing");
    expect_tv_refused("udr table-version 2\nrows 0\ncolumn a INT\n", "a newer version");
    expect_tv_refused("udr table-version 1\nrows 0\ncolumn a INT", "no final newline");
    expect_tv_refused("udr table-version 1\nrows 2\n", "no columns, yet rows");
    expect_tv_refused("udr table-version 1\nrows 01\ncolumn a INT\n", "a leading zero");
    expect_tv_refused("udr table-version 1\ncolumn a INT\nrows 0\n", "lines out of order");
    expect_tv_refused("udr table-version 1\nrows 0\ncolumn a%41 INT\n", "a needless escape");
    expect_tv_refused("udr table-version 1\nrows 0\ncolumn a%00 INT\n", "an escaped NUL");
    expect_tv_refused("udr table-version 1\nrows 0\ncolumn  a INT\n", "an empty field");
    snprintf(t, sizeof t, "udr table-version 1\nrows 3\ncolumn a INT\nchunk %s 2 10\n", h);
    expect_tv_refused(t, "rows that do not add up");
    snprintf(t, sizeof t, "udr table-version 1\nrows 2\ncolumn a INT\nchunk %.63s 2 10\n", h);
    expect_tv_refused(t, "a short hash");
    snprintf(t, sizeof t, "udr table-version 1\nrows 2\ncolumn a INT\nchunk %s 2 99999999999999999999\n", h);
    expect_tv_refused(t, "an overflowing number");
    /* No columns: only a raw version's 0 rows in 0-row chunks. */
    snprintf(t, sizeof t, "udr table-version 1\nrows 2\nchunk %s 2 10\n", h);
    expect_tv_refused(t, "no columns, yet a chunk with rows");
    snprintf(t, sizeof t, "udr table-version 1\nrows 0\nchunk %s 2 10\n", h);
    expect_tv_refused(t, "no columns and rows that do not add up");
    snprintf(t, sizeof t, "udr table-version 1\nrows 0\nchunk %s 0 10 1 2\n", h);
    expect_tv_refused(t, "no columns, yet a key range");
    snprintf(t, sizeof t, "udr table-version 1\nrows 0\nchunk %s 0 10\ndelete %s 1\n", h, h);
    expect_tv_refused(t, "no columns, yet a delete file");
    snprintf(t, sizeof t, "udr table-version 1\nchunk %s 0 10\nrows 0\n", h);
    expect_tv_refused(t, "a raw version's lines out of order");
}

/* Patch lines: the columns they name come back as the same bit set, and
 * the text as the same bytes; a patch naming a key column, a column the
 * version lacks, columns out of the table's order, no column, or coming
 * before a delete line is refused. */
static void test_tablever_patches(void)
{
    udr_err err = {0, ""};
    cat_tablever tv = sample_tv();
    cat_patch p[2] = {{{{0}}, 7, 0x6}, {{{0}}, 3, 0x2}};
    udr_hash_buffer("p1", 2, &p[0].hash);
    udr_hash_buffer("p2", 2, &p[1].hash);
    tv.patches = p;
    tv.npatches = 2;
    size_t len, len2;
    char *text = catv_encode(&tv, &len);
    REQUIRE(text != NULL);
    char hex[UDR_HASH_HEX + 1], line[256];
    udr_hash_to_hex(&p[0].hash, hex);
    snprintf(line, sizeof line, "\npatch %s 7 %s %s\n", hex, tv.cols[1].name, tv.cols[2].name);
    CHECK_CONTAINS(text, line);
    cat_tablever back;
    REQUIRE(catv_decode(text, len, &back, &err) == UDR_OK);
    CHECK_INT(back.npatches, ==, 2);
    CHECK_INT(back.patches[0].cols, ==, 0x6);
    CHECK_INT(back.patches[0].rows, ==, 7);
    CHECK_INT(back.patches[1].cols, ==, 0x2);
    CHECK(memcmp(back.patches[1].hash.bytes, p[1].hash.bytes, sizeof p[1].hash.bytes) == 0);
    char *again = catv_encode(&back, &len2);
    CHECK(again != NULL && len2 == len && memcmp(text, again, len) == 0);
    free(again);
    catv_free(&back);
    free(text);

    const char *h = "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262";
    const char *head = "udr table-version 1\nrows 2\ncolumn id BIGINT\ncolumn v BIGINT\n"
                       "column w DOUBLE\nkey id\n";
    char t[2048];
    snprintf(t, sizeof t, "%schunk %s 2 10\npatch %s 1 v w\n", head, h, h);
    REQUIRE(catv_decode(t, strlen(t), &back, &err) == UDR_OK);
    CHECK_INT(back.patches[0].cols, ==, 0x6);
    catv_free(&back);
    snprintf(t, sizeof t, "%schunk %s 2 10\npatch %s 1 id\n", head, h, h);
    expect_tv_refused(t, "a patch of a key column");
    snprintf(t, sizeof t, "%schunk %s 2 10\npatch %s 1 x\n", head, h, h);
    expect_tv_refused(t, "a patch of a column the version lacks");
    snprintf(t, sizeof t, "%schunk %s 2 10\npatch %s 1 w v\n", head, h, h);
    expect_tv_refused(t, "a patch's columns out of order");
    snprintf(t, sizeof t, "%schunk %s 2 10\npatch %s 1 v v\n", head, h, h);
    expect_tv_refused(t, "a patch naming a column twice");
    snprintf(t, sizeof t, "%schunk %s 2 10\npatch %s 1\n", head, h, h);
    expect_tv_refused(t, "a patch of no column");
    snprintf(t, sizeof t, "%schunk %s 2 10\npatch %s 0 v\n", head, h, h);
    expect_tv_refused(t, "a patch of no row");
    snprintf(t, sizeof t, "%schunk %s 3 10\npatch %s 1 v\ndelete %s 1\n", head, h, h, h);
    expect_tv_refused(t, "a delete line after a patch line");
}

/* Found by fuzz_meta (fuzz/corpus/meta/crash-nul-in-number): a NUL byte
 * after a signed number ended the number early, so "25\0" decoded as 25, a
 * second spelling of one table version. */
static void test_tablever_refuses_nul_in_number(void)
{
    const char *h = "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262";
    char t[512];
    int n = snprintf(t, sizeof t,
                     "udr table-version 1\nrows 2\ncolumn id BIGINT\nkey id\nchunk %s 2 326 1 25@\n",
                     h);
    REQUIRE(n > 0 && (size_t)n < sizeof t);
    char *at = strchr(t, '@');
    udr_err err = {0, ""};
    cat_tablever tv;
    memmove(at, at + 1, strlen(at + 1) + 1);        /* without the NUL: canonical */
    REQUIRE(catv_decode(t, (size_t)n - 1, &tv, &err) == UDR_OK);
    catv_free(&tv);
    snprintf(t, sizeof t,
             "udr table-version 1\nrows 2\ncolumn id BIGINT\nkey id\nchunk %s 2 326 1 25@\n", h);
    at = strchr(t, '@');
    *at = '\0';
    CHECK(catv_decode(t, (size_t)n, &tv, &err) == UDR_ECORRUPT);
}

/* A raw version (udr_table_commit_chunks of objects that are not Parquet):
 * no columns, rows 0, chunks of 0 rows; it decodes and encodes canonically. */
static void test_tablever_raw_version(void)
{
    udr_err err = {0, ""};
    cat_tablever tv;
    const char *empty = "udr table-version 1\nrows 0\n";
    REQUIRE(catv_decode(empty, strlen(empty), &tv, &err) == UDR_OK);
    CHECK(catv_is_raw(&tv));
    CHECK_INT(tv.nchunks, ==, 0);
    catv_free(&tv);
    cat_chunk ch[2] = {{.rows = 0, .bytes = 13}};
    udr_hash_buffer("Hello, World!", 13, &ch[0].hash);
    ch[1] = ch[0];                     /* the same object twice, as given */
    cat_tablever raw = {.has_parent = 1, .chunks = ch, .nchunks = 2};
    udr_hash_buffer("p", 1, &raw.parent);
    size_t len, len2;
    char *text = catv_encode(&raw, &len);
    REQUIRE(text != NULL);
    REQUIRE(catv_decode(text, len, &tv, &err) == UDR_OK);
    CHECK(catv_is_raw(&tv));
    CHECK_INT(tv.nchunks, ==, 2);
    CHECK_INT(tv.rows, ==, 0);
    CHECK_INT(tv.chunks[1].bytes, ==, 13);
    char *again = catv_encode(&tv, &len2);
    CHECK(again != NULL && len2 == len && memcmp(text, again, len) == 0);
    free(again);
    free(text);
    catv_free(&tv);
    cat_tablever normal = sample_tv();
    CHECK(!catv_is_raw(&normal));
}

static void test_commit_round_trip(void)
{
    udr_err err = {0, ""};
    cat_entry tables[2] = {{"a", 3, {{0}}}, {"b", 1, {{0}}}};
    udr_hash_buffer("x", 1, &tables[0].hash);
    udr_hash_buffer("y", 1, &tables[1].hash);
    cat_commit c = {0};
    c.nparents = 1;
    udr_hash_buffer("parent", 6, &c.parents[0]);
    c.time_us = 1764000000123456;
    c.author = "Ada Lovelace <ada@example.org>";
    c.message = "load users\nsecond line: 100%";
    c.tables = tables;
    c.ntables = 2;
    size_t len, len2;
    char *text = catc_encode(&c, &len);
    REQUIRE(text != NULL);
    cat_commit back;
    REQUIRE(catc_decode(text, len, &back, &err) == UDR_OK);
    CHECK_STR(back.message, c.message);
    CHECK_STR(back.author, c.author);
    CHECK_INT(back.time_us, ==, c.time_us);
    CHECK_INT(back.ntables, ==, 2);
    CHECK_INT(back.tables[0].version, ==, 3);
    char *again = catc_encode(&back, &len2);
    CHECK(again != NULL && len == len2 && memcmp(again, text, len) == 0);
    free(again);
    catc_free(&back);
    free(text);

    /* Tables out of order are refused (the encoding is canonical). */
    cat_entry swapped[2] = {tables[1], tables[0]};
    c.tables = swapped;
    text = catc_encode(&c, &len);
    REQUIRE(text != NULL);
    CHECK_INT(catc_decode(text, len, &back, &err), ==, UDR_ECORRUPT);
    free(text);
}

static udr_hash put_tv(udr_repo *r, const char *seed)
{
    cat_tablever tv = sample_tv();
    udr_hash_buffer(seed, strlen(seed), &tv.chunks[0].hash);
    size_t len;
    char *text = catv_encode(&tv, &len);
    udr_hash h;
    REQUIRE(text != NULL && udr_object_put(r, text, len, &h) == UDR_OK);
    free(text);
    return h;
}

static void commit_one(catalog *c, const char *table, const udr_hash *tv, uint64_t want_version)
{
    cat_change ch = {table, tv, 0};
    int rc = catalog_commit(c, "test", "tester", &ch, 1, NULL);
    if (rc != UDR_OK)
        harness_fail(__FILE__, __LINE__, "catalog_commit: %s", c->err->msg);
    REQUIRE(rc == UDR_OK);
    CHECK_INT(ch.version, ==, want_version);
}

static void test_versions_and_replay(void)
{
    udr_repo *r = new_repo();
    udr_err err = {0, ""};
    catalog c;
    open_catalog(r, &c, &err);
    udr_hash a1 = put_tv(r, "a1"), a2 = put_tv(r, "a2"), b1 = put_tv(r, "b1");
    commit_one(&c, "alpha", &a1, 1);
    commit_one(&c, "alpha", &a2, 2);
    commit_one(&c, "beta", &b1, 1);
    commit_one(&c, "alpha", &a1, 3);          /* same content again: a new version */
    cat_change drop = {"beta", NULL, 0};
    REQUIRE(catalog_commit(&c, "drop beta", "tester", &drop, 1, NULL) == UDR_OK);
    CHECK_INT(drop.version, ==, 2);
    cat_change again = {"beta", NULL, 0};
    CHECK_INT(catalog_commit(&c, "drop again", "tester", &again, 1, NULL), ==, UDR_ENOTFOUND);
    CHECK_CONTAINS(err.msg, "no table beta to drop");
    commit_one(&c, "beta", &b1, 3);           /* re-created: numbering goes on */
    catalog_close(&c);

    /* A fresh catalog rebuilds the same index from the log. */
    open_catalog(r, &c, &err);
    CHECK_INT(c.nhist, ==, 6);
    CHECK_INT(catalog_branch(&c, NULL)->ntables, ==, 2);
    cat_version v;
    REQUIRE(catalog_resolve(&c, "alpha", NULL, &v) == UDR_OK);
    CHECK_INT(v.version, ==, 3);
    CHECK(hash_equal(&v.hash, &a1));
    REQUIRE(catalog_resolve(&c, "alpha", "2", &v) == UDR_OK);
    CHECK(hash_equal(&v.hash, &a2));
    REQUIRE(catalog_resolve(&c, "beta", NULL, &v) == UDR_OK);
    CHECK_INT(v.version, ==, 3);
    CHECK_INT(catalog_resolve(&c, "beta", "2", &v), ==, UDR_ENOTFOUND);   /* the drop */
    CHECK_INT(catalog_resolve(&c, "alpha", "7", &v), ==, UDR_ENOTFOUND);
    CHECK_CONTAINS(err.msg, "no version 7");
    CHECK_CONTAINS(err.msg, "udr log alpha");
    CHECK_INT(catalog_resolve(&c, "gamma", NULL, &v), ==, UDR_ENOTFOUND);
    CHECK_CONTAINS(err.msg, "no table gamma");
    CHECK_CONTAINS(err.msg, "udr tables");
    CHECK_INT(catalog_resolve(&c, "alpha", "yesterday", &v), ==, UDR_ENOTFOUND);
    CHECK_CONTAINS(c.err->msg, "not a version, a branch, a tag, a commit or a time");

    /* The head commit object lists both tables with their versions. */
    cat_commit cm;
    REQUIRE(catalog_read_commit(&c, &c.history[c.nhist - 1].commit, &cm) == UDR_OK);
    CHECK_INT(cm.ntables, ==, 2);
    CHECK_STR(cm.tables[0].table, "alpha");
    CHECK_INT(cm.tables[0].version, ==, 3);
    CHECK_STR(cm.tables[1].table, "beta");
    CHECK_INT(cm.nparents, ==, 1);
    catc_free(&cm);
    catalog_close(&c);
    udr_close(r);
}

static void test_resolve_by_time(void)
{
    udr_repo *r = new_repo();
    udr_err err = {0, ""};
    catalog c;
    open_catalog(r, &c, &err);
    udr_hash tv[3] = {put_tv(r, "t1"), put_tv(r, "t2"), put_tv(r, "t3")};
    for (int i = 0; i < 3; i++)
        commit_one(&c, "events", &tv[i], (uint64_t)i + 1);
    const cat_table *t = catalog_table(&c, "events");
    REQUIRE(t != NULL && t->nv == 3);
    /* An instant between version 2 and 3 gives version 2; at version 3's
     * instant, version 3; before version 1, nothing. */
    for (int i = 0; i < 3; i++) {
        int64_t at = t->v[i].time_us;
        char iso[64];
        time_t s = (time_t)(at / 1000000);
        struct tm tm;
        gmtime_r(&s, &tm);
        size_t n = strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(iso + n, sizeof iso - n, ".%06lldZ", (long long)(at % 1000000));
        cat_version v;
        REQUIRE(catalog_resolve(&c, "events", iso, &v) == UDR_OK);
        CHECK_INT(v.version, ==, i + 1);
    }
    cat_version v;
    CHECK_INT(catalog_resolve(&c, "events", "2001-01-01T00:00:00Z", &v), ==, UDR_ENOTFOUND);
    CHECK_CONTAINS(err.msg, "did not exist yet");
    REQUIRE(catalog_resolve(&c, "events", "2999-01-01", &v) == UDR_OK);
    CHECK_INT(v.version, ==, 3);
    catalog_close(&c);
    udr_close(r);
}

static void test_parse_time(void)
{
    int64_t us;
    REQUIRE(catalog_parse_time("1970-01-01T00:00:00Z", &us) == 0);
    CHECK_INT(us, ==, 0);
    REQUIRE(catalog_parse_time("2026-11-24T10:00:00Z", &us) == 0);
    CHECK_INT(us, ==, 1795514400LL * 1000000);
    REQUIRE(catalog_parse_time("2026-11-24T11:00:00+01:00", &us) == 0);
    CHECK_INT(us, ==, 1795514400LL * 1000000);
    REQUIRE(catalog_parse_time("2026-11-24 10:00:00.5Z", &us) == 0);
    CHECK_INT(us, ==, 1795514400LL * 1000000 + 500000);
    REQUIRE(catalog_parse_time("2026-11-24", &us) == 0);
    CHECK_INT(us, ==, (1795514400LL - 36000) * 1000000);
    const char *bad[] = {"", "2026", "2026-13-01", "2026-11-24T25:00:00Z", "2026-11-24T10:00Zjunk",
                         "yesterday", "2026-11-24T10:00:00.Z"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_INT(catalog_parse_time(bad[i], &us), ==, -1);
}

enum { COMMITTERS = 4, EACH = 25 };

static void test_concurrent_committers(void)
{
    udr_repo *r = new_repo();
    udr_hash tv = put_tv(r, "shared");
    pid_t pids[COMMITTERS];
    for (int w = 0; w < COMMITTERS; w++) {
        pids[w] = fork();
        REQUIRE(pids[w] >= 0);
        if (pids[w] == 0) {
            udr_err err = {0, ""};
            catalog c;
            if (catalog_open(&c, repo_store(r), t_path("repo"), &err) != UDR_OK)
                _exit(10);
            char own[32];
            snprintf(own, sizeof own, "table_%d", w);
            for (int i = 0; i < EACH; i++) {
                /* Each writes its own table, and all write a shared one. */
                cat_change ch[2] = {{own, &tv, 0}, {"shared", &tv, 0}};
                if (catalog_commit(&c, "concurrent", "tester", ch, 2, NULL) != UDR_OK) {
                    fprintf(stderr, "%s\n", err.msg);
                    _exit(11);
                }
            }
            catalog_close(&c);
            _exit(0);
        }
    }
    for (int w = 0; w < COMMITTERS; w++) {
        int st;
        REQUIRE(waitpid(pids[w], &st, 0) == pids[w]);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    udr_err err = {0, ""};
    catalog c;
    open_catalog(r, &c, &err);
    CHECK_INT(c.nhist, ==, COMMITTERS * EACH);
    CHECK_INT(catalog_branch(&c, NULL)->ntables, ==, COMMITTERS + 1);
    const cat_table *shared = catalog_table(&c, "shared");
    REQUIRE(shared != NULL);
    CHECK_INT(shared->nv, ==, COMMITTERS * EACH);
    for (size_t i = 0; i < shared->nv; i++)
        CHECK_INT(shared->v[i].version, ==, i + 1);
    for (int w = 0; w < COMMITTERS; w++) {
        char own[32];
        snprintf(own, sizeof own, "table_%d", w);
        const cat_table *t = catalog_table(&c, own);
        REQUIRE(t != NULL);
        CHECK_INT(t->nv, ==, EACH);
    }
    /* Every commit's parent is the commit before it: one line of history. */
    for (size_t i = 1; i < c.nhist; i++) {
        cat_commit cm;
        REQUIRE(catalog_read_commit(&c, &c.history[i].commit, &cm) == UDR_OK);
        CHECK(cm.nparents == 1 && hash_equal(&cm.parents[0], &c.history[i - 1].commit));
        catc_free(&cm);
    }
    catalog_close(&c);
    udr_close(r);
}

/* Checkpoints: a new segment every few records; opening reads only the
 * newest; older versions are still found, by number and by time. */
static void test_checkpoints(void)
{
    udr_repo *r = new_repo();
    udr_err err = {0, ""};
    catalog c;
    open_catalog(r, &c, &err);
    c.checkpoint_every = 10;
    udr_hash tv[3] = {put_tv(r, "c1"), put_tv(r, "c2"), put_tv(r, "c3")};
    const char *names[] = {"ta", "tb", "tc"};
    int64_t t5 = 0;
    for (int i = 0; i < 35; i++) {
        commit_one(&c, names[i % 3], &tv[i % 3], (uint64_t)i / 3 + 1);
        if (i == 4)
            t5 = c.history[c.nhist - 1].time_us;
    }
    cat_change drop = {"tc", NULL, 0};
    REQUIRE(catalog_commit(&c, "drop", "tester", &drop, 1, NULL) == UDR_OK);
    catalog_close(&c);
    /* 36 commits and 3 checkpoint records: segments 1 to 4. */
    char seg[4200];
    snprintf(seg, sizeof seg, "%s/log/0000000000000004.seg", t_path("repo"));
    CHECK(access(seg, F_OK) == 0);

    open_catalog(r, &c, &err);
    CHECK_INT(c.complete, ==, 0);
    CHECK(c.nhist < 10);                       /* only the newest segment was read */
    cat_version v;
    REQUIRE(catalog_resolve(&c, "ta", NULL, &v) == UDR_OK);
    CHECK_INT(v.version, ==, 12);
    CHECK_INT(catalog_resolve(&c, "tc", NULL, &v), ==, UDR_ENOTFOUND);    /* dropped */
    /* New versions go on from the right numbers. */
    c.checkpoint_every = 10;
    commit_one(&c, "tb", &tv[0], 13);
    commit_one(&c, "tc", &tv[0], 13);
    /* An old version, by number and by time: the history is read then. */
    REQUIRE(catalog_resolve(&c, "ta", "2", &v) == UDR_OK);
    CHECK_INT(v.version, ==, 2);
    CHECK_INT(c.complete, ==, 1);
    CHECK_INT(c.nhist, ==, 38);
    char iso[64];
    time_t s = (time_t)(t5 / 1000000);
    struct tm tm;
    gmtime_r(&s, &tm);
    size_t n = strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(iso + n, sizeof iso - n, ".%06lldZ", (long long)(t5 % 1000000));
    REQUIRE(catalog_resolve(&c, "tb", iso, &v) == UDR_OK);
    CHECK_INT(v.version, ==, 2);               /* commit 5 was tb's second */
    const cat_table *t = catalog_table(&c, "tc");
    REQUIRE(t != NULL);
    CHECK_INT(t->nv, ==, 13);
    catalog_close(&c);
    udr_close(r);
}

static int skip_record(void *ctx, uint64_t seq, const void *payload, size_t len)
{
    (void)ctx, (void)seq, (void)payload, (void)len;
    return 0;
}

/* Appends a record to the log of repository dir as a writer would (lock,
 * catch up, append, sync), whatever its payload says. */
static void append_raw(const char *dir, buf *b, uint64_t *seq)
{
    udr_err err = {0, ""};
    udrlog l;
    REQUIRE(log_open(&l, dir, &err) == UDR_OK);
    REQUIRE(log_lock(&l) == UDR_OK);
    REQUIRE(log_read(&l, skip_record, NULL) == UDR_OK);
    REQUIRE(log_append(&l, b->data, b->len, seq) == UDR_OK);
    log_unlock(&l);
    REQUIRE(log_sync(&l) == UDR_OK);
    log_close(&l);
    buf_free(b);
}

/* fuzz_replay found that a subscription's cursor could be set past the
 * log's end by a record (fuzz/corpus/replay/crash-cursor-past-log); a
 * cursor must name a record before the one that sets it. */
static void test_replay_refuses_cursor_ahead(void)
{
    udr_repo *r = new_repo();
    udr_err err = {0, ""};
    catalog c;
    open_catalog(r, &c, &err);
    udr_hash a1 = put_tv(r, "a1");
    commit_one(&c, "alpha", &a1, 1);
    const char *tables[] = {"alpha"};
    REQUIRE(catalog_sub_create(&c, "s1", "main", tables, 1, UINT64_MAX) == UDR_OK);
    REQUIRE(catalog_sub_ack(&c, "s1", UINT64_MAX, 2) == UDR_OK);     /* its own create */
    catalog_close(&c);
    open_catalog(r, &c, &err);
    CHECK_INT(catalog_sub(&c, "s1")->cursor, ==, 2);
    catalog_close(&c);

    /* An acknowledgement of its own record number (4): one past the end. */
    buf b;
    buf_init(&b);
    buf_u8(&b, 4);                      /* a sub record */
    buf_u8(&b, 3);                      /*   acknowledge */
    buf_u64(&b, 1);
    buf_str16(&b, "s1");
    buf_u64(&b, 4);
    uint64_t seq;
    append_raw(t_path("repo"), &b, &seq);
    CHECK_INT(seq, ==, 4);
    CHECK_INT(catalog_open(&c, repo_store(r), t_path("repo"), &err), ==, UDR_ECORRUPT);
    CHECK_CONTAINS(err.msg, "log record 4 is malformed");
    CHECK_CONTAINS(err.msg, "subscription s1 at record 4");
    udr_close(r);
}

/* A ref record moving a branch that has a head back to no commit: no
 * writer makes one (fuzz_replay found the index then kept a history whose
 * last point was not the head); replay refuses it. */
static void test_replay_refuses_branch_back_to_no_commit(void)
{
    udr_repo *r = new_repo();
    udr_err err = {0, ""};
    catalog c;
    open_catalog(r, &c, &err);
    udr_hash a1 = put_tv(r, "a1");
    commit_one(&c, "alpha", &a1, 1);
    catalog_close(&c);
    buf b;
    buf_init(&b);
    buf_u8(&b, 3);                      /* a ref record */
    buf_u8(&b, 1);                      /*   branch set */
    buf_u64(&b, 1);
    buf_str16(&b, "main");
    buf_u8(&b, 0);                      /*   no commit */
    buf_str16(&b, "");
    uint64_t seq;
    append_raw(t_path("repo"), &b, &seq);
    CHECK_INT(catalog_open(&c, repo_store(r), t_path("repo"), &err), ==, UDR_ECORRUPT);
    CHECK_CONTAINS(err.msg, "is malformed");
    udr_close(r);
}

/* catalog_complete reads the whole history, so it never needs a
 * checkpoint: fuzz_replay found that one was loaded (and the index left
 * partial, complete 0) when the records before it left the index looking
 * empty, as a branch made and deleted does. */
static void test_complete_skips_checkpoints(void)
{
    udr_repo *r = new_repo();
    udr_err err = {0, ""};
    catalog c;
    open_catalog(r, &c, &err);
    c.checkpoint_every = 2;
    cat_ref_change mk = {CAT_REF_BRANCH, "x", NULL, "for a moment", 1, 0, 0, {{0}}};
    REQUIRE(catalog_set_ref(&c, &mk) == UDR_OK);
    cat_ref_change rm = {CAT_REF_BRANCH_DELETE, "x", NULL, NULL, 0, 0, 0, {{0}}};
    REQUIRE(catalog_set_ref(&c, &rm) == UDR_OK);
    catalog_close(&c);
    char seg[4200];
    snprintf(seg, sizeof seg, "%s/log/0000000000000002.seg", t_path("repo"));
    REQUIRE(access(seg, F_OK) == 0);           /* records 1, 2; the checkpoint, 3 */

    open_catalog(r, &c, &err);
    CHECK_INT(c.complete, ==, 0);              /* from the checkpoint */
    REQUIRE(catalog_complete(&c) == UDR_OK);
    CHECK_INT(c.complete, ==, 1);
    CHECK_INT(c.nckpt, ==, 1);
    CHECK(catalog_branch(&c, "x") == NULL);
    CHECK_INT(catalog_branch(&c, "main")->created_us, ==, 0);
    catalog_close(&c);
    udr_close(r);
}

static const test_case TESTS[] = {
    TEST_ENTRY(test_checkpoints),
    TEST_ENTRY(test_names),
    TEST_ENTRY(test_tablever_round_trip_canonical),
    TEST_ENTRY(test_tablever_refuses_malformed),
    TEST_ENTRY(test_tablever_patches),
    TEST_ENTRY(test_tablever_refuses_nul_in_number),
    TEST_ENTRY(test_tablever_raw_version),
    TEST_ENTRY(test_commit_round_trip),
    TEST_ENTRY(test_versions_and_replay),
    TEST_ENTRY(test_resolve_by_time),
    TEST_ENTRY(test_parse_time),
    TEST_ENTRY(test_concurrent_committers),
    TEST_ENTRY(test_replay_refuses_cursor_ahead),
    TEST_ENTRY(test_complete_skips_checkpoints),
    TEST_ENTRY(test_replay_refuses_branch_back_to_no_commit),
};
HARNESS_MAIN("catalog", TESTS)
