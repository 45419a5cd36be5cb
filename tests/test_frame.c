/*
 * test_frame — columns as C arrays: the caller's arrays read by SQL as
 * udr_frame('name') (src/frame.c), and result columns copied out whole
 * (udr_result_copy, udr_result_bytes), as the Python module uses them.
 */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "udrtest.h"

enum { ROWS = 5000 };   /* more than two of DuckDB's 2,048-row vectors */

typedef struct arrays {
    int64_t id[ROWS];
    double score[ROWS];
    bool flag[ROWS];
    int64_t ts_us[ROWS];
    int32_t day[ROWS];
    udr_bytes name[ROWS];
    char text[ROWS][16];
    uint8_t nulls[ROWS];
} arrays;

static arrays *make_arrays(void)
{
    arrays *a = calloc(1, sizeof *a);
    REQUIRE(a != NULL);
    for (int i = 0; i < ROWS; i++) {
        a->id[i] = i;
        a->score[i] = i * 0.5;
        a->flag[i] = i % 3 == 0;
        a->ts_us[i] = 1700000000000000LL + i * 1000000LL;
        a->day[i] = 19000 + i;
        snprintf(a->text[i], sizeof a->text[i], "n%d", i);
        a->name[i].data = i % 7 == 0 ? NULL : a->text[i];     /* every 7th NULL */
        a->name[i].len = strlen(a->text[i]);
        a->nulls[i] = i % 10 == 0;                             /* every 10th score NULL */
    }
    return a;
}

static void columns_of(arrays *a, udr_column c[6])
{
    udr_column cols[6] = {
        {"id", UDR_CTYPE_INT64, a->id, NULL},
        {"score", UDR_CTYPE_DOUBLE, a->score, a->nulls},
        {"flag", UDR_CTYPE_BOOL, a->flag, NULL},
        {"ts", UDR_CTYPE_TIMESTAMP, a->ts_us, NULL},
        {"day", UDR_CTYPE_DATE, a->day, NULL},
        {"name", UDR_CTYPE_TEXT, a->name, NULL},
    };
    memcpy(c, cols, sizeof cols);
}

/* A frame written as a table reads back value for value, NULLs included. */
static void test_frame_round_trip(void)
{
    udr_repo *r = new_repo();
    arrays *a = make_arrays();
    udr_column c[6];
    columns_of(a, c);
    MUST(r, udr_frame_register(r, "df", c, 6, ROWS));
    udr_write_info info;
    must_write(r, "t", "SELECT * FROM udr_frame('df')", NULL, &info);
    CHECK_INT(info.rows, ==, ROWS);
    MUST(r, udr_frame_unregister(r, "df"));
    CHECK_STR(value(r, "SELECT count(*) FROM t WHERE score IS NULL"), "500");
    CHECK_STR(value(r, "SELECT count(*) FROM t WHERE name IS NULL"), "715");
    CHECK_STR(value(r, "SELECT sum(id) FROM t WHERE flag"), "4165833");
    CHECK_STR(value(r, "SELECT ts FROM t WHERE id = 1"), "2023-11-14 22:13:21");
    CHECK_STR(value(r, "SELECT day FROM t WHERE id = 0"), "2022-01-08");
    CHECK_STR(value(r, "SELECT typeof(ts) || ' ' || typeof(day) FROM t LIMIT 1"),
              "TIMESTAMP DATE");

    udr_result *res = NULL;
    MUST(r, udr_query(r, "SELECT * FROM t ORDER BY id", NULL, 0, &res));
    REQUIRE(udr_result_rows(res) == ROWS);
    CHECK_INT(udr_result_column_ctype(res, 0), ==, UDR_CTYPE_INT64);
    CHECK_INT(udr_result_column_ctype(res, 5), ==, UDR_CTYPE_TEXT);
    arrays *b = calloc(1, sizeof *b);
    REQUIRE(b != NULL);
    uint8_t *nulls = calloc(ROWS, 1);
    MUST(r, udr_result_copy(res, 0, b->id, NULL));
    MUST(r, udr_result_copy(res, 1, b->score, nulls));
    MUST(r, udr_result_copy(res, 2, b->flag, NULL));
    MUST(r, udr_result_copy(res, 3, b->ts_us, NULL));
    MUST(r, udr_result_copy(res, 4, b->day, NULL));
    CHECK(memcmp(a->id, b->id, sizeof a->id) == 0);
    CHECK(memcmp(a->flag, b->flag, sizeof a->flag) == 0);
    CHECK(memcmp(a->ts_us, b->ts_us, sizeof a->ts_us) == 0);
    CHECK(memcmp(a->day, b->day, sizeof a->day) == 0);
    int bad = 0;
    for (int i = 0; i < ROWS; i++)
        bad += nulls[i] != a->nulls[i] || (!nulls[i] && b->score[i] != a->score[i]);
    CHECK_INT(bad, ==, 0);
    MUST(r, udr_result_copy(res, 5, b->name, nulls));
    bad = 0;
    for (int i = 0; i < ROWS; i++) {
        size_t len = 0;
        const char *s = udr_result_bytes(res, (uint64_t)i, 5, &len);
        if (a->name[i].data == NULL)
            bad += s != NULL || b->name[i].data != NULL || !nulls[i];
        else
            bad += s == NULL || len != a->name[i].len || memcmp(s, a->text[i], len) != 0 ||
                   b->name[i].data != s;
    }
    CHECK_INT(bad, ==, 0);
    udr_result_free(res);
    free(nulls);
    free(b);
    free(a);
    udr_close(r);
}

