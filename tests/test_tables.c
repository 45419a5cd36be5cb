/*
 * Tests of tables through the public API: writing, types, schema changes,
 * time travel, appends, keys, diffs, bad input, missing chunks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "udrtest.h"

static const char TYPES_SQL[] =
    "SELECT * FROM (VALUES "
    "(1::TINYINT, 2::SMALLINT, 3::INTEGER, 4::BIGINT, 5::HUGEINT, 6::UTINYINT, 7::USMALLINT,"
    " 8::UINTEGER, 9::UBIGINT, 1.5::DOUBLE, 12345.678::DECIMAL(18,3), 'héllo, wörld ✓'::VARCHAR,"
    " true, DATE '2026-11-24', TIMESTAMP '2026-11-24 10:00:00.123456',"
    " TIMESTAMPTZ '2026-11-24 10:00:00+02', '\\xDE\\xAD'::BLOB, [1, 2, NULL]::INTEGER[],"
    " {'a': 1, 'b': 'x'}::STRUCT(a INTEGER, b VARCHAR), -1.25::FLOAT),"
    "(-128, -32768, -2147483648, -9223372036854775808, 170141183460469231731687303715884105727,"
    " 255, 65535, 4294967295, 18446744073709551615, -0.0, -999.999, '', false, DATE '1970-01-01',"
    " TIMESTAMP '1900-01-01 00:00:00', TIMESTAMPTZ '2000-01-01 00:00:00Z', ''::BLOB, [],"
    " {'a': NULL, 'b': NULL}, 3.5),"
    "(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,"
    " NULL, NULL, NULL, NULL, NULL)"
    ") t(i8, i16, i32, i64, i128, u8, u16, u32, u64, dbl, dec, txt, flag, day, ts, tstz, bin,"
    " lst, rec, flt)";

static void test_types_round_trip(void)
{
    udr_repo *r = new_repo();
    must_write(r, "typed", TYPES_SQL, NULL, NULL);
    /* Same rows, both ways (EXCEPT compares NULLs as equal). */
    char sql[4096];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM (SELECT * FROM typed EXCEPT ALL SELECT * FROM (%s))",
             TYPES_SQL);
    CHECK_STR(value(r, sql), "0");
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM (SELECT * FROM (%s) EXCEPT ALL SELECT * FROM typed)",
             TYPES_SQL);
    CHECK_STR(value(r, sql), "0");
    CHECK_STR(value(r, "SELECT count(*) FROM typed"), "3");
    /* The types are the ones written. */
    snprintf(sql, sizeof sql,
             "SELECT string_agg(typeof(COLUMNS(*)), ',') FROM (SELECT * FROM typed LIMIT 1)");
    const char *want[] = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT",
                          "USMALLINT", "UINTEGER", "UBIGINT", "DOUBLE", "DECIMAL(18,3)",
                          "VARCHAR", "BOOLEAN", "DATE", "TIMESTAMP",
                          "TIMESTAMP WITH TIME ZONE", "BLOB", "INTEGER[]",
                          "STRUCT(a INTEGER, b VARCHAR)", "FLOAT"};
    const char *cols[] = {"i8", "i16", "i32", "i64", "i128", "u8", "u16", "u32", "u64", "dbl",
                          "dec", "txt", "flag", "day", "ts", "tstz", "bin", "lst", "rec", "flt"};
    for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++) {
        snprintf(sql, sizeof sql, "SELECT typeof(\"%s\") FROM typed LIMIT 1", cols[i]);
        const char *got = value(r, sql);
        if (strcmp(got, want[i]) != 0)
            harness_fail(__FILE__, __LINE__, "column %s: type %s, wanted %s", cols[i], got,
                         want[i]);
    }
    /* Values come back as text, nested ones included; NULL is NULL. */
    CHECK_STR(value(r, "SELECT txt FROM typed WHERE i8 = 1"), "héllo, wörld ✓");
    CHECK_STR(value(r, "SELECT lst FROM typed WHERE i8 = 1"), "[1, 2, NULL]");
    CHECK_STR(value(r, "SELECT rec FROM typed WHERE i8 = 1"), "{'a': 1, 'b': x}");
    CHECK_STR(value(r, "SELECT i128 FROM typed WHERE i8 = -128"),
              "170141183460469231731687303715884105727");
    CHECK_STR(value(r, "SELECT count(*) FROM typed WHERE i8 IS NULL AND rec IS NULL AND lst IS NULL"),
              "1");
    udr_close(r);
}

static void test_schema_change_and_old_versions(void)
{
    udr_repo *r = new_repo();
    const char *key[] = {"id", NULL};
    must_write(r, "people", "SELECT range AS id, 'p' || range AS name FROM range(10)", key, NULL);
    must_write(r, "people",
               "SELECT id, name, id * 2 AS age FROM people", NULL, NULL);
    CHECK_STR(value(r, "SELECT sum(age) FROM people"), "90");
    CHECK_STR(value(r, "SELECT count(*) FROM (DESCRIBE \"people@1\")"), "2");
    CHECK_STR(value(r, "SELECT count(*) FROM (DESCRIBE \"people@2\")"), "3");
    CHECK_STR(value(r, "SELECT string_agg(name, ',' ORDER BY id) FROM \"people@1\" WHERE id < 3"),
              "p0,p1,p2");
    /* The key was kept by the second write, which named none. */
    udr_table_detail *d;
    REQUIRE(udr_table_show(r, "people", NULL, &d) == UDR_OK);
    CHECK_INT(d->nkey, ==, 1);
    CHECK_STR(d->key[0], "id");
    CHECK_INT(d->ncols, ==, 3);
    udr_table_detail_free(d);
    udr_close(r);
}

/* The original README's time travel example. */
static void test_readme_time_travel(void)
{
    udr_repo *r = new_repo();
    must_write(r, "users",
               "SELECT * FROM (VALUES (1, 'Alice', 85.5::DOUBLE), (2, 'Bob', 92.0),"
               " (3, 'Charlie', 78.5)) t(id, name, score)",
               NULL, NULL);
    must_write(r, "users", "SELECT id, name, score + 10 AS score FROM users", NULL, NULL);
    udr_pin v1 = {"users", 1}, v2 = {"users", 2};
    udr_result *res;
    REQUIRE(udr_query(r, "SELECT AVG(score) FROM users", &v1, 1, &res) == UDR_OK);
    CHECK(udr_result_double(res, 0, 0) > 85.33 && udr_result_double(res, 0, 0) < 85.34);
    udr_result_free(res);
    REQUIRE(udr_query(r, "SELECT AVG(score) FROM users", &v2, 1, &res) == UDR_OK);
    CHECK(udr_result_double(res, 0, 0) > 95.33 && udr_result_double(res, 0, 0) < 95.34);
    udr_result_free(res);
    CHECK_STR(value(r, "SELECT AVG(score) FROM \"users@1\""), "85.33333333333333");
    /* Both in one query. */
    CHECK_STR(value(r, "SELECT (SELECT avg(score) FROM \"users@2\") - "
                       "(SELECT avg(score) FROM \"users@1\")"),
              "10.0");
    const char *key[] = {"id", NULL};
    udr_diff d;
    REQUIRE(udr_table_diff(r, "users", "1", "2", key, &d, NULL) == UDR_OK);
    CHECK_INT(d.rows_added, ==, 0);
    CHECK_INT(d.rows_removed, ==, 0);
    CHECK_INT(d.rows_modified, ==, 3);
    udr_close(r);
}

static void test_append(void)
{
    udr_repo *r = new_repo();
    const char *key[] = {"id", NULL};
    must_write(r, "events", "SELECT range AS id, range * 10 AS v FROM range(100)", key, NULL);
    udr_write_info wi;
    udr_write_opts o = {NULL, NULL, NULL};
    /* Keys above the existing ones: the old chunk stays as it is. */
    REQUIRE(udr_table_append(r, "events", "SELECT range AS id, 0 AS v FROM range(100, 150)", &o,
                             &wi) == UDR_OK);
    CHECK_INT(wi.version, ==, 2);
    CHECK_INT(wi.rows, ==, 150);
    CHECK_INT(wi.chunks, ==, 2);
    CHECK_STR(value(r, "SELECT count(*) FROM events"), "150");
    /* Keys below the existing ones: still right. */
    REQUIRE(udr_table_append(r, "events", "SELECT -range - 1 AS id, 1 AS v FROM range(3)", &o,
                             &wi) == UDR_OK);
    CHECK_STR(value(r, "SELECT count(*) FROM events"), "153");
    /* A key that exists already is refused, naming it. */
    CHECK_INT(udr_table_append(r, "events", "SELECT 5 AS id, 1 AS v", &o, &wi), ==, UDR_EINVAL);
    CHECK_CONTAINS(udr_errmsg(r), "id=5");
    /* Columns are cast to the table's types; a missing column is refused. */
    REQUIRE(udr_table_append(r, "events", "SELECT 9999::INTEGER AS id, '4' AS v", &o, &wi) ==
            UDR_OK);
    CHECK_STR(value(r, "SELECT typeof(v) FROM events LIMIT 1"), "BIGINT");
    CHECK_INT(udr_table_append(r, "events", "SELECT 10000 AS id", &o, &wi), ==, UDR_EINVAL);
    CHECK_CONTAINS(udr_errmsg(r), "no column v");
    /* Without a key: rows are added after the others. */
    must_write(r, "plain", "SELECT 1 AS x", NULL, NULL);
    REQUIRE(udr_table_append(r, "plain", "SELECT 1 AS x UNION ALL SELECT 2", &o, &wi) == UDR_OK);
    CHECK_STR(value(r, "SELECT string_agg(x::VARCHAR, ',' ORDER BY x) FROM plain"), "1,1,2");
    /* Appending to a table that does not exist creates it. */
    REQUIRE(udr_table_append(r, "fresh", "SELECT 42 AS answer", &o, &wi) == UDR_OK);
    CHECK_INT(wi.version, ==, 1);
    udr_close(r);
}

static void test_identical_write_stores_nothing(void)
{
    udr_repo *r = new_repo();
    const char *key[] = {"k", NULL};
    udr_write_info a, b;
    must_write(r, "t", "SELECT range AS k, md5(range::VARCHAR) AS v FROM range(5000)", key, &a);
    CHECK_INT(a.new_bytes, ==, a.bytes);
    must_write(r, "t", "SELECT range AS k, md5(range::VARCHAR) AS v FROM range(5000)", key, &b);
    CHECK_INT(b.version, ==, 2);
    CHECK_INT(b.new_bytes, ==, 0);
    CHECK_INT(b.new_chunks, ==, 0);
    CHECK_INT(b.bytes, ==, a.bytes);
    udr_close(r);
}

static void test_key_errors(void)
{
    udr_repo *r = new_repo();
    const char *key[] = {"id", NULL}, *bad[] = {"nope", NULL};
    udr_write_opts o = {key, NULL, NULL};
    udr_write_info wi;
    CHECK_INT(udr_table_write(r, "t", "SELECT * FROM (VALUES (1), (2), (1)) v(id)", &o, &wi), ==,
              UDR_EINVAL);
    CHECK_CONTAINS(udr_errmsg(r), "unique");
    CHECK_CONTAINS(udr_errmsg(r), "id=1 (2 times)");
    CHECK_INT(udr_table_write(r, "t", "SELECT * FROM (VALUES (1), (NULL)) v(id)", &o, &wi), ==,
              UDR_EINVAL);
    CHECK_CONTAINS(udr_errmsg(r), "NULL");
    o.key = bad;
    CHECK_INT(udr_table_write(r, "t", "SELECT 1 AS id", &o, &wi), ==, UDR_EINVAL);
    CHECK_CONTAINS(udr_errmsg(r), "nope");
    /* Nothing was committed by the failures. */
    udr_version_info *v;
    size_t n;
    REQUIRE(udr_table_list(r, &v, &n) == UDR_OK);
    CHECK_INT(n, ==, 0);
    udr_version_info_free(v, n);
    udr_close(r);
}

static void test_bad_names_and_references(void)
{
    udr_repo *r = new_repo();
    udr_write_info wi;
    const char *names[] = {"", "../../etc", "a b", "x;y", "1x", "t@2"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        CHECK_INT(udr_table_write(r, names[i], "SELECT 1", NULL, &wi), ==, UDR_EINVAL);
        CHECK(udr_errmsg(r)[0] != '\0');
    }
    CHECK_CONTAINS(value(r, "SELECT * FROM ghost"), "udr tables");
    must_write(r, "real", "SELECT 1 AS x", NULL, NULL);
    CHECK_CONTAINS(value(r, "SELECT * FROM \"real@5\""), "no version 5");
    CHECK_CONTAINS(value(r, "SELECT * FROM \"real@5\""), "udr log real");
    CHECK_CONTAINS(value(r, "SELECT * FROM \"ghost@1\""), "no table ghost");
    CHECK_CONTAINS(value(r, "SELECT * FROM \"real@soon\""), "not a version, a branch, a tag, a commit or a time");
    CHECK_INT(udr_table_drop(r, "ghost", NULL), ==, UDR_ENOTFOUND);
    udr_version_info *v;
    size_t n;
    CHECK_INT(udr_table_log(r, "ghost", &v, &n), ==, UDR_ENOTFOUND);
    CHECK_CONTAINS(udr_errmsg(r), "udr tables");
    udr_close(r);
}

static void test_malformed_csv_names_the_line(void)
{
    udr_repo *r = new_repo();
    const char good[] = "id,name\n1,a\n2,\"b, with a comma\"\n";
    t_write_file(t_path("good.csv"), good, sizeof good - 1);
    udr_write_info wi;
    REQUIRE(udr_table_import(r, "csvt", t_path("good.csv"), NULL, 0, NULL, &wi) == UDR_OK);
    CHECK_STR(value(r, "SELECT name FROM csvt WHERE id = 2"), "b, with a comma");
    const char bad[] = "id,name\n1,a\n2,\"quoted\nnewline\"\n3,c,EXTRA,FIELDS\n4,d\n";
    t_write_file(t_path("bad.csv"), bad, sizeof bad - 1);
    CHECK_INT(udr_table_import(r, "csvt", t_path("bad.csv"), NULL, 0, NULL, &wi), ==, UDR_EINVAL);
    CHECK_CONTAINS(udr_errmsg(r), "csvt");
    CHECK_CONTAINS(udr_errmsg(r), "line 5");            /* the quoted newline counts */
    CHECK_CONTAINS(udr_errmsg(r), "bad.csv");
    CHECK_CONTAINS(udr_errmsg(r), "4 fields");
    const char open[] = "id,name\n1,\"never closed\n";
    t_write_file(t_path("open.csv"), open, sizeof open - 1);
    CHECK_INT(udr_table_import(r, "csvt", t_path("open.csv"), NULL, 0, NULL, &wi), ==,
              UDR_EINVAL);
    CHECK_CONTAINS(udr_errmsg(r), "quoted");
    CHECK_INT(udr_table_import(r, "csvt", t_path("missing.csv"), NULL, 0, NULL, &wi), ==,
              UDR_ENOTFOUND);
    CHECK_CONTAINS(udr_errmsg(r), "missing.csv");
    CHECK_INT(udr_table_import(r, "csvt", t_path("good.xyz"), NULL, 0, NULL, &wi), ==,
              UDR_EINVAL);
    CHECK_CONTAINS(udr_errmsg(r), "format");
    /* What was committed before is intact. */
    CHECK_STR(value(r, "SELECT count(*) FROM csvt"), "2");
    CHECK_INT(wi.version, ==, 1);
    udr_close(r);
}

static void test_drop_keeps_history(void)
{
    udr_repo *r = new_repo();
    must_write(r, "gone", "SELECT 1 AS x", NULL, NULL);
    REQUIRE(udr_table_drop(r, "gone", NULL) == UDR_OK);
    CHECK_CONTAINS(value(r, "SELECT * FROM gone"), "gone was dropped");
    CHECK_STR(value(r, "SELECT x FROM \"gone@1\""), "1");
    udr_version_info *v;
    size_t n;
    REQUIRE(udr_table_log(r, "gone", &v, &n) == UDR_OK);
    REQUIRE(n == 2);
    CHECK_INT(v[0].dropped, ==, 1);
    CHECK_INT(v[1].version, ==, 1);
    udr_version_info_free(v, n);
    must_write(r, "gone", "SELECT 2 AS x", NULL, NULL);
    CHECK_STR(value(r, "SELECT x FROM gone"), "2");
    udr_close(r);
}

static void test_missing_chunk_named(void)
{
    udr_repo *r = new_repo();
    must_write(r, "fragile", "SELECT range AS x FROM range(10)", NULL, NULL);
    udr_table_detail *d;
    REQUIRE(udr_table_show(r, "fragile", NULL, &d) == UDR_OK);
    REQUIRE(d->nchunks == 1);
    char path[4200], hex[UDR_HASH_HEX + 1];
    memcpy(hex, d->chunk_hash[0], sizeof hex);
    snprintf(path, sizeof path, "%s/repo/objects/%.2s/%.2s/%s", t_dir(), hex, hex + 2, hex);
    udr_table_detail_free(d);
    REQUIRE(unlink(path) == 0);
    const char *got = value(r, "SELECT count(*) FROM fragile");
    CHECK_CONTAINS(got, hex);
    CHECK_CONTAINS(got, "fragile");
    CHECK_CONTAINS(got, "version 1");
    udr_close(r);
}

static void test_many_chunks_and_reuse(void)
{
    /* Small chunks through the environment's test knob would hide the real
     * parameters; instead, enough rows for several chunks. */
    udr_repo *r = new_repo();
    const char *key[] = {"id", NULL};
    udr_write_info a, b;
    must_write(r, "big",
               "SELECT range AS id, hash(range) % 1000 AS v FROM range(600000)", key, &a);
    CHECK(a.chunks >= 3);
    /* Change the last rows: the chunks before them are the same objects. */
    must_write(r, "big",
               "SELECT id, CASE WHEN id >= 599990 THEN 5000 ELSE v END AS v FROM big", key, &b);
    CHECK_INT(b.new_chunks, ==, 1);
    CHECK(b.new_bytes < a.bytes / 2);
    CHECK_STR(value(r, "SELECT count(*) FROM big WHERE v = 5000"), "10");
    CHECK_STR(value(r, "SELECT count(*) FROM \"big@1\" WHERE v = 5000"), "0");
    udr_close(r);
}

/* Rows in key order stream straight into chunks; the same rows in another
 * order are staged and sorted. Both give the very same chunks, for keys of
 * every kind the streamed path compares itself. */
static void test_streamed_and_staged_agree(void)
{
    udr_repo *r = new_repo();
    static const struct {
        const char *cols, *key[3];
    } kinds[] = {
        {"range AS k", {"k", NULL}},
        {"(range - 300000)::INTEGER AS k", {"k", NULL}},
        {"lpad(range::VARCHAR, 7, '0') AS k", {"k", NULL}},
        {"(range / 100.0)::DECIMAL(30,2) AS k", {"k", NULL}},
        {"DATE '1900-01-01' + range::INTEGER AS k", {"k", NULL}},
        {"range // 3 AS a, (2 - range % 3)::VARCHAR AS b", {"a", "b"}},
    };
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        char sorted[512], shuffled[512];
        /* The composite key's second column falls while the first holds:
         * its rows come in key order only when ordered by (a, b). */
        snprintf(sorted, sizeof sorted,
                 "SELECT * FROM (SELECT %s, md5(range::VARCHAR) AS v FROM range(400000)) "
                 "ORDER BY ALL",
                 kinds[i].cols);
        snprintf(shuffled, sizeof shuffled,
                 "SELECT * FROM (SELECT %s, md5(range::VARCHAR) AS v FROM range(400000)) "
                 "ORDER BY hash(v)",
                 kinds[i].cols);
        udr_write_info a, b;
        must_write(r, "streamed", sorted, kinds[i].key, &a);
        CHECK_INT(a.staged, ==, 0);
        CHECK(a.chunks >= 2);
        must_write(r, "staged", shuffled, kinds[i].key, &b);
        CHECK_INT(b.staged, ==, 1);
        CHECK_INT(b.chunks, ==, a.chunks);
        CHECK_INT(b.new_bytes, ==, 0);
        CHECK_STR(value(r, "SELECT count(*) FROM (SELECT * FROM streamed EXCEPT "
                           "SELECT * FROM staged)"), "0");
        udr_table_drop(r, "streamed", NULL);
        udr_table_drop(r, "staged", NULL);
    }
    udr_close(r);
}

/* Rows inserted at the front: the chunks after the first boundary are the
 * same objects, whether the rows were streamed or staged (where a chunk's
 * rows lay in the input does not change its bytes). */
static void test_insert_at_front_rewrites_one_chunk(void)
{
    udr_repo *r = new_repo();
    udr_write_info a, b;
    /* Without a key: streamed. */
    must_write(r, "t", "SELECT range AS x, md5(range::VARCHAR) AS v FROM range(800000)", NULL,
               &a);
    CHECK(a.chunks >= 4);
    must_write(r, "t",
               "SELECT -1 AS x, 'first' AS v UNION ALL SELECT * FROM (SELECT * FROM \"t@1\")",
               NULL, &b);
    CHECK_INT(b.staged, ==, 0);
    CHECK_INT(b.rows, ==, 800001);
    CHECK(b.new_chunks <= 2);
    CHECK(b.new_bytes * 2 < b.bytes);
    CHECK_STR(value(r, "SELECT x FROM t LIMIT 1"), "-1");
    /* With a key, rows out of order: staged and sorted, 1,000 new keys in
     * front. */
    const char *key[] = {"k", NULL};
    must_write(r, "a",
               "SELECT range AS k, md5(range::VARCHAR) AS v FROM range(800000) ORDER BY v", key,
               &a);
    must_write(r, "b",
               "SELECT range AS k, md5(range::VARCHAR) AS v FROM range(-1000, 800000) ORDER BY v",
               key, &b);
    CHECK_INT(b.staged, ==, 1);
    CHECK(b.new_chunks <= 2);
    CHECK(b.new_bytes * 2 < b.bytes);
    udr_close(r);
}

/* A source failing midway through a streamed write commits nothing and
 * leaves no temporary file. */