/* DECIMAL comes out as double; other types are not C arrays. */
static void test_copy_types(void)
{
    udr_repo *r = new_repo();
    udr_result *res = NULL;
    MUST(r, udr_query(r, "SELECT 1.25::DECIMAL(9,2) AS d, INTERVAL 2 DAY AS i, 'x'::BLOB AS b, "
                         "'4b4a1c8e-5f0e-4a0e-9c1a-1a2b3c4d5e6f'::UUID AS u", NULL, 0, &res));
    CHECK_INT(udr_result_column_ctype(res, 0), ==, UDR_CTYPE_DOUBLE);
    double d = 0;
    MUST(r, udr_result_copy(res, 0, &d, NULL));
    CHECK(d == 1.25);
    CHECK_INT(udr_result_column_ctype(res, 1), ==, UDR_CTYPE_OTHER);
    CHECK_INT(udr_result_copy(res, 1, &d, NULL), ==, UDR_EINVAL);
    size_t len = 0;
    const char *blob = udr_result_bytes(res, 0, 2, &len);
    CHECK(blob != NULL && len == 1 && blob[0] == 'x');
    /* a UUID (read only through vectors) is shown as text: the other
       columns stay readable */
    char *u = udr_result_text(res, 0, 3);
    CHECK_STR(u, "4b4a1c8e-5f0e-4a0e-9c1a-1a2b3c4d5e6f");
    udr_free(u);
    CHECK(udr_result_bytes(res, 0, 0, &len) == NULL);      /* not text */
    CHECK(udr_result_bytes(res, 5, 2, &len) == NULL);      /* no such row */
    udr_result_free(res);
    udr_close(r);
}

static void test_frame_errors(void)
{
    udr_repo *r = new_repo();
    int64_t v[3] = {1, 2, 3};
    udr_column ok = {"a", UDR_CTYPE_INT64, v, NULL};
    udr_column twice[2] = {{"a", UDR_CTYPE_INT64, v, NULL}, {"a", UDR_CTYPE_INT64, v, NULL}};
    udr_column other = {"a", UDR_CTYPE_OTHER, v, NULL};
    udr_column unnamed = {NULL, UDR_CTYPE_INT64, v, NULL};
    udr_column novalues = {"a", UDR_CTYPE_INT64, NULL, NULL};
    CHECK_INT(udr_frame_register(r, "../../etc", &ok, 1, 3), ==, UDR_EINVAL);
    CHECK_INT(udr_frame_register(r, NULL, &ok, 1, 3), ==, UDR_EINVAL);
    CHECK_INT(udr_frame_register(r, "f", twice, 2, 3), ==, UDR_EINVAL);
    CHECK_CONTAINS(udr_errmsg(r), "named twice");
    CHECK_INT(udr_frame_register(r, "f", &other, 1, 3), ==, UDR_EINVAL);
    CHECK_INT(udr_frame_register(r, "f", &unnamed, 1, 3), ==, UDR_EINVAL);
    CHECK_INT(udr_frame_register(r, "f", &novalues, 1, 3), ==, UDR_EINVAL);
    CHECK_INT(udr_frame_register(r, "f", &ok, 0, 3), ==, UDR_EINVAL);
    MUST(r, udr_frame_register(r, "f", &ok, 1, 3));
    CHECK_INT(udr_frame_register(r, "f", &ok, 1, 3), ==, UDR_EEXIST);
    CHECK_STR(value(r, "SELECT sum(a) FROM udr_frame('f')"), "6");
    MUST(r, udr_frame_unregister(r, "f"));
    CHECK_INT(udr_frame_unregister(r, "f"), ==, UDR_ENOTFOUND);
    CHECK_CONTAINS(value(r, "SELECT * FROM udr_frame('f')"), "no frame named f");
    /* an empty frame makes an empty table with the frame's columns */
    MUST(r, udr_frame_register(r, "empty", &ok, 1, 0));
    must_write(r, "e", "SELECT * FROM udr_frame('empty')", NULL, NULL);
    CHECK_STR(value(r, "SELECT count(*) FROM e"), "0");
    /* a handle closed with frames registered frees them (LeakSanitizer) */
    udr_close(r);
}