static void test_stream_failure_leaves_nothing(void)
{
    udr_repo *r = new_repo();
    const char *key[] = {"k", NULL};
    udr_write_opts o = {key, NULL, NULL};
    udr_write_info wi;
    CHECK_INT(udr_table_write(r, "t",
                              "SELECT range AS k, CASE WHEN range = 700000 THEN "
                              "error('the source broke') ELSE range END AS v FROM range(900000)",
                              &o, &wi),
              ==, UDR_EINVAL);
    CHECK_CONTAINS(udr_errmsg(r), "the source broke");
    udr_version_info *v;
    size_t n;
    REQUIRE(udr_table_list(r, &v, &n) == UDR_OK);
    CHECK_INT(n, ==, 0);
    udr_version_info_free(v, n);
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "test -z \"$(ls %s/tmp | grep -v '^duckdb')\"", t_path("repo"));
    CHECK_INT(system(cmd), ==, 0);
    /* and the repository still works */
    must_write(r, "t", "SELECT range AS k FROM range(10)", key, NULL);
    CHECK_STR(value(r, "SELECT sum(k) FROM t"), "45");
    udr_close(r);
}

/* A million rows with a key: a scattered update, an append and an identical
 * rewrite each store little or nothing new, and the log says so. */
static void test_dedup_figures(void)
{
    udr_repo *r = new_repo();
    const char *key[] = {"id", NULL};
    udr_write_info v1, v2, v3, v4;
    const char *base = "SELECT range AS id, md5(range::VARCHAR) AS name, "
                       "(hash(range) % 100000) / 100.0 AS score FROM range(1000000)";
    must_write(r, "big", base, key, &v1);
    /* 100 scattered rows change. */
    must_write(r, "big",
               "SELECT id, name, CASE WHEN id % 10000 = 77 THEN -1 ELSE score END AS score "
               "FROM big",
               key, &v2);
    /* 10,000 rows appended. */
    udr_write_opts o = {NULL, NULL, "tester"};
    REQUIRE(udr_table_append(r, "big",
                             "SELECT range AS id, md5(range::VARCHAR) AS name, 0.0 AS score "
                             "FROM range(1000000, 1010000)",
                             &o, &v3) == UDR_OK);
    /* The same content again. */
    must_write(r, "big", "SELECT * FROM big", key, &v4);
    double p2 = 100.0 * (double)v2.new_bytes / (double)v1.bytes;
    double p3 = 100.0 * (double)v3.new_bytes / (double)v1.bytes;
    printf("    1,000,000 rows, %llu bytes; 100 scattered updates: %llu new bytes (%.2f%%); "
           "10,000 appended: %llu (%.2f%%); identical: %llu\n",
           (unsigned long long)v1.bytes, (unsigned long long)v2.new_bytes, p2,
           (unsigned long long)v3.new_bytes, p3, (unsigned long long)v4.new_bytes);
    CHECK(p2 <= 5.0);
    CHECK(p3 <= 3.0);
    CHECK_INT(v4.new_bytes, ==, 0);
    /* The content is right at every version. */
    CHECK_STR(value(r, "SELECT count(*) FROM \"big@2\" WHERE score = -1"), "100");
    CHECK_STR(value(r, "SELECT count(*) FROM \"big@1\" WHERE score = -1"), "0");
    CHECK_STR(value(r, "SELECT count(*) FROM big"), "1010000");
    CHECK_STR(value(r, "SELECT count(*) FROM \"big@2\""), "1000000");
    CHECK_STR(value(r, "SELECT count(DISTINCT id) FROM big"), "1010000");
    CHECK_STR(value(r, "SELECT score FROM big WHERE id = 77"), "-1.0");
    udr_diff d;
    REQUIRE(udr_table_diff(r, "big", "1", "2", NULL, &d, NULL) == UDR_OK);
    CHECK_INT(d.rows_modified, ==, 100);
    CHECK_INT(d.rows_added + d.rows_removed, ==, 0);
    REQUIRE(udr_table_diff(r, "big", "2", "4", NULL, &d, NULL) == UDR_OK);
    CHECK_INT(d.rows_added, ==, 10000);
    CHECK_INT(d.rows_modified + d.rows_removed, ==, 0);
    /* The log shows the same figures. */
    udr_version_info *v;
    size_t n;
    REQUIRE(udr_table_log(r, "big", &v, &n) == UDR_OK);
    REQUIRE(n == 4);
    CHECK_INT(v[3].rows, ==, 1000000);
    CHECK(v[2].new_bytes <= v2.new_bytes);
    CHECK_INT(v[0].new_bytes, ==, 0);
    udr_version_info_free(v, n);
    udr_fsck_stats st;
    REQUIRE(udr_fsck(r, NULL, NULL, NULL, &st) == UDR_OK);
    CHECK_INT(st.problems, ==, 0);
    udr_close(r);
}

/* Deletes and updates through rewrites, then a large change: compaction. */
static void test_delete_files_and_compaction(void)
{
    udr_repo *r = new_repo();
    const char *key[] = {"k", NULL};
    udr_write_info wi;
    must_write(r, "t", "SELECT range AS k, range * 2 AS v FROM range(50000)", key, &wi);
    uint64_t chunks = wi.chunks;
    must_write(r, "t", "SELECT * FROM t WHERE k % 1000 <> 5", key, &wi);     /* 50 rows go */
    CHECK_INT(wi.rows, ==, 49950);
    CHECK_INT(wi.chunks, ==, chunks);                  /* nothing rewritten */
    must_write(r, "t", "SELECT k, CASE WHEN k = 6 THEN 0 ELSE v END AS v FROM t", key, &wi);
    CHECK_STR(value(r, "SELECT count(*) || ',' || sum(v) FROM t WHERE k < 10"), "9,68");
    CHECK_STR(value(r, "SELECT count(*) FROM \"t@1\""), "50000");
    udr_table_detail *d;
    REQUIRE(udr_table_show(r, "t", NULL, &d) == UDR_OK);
    CHECK_INT(d->info.rows, ==, 49950);
    udr_table_detail_free(d);
    /* Half the rows change: a full rewrite, no delete files left. */
    must_write(r, "t", "SELECT k, CASE WHEN k % 2 = 0 THEN -v ELSE v END AS v FROM t", key, &wi);
    CHECK_INT(wi.rows, ==, 49950);
    CHECK_STR(value(r, "SELECT count(*) FROM t WHERE v < 0"), "24998");
    CHECK_STR(value(r, "SELECT count(*) FROM t"), "49950");
    udr_close(r);
}

static udr_table_detail *detail(udr_repo *r, const char *table)
{
    udr_table_detail *d = NULL;
    MUST(r, udr_table_show(r, table, NULL, &d));
    return d;
}

/* Single-row UPDATEs of a fixed-width column are patches, merged by size
 * tiers, which restate rows; once the patches would name more rows than the
 * chunks hold, the UPDATE compacts the table (clean chunks, no patch), and
 * later ones are patches again. (The fallback once wrote a delta chunk and
 * a delete file instead, and kept every patch: from then on every UPDATE
 * did the same, and the table grew a chunk per UPDATE.) */
static void test_patches_past_the_chunks_compact(void)
{
    enum { ROWS = 100, UPDATES = 600 };
    udr_repo *r = new_repo();
    const char *key[] = {"id", NULL};
    udr_write_info wi;
    must_write(r, "t", "SELECT range AS id, 0 AS v FROM range(100)", key, &wi);
    long want[ROWS] = {0};
    int compactions = 0;
    size_t most_chunks = 0, most_deletes = 0, had_patches = 0;
    for (int i = 0; i < UPDATES; i++) {
        int id = i * 37 % ROWS;
        char sql[128];
        snprintf(sql, sizeof sql, "UPDATE t SET v = v + %d WHERE id = %d", i, id);
        CHECK_STR(value(r, sql), "1");
        want[id] += i;
        udr_table_detail *d = detail(r, "t");
        most_chunks = d->nchunks > most_chunks ? d->nchunks : most_chunks;
        most_deletes = d->ndeletes > most_deletes ? d->ndeletes : most_deletes;
        compactions += had_patches > 0 && d->npatches == 0;
        had_patches = d->npatches;
        udr_table_detail_free(d);
    }
    CHECK(compactions > 0);
    CHECK_INT(most_chunks, ==, wi.chunks);
    CHECK_INT(most_deletes, ==, 0);
    long sum = 0, weighted = 0;
    for (int i = 0; i < ROWS; i++) {
        sum += want[i];
        weighted += want[i] * i;
    }
    char w[64];
    snprintf(w, sizeof w, "%ld,%ld,100", sum, weighted);
    CHECK_STR(value(r, "SELECT sum(v) || ',' || sum(v * id) || ',' || count(*) FROM t"), w);
    udr_close(r);
}

/* UPDATE, DELETE and INSERT of a few rows store those rows, not the table:
 * a delete file and a small chunk; many of them fold into one delete file
 * and one chunk; compaction gives the chunks of a fresh write. */
static void test_small_changes_and_compaction(void)
{
    udr_repo *r = new_repo();
    const char *key[] = {"id", NULL};
    udr_write_info wi;
    must_write(r, "t", "SELECT range AS id, range * 2 AS v, 'n' || range AS s FROM range(300000)",
               key, &wi);
    uint64_t chunks = wi.chunks, bytes = wi.bytes;
    CHECK(chunks >= 2);
    CHECK_STR(value(r, "UPDATE t SET v = -1, s = 'x' WHERE id = 123456"), "1");
    udr_table_detail *d = detail(r, "t");
    CHECK_INT(d->nchunks, ==, chunks + 1);            /* the updated row's own chunk */
    CHECK_INT(d->ndeletes, ==, 1);
    CHECK_INT(d->delete_rows[0], ==, 1);
    CHECK_INT(d->chunk_rows[d->nchunks - 1], ==, 1);
    CHECK(d->chunk_bytes[d->nchunks - 1] < bytes / 100);
    CHECK_INT(d->info.rows, ==, 300000);
    udr_table_detail_free(d);
    CHECK_STR(value(r, "SELECT v || s FROM t WHERE id = 123456"), "-1x");
    CHECK_STR(value(r, "SELECT count(*) FROM t"), "300000");
    CHECK_STR(value(r, "SELECT v FROM \"t@1\" WHERE id = 123456"), "246912");
    CHECK_STR(value(r, "DELETE FROM t WHERE id IN (7, 8, 9)"), "3");
    CHECK_STR(value(r, "DELETE FROM t WHERE id = 7"), "0");        /* gone already: no version */
    CHECK_STR(value(r, "UPDATE t SET v = 0 WHERE id < 0"), "0");
    CHECK_STR(value(r, "INSERT INTO t VALUES (7, 70, 'back')"), "1");
    d = detail(r, "t");
    CHECK_INT(d->info.version, ==, 4);
    CHECK_INT(d->nchunks, ==, chunks + 2);
    CHECK_INT(d->ndeletes, ==, 2);
    CHECK_INT(d->info.rows, ==, 299998);
    udr_table_detail_free(d);
    /* Many single-row updates: the deltas fold, so at most a few pieces. */
    for (int i = 0; i < 25; i++) {
        char sql[128];
        snprintf(sql, sizeof sql, "UPDATE t SET v = v + 1000000 WHERE id = %d", 1000 + i * 7919);
        CHECK_STR(value(r, sql), "1");
    }
    /* Many single-row inserts: their chunks fold too. */
    for (int i = 0; i < 12; i++) {
        char sql[128];
        snprintf(sql, sizeof sql, "INSERT INTO t VALUES (%d, 0, 'ins')", 400000 + i);
        CHECK_STR(value(r, sql), "1");
    }
    d = detail(r, "t");
    CHECK(d->nchunks <= chunks + 10);
    CHECK_INT(d->info.rows, ==, 300010);
    udr_table_detail_free(d);
    CHECK_STR(value(r, "SELECT count(*) || ',' || min(id) || ',' || max(id) FROM t WHERE s = 'ins'"),
              "12,400000,400011");
    CHECK_STR(value(r, "INSERT INTO t VALUES (400005, 0, 'again')"),
              "ERROR: the key of t must be unique, and an appended row has a key the table has "
              "already: id=400005");
    CHECK_STR(value(r, "DELETE FROM t WHERE s = 'ins'"), "12");
    /* The same row back and forth: a chunk with the bytes of an earlier one. */
    CHECK_STR(value(r, "UPDATE t SET s = 'a' WHERE id = 5"), "1");
    CHECK_STR(value(r, "UPDATE t SET s = 'b' WHERE id = 5"), "1");
    CHECK_STR(value(r, "UPDATE t SET s = 'a' WHERE id = 5"), "1");
    CHECK_STR(value(r, "UPDATE t SET s = 'b' WHERE id = 5"), "1");
    d = detail(r, "t");
    CHECK(d->ndeletes <= 8);
    CHECK(d->nchunks <= chunks + 10);
    udr_table_detail_free(d);
    const char *check = "SELECT count(*) || ',' || sum(v) || ',' || count(DISTINCT id) || ',' || "
                        "string_agg(s, '' ORDER BY id) FILTER (WHERE id IN (5, 7, 8, 123456)) "
                        "FROM t";
    char want[256];
    snprintf(want, sizeof want, "%s", value(r, "SELECT count(*) || ',' || "
                                               "(sum(range * 2) - 2 * 7 + 70 "
                                               "- 246912 - 1 + 25 * 1000000) || ',' || count(*) "
                                               "|| ',bbackx' FROM range(300000) WHERE range <> 8 "
                                               "AND range <> 9"));
    CHECK_STR(value(r, check), want);
    /* udr compact: the same rows, no delete files, the chunks of a fresh
     * write of them (so stored once). */
    udr_write_info ci;
    MUST(r, udr_table_compact(r, "t", &ci));
    CHECK_STR(value(r, check), want);
    d = detail(r, "t");
    CHECK_INT(d->ndeletes, ==, 0);
    CHECK_INT(d->info.version, ==, ci.version);
    must_write(r, "fresh", "SELECT * FROM t", key, NULL);
    udr_table_detail *f = detail(r, "fresh");
    CHECK_INT(f->nchunks, ==, d->nchunks);
    for (size_t i = 0; i < f->nchunks && i < d->nchunks; i++)
        CHECK_STR(f->chunk_hash[i], d->chunk_hash[i]);
    udr_table_detail_free(f);
    udr_table_detail_free(d);
    /* Clean already: nothing happens. */
    uint64_t v = ci.version;
    MUST(r, udr_table_compact(r, "t", &ci));
    CHECK_INT(ci.version, ==, v);
    CHECK(udr_table_compact(r, "nope", &ci) == UDR_ENOTFOUND);
    CHECK(strstr(udr_errmsg(r), "nope") != NULL);
    /* A third of the rows deleted: a delete file still. */
    CHECK_STR(value(r, "DELETE FROM t WHERE id % 3 = 0"), "99999");
    d = detail(r, "t");
    CHECK_INT(d->ndeletes, ==, 1);
    CHECK_INT(d->info.rows, ==, 199999);
    udr_table_detail_free(d);
    /* Past half the stored rows deleted, a change compacts by itself. */
    CHECK_STR(value(r, "DELETE FROM t WHERE id % 3 = 1"), "100000");
    d = detail(r, "t");
    CHECK_INT(d->ndeletes, ==, 0);
    CHECK_INT(d->info.rows, ==, 99999);
    udr_table_detail_free(d);
    CHECK_STR(value(r, "SELECT count(*) || ',' || count(*) FILTER (id % 3 = 2) FROM t"),
              "99999,99999");
    udr_fsck_stats st;
    MUST(r, udr_fsck(r, NULL, NULL, NULL, &st));
    CHECK_INT(st.problems, ==, 0);
    udr_close(r);
}

/* Deleted rows are left out of scans through deletion vectors (delvec.h),
 * or by an anti-join past their memory bound (UDR_DELVEC_MAX_BYTES). Random
 * UPDATEs, DELETEs and INSERTs, each checked against a model in C; then
 * every version read again in fresh handles: vectors for all, none (0: the
 * anti-join for all), and a bound some versions fit under and others not. */
enum { MODEL_MAX = 40000 };

typedef struct model {
    long long v[MODEL_MAX];
    unsigned char alive[MODEL_MAX];
    int n;                             /* ids 0..n-1 were ever written */
} model;

static void model_sum(const model *m, char *out, size_t size)
{
    long long count = 0, sum = 0, mix = 0;
    for (int id = 0; id < m->n; id++)
        if (m->alive[id]) {
            count++;
            sum += m->v[id];
            mix += (long long)id * m->v[id] % 1000003;
        }
    snprintf(out, size, "%lld,%lld,%lld", count, sum, mix);
}

static const char MODEL_SQL[] = "SELECT count(*) || ',' || coalesce(sum(v), 0) || ',' || "
                                "coalesce(sum(id * v %% 1000003), 0) FROM \"t@%llu\"";

static void check_versions(const char *path, const char *limit, const uint64_t *versions,
                           const char (*sums)[64], int n)
{
    if (limit)
        setenv("UDR_DELVEC_MAX_BYTES", limit, 1);
    else
        unsetenv("UDR_DELVEC_MAX_BYTES");
    udr_repo *r;
    REQUIRE(udr_open(path, &r) == UDR_OK);
    /* Newest first, so that with a small bound the first (larger) versions
     * take vectors while they fit, and the rest fall back. */
    for (int i = n - 1; i >= 0; i--) {
        char sql[256];
        snprintf(sql, sizeof sql, MODEL_SQL, (unsigned long long)versions[i]);
        CHECK_STR(value(r, sql), sums[i]);
    }
    /* A point query and a key range: the pushed-down filters keep working. */
    CHECK(strncmp(value(r, "SELECT count(*) FROM t WHERE id BETWEEN 100 AND 200"), "ERROR", 5));
    udr_close(r);
    unsetenv("UDR_DELVEC_MAX_BYTES");
}

static void test_deletion_vectors_match_a_model(void)
{
    static model m;
    memset(&m, 0, sizeof m);
    udr_repo *r = new_repo();
    const char *key[] = {"id", NULL};
    must_write(r, "t", "SELECT range AS id, range * 3 AS v FROM range(30000)", key, NULL);
    m.n = 30000;
    for (int id = 0; id < m.n; id++) {
        m.alive[id] = 1;
        m.v[id] = id * 3LL;
    }
    enum { OPS = 60 };
    uint64_t versions[OPS + 1];
    char sums[OPS + 1][64];
    int nv = 0;
    versions[nv] = 1;
    model_sum(&m, sums[nv++], sizeof sums[0]);
    srand(7);
    for (int op = 0; op < OPS; op++) {
        int kind = rand() % 20, mod = 50 + rand() % 450, rest = rand() % mod;
        int add = 1 + rand() % 1000;
        char sql[256];
        long long hit = 0;
        if (kind < 11) {
            snprintf(sql, sizeof sql, "UPDATE t SET v = v + %d WHERE id %% %d = %d", add, mod,
                     rest);
            for (int id = 0; id < m.n; id++)
                if (m.alive[id] && id % mod == rest)
                    m.v[id] += add, hit++;
        } else if (kind < 16) {
            snprintf(sql, sizeof sql, "DELETE FROM t WHERE id %% %d = %d", mod, rest);
            for (int id = 0; id < m.n; id++)
                if (m.alive[id] && id % mod == rest)
                    m.alive[id] = 0, hit++;
        } else {
            int k = 1 + rand() % 300;
            if (m.n + k > MODEL_MAX)
                k = MODEL_MAX - m.n;
            snprintf(sql, sizeof sql, "INSERT INTO t SELECT range, range * 7 FROM range(%d, %d)",
                     m.n, m.n + k);
            for (int id = m.n; id < m.n + k; id++)
                m.alive[id] = 1, m.v[id] = id * 7LL;
            m.n += k;
            hit = k;
        }
        char want[32];
        snprintf(want, sizeof want, "%lld", hit);
        CHECK_STR(value(r, sql), want);
        udr_table_detail *d;
        MUST(r, udr_table_show(r, "t", NULL, &d));
        versions[nv] = d->info.version;
        udr_table_detail_free(d);
        model_sum(&m, sums[nv], sizeof sums[0]);
        char q[256];
        snprintf(q, sizeof q, MODEL_SQL, (unsigned long long)versions[nv]);
        CHECK_STR(value(r, q), sums[nv]);
        nv++;
    }
    /* Some versions kept delete files (none compacted them all away). */
    udr_table_detail *d;
    MUST(r, udr_table_show(r, "t", NULL, &d));
    CHECK(d->ndeletes > 0);
    udr_table_detail_free(d);
    char path[4096];
    snprintf(path, sizeof path, "%s", udr_repo_path(r));
    udr_close(r);
    const char *limits[] = {NULL, "0", "16384"};
    for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++) {
        check_versions(path, limits[i], versions, (const char (*)[64])sums, nv);
    }
}

/* Column patches (patch.h): UPDATEs of fixed-width columns store only their
 * new values. Random UPDATEs of such columns (patches, some setting NULL),
 * of a text column (delta chunks), DELETEs and INSERTs, each checked
 * against a model in C, and each version's diff from the one before
 * against the model's; then every version read again in fresh handles with
 * patch maps and deletion vectors on and off, alone and together, and a
 * bound on the maps some versions fit under. */
typedef struct pmodel {
    long long v[MODEL_MAX];
    long long w[MODEL_MAX];            /* a DOUBLE holding integers */
    unsigned char wnull[MODEL_MAX];
    int namelen[MODEL_MAX];
    unsigned char alive[MODEL_MAX];
    int n;
} pmodel;

static void pmodel_sum(const pmodel *m, char *out, size_t size)
{
    long long count = 0, sv = 0, sw = 0, nulls = 0, len = 0, mix = 0;
    for (int id = 0; id < m->n; id++) {
        if (!m->alive[id])
            continue;
        count++;
        sv += m->v[id];
        if (m->wnull[id])
            nulls++;
        else
            sw += m->w[id];
        len += m->namelen[id];
        mix += (long long)id * m->v[id] % 1000003;
    }
    snprintf(out, size, "%lld,%lld,%lld,%lld,%lld,%lld", count, sv, sw, nulls, len, mix);
}

static const char PMODEL_SQL[] =
    "SELECT count(*) || ',' || coalesce(sum(v), 0) || ',' || coalesce(sum(w), 0)::BIGINT || "
    "',' || count(*) FILTER (w IS NULL) || ',' || coalesce(sum(length(name)), 0) || ',' || "
    "coalesce(sum(id * v %% 1000003), 0) FROM \"t@%llu\"";

static int digits(int id)
{
    int n = 1;
    while (id >= 10)
        id /= 10, n++;
    return n;
}