/* TIMESTAMP_S and TIMESTAMP_MS have text both ways (DuckDB's own
 * duckdb_value_varchar spells them ""). */
static void test_timestamp_s_and_ms_text(void)
{
    udr_repo *r = new_repo();
    const char *sql = "SELECT TIMESTAMP_S '2024-01-02 03:04:05' AS s, "
                      "TIMESTAMP_MS '2024-01-02 03:04:05.123' AS ms, 1::BIGINT AS n";
    for (int way = 0; way < 2; way++) {
        udr_result *res = NULL;
        MUST(r, udr_query(r, sql, NULL, 0, &res));
        int64_t one[1];
        if (way == 1)
            MUST(r, udr_result_copy(res, 2, one, NULL));
        char *s = udr_result_text(res, 0, 0), *ms = udr_result_text(res, 0, 1);
        CHECK_STR(s ? s : "NULL", "2024-01-02 03:04:05");
        CHECK_STR(ms ? ms : "NULL", "2024-01-02 03:04:05.123");
        udr_free(s);
        udr_free(ms);
        udr_result_free(res);
    }
    udr_close(r);
}

/* A result read by vectors (udr_result_copy first) answers every value
 * function as one read by values does: DuckDB spells the text both ways. */
static void test_both_ways_agree(void)
{
    udr_repo *r = new_repo();
    const char *sql =
        "SELECT * FROM (VALUES "
        "(1::TINYINT, -2::BIGINT, 3::UBIGINT, 0.1::DOUBLE, 1.5::FLOAT, -3.5::DECIMAL(38,5), "
        " -1.25::DECIMAL(4,2), DATE '2024-02-29', TIMESTAMP '2024-01-02 03:04:05.25', "
        " TIMESTAMPTZ '2024-01-02 03:04:05+00', INTERVAL 3 DAY, TIME '12:34:56', "
        " 170141183460469231731687303715884105727::HUGEINT, '\\xDE\\xAD'::BLOB, true, "
        " 'héllo', '4b4a1c8e-5f0e-4a0e-9c1a-1a2b3c4d5e6f'::UUID), "
        "(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, "
        " NULL, NULL, NULL, NULL)) AS v(a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p, q) "
        "ORDER BY a NULLS LAST";
    udr_result *byval = NULL, *byvec = NULL;
    MUST(r, udr_query(r, sql, NULL, 0, &byval));
    MUST(r, udr_query(r, sql, NULL, 0, &byvec));
    REQUIRE(udr_result_columns(byval) == 17 && udr_result_rows(byval) == 2);
    int64_t ignore[2];
    MUST(r, udr_result_copy(byvec, 0, ignore, NULL));        /* byvec: by vectors */
    int bad = 0;
    for (uint64_t row = 0; row < 2; row++)
        for (size_t c = 0; c < 17; c++) {
            char *a = udr_result_text(byval, row, c), *b = udr_result_text(byvec, row, c);
            int same = (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
            same &= udr_result_is_null(byval, row, c) == udr_result_is_null(byvec, row, c);
            same &= udr_result_int64(byval, row, c) == udr_result_int64(byvec, row, c) ||
                    c == 3 || c == 4 || c == 5 || c == 6 || c >= 7;
            double x = udr_result_double(byval, row, c), y = udr_result_double(byvec, row, c);
            same &= c >= 7 || fabs(x - y) < 1e-9;
            if (!same) {
                harness_fail(__FILE__, __LINE__, "row %llu column %zu: \"%s\" vs \"%s\", "
                             "%g vs %g", (unsigned long long)row, c, a ? a : "NULL",
                             b ? b : "NULL", x, y);
                bad++;
            }
            udr_free(a);
            udr_free(b);
        }
    CHECK_INT(bad, ==, 0);
    double dec = 0;
    MUST(r, udr_result_copy(byvec, 5, &dec, NULL));
    CHECK(dec == -3.5);
    MUST(r, udr_result_copy(byvec, 6, &dec, NULL));
    CHECK(dec == -1.25);
    size_t len = 0;
    const char *blob = udr_result_bytes(byvec, 0, 13, &len);
    CHECK(blob != NULL && len == 2 && (unsigned char)blob[0] == 0xDE);
    CHECK_STR(udr_result_column_type(byvec, 16), "UUID");
    udr_result_free(byval);
    udr_result_free(byvec);
    udr_close(r);
}

static const test_case TESTS[] = {
    TEST_ENTRY(test_both_ways_agree),
    TEST_ENTRY(test_timestamp_s_and_ms_text),
    TEST_ENTRY(test_frame_round_trip),
    TEST_ENTRY(test_copy_types),
    TEST_ENTRY(test_frame_errors),
};

HARNESS_MAIN("frame", TESTS)