static void check_patched_versions(const char *path, const char *patch_limit,
                                   const char *delvec_limit, const uint64_t *versions,
                                   const char (*sums)[64], int n)
{
    if (patch_limit)
        setenv("UDR_PATCH_MAX_BYTES", patch_limit, 1);
    if (delvec_limit)
        setenv("UDR_DELVEC_MAX_BYTES", delvec_limit, 1);
    udr_repo *r;
    REQUIRE(udr_open(path, &r) == UDR_OK);
    for (int i = n - 1; i >= 0; i--) {
        char sql[512];
        snprintf(sql, sizeof sql, PMODEL_SQL, (unsigned long long)versions[i]);
        CHECK_STR(value(r, sql), sums[i]);
    }
    /* Filters on a patched column see the patched values. */
    CHECK_STR(value(r, "SELECT (SELECT count(*) FROM t WHERE v % 2 = 1) + "
                       "(SELECT count(*) FROM t WHERE v % 2 = 0) = (SELECT count(*) FROM t)"),
              "true");
    udr_close(r);
    unsetenv("UDR_PATCH_MAX_BYTES");
    unsetenv("UDR_DELVEC_MAX_BYTES");
}

static void test_patches_match_a_model(void)
{
    static pmodel m, before;
    memset(&m, 0, sizeof m);
    udr_repo *r = new_repo();
    const char *key[] = {"id", NULL};
    must_write(r, "t",
               "SELECT range AS id, range * 3 AS v, CAST(range * 2 AS DOUBLE) AS w, "
               "'n' || range AS name FROM range(30000)",
               key, NULL);
    m.n = 30000;
    for (int id = 0; id < m.n; id++) {
        m.alive[id] = 1;
        m.v[id] = id * 3LL;
        m.w[id] = id * 2LL;
        m.namelen[id] = 1 + digits(id);
    }
    enum { OPS = 60 };
    uint64_t versions[OPS + 1];
    char sums[OPS + 1][64];
    int nv = 0, npatched = 0;
    versions[nv] = 1;
    pmodel_sum(&m, sums[nv++], sizeof sums[0]);
    srand(11);
    for (int op = 0; op < OPS; op++) {
        int kind = rand() % 20, mod = 50 + rand() % 450, rest = rand() % mod;
        int add = 1 + rand() % 1000;
        char sql[256];
        long long hit = 0;
        before = m;
        if (kind < 8) {
            snprintf(sql, sizeof sql, "UPDATE t SET v = v + %d WHERE id %% %d = %d", add, mod,
                     rest);
            for (int id = 0; id < m.n; id++)
                if (m.alive[id] && id % mod == rest)
                    m.v[id] += add, hit++;
        } else if (kind < 10) {
            /* w NULL on some rows, back from NULL on others */
            snprintf(sql, sizeof sql,
                     "UPDATE t SET w = CASE WHEN w IS NULL THEN id ELSE NULL END, v = v - 1 "
                     "WHERE id %% %d = %d", mod, rest);
            for (int id = 0; id < m.n; id++)
                if (m.alive[id] && id % mod == rest) {
                    if (m.wnull[id])
                        m.wnull[id] = 0, m.w[id] = id;
                    else
                        m.wnull[id] = 1;
                    m.v[id] -= 1;
                    hit++;
                }
        } else if (kind < 12) {
            snprintf(sql, sizeof sql, "UPDATE t SET name = name || 'x' WHERE id %% %d = %d", mod,
                     rest);
            for (int id = 0; id < m.n; id++)
                if (m.alive[id] && id % mod == rest)
                    m.namelen[id]++, hit++;
        } else if (kind < 16) {
            snprintf(sql, sizeof sql, "DELETE FROM t WHERE id %% %d = %d", mod, rest);
            for (int id = 0; id < m.n; id++)
                if (m.alive[id] && id % mod == rest)
                    m.alive[id] = 0, hit++;
        } else {
            int k = 1 + rand() % 300;
            if (m.n + k > MODEL_MAX)
                k = MODEL_MAX - m.n;
            snprintf(sql, sizeof sql,
                     "INSERT INTO t SELECT range, range * 7, range * 2, 'n' || range "
                     "FROM range(%d, %d)", m.n, m.n + k);
            for (int id = m.n; id < m.n + k; id++)
                m.alive[id] = 1, m.v[id] = id * 7LL, m.w[id] = id * 2LL, m.wnull[id] = 0,
                m.namelen[id] = 1 + digits(id);
            m.n += k;
            hit = k;
        }
        char want[32];
        snprintf(want, sizeof want, "%lld", hit);
        CHECK_STR(value(r, sql), want);
        udr_table_detail *d;
        MUST(r, udr_table_show(r, "t", NULL, &d));
        versions[nv] = d->info.version;
        npatched += d->npatches > 0;
        udr_table_detail_free(d);
        pmodel_sum(&m, sums[nv], sizeof sums[0]);
        char q[512];
        snprintf(q, sizeof q, PMODEL_SQL, (unsigned long long)versions[nv]);
        CHECK_STR(value(r, q), sums[nv]);
        /* The diff from the version before, against the model's. */
        uint64_t added = 0, removed = 0, modified = 0;
        for (int id = 0; id < m.n; id++) {
            int was = id < before.n && before.alive[id];
            if (m.alive[id] && !was)
                added++;
            else if (!m.alive[id] && was)
                removed++;
            else if (was && (m.v[id] != before.v[id] || m.wnull[id] != before.wnull[id] ||
                             (!m.wnull[id] && m.w[id] != before.w[id]) ||
                             m.namelen[id] != before.namelen[id]))
                modified++;
        }
        char from[32], to[32];
        snprintf(from, sizeof from, "%llu", (unsigned long long)versions[nv - 1]);
        snprintf(to, sizeof to, "%llu", (unsigned long long)versions[nv]);
        udr_diff df;
        MUST(r, udr_table_diff(r, "t", from, to, NULL, &df, NULL));
        CHECK_INT(df.rows_added, ==, added);
        CHECK_INT(df.rows_removed, ==, removed);
        CHECK_INT(df.rows_modified, ==, modified);
        nv++;
    }
    /* Most versions had patches (none compacted them all away). */
    CHECK(npatched > OPS / 2);
    udr_fsck_stats st;
    MUST(r, udr_fsck(r, NULL, NULL, NULL, &st));
    CHECK_INT(st.problems, ==, 0);
    char path[4096];
    snprintf(path, sizeof path, "%s", udr_repo_path(r));
    udr_close(r);
    const char *limits[][2] = {{NULL, NULL}, {"0", NULL}, {NULL, "0"}, {"0", "0"},
                               {"300000", NULL}};
    for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++)
        check_patched_versions(path, limits[i][0], limits[i][1], versions,
                               (const char (*)[64])sums, nv);
}

/* A long-lived handle that deletes and reads version after version: past
 * the bound on deletion vectors, those of versions no statement holds are
 * evicted, so every new version still reads through a vector (udr_live in
 * its plan) rather than the anti-join, and every count is right. */
static void test_deletion_vectors_evicted_in_a_long_lived_handle(void)
{
    /* 100,000 rows: 12.5 KB of bitmaps a version; room for about 20 */
    setenv("UDR_DELVEC_MAX_BYTES", "262144", 1);
    udr_repo *r = new_repo();
    const char *key[] = {"id", NULL};
    must_write(r, "t", "SELECT range AS id, range % 7 AS v FROM range(100000)", key, NULL);
    for (int i = 0; i < 60; i++) {
        char sql[128], want[32];
        snprintf(sql, sizeof sql, "DELETE FROM t WHERE id = %d", i * 1000 + 7);
        CHECK_STR(value(r, sql), "1");
        snprintf(want, sizeof want, "%d", 100000 - i - 1);
        CHECK_STR(value(r, "SELECT count(*) FROM t"), want);
        udr_result *res;
        MUST(r, udr_query(r, "EXPLAIN SELECT count(*) FROM t", NULL, 0, &res));
        char *plan = udr_result_text(res, 0, 1);
        if (plan == NULL || strstr(plan, "udr_live") == NULL)
            harness_fail(__FILE__, __LINE__, "version %d reads without a deletion vector: %s",
                         i + 2, plan ? plan : "(no plan)");
        free(plan);
        udr_result_free(res);
    }
    /* The first versions, evicted long ago, read right again. */
    CHECK_STR(value(r, "SELECT count(*) FROM \"t@2\""), "99999");
    CHECK_STR(value(r, "SELECT count(*) FROM \"t@3\""), "99998");
    udr_close(r);
    unsetenv("UDR_DELVEC_MAX_BYTES");
}

/* A table with a column named as DuckDB's virtual column file_index: its
 * deleted rows are still left out (by the anti-join: a vector would read
 * the table's column in place of the position). */
static void test_deletes_beside_columns_named_like_positions(void)
{
    udr_repo *r = new_repo();
    const char *key[] = {"id", NULL};
    must_write(r, "t", "SELECT range AS id, range % 3 AS file_index FROM range(20000)", key,
               NULL);
    CHECK_STR(value(r, "DELETE FROM t WHERE id % 10 = 1"), "2000");
    CHECK_STR(value(r, "UPDATE t SET file_index = -1 WHERE id % 10 = 2"), "2000");
    CHECK_STR(value(r, "SELECT count(*) || ',' || sum(file_index) || ',' || "
                       "count(*) FILTER (id % 10 = 1) FROM t"),
              "18000,13998,0");
    udr_close(r);
}

/* A delete file that is not Parquet any more: the query fails, naming it,
 * and a version without it still reads. */
static void test_damaged_delete_file_fails_its_queries(void)
{
    udr_repo *r = new_repo();
    const char *key[] = {"id", NULL};
    must_write(r, "t", "SELECT range AS id FROM range(50000)", key, NULL);
    CHECK_STR(value(r, "DELETE FROM t WHERE id % 10 = 3"), "5000");
    udr_table_detail *d;
    MUST(r, udr_table_show(r, "t", NULL, &d));
    REQUIRE(d->ndeletes == 1);
    char hex[UDR_HASH_HEX + 1], file[4200];
    snprintf(hex, sizeof hex, "%s", d->delete_hash[0]);
    udr_table_detail_free(d);
    char path[4096];
    snprintf(path, sizeof path, "%s", udr_repo_path(r));
    snprintf(file, sizeof file, "%s/objects/%.2s/%.2s/%s", path, hex, hex + 2, hex);
    udr_close(r);
    REQUIRE(chmod(file, 0644) == 0);
    REQUIRE(truncate(file, 10) == 0);
    REQUIRE(udr_open(path, &r) == UDR_OK);
    const char *got = value(r, "SELECT count(*) FROM t");
    CHECK(strncmp(got, "ERROR", 5) == 0);
    CHECK_CONTAINS(got, hex);
    CHECK_STR(value(r, "SELECT count(*) FROM \"t@1\""), "50000");
    udr_close(r);
}

/* Small DELETEs each add a delete file of their own rows only; past 8
 * files under 4096 rows, a change merges its deletes with the files of the
 * lowest size tiers (a factor 8 in rows each), so a file merged once stays
 * as it is while the next small files pile up and merge beside it. Larger
 * files stay apart, up to 64. */
static void test_delete_files_merge_by_tier(void)
{
    udr_repo *r = new_repo();
    const char *key[] = {"id", NULL};
    must_write(r, "t", "SELECT range AS id, range % 7 AS v FROM range(100000)", key, NULL);
    char first_merged[UDR_HASH_HEX + 1] = "";
    for (int k = 0; k < 17; k++) {
        char sql[128];
        snprintf(sql, sizeof sql, "DELETE FROM t WHERE id %% 1000 = %d", k);
        CHECK_STR(value(r, sql), "100");
        udr_table_detail *d = detail(r, "t");
        CHECK(d->ndeletes <= 8);
        uint64_t deleted = 0;
        for (size_t i = 0; i < d->ndeletes; i++)
            deleted += d->delete_rows[i];
        CHECK_INT(deleted, ==, 100 * (k + 1));         /* no row named twice */
        if (k < 8) {
            /* One file per change, the earlier ones kept as they are. */
            CHECK_INT(d->ndeletes, ==, k + 1);
            CHECK_INT(d->delete_rows[d->ndeletes - 1], ==, 100);
        } else if (k == 8) {
            /* Nine files of one tier: merged into one. */
            CHECK_INT(d->ndeletes, ==, 1);
            CHECK_INT(d->delete_rows[0], ==, 900);
            snprintf(first_merged, sizeof first_merged, "%s", d->delete_hash[0]);
        } else {
            /* The merged file stays; the new ones pile up beside it, and
             * merge among themselves (k == 16: eight of 100 rows). */
            CHECK_STR(d->delete_hash[0], first_merged);
            CHECK_INT(d->ndeletes, ==, k < 16 ? k - 7 : 2);
            CHECK_INT(d->delete_rows[d->ndeletes - 1], ==, k < 16 ? 100 : 800);
        }
        udr_table_detail_free(d);
    }
    CHECK_STR(value(r, "SELECT count(*) || ',' || count(*) FILTER (id % 1000 < 17) FROM t"),
              "98300,0");
    /* Files of 4096 rows or more are worth a file each: up to 64 of them. */
    must_write(r, "big", "SELECT range AS id FROM range(300000)", key, NULL);
    for (int k = 0; k < 9; k++) {
        char sql[128];
        snprintf(sql, sizeof sql, "DELETE FROM big WHERE id %% 60 = %d", k);
        CHECK_STR(value(r, sql), "5000");
    }
    udr_table_detail *b = detail(r, "big");
    CHECK_INT(b->ndeletes, ==, 9);
    CHECK_INT(b->info.rows, ==, 255000);
    udr_table_detail_free(b);
    CHECK_STR(value(r, "SELECT count(*) FILTER (id % 60 < 9) || ',' || count(*) FROM big"),
              "0,255000");
    CHECK_STR(value(r, "SELECT count(*) FROM t WHERE id IN (16, 17, 99016, 99017)"), "2");
    /* An update over the merged deletes: the rows are right. */
    CHECK_STR(value(r, "UPDATE t SET v = -1 WHERE id % 1000 = 20"), "100");
    CHECK_STR(value(r, "SELECT count(*) || ',' || sum(v) FILTER (id % 1000 = 20) FROM t"),
              "98300,-100");
    udr_write_info ci;
    MUST(r, udr_table_compact(r, "t", &ci));
    CHECK_STR(value(r, "SELECT count(*) || ',' || sum(v) FILTER (id % 1000 = 20) FROM t"),
              "98300,-100");
    /* An update that folds the small chunks at the end of a table with no
     * delete file: the folded rows are all there, the old ones once. */
    must_write(r, "u", "SELECT range AS id, 0 AS v FROM range(50000)", key, NULL);
    for (int i = 0; i < 8; i++) {
        char sql[64];
        snprintf(sql, sizeof sql, "INSERT INTO u VALUES (%d, %d)", 60000 + i, i);
        CHECK_STR(value(r, sql), "1");
    }
    udr_table_detail *u = detail(r, "u");
    CHECK_INT(u->ndeletes, ==, 0);
    udr_table_detail_free(u);
    CHECK_STR(value(r, "UPDATE u SET v = 100 WHERE id = 60003"), "1");
    CHECK_STR(value(r, "SELECT count(*) || ',' || count(DISTINCT id) || ',' || sum(v) FROM u"),
              "50008,50008,125");
    udr_fsck_stats st;
    MUST(r, udr_fsck(r, NULL, NULL, NULL, &st));
    CHECK_INT(st.problems, ==, 0);
    udr_close(r);
}

/* Without a key, rows are found by their position all the same. */
static void test_small_changes_without_key(void)
{
    udr_repo *r = new_repo();
    must_write(r, "log", "SELECT range % 1000 AS n, 'x' || range AS s FROM range(100000)", NULL,
               NULL);
    CHECK_STR(value(r, "DELETE FROM log WHERE s = 'x5'"), "1");
    CHECK_STR(value(r, "UPDATE log SET n = -1 WHERE s IN ('x6', 'x7')"), "2");
    for (int i = 0; i < 10; i++) {
        char sql[64];
        snprintf(sql, sizeof sql, "INSERT INTO log VALUES (7, 'dup%d')", i);
        CHECK_STR(value(r, sql), "1");
    }
    udr_table_detail *d = detail(r, "log");
    CHECK(d->ndeletes >= 1);
    CHECK(d->nchunks < 20);
    CHECK_INT(d->info.rows, ==, 100009);
    udr_table_detail_free(d);
    CHECK_STR(value(r, "SELECT count(*) || ',' || count(*) FILTER (n = -1) || ',' || "
                       "count(*) FILTER (s LIKE 'dup%') || ',' || count(*) FILTER (s = 'x5') FROM log"),
              "100009,2,10,0");
    /* The same row twice: its chunk would be one the table has; the table
     * is written whole instead, and both rows are there. */
    CHECK_STR(value(r, "INSERT INTO log VALUES (8, 'twin')"), "1");
    CHECK_STR(value(r, "INSERT INTO log VALUES (8, 'twin')"), "1");
    CHECK_STR(value(r, "SELECT count(*) FROM log WHERE s = 'twin'"), "2");
    CHECK_STR(value(r, "SELECT count(*) FROM \"log@1\" WHERE n = -1"), "0");
    udr_write_info ci;
    MUST(r, udr_table_compact(r, "log", &ci));
    CHECK_INT(ci.rows, ==, 100011);
    CHECK_STR(value(r, "SELECT count(*) FILTER (s LIKE 'dup%') FROM log"), "10");
    udr_fsck_stats st;
    MUST(r, udr_fsck(r, NULL, NULL, NULL, &st));
    CHECK_INT(st.problems, ==, 0);
    udr_close(r);
}

static void test_two_processes_write_different_tables(void)
{
    udr_repo *r = new_repo();
    udr_close(r);
    pid_t pids[2];
    for (int w = 0; w < 2; w++) {
        pids[w] = fork();
        REQUIRE(pids[w] >= 0);
        if (pids[w] == 0) {
            udr_repo *mine;
            if (udr_open(t_path("repo"), &mine) != UDR_OK)
                _exit(10);
            char table[16], sql[128];
            snprintf(table, sizeof table, "t%d", w);
            for (int i = 0; i < 5; i++) {
                snprintf(sql, sizeof sql, "SELECT range AS x, %d AS w FROM range(1000)", i);
                udr_write_info wi;
                if (udr_table_write(mine, table, sql, NULL, &wi) != UDR_OK) {
                    fprintf(stderr, "%s\n", udr_errmsg(mine));
                    _exit(11);
                }
            }
            udr_close(mine);
            _exit(0);
        }
    }
    for (int w = 0; w < 2; w++) {
        int st;
        REQUIRE(waitpid(pids[w], &st, 0) == pids[w]);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    REQUIRE(udr_open(t_path("repo"), &r) == UDR_OK);
    CHECK_STR(value(r, "SELECT count(*) FROM t0"), "1000");
    CHECK_STR(value(r, "SELECT max(w) FROM t1"), "4");
    udr_version_info *v;
    size_t n;
    REQUIRE(udr_table_log(r, "t1", &v, &n) == UDR_OK);
    CHECK_INT(n, ==, 5);
    udr_version_info_free(v, n);
    udr_fsck_stats st;
    REQUIRE(udr_fsck(r, NULL, NULL, NULL, &st) == UDR_OK);
    CHECK_INT(st.problems, ==, 0);
    udr_close(r);
}

/* ---- udr_table_commit_chunks ---------------------------------------------- */

/* The chunks of a table's current version, as hashes (*n of them; free). */
static udr_hash *chunk_hashes(udr_repo *r, const char *table, size_t *n)
{
    udr_table_detail *d = detail(r, table);
    udr_hash *h = calloc(d->nchunks + 1, sizeof *h);
    REQUIRE(h != NULL);
    for (size_t i = 0; i < d->nchunks; i++)
        REQUIRE(udr_hash_from_hex(d->chunk_hash[i], &h[i]) == UDR_OK);
    *n = d->nchunks;
    udr_table_detail_free(d);
    return h;
}

static size_t versions_of(udr_repo *r, const char *table)
{
    udr_version_info *v;
    size_t n;
    MUST(r, udr_table_log(r, table, &v, &n));
    udr_version_info_free(v, n);
    return n;
}

/* The chunks of a written table, committed as a new table: the same rows,
 * columns and types, every chunk's rows and bytes as the original has them. */
static void test_commit_chunks_of_a_table(void)
{
    udr_repo *r = new_repo();
    const char *key[] = {"id", NULL};
    udr_write_info w;
    must_write(r, "orig",
               "SELECT range AS id, 'n' || range AS name, range * 0.25 AS score,"
               " DATE '2026-01-01' + (range % 365)::INTEGER AS day, [range, NULL] AS tags,"
               " CASE WHEN range % 7 = 0 THEN NULL ELSE range % 7 = 1 END AS flag"
               " FROM range(150000)",
               key, &w);
    REQUIRE(w.chunks >= 2);
    size_t n;
    udr_hash *h = chunk_hashes(r, "orig", &n);
    udr_write_opts o = {NULL, "from orig", "tester"};
    udr_write_info ci;
    MUST(r, udr_table_commit_chunks(r, "copy", 1, h, n, &o, &ci));
    CHECK_INT(ci.version, ==, 1);
    CHECK_INT(ci.rows, ==, 150000);
    CHECK_INT(ci.chunks, ==, n);
    CHECK_INT(ci.bytes, ==, w.bytes);
    CHECK_INT(ci.new_chunks, ==, 0);
    CHECK_INT(ci.new_bytes, ==, 0);
    /* The same rows, both ways (EXCEPT ALL counts duplicates). */
    CHECK_STR(value(r, "SELECT count(*) FROM copy"), "150000");
    CHECK_STR(value(r, "SELECT count(*) FROM (SELECT * FROM copy EXCEPT ALL SELECT * FROM orig)"),
              "0");
    CHECK_STR(value(r, "SELECT count(*) FROM (SELECT * FROM orig EXCEPT ALL SELECT * FROM "
                       "\"copy@1\")"),
              "0");
    CHECK_STR(value(r, "SELECT name || ' ' || score || ' ' || tags::VARCHAR FROM copy WHERE id = 12345"),
              "n12345 3086.25 [12345, NULL]");
    /* Columns and types as the original's, no key; chunk by chunk the same. */
    udr_table_detail *a = detail(r, "orig"), *b = detail(r, "copy");
    CHECK_INT(b->ncols, ==, a->ncols);
    for (size_t i = 0; i < a->ncols && i < b->ncols; i++) {
        CHECK_STR(b->col_names[i], a->col_names[i]);
        CHECK_STR(b->col_types[i], a->col_types[i]);
    }
    CHECK_INT(b->nkey, ==, 0);
    CHECK_INT(b->info.rows, ==, 150000);
    CHECK_STR(b->info.message, "from orig");
    CHECK_STR(b->info.author, "tester");
    REQUIRE(b->nchunks == a->nchunks);
    for (size_t i = 0; i < a->nchunks; i++) {
        CHECK_STR(b->chunk_hash[i], a->chunk_hash[i]);
        CHECK_INT(b->chunk_rows[i], ==, a->chunk_rows[i]);
        CHECK_INT(b->chunk_bytes[i], ==, a->chunk_bytes[i]);
    }
    udr_table_detail_free(a);
    udr_table_detail_free(b);
    /* In another order, and one chunk twice: chunks as given. */
    udr_hash twice[3] = {h[n - 1], h[0], h[n - 1]};
    MUST(r, udr_table_commit_chunks(r, "mixed", 1, twice, 3, NULL, &ci));
    b = detail(r, "mixed");
    char hex[UDR_HASH_HEX + 1];
    udr_hash_to_hex(&h[n - 1], hex);
    CHECK_STR(b->chunk_hash[0], hex);
    CHECK_STR(b->chunk_hash[2], hex);
    CHECK_STR(b->info.message, "commit chunks to mixed");
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT %llu", (unsigned long long)(2 * b->chunk_rows[0] + b->chunk_rows[1]));
    CHECK_STR(value(r, "SELECT count(*) FROM mixed"), value(r, sql));
    udr_table_detail_free(b);
    /* A write over it, and an UPDATE, work as on any table. */
    CHECK_STR(value(r, "UPDATE copy SET name = 'x' WHERE id = 7"), "1");
    CHECK_STR(value(r, "SELECT name FROM copy WHERE id = 7"), "x");
    free(h);
    /* Read again from disk: the same. */
    udr_close(r);
    REQUIRE(udr_open(t_path("repo"), &r) == UDR_OK);
    CHECK_STR(value(r, "SELECT count(*) FROM \"copy@1\" WHERE name = 'n7'"), "1");
    udr_fsck_stats st;
    MUST(r, udr_fsck(r, NULL, NULL, NULL, &st));
    CHECK_INT(st.problems, ==, 0);
    udr_close(r);
}

/* The version must be the table's next number, across branches and drops. */
static void test_commit_chunks_version_numbers(void)
{
    udr_repo *r = new_repo();
    must_write(r, "src", "SELECT range AS x FROM range(10)", NULL, NULL);
    size_t n;
    udr_hash *h = chunk_hashes(r, "src", &n);
    REQUIRE(n == 1);
    udr_write_info ci;
    const uint64_t bad_new[] = {0, 2, 1000, UINT64_MAX};
    for (size_t i = 0; i < sizeof bad_new / sizeof bad_new[0]; i++) {
        CHECK_INT(udr_table_commit_chunks(r, "t", bad_new[i], h, 1, NULL, &ci), ==, UDR_EINVAL);
        CHECK_CONTAINS(udr_errmsg(r), "table t version");
        CHECK_CONTAINS(udr_errmsg(r), "next version is 1");
    }
    CHECK_CONTAINS(value(r, "SELECT count(*) FROM t"), "does not exist");
    MUST(r, udr_table_commit_chunks(r, "t", 1, h, 1, NULL, &ci));
    CHECK_INT(ci.version, ==, 1);
    /* Too low (taken) and too high. */
    CHECK_INT(udr_table_commit_chunks(r, "t", 1, h, 1, NULL, &ci), ==, UDR_EINVAL);
    CHECK_CONTAINS(udr_errmsg(r), "next version is 2");
    CHECK_INT(udr_table_commit_chunks(r, "t", 3, h, 1, NULL, &ci), ==, UDR_EINVAL);
    CHECK_CONTAINS(udr_errmsg(r), "table t version 3");
    CHECK_INT(udr_table_commit_chunks(r, "t", 0, h, 1, NULL, &ci), ==, UDR_EINVAL);
    CHECK_INT(versions_of(r, "t"), ==, 1);
    /* An existing table written before takes its next number too. */
    MUST(r, udr_table_commit_chunks(r, "src", 2, h, 1, NULL, &ci));
    CHECK_STR(value(r, "SELECT sum(x) FROM src"), "45");
    /* Numbers run across branches. */
    MUST(r, udr_branch_create(r, "feature", NULL, NULL));
    MUST(r, udr_use_branch(r, "feature"));
    MUST(r, udr_table_commit_chunks(r, "t", 2, h, 1, NULL, &ci));
    MUST(r, udr_use_branch(r, "main"));
    CHECK_INT(udr_table_commit_chunks(r, "t", 2, h, 1, NULL, &ci), ==, UDR_EINVAL);
    CHECK_CONTAINS(udr_errmsg(r), "next version is 3");
    MUST(r, udr_table_commit_chunks(r, "t", 3, h, 1, NULL, &ci));
    CHECK_STR(value(r, "SELECT count(*) FROM \"t@feature\""), "10");
    /* A drop takes a number as well; a write after takes the next. */
    MUST(r, udr_table_drop(r, "t", NULL));
    CHECK_INT(udr_table_commit_chunks(r, "t", 4, h, 1, NULL, &ci), ==, UDR_EINVAL);
    CHECK_CONTAINS(udr_errmsg(r), "next version is 5");
    MUST(r, udr_table_commit_chunks(r, "t", 5, h, 1, NULL, &ci));
    udr_write_info w;
    must_write(r, "t", "SELECT 1 AS x", NULL, &w);
    CHECK_INT(w.version, ==, 6);
    free(h);
    udr_close(r);
}

/* Bad input changes nothing and says what is wrong. */
static void test_commit_chunks_refuses_bad_input(void)
{
    udr_repo *r = new_repo();
    must_write(r, "a", "SELECT range AS x FROM range(5)", NULL, NULL);
    must_write(r, "b", "SELECT 'v' || range AS x FROM range(5)", NULL, NULL);
    must_write(r, "c", "SELECT range AS x, range AS y FROM range(5)", NULL, NULL);
    size_t n;
    udr_hash *ha = chunk_hashes(r, "a", &n), *hb = chunk_hashes(r, "b", &n),
             *hc = chunk_hashes(r, "c", &n);
    char hex_a[UDR_HASH_HEX + 1], hex_b[UDR_HASH_HEX + 1], hex_c[UDR_HASH_HEX + 1];
    udr_hash_to_hex(ha, hex_a);
    udr_hash_to_hex(hb, hex_b);
    udr_hash_to_hex(hc, hex_c);
    udr_write_info ci;
    /* An object that is not there. */
    udr_hash missing[2] = {ha[0]};
    udr_hash_buffer("never stored", 12, &missing[1]);
    char hex_m[UDR_HASH_HEX + 1];
    udr_hash_to_hex(&missing[1], hex_m);
    CHECK_INT(udr_table_commit_chunks(r, "t", 1, missing, 2, NULL, &ci), ==, UDR_ENOTFOUND);
    CHECK_CONTAINS(udr_errmsg(r), hex_m);
    CHECK_CONTAINS(udr_errmsg(r), "table t version 1");
    CHECK_CONTAINS(udr_errmsg(r), "number 2 of 2");
    /* Names that are not table names. */
    const char *bad[] = {"../../etc", "", "a b", "users@3", "x/y"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_INT(udr_table_commit_chunks(r, bad[i], 1, ha, 1, NULL, &ci), ==, UDR_EINVAL);
    CHECK_INT(udr_table_commit_chunks(r, NULL, 1, ha, 1, NULL, &ci), ==, UDR_EINVAL);
    CHECK(access(t_path("etc"), F_OK) != 0);
    /* Parquet objects of other columns: both named. */
    udr_hash ab[2] = {ha[0], hb[0]}, ac[2] = {ha[0], hc[0]};
    CHECK_INT(udr_table_commit_chunks(r, "t", 1, ab, 2, NULL, &ci), ==, UDR_EINVAL);
    CHECK_CONTAINS(udr_errmsg(r), hex_a);
    CHECK_CONTAINS(udr_errmsg(r), hex_b);
    CHECK_CONTAINS(udr_errmsg(r), "different columns");
    CHECK_CONTAINS(udr_errmsg(r), "(x BIGINT) and (x VARCHAR)");
    CHECK_INT(udr_table_commit_chunks(r, "t", 1, ac, 2, NULL, &ci), ==, UDR_EINVAL);
    CHECK_CONTAINS(udr_errmsg(r), hex_c);
    CHECK_CONTAINS(udr_errmsg(r), "(x BIGINT) and (x BIGINT, y BIGINT)");
    /* Parquet's magic at both ends, but no Parquet file. */
    udr_hash fake;
    MUST(r, udr_object_put(r, "PAR1 not a footer at all PAR1", 29, &fake));
    char hex_f[UDR_HASH_HEX + 1];
    udr_hash_to_hex(&fake, hex_f);
    CHECK_INT(udr_table_commit_chunks(r, "t", 1, &fake, 1, NULL, &ci), ==, UDR_EINVAL);
    CHECK_CONTAINS(udr_errmsg(r), hex_f);
    CHECK_CONTAINS(udr_errmsg(r), "looks like Parquet");
    /* A key: the objects' rows are not known to be keyed. */
    const char *key[] = {"x", NULL};
    udr_write_opts o = {key, NULL, NULL};
    CHECK_INT(udr_table_commit_chunks(r, "t", 1, ha, 1, &o, &ci), ==, UDR_EINVAL);
    CHECK_CONTAINS(udr_errmsg(r), "key");
    /* Not inside a transaction of the handle. */
    udr_tx *tx;
    MUST(r, udr_tx_begin(r, NULL, UDR_SNAPSHOT, &tx));
    CHECK_INT(udr_table_commit_chunks(r, "t", 1, ha, 1, NULL, &ci), ==, UDR_EINVAL);
    CHECK_CONTAINS(udr_errmsg(r), "transaction");
    udr_tx_rollback(tx);
    /* Nothing of it committed. */
    udr_version_info *v;
    MUST(r, udr_table_list(r, &v, &n));
    CHECK_INT(n, ==, 3);
    udr_version_info_free(v, n);
    CHECK_INT(udr_table_log(r, "t", &v, &n), ==, UDR_ENOTFOUND);
    MUST(r, udr_table_commit_chunks(r, "t", 1, ha, 1, NULL, &ci));
    CHECK_STR(value(r, "SELECT sum(x) FROM t"), "10");
    free(ha);
    free(hb);
    free(hc);
    udr_close(r);
}

/* Objects that are not Parquet make a raw version: listed, shown and
 * checked like any, refused by whatever reads rows, replaced by a write. */
static void test_commit_chunks_raw_version(void)
{
    udr_repo *r = new_repo();
    udr_hash hello;
    MUST(r, udr_object_put(r, "Hello, World!", 13, &hello));
    char hex[UDR_HASH_HEX + 1];
    udr_hash_to_hex(&hello, hex);
    udr_write_info ci;
    MUST(r, udr_table_commit_chunks(r, "users", 1, &hello, 1, NULL, &ci));
    CHECK_INT(ci.version, ==, 1);
    CHECK_INT(ci.rows, ==, 0);
    CHECK_INT(ci.chunks, ==, 1);
    CHECK_INT(ci.bytes, ==, 13);
    const char *raw = "table users version 1 is a raw version (objects committed with "
                      "udr_table_commit_chunks): it has no columns to query";
    udr_result *res = NULL;
    CHECK_INT(udr_query(r, "SELECT * FROM users", NULL, 0, &res), ==, UDR_EINVAL);
    CHECK_CONTAINS(udr_errmsg(r), raw);
    CHECK_CONTAINS(value(r, "SELECT count(*) FROM \"users@1\""), raw);
    udr_version_info *v;
    size_t n;
    MUST(r, udr_table_list(r, &v, &n));
    REQUIRE(n == 1);
    CHECK_STR(v[0].table, "users");
    CHECK_INT(v[0].version, ==, 1);
    CHECK_INT(v[0].rows, ==, 0);
    CHECK_INT(v[0].chunks, ==, 1);
    CHECK_INT(v[0].bytes, ==, 13);
    udr_version_info_free(v, n);
    udr_table_detail *d = detail(r, "users");
    CHECK_INT(d->ncols, ==, 0);
    CHECK_INT(d->nkey, ==, 0);
    REQUIRE(d->nchunks == 1);
    CHECK_STR(d->chunk_hash[0], hex);
    CHECK_INT(d->chunk_rows[0], ==, 0);
    CHECK_INT(d->chunk_bytes[0], ==, 13);
    udr_table_detail_free(d);
    MUST(r, udr_table_log(r, "users", &v, &n));
    REQUIRE(n == 1);
    CHECK_STR(v[0].message, "commit chunks to users");
    udr_version_info_free(v, n);
    udr_fsck_stats st;
    MUST(r, udr_fsck(r, NULL, NULL, NULL, &st));
    CHECK_INT(st.problems, ==, 0);
    /* Whatever reads its rows says what it is. */
    CHECK_INT(udr_table_append(r, "users", "SELECT 1 AS id", NULL, &ci), ==, UDR_EINVAL);
    CHECK_CONTAINS(udr_errmsg(r), "raw version");
    CHECK_CONTAINS(udr_errmsg(r), "no columns to append to");
    CHECK_CONTAINS(value(r, "INSERT INTO users VALUES (1)"), raw);
    CHECK_CONTAINS(value(r, "UPDATE users SET id = 2 WHERE id = 1"),
                   "table users version 1 is a raw version");
    CHECK_CONTAINS(value(r, "DELETE FROM users"), "no rows to update or delete");
    udr_diff df;
    CHECK_INT(udr_table_diff(r, "users", "1", NULL, NULL, &df, NULL), ==, UDR_EINVAL);
    CHECK_CONTAINS(udr_errmsg(r), "table users version 1 is a raw version");
    MUST(r, udr_table_compact(r, "users", &ci));
    CHECK_INT(ci.version, ==, 1);
    CHECK_INT(versions_of(r, "users"), ==, 1);
    /* The change feed: a version with no rows. */
    udr_changes *it;
    const udr_change_batch *b;
    MUST(r, udr_changes_open(r, "users", NULL, NULL, &it));
    MUST(r, udr_changes_next(it, &b));
    REQUIRE(b != NULL);
    CHECK_INT(b->version, ==, 1);
    CHECK_INT(udr_result_rows(b->rows), ==, 0);
    MUST(r, udr_changes_next(it, &b));
    CHECK(b == NULL);
    udr_changes_close(it);
    CHECK_STR(value(r, "SELECT count(*) FROM udr_changes('users', NULL, NULL)"), "0");
    /* The next write makes a table again; the raw version stays as it was. */
    const char *key[] = {"id", NULL};
    udr_write_info w;
    must_write(r, "users", "SELECT * FROM (VALUES (1, 'Alice'), (2, 'Bob')) t(id, name)", key,
               &w);
    CHECK_INT(w.version, ==, 2);
    CHECK_INT(w.rows, ==, 2);
    CHECK_STR(value(r, "SELECT string_agg(name, ',' ORDER BY id) FROM users"), "Alice,Bob");
    CHECK_CONTAINS(value(r, "SELECT * FROM \"users@1\""), raw);
    MUST(r, udr_table_append(r, "users", "SELECT 3 AS id, 'Carol' AS name", NULL, &w));
    CHECK_INT(w.version, ==, 3);
    CHECK_STR(value(r, "UPDATE users SET name = 'Bobby' WHERE id = 2"), "1");
    MUST(r, udr_table_diff(r, "users", "2", "3", NULL, &df, NULL));
    CHECK_INT(df.rows_added, ==, 1);
    CHECK_INT(udr_table_diff(r, "users", "1", "3", NULL, &df, NULL), ==, UDR_EINVAL);
    CHECK_STR(value(r, "SELECT string_agg(_op, ',' ORDER BY _seq, _op) FROM "
                       "udr_changes('users', NULL, NULL)"),
              "insert,insert,insert,update_after,update_before");
    /* Raw again over a table: to the feed, every row deleted. */
    MUST(r, udr_table_commit_chunks(r, "users", 5, &hello, 1, NULL, &ci));
    CHECK_STR(value(r, "SELECT count(*) FILTER (_op = 'delete') FROM udr_changes('users', '5', "
                       "NULL)"),
              "3");
    /* No objects, or a Parquet object among others: raw as well. */
    MUST(r, udr_table_commit_chunks(r, "nothing", 1, NULL, 0, NULL, &ci));
    CHECK_INT(ci.chunks, ==, 0);
    CHECK_CONTAINS(value(r, "SELECT * FROM nothing"), "table nothing version 1 is a raw version");
    /* A feed with no commit in it has the last version's columns: none. */
    CHECK_STR(value(r, "SELECT count(*) FROM udr_changes('nothing', '2099-01-01T00:00:00Z', "
                       "NULL)"),
              "0");
    d = NULL;
    MUST(r, udr_table_show(r, "users", "3", &d));
    REQUIRE(d->nchunks >= 1);
    udr_hash two[2] = {{{0}}, hello};
    REQUIRE(udr_hash_from_hex(d->chunk_hash[0], &two[0]) == UDR_OK);
    udr_table_detail_free(d);
    MUST(r, udr_table_commit_chunks(r, "mixed", 1, two, 2, NULL, &ci));
    CHECK_INT(ci.rows, ==, 0);
    d = detail(r, "mixed");
    CHECK_INT(d->ncols, ==, 0);
    CHECK_INT(d->nchunks, ==, 2);
    CHECK_INT(d->chunk_rows[0], ==, 0);
    udr_table_detail_free(d);
    /* Read from disk by another handle and by the udr tool. */
    udr_close(r);
    REQUIRE(udr_open(t_path("repo"), &r) == UDR_OK);
    CHECK_CONTAINS(value(r, "SELECT * FROM users"), "table users version 5 is a raw version");
    MUST(r, udr_fsck(r, NULL, NULL, NULL, &st));
    CHECK_INT(st.problems, ==, 0);
    udr_close(r);
    char cmd[8192];
    int status;
    snprintf(cmd, sizeof cmd, "%s/../udr --repo '%s' show users 2>&1 | grep -c %s", t_bindir(),
             t_path("repo"), hex);
    CHECK_STR(t_run(cmd, &status), "1");
    snprintf(cmd, sizeof cmd, "%s/../udr --repo '%s' tables 2>&1 | grep -c -E '^(users|nothing|mixed),'",
             t_bindir(), t_path("repo"));
    CHECK_STR(t_run(cmd, &status), "3");
    snprintf(cmd, sizeof cmd, "%s/../udr --repo '%s' sql 'SELECT * FROM users' 2>&1",
             t_bindir(), t_path("repo"));
    CHECK_CONTAINS(t_run(cmd, &status), "is a raw version");
    CHECK(status != 0);
}

/* A raw version on a branch merges as any version of a table without a
 * key: taken when only its side changed, a conflict when both did. */
static void test_commit_chunks_raw_merge(void)
{
    udr_repo *r = new_repo();
    must_write(r, "t", "SELECT range AS id FROM range(3)", NULL, NULL);
    MUST(r, udr_branch_create(r, "feature", NULL, NULL));
    MUST(r, udr_use_branch(r, "feature"));
    udr_hash hello;
    MUST(r, udr_object_put(r, "Hello, World!", 13, &hello));
    udr_write_info ci;
    MUST(r, udr_table_commit_chunks(r, "t", 2, &hello, 1, NULL, &ci));
    MUST(r, udr_table_commit_chunks(r, "blob", 1, &hello, 1, NULL, &ci));
    MUST(r, udr_use_branch(r, "main"));
    must_write(r, "t", "SELECT range AS id FROM range(4)", NULL, NULL);
    udr_merge_opts mo = {"main", UDR_MERGE_FAIL, NULL, NULL};
    udr_merge_info mi;
    CHECK_INT(udr_merge(r, "feature", &mo, &mi), ==, UDR_ECONFLICT);
    CHECK_INT(mi.conflicts, ==, 1);
    udr_merge_info_clear(&mi);
    CHECK_STR(value(r, "SELECT count(*) FROM t"), "4");
    mo.strategy = UDR_MERGE_THEIRS;
    MUST(r, udr_merge(r, "feature", &mo, &mi));
    CHECK_INT(mi.tables_taken, ==, 1);
    udr_merge_info_clear(&mi);
    CHECK_CONTAINS(value(r, "SELECT * FROM t"), "table t version 2 is a raw version");
    CHECK_CONTAINS(value(r, "SELECT * FROM blob"), "table blob version 1 is a raw version");
    udr_write_info w;
    must_write(r, "t", "SELECT 9 AS id", NULL, &w);
    CHECK_INT(w.version, ==, 4);
    CHECK_STR(value(r, "SELECT id FROM t"), "9");
    udr_close(r);
}

static const test_case TESTS[] = {
    TEST_ENTRY(test_types_round_trip),
    TEST_ENTRY(test_schema_change_and_old_versions),
    TEST_ENTRY(test_readme_time_travel),
    TEST_ENTRY(test_append),
    TEST_ENTRY(test_identical_write_stores_nothing),
    TEST_ENTRY(test_key_errors),
    TEST_ENTRY(test_bad_names_and_references),
    TEST_ENTRY(test_malformed_csv_names_the_line),
    TEST_ENTRY(test_drop_keeps_history),
    TEST_ENTRY(test_missing_chunk_named),
    TEST_ENTRY(test_many_chunks_and_reuse),
    TEST_ENTRY(test_streamed_and_staged_agree),
    TEST_ENTRY(test_insert_at_front_rewrites_one_chunk),
    TEST_ENTRY(test_stream_failure_leaves_nothing),
    TEST_ENTRY(test_dedup_figures),
    TEST_ENTRY(test_delete_files_and_compaction),
    TEST_ENTRY(test_small_changes_and_compaction),
    TEST_ENTRY(test_patches_past_the_chunks_compact),
    TEST_ENTRY(test_small_changes_without_key),
    TEST_ENTRY(test_delete_files_merge_by_tier),
    TEST_ENTRY(test_deletion_vectors_match_a_model),
    TEST_ENTRY(test_patches_match_a_model),
    TEST_ENTRY(test_deletion_vectors_evicted_in_a_long_lived_handle),
    TEST_ENTRY(test_damaged_delete_file_fails_its_queries),
    TEST_ENTRY(test_deletes_beside_columns_named_like_positions),
    TEST_ENTRY(test_two_processes_write_different_tables),
    TEST_ENTRY(test_commit_chunks_of_a_table),
    TEST_ENTRY(test_commit_chunks_version_numbers),
    TEST_ENTRY(test_commit_chunks_refuses_bad_input),
    TEST_ENTRY(test_commit_chunks_raw_version),
    TEST_ENTRY(test_commit_chunks_raw_merge),
};
HARNESS_MAIN("tables", TESTS)
