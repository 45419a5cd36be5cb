/*
 * test_feed — the changelog: change feeds, subscriptions, exactly-once
 * consumers, waiting for commits, and bad input.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "repo.h"
#include "udrtest.h"

static const char *const ID[] = {"id", NULL};

/* ---- replicas: tables rebuilt from change rows ------------------------------ */

/* A multiset of rows, each as text "v1|v2|...". */
typedef struct replica {
    char **rows;
    size_t n, cap;
    long bad;                        /* deletes of rows that were not there */
} replica;

static char *row_text(const udr_result *res, uint64_t row, size_t first_col)
{
    size_t len = 0, cap = 64;
    char *s = malloc(cap);
    REQUIRE(s != NULL);
    s[0] = '\0';
    for (size_t c = first_col; c < udr_result_columns(res); c++) {
        char *v = udr_result_text(res, row, c);
        const char *t = v ? v : "<null>";
        size_t need = len + strlen(t) + 2;
        if (need > cap) {
            cap = need * 2;
            s = realloc(s, cap);
            REQUIRE(s != NULL);
        }
        len += (size_t)sprintf(s + len, "%s%s", c > first_col ? "|" : "", t);
        free(v);
    }
    return s;
}

static void replica_add(replica *rp, char *row)
{
    if (rp->n == rp->cap) {
        rp->cap = rp->cap ? rp->cap * 2 : 64;
        rp->rows = realloc(rp->rows, rp->cap * sizeof *rp->rows);
        REQUIRE(rp->rows != NULL);
    }
    rp->rows[rp->n++] = row;
}

static void replica_remove(replica *rp, const char *row)
{
    for (size_t i = 0; i < rp->n; i++)
        if (strcmp(rp->rows[i], row) == 0) {
            free(rp->rows[i]);
            rp->rows[i] = rp->rows[--rp->n];
            return;
        }
    rp->bad++;
}

/* Applies a batch's rows: inserts and after-images in, deletes and
 * before-images out. */
static void replica_apply(replica *rp, const udr_change_batch *b)
{
    for (uint64_t i = 0; i < udr_result_rows(b->rows); i++) {
        char *op = udr_result_text(b->rows, i, 0);
        char *row = row_text(b->rows, i, 1);
        REQUIRE(op != NULL);
        if (strcmp(op, "insert") == 0 || strcmp(op, "update_after") == 0) {
            replica_add(rp, row);
        } else {
            CHECK(strcmp(op, "delete") == 0 || strcmp(op, "update_before") == 0);
            replica_remove(rp, row);
            free(row);
        }
        free(op);
    }
}

static void replica_free(replica *rp)
{
    for (size_t i = 0; i < rp->n; i++)
        free(rp->rows[i]);
    free(rp->rows);
    memset(rp, 0, sizeof *rp);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* 1 if the replica holds exactly the table's rows now. */
static int replica_matches(udr_repo *r, replica *rp, const char *table)
{
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT * FROM %s", table);
    udr_result *res;
    MUST(r, udr_query(r, sql, NULL, 0, &res));
    replica want = {0};
    for (uint64_t i = 0; i < udr_result_rows(res); i++)
        replica_add(&want, row_text(res, i, 0));
    udr_result_free(res);
    qsort(want.rows, want.n, sizeof *want.rows, cmp_str);
    qsort(rp->rows, rp->n, sizeof *rp->rows, cmp_str);
    int same = want.n == rp->n && rp->bad == 0;
    for (size_t i = 0; same && i < want.n; i++)
        same = strcmp(want.rows[i], rp->rows[i]) == 0;
    if (!same)
        printf("    %s: table has %zu rows, replica %zu (%ld bad deletes)\n", table, want.n,
               rp->n, rp->bad);
    replica_free(&want);
    return same;
}

/* Applies every batch of it to the replicas of tables (by name); returns
 * the number of batches. */
static size_t drain(udr_repo *r, udr_changes *it, const char *const *tables, replica *rps,
                    size_t ntables)
{
    size_t n = 0;
    const udr_change_batch *b;
    for (;;) {
        MUST(r, udr_changes_next(it, &b));
        if (b == NULL)
            break;
        n++;
        size_t k = 0;
        while (k < ntables && strcmp(tables[k], b->table) != 0)
            k++;
        REQUIRE(k < ntables);
        replica_apply(&rps[k], b);
    }
    return n;
}

/* ---- the feed of one table ------------------------------------------------- */

static uint64_t cursor_of(udr_repo *r, const char *name)
{
    udr_sub_info *v;
    size_t n;
    MUST(r, udr_sub_list(r, &v, &n));
    uint64_t c = UINT64_MAX;
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].name, name) == 0)
            c = v[i].cursor;
    udr_sub_info_free(v, n);
    return c;
}

/* The ops of a feed as one string: "insert insert | update_before ...". */
static const char *ops(udr_repo *r, const char *table, const char *from, const char *to)
{
    static char out[1024];
    out[0] = '\0';
    udr_changes *it;
    int rc = udr_changes_open(r, table, from, to, &it);
    if (rc) {
        snprintf(out, sizeof out, "ERROR: %s", udr_errmsg(r));
        return out;
    }
    const udr_change_batch *b;
    while (udr_changes_next(it, &b) == UDR_OK && b != NULL) {
        size_t used = strlen(out);
        snprintf(out + used, sizeof out - used, "%sv%llu:", used ? " | " : "",
                 (unsigned long long)b->version);
        for (uint64_t i = 0; i < udr_result_rows(b->rows); i++) {
            char *op = udr_result_text(b->rows, i, 0), *id = udr_result_text(b->rows, i, 1);
            used = strlen(out);
            snprintf(out + used, sizeof out - used, " %s(%s)", op, id);
            free(op);
            free(id);
        }
    }
    udr_changes_close(it);
    return out;
}

static void test_feed_of_a_table(void)
{
    udr_repo *r = new_repo();
    must_write(r, "users", "SELECT * FROM (VALUES (1, 'a', 10), (2, 'b', 20)) t(id, name, score)",
               ID, NULL);
    CHECK_STR(value(r, "INSERT INTO users VALUES (3, 'c', 30)"), "1");
    CHECK_STR(value(r, "UPDATE users SET score = 99 WHERE id = 2"), "1");
    CHECK_STR(value(r, "DELETE FROM users WHERE id = 1"), "1");
    CHECK_STR(ops(r, "users", NULL, NULL),
              "v1: insert(1) insert(2) | v2: insert(3) | v3: update_before(2) update_after(2) "
              "| v4: delete(1)");
    /* Bounds: versions (both included), a commit, an instant. */
    CHECK_STR(ops(r, "users", "2", "3"), "v2: insert(3) | v3: update_before(2) update_after(2)");
    CHECK_STR(ops(r, "users", "4", NULL), "v4: delete(1)");
    CHECK_STR(ops(r, "users", "main~1", "main~1"), "v3: update_before(2) update_after(2)");
    CHECK_STR(ops(r, "users", "2000-01-01", "2001-01-01"), "");
    CHECK_STR(ops(r, "users", "2000-01-01", "2"), "v1: insert(1) insert(2) | v2: insert(3)");
    /* The SQL function gives the same rows, with the commit's columns. */
    CHECK_STR(value(r, "SELECT count(*) FROM udr_changes('users', NULL, NULL)"), "6");
    CHECK_STR(value(r, "SELECT string_agg(_op || ':' || id, ' ' ORDER BY _seq, id, "
                       "_op = 'update_after') FROM udr_changes('users', 3, 3)"),
              "update_before:2 update_after:2");
    CHECK_STR(value(r, "SELECT min(_version) || '-' || max(_version) FROM "
                       "udr_changes('users', '2', NULL)"),
              "2-4");
    CHECK_STR(value(r, "SELECT count(*) FROM udr_changes('users', 5, NULL)"),
              "ERROR: table users has no version 5 (see 'udr log users')");
    /* A column added: every row out and in again, in the new shape. */
    must_write(r, "users", "SELECT *, 'x' AS tag FROM users", ID, NULL);
    CHECK_STR(ops(r, "users", "5", NULL), "v5: delete(2) delete(3) insert(2) insert(3)");
    /* Compaction changes no row: a batch with none. */
    CHECK_STR(value(r, "UPDATE users SET score = 1 WHERE id = 3"), "1");
    udr_write_info wi;
    MUST(r, udr_table_compact(r, "users", &wi));
    /* A drop: every row deleted. */
    MUST(r, udr_table_drop(r, "users", NULL));
    const char *all = ops(r, "users", "6", NULL);
    CHECK_CONTAINS(all, "v6: update_before(3) update_after(3)");
    CHECK_CONTAINS(all, "v0: delete(2) delete(3)");
    udr_close(r);
}

static void test_feed_without_key(void)
{
    udr_repo *r = new_repo();
    must_write(r, "ev", "SELECT * FROM (VALUES (1, 'x'), (1, 'x'), (2, 'y')) t(k, v)", NULL,
               NULL);
    CHECK_STR(value(r, "INSERT INTO ev VALUES (1, 'x')"), "1");
    CHECK_STR(value(r, "DELETE FROM ev WHERE k = 2"), "1");
    CHECK_STR(value(r, "UPDATE ev SET v = 'z' WHERE k = 1"), "3");
    /* Rows compared whole, as multisets: a duplicate row is a row. */
    CHECK_STR(ops(r, "ev", "2", "2"), "v2: insert(1)");
    CHECK_STR(ops(r, "ev", "3", "3"), "v3: delete(2)");
    CHECK_STR(value(r, "SELECT string_agg(_op || ':' || v, ' ' ORDER BY _op) FROM "
                       "(SELECT * FROM udr_changes('ev', 4, 4))"),
              "delete:x delete:x delete:x insert:z insert:z insert:z");
    replica rp = {0};
    udr_changes *it;
    MUST(r, udr_changes_open(r, "ev", NULL, NULL, &it));
    const char *t[] = {"ev"};
    CHECK_INT(drain(r, it, t, &rp, 1), ==, 4);
    udr_changes_close(it);
    CHECK(replica_matches(r, &rp, "ev"));
    replica_free(&rp);
    udr_close(r);
}

/* ---- batch = stream ---------------------------------------------------------- */

/* One random transaction over a, b (keyed) and c (no key). */
static void random_tx(udr_repo *r, unsigned *seed, int *next_id)
{
    udr_tx *tx;
    MUST(r, udr_tx_begin(r, NULL, UDR_SNAPSHOT, &tx));
    int ntables = 1 + (int)(rand_r(seed) % 3);
    for (int k = 0; k < ntables; k++) {
        int t = (int)(rand_r(seed) % 3), op = (int)(rand_r(seed) % 4), x = (int)(rand_r(seed) % 40);
        char sql[512];
        const char *name = t == 0 ? "a" : t == 1 ? "b" : "c";
        if (op == 0 && t < 2) {
            int id = (*next_id)++;
            snprintf(sql, sizeof sql,
                     t == 0 ? "INSERT INTO a VALUES (%d, %d), (%d, %d)"
                            : "INSERT INTO b VALUES (%d, 's%d'), (%d, 's%d')",
                     id * 2, x, id * 2 + 1, x + 1);
        } else if (op == 0) {
            snprintf(sql, sizeof sql, "INSERT INTO c VALUES (%d, 'c%d'), (%d, 'c%d')", x % 5, x,
                     x % 5, x);
        } else if (op == 1) {
            snprintf(sql, sizeof sql, "UPDATE %s SET %s WHERE %s %% 40 = %d", name,
                     t == 0 ? "v = v + 1" : t == 1 ? "s = s || 'u'" : "y = y || 'u'",
                     t == 2 ? "x" : "id", x);
        } else if (op == 2) {
            snprintf(sql, sizeof sql, "DELETE FROM %s WHERE %s %% 40 = %d", name,
                     t == 2 ? "x" : "id", x);
        } else {
            snprintf(sql, sizeof sql, "UPDATE %s SET %s WHERE %s %% 7 = %d", name,
                     t == 0 ? "v = v * 2" : t == 1 ? "s = 'w' || s" : "x = x + 1",
                     t == 2 ? "x" : "id", x % 7);
        }
        udr_result *res;
        int rc = udr_tx_query(tx, sql, &res);
        if (rc != UDR_OK)
            harness_fail(__FILE__, __LINE__, "%s: %s", sql, udr_errmsg(r));
        REQUIRE(rc == UDR_OK);
        udr_result_free(res);
    }
    MUST(r, udr_tx_commit(tx, NULL, NULL));
}

static void test_batch_equals_stream(void)
{
    udr_repo *r = new_repo();
    must_write(r, "a", "SELECT i AS id, i * 10 AS v FROM range(100) t(i)", ID, NULL);
    must_write(r, "b", "SELECT i AS id, 's' || i AS s FROM range(100) t(i)", ID, NULL);
    must_write(r, "c", "SELECT i % 5 AS x, 'c' || i AS y FROM range(50) t(i)", NULL, NULL);
    const char *tables[] = {"a", "b", "c"};
    MUST(r, udr_sub_create(r, "early", tables, 3, NULL, "beginning"));
    unsigned seed = (unsigned)time(NULL);
    printf("    seed %u\n", seed);
    int next_id = 1000;
    replica early[3] = {{0}}, late[3] = {{0}};
    size_t polls = 0;
    for (int i = 0; i < 200; i++) {
        random_tx(r, &seed, &next_id);
        if (i == 60)
            MUST(r, udr_table_compact(r, "a", NULL));
        if (i == 100)   /* a subscriber that joins halfway, from the beginning */
            MUST(r, udr_sub_create(r, "late", tables, 3, NULL, "beginning"));
        if (i % 10 == 9) {   /* early consumes as it goes */
            udr_changes *it;
            MUST(r, udr_sub_poll(r, "early", 0, &it));
            drain(r, it, tables, early, 3);
            MUST(r, udr_sub_ack(r, "early", udr_changes_position(it)));
            udr_changes_close(it);
            polls++;
        }
        if (i > 100 && i % 20 == 0) {   /* late catches up, 7 commits a poll */
            udr_changes *it;
            MUST(r, udr_sub_poll(r, "late", 7, &it));
            drain(r, it, tables, late, 3);
            MUST(r, udr_sub_ack(r, "late", udr_changes_position(it)));
            udr_changes_close(it);
        }
    }
    /* late catches up the rest in a fresh handle. */
    udr_close(r);
    MUST(r, udr_open(t_path("repo"), &r));
    for (;;) {
        udr_changes *it;
        MUST(r, udr_sub_poll(r, "late", 7, &it));
        size_t n = drain(r, it, tables, late, 3);
        MUST(r, udr_sub_ack(r, "late", udr_changes_position(it)));
        udr_changes_close(it);
        if (n == 0)
            break;
    }
    udr_sub_info *v;
    size_t nv;
    MUST(r, udr_sub_list(r, &v, &nv));
    REQUIRE(nv == 2);
    CHECK_INT(v[1].pending, ==, 0);      /* late: all caught up */
    CHECK_INT(v[0].pending, ==, 0);      /* early polled after the last commit */
    udr_sub_info_free(v, nv);
    /* (Each acknowledgement is a log record of its own.) */
    CHECK_INT(cursor_of(r, "late"), ==, udr_log_position(r) - 1);
    udr_changes *rest;
    MUST(r, udr_sub_poll(r, "early", 0, &rest));
    drain(r, rest, tables, early, 3);
    udr_changes_close(rest);
    for (int k = 0; k < 3; k++) {
        /* The batch feed of each table rebuilds it too. */
        replica batch = {0};
        udr_changes *it;
        MUST(r, udr_changes_open(r, tables[k], NULL, NULL, &it));
        drain(r, it, &tables[k], &batch, 1);
        udr_changes_close(it);
        CHECK(replica_matches(r, &batch, tables[k]));
        CHECK(replica_matches(r, &late[k], tables[k]));
        CHECK(replica_matches(r, &early[k], tables[k]));
        replica_free(&batch);
        replica_free(&late[k]);
        replica_free(&early[k]);
    }
    CHECK_INT(polls, ==, 20);
    udr_close(r);
}

/* ---- subscriptions ---------------------------------------------------------- */

static void test_subscription_lifecycle(void)
{
    udr_repo *r = new_repo();
    r->cat.checkpoint_every = 4;           /* subscriptions in checkpoints too */
    must_write(r, "t", "SELECT 1 AS id, 'one' AS v", ID, NULL);
    must_write(r, "other", "SELECT 1 AS z", NULL, NULL);
    const char *tables[] = {"t"};
    MUST(r, udr_sub_create(r, "s", tables, 1, NULL, NULL));
    MUST(r, udr_sub_create(r, "fromnow", tables, 1, NULL, "now"));
    CHECK_STR(value(r, "INSERT INTO t VALUES (2, 'two')"), "1");
    CHECK_STR(value(r, "INSERT INTO other VALUES (2)"), "1");
    udr_sub_info *v;
    size_t n;
    MUST(r, udr_sub_list(r, &v, &n));
    REQUIRE(n == 2);
    CHECK_STR(v[1].name, "s");
    CHECK_STR(v[1].branch, "main");
    CHECK_INT(v[1].ntables, ==, 1);
    CHECK_INT(v[1].cursor, ==, 0);
    CHECK_INT(v[1].pending, ==, 2);
    CHECK_INT(v[0].pending, ==, 1);
    udr_sub_info_free(v, n);
    /* Poll: the two commits of t (not other's); nothing moves until ack. */
    udr_changes *it;
    MUST(r, udr_sub_poll(r, "s", 1, &it));
    const udr_change_batch *b;
    MUST(r, udr_changes_next(it, &b));
    REQUIRE(b != NULL);
    CHECK_INT(b->version, ==, 1);
    CHECK_INT(b->from_version, ==, 0);
    CHECK_INT(udr_result_rows(b->rows), ==, 1);
    MUST(r, udr_changes_next(it, &b));
    CHECK(b == NULL);              /* --max 1 */
    uint64_t pos = udr_changes_position(it);
    udr_changes_close(it);
    CHECK_INT(cursor_of(r, "s"), ==, 0);
    MUST(r, udr_sub_ack(r, "s", pos));
    CHECK_INT(cursor_of(r, "s"), ==, pos);
    MUST(r, udr_sub_poll(r, "s", 0, &it));
    MUST(r, udr_changes_next(it, &b));
    REQUIRE(b != NULL);
    CHECK_INT(b->version, ==, 2);
    CHECK_INT(b->from_version, ==, 1);
    MUST(r, udr_changes_next(it, &b));
    CHECK(b == NULL);
    pos = udr_changes_position(it);
    udr_changes_close(it);
    CHECK_INT(pos, ==, udr_log_position(r));   /* past other's commit too */
    MUST(r, udr_sub_ack(r, "s", pos));
    /* Persisted: another handle sees the cursors, after checkpoints. */
    for (int i = 0; i < 6; i++)
        CHECK_STR(value(r, "INSERT INTO other VALUES (3)"), "1");
    udr_repo *r2;
    MUST(r, udr_open(t_path("repo"), &r2));
    CHECK_INT(cursor_of(r2, "s"), ==, pos);
    MUST(r2, udr_sub_list(r2, &v, &n));
    CHECK_INT(n, ==, 2);
    CHECK_INT(v[1].pending, ==, 0);
    udr_sub_info_free(v, n);
    MUST(r2, udr_sub_drop(r2, "s"));
    CHECK_INT(cursor_of(r, "s"), ==, UINT64_MAX);
    udr_close(r2);
    udr_close(r);
}

static void test_bad_input(void)
{
    udr_repo *r = new_repo();
    must_write(r, "t", "SELECT 1 AS id", ID, NULL);
    const char *tables[] = {"t"}, *bad_tables[] = {"nosuch"}, *twice[] = {"t", "t"};
    MUST(r, udr_sub_create(r, "s", tables, 1, NULL, NULL));
    CHECK_STR(value(r, "INSERT INTO t VALUES (2)"), "1");
    CHECK_STR(value(r, "INSERT INTO t VALUES (3)"), "1");
    /* Name clash, hostile name, unknown table or branch, no table. */
    CHECK_INT(udr_sub_create(r, "s", tables, 1, NULL, NULL), ==, UDR_EEXIST);
    CHECK_CONTAINS(udr_errmsg(r), "subscription s exists already");
    CHECK_INT(udr_sub_create(r, "../../etc", tables, 1, NULL, NULL), ==, UDR_EINVAL);
    CHECK_CONTAINS(udr_errmsg(r), "subscription");
    CHECK_INT(udr_sub_create(r, "x", bad_tables, 1, NULL, NULL), ==, UDR_ENOTFOUND);
    CHECK_CONTAINS(udr_errmsg(r), "no table nosuch");
    CHECK_INT(udr_sub_create(r, "x", twice, 2, NULL, NULL), ==, UDR_EINVAL);
    CHECK_INT(udr_sub_create(r, "x", tables, 1, "nobranch", NULL), ==, UDR_ENOTFOUND);
    CHECK_INT(udr_sub_create(r, "x", tables, 0, NULL, NULL), ==, UDR_EINVAL);
    CHECK_INT(udr_sub_create(r, "x", tables, 1, NULL, "no-such-commit"), ==, UDR_ENOTFOUND);
    /* Unknown subscription. */
    udr_changes *it = NULL;
    CHECK_INT(udr_sub_poll(r, "nope", 0, &it), ==, UDR_ENOTFOUND);
    CHECK_CONTAINS(udr_errmsg(r), "no subscription nope");
    CHECK_INT(udr_sub_ack(r, "nope", 1), ==, UDR_ENOTFOUND);
    CHECK_INT(udr_sub_drop(r, "nope"), ==, UDR_ENOTFOUND);
    /* Acknowledging past the log's end, with no poll in this handle. */
    uint64_t end = udr_log_position(r);
    CHECK_INT(udr_sub_ack(r, "s", end + 1), ==, UDR_EINVAL);
    CHECK_CONTAINS(udr_errmsg(r), "cannot have been delivered");
    CHECK_INT(cursor_of(r, "s"), ==, 0);
    /* Ahead of what the poll delivered (one commit of three). */
    MUST(r, udr_sub_poll(r, "s", 1, &it));
    const udr_change_batch *b;
    MUST(r, udr_changes_next(it, &b));
    MUST(r, udr_changes_next(it, &b));
    uint64_t pos = udr_changes_position(it);
    udr_changes_close(it);
    CHECK_INT(pos, <, end);
    CHECK_INT(udr_sub_ack(r, "s", pos + 1), ==, UDR_EINVAL);
    CHECK_CONTAINS(udr_errmsg(r), "delivered only through");
    CHECK_INT(cursor_of(r, "s"), ==, 0);
    MUST(r, udr_sub_ack(r, "s", pos));
    /* Behind the cursor. */
    CHECK_INT(udr_sub_ack(r, "s", pos - 1), ==, UDR_EINVAL);
    CHECK_CONTAINS(udr_errmsg(r), "would move it back");
    CHECK_INT(cursor_of(r, "s"), ==, pos);
    /* Feeds of unknown tables and versions. */
    CHECK_INT(udr_changes_open(r, "nosuch", NULL, NULL, &it), ==, UDR_ENOTFOUND);
    CHECK_INT(udr_changes_open(r, "t", "9", NULL, &it), ==, UDR_ENOTFOUND);
    CHECK_INT(udr_changes_open(r, "../x", NULL, NULL, &it), ==, UDR_EINVAL);
    CHECK_CONTAINS(value(r, "CALL udr_ack('nope', 1)"), "no subscription nope");
    CHECK_CONTAINS(value(r, "SELECT * FROM udr_changes('t', 'bad-ref', NULL)"), "bad-ref");
    CHECK_INT(cursor_of(r, "s"), ==, pos);
    udr_close(r);
}

/* Two consumers poll from one cursor; both acknowledge in their
 * transactions: the second commit fails and writes nothing. SQL's CALL
 * udr_ack does the same as udr_tx_ack. */
static void test_exactly_once_conflict_and_sql(void)
{
    udr_repo *r = new_repo(), *r2;
    must_write(r, "src", "SELECT 1 AS id, 5 AS amount", ID, NULL);
    must_write(r, "out1", "SELECT 0 AS n", NULL, NULL);
    must_write(r, "out2", "SELECT 0 AS n", NULL, NULL);
    const char *tables[] = {"src"};
    MUST(r, udr_sub_create(r, "s", tables, 1, NULL, NULL));
    MUST(r, udr_open(t_path("repo"), &r2));
    udr_tx *t1, *t2;
    udr_changes *i1, *i2;
    MUST(r, udr_tx_begin(r, NULL, UDR_SNAPSHOT, &t1));
    MUST(r2, udr_tx_begin(r2, NULL, UDR_SNAPSHOT, &t2));
    MUST(r, udr_sub_poll(r, "s", 0, &i1));
    MUST(r2, udr_sub_poll(r2, "s", 0, &i2));
    const udr_change_batch *b;
    MUST(r, udr_changes_next(i1, &b));
    MUST(r2, udr_changes_next(i2, &b));
    MUST(r, udr_changes_next(i1, &b));
    MUST(r2, udr_changes_next(i2, &b));
    uint64_t p1 = udr_changes_position(i1), p2 = udr_changes_position(i2);
    udr_changes_close(i1);
    udr_changes_close(i2);
    udr_result *res;
    MUST(r, udr_tx_query(t1, "INSERT INTO out1 VALUES (1)", &res));
    udr_result_free(res);
    MUST(r2, udr_tx_query(t2, "INSERT INTO out2 VALUES (2)", &res));
    udr_result_free(res);
    MUST(r, udr_tx_ack(t1, "s", p1));
    MUST(r2, udr_tx_query(t2, "CALL udr_ack('s', 0)", &res));   /* the cursor it found */
    udr_result_free(res);
    char sql[64], num[32];
    snprintf(sql, sizeof sql, "CALL udr_ack('s', %llu)", (unsigned long long)p2);
    snprintf(num, sizeof num, "%llu", (unsigned long long)p2);
    MUST(r2, udr_tx_query(t2, sql, &res));
    CHECK_STR(text_of(r2, UDR_OK, res), num);
    MUST(r, udr_tx_commit(t1, NULL, NULL));
    CHECK_INT(udr_tx_commit(t2, NULL, NULL), ==, UDR_ECONFLICT);
    CHECK_CONTAINS(udr_errmsg(r2), "by another consumer");
    CHECK_STR(value(r, "SELECT string_agg(n::VARCHAR, ',' ORDER BY n) FROM out1"), "0,1");
    CHECK_STR(value(r, "SELECT string_agg(n::VARCHAR, ',' ORDER BY n) FROM out2"), "0");
    CHECK_INT(cursor_of(r, "s"), ==, p1);
    /* A rollback moves nothing; an ack alone in a transaction commits. */
    CHECK_STR(value(r, "INSERT INTO src VALUES (2, 7)"), "1");
    MUST(r2, udr_sub_poll(r2, "s", 0, &i2));
    while (udr_changes_next(i2, &b) == UDR_OK && b != NULL) {
    }
    p2 = udr_changes_position(i2);
    udr_changes_close(i2);
    MUST(r2, udr_tx_begin(r2, NULL, UDR_SNAPSHOT, &t2));
    MUST(r2, udr_tx_ack(t2, "s", p2));
    udr_tx_rollback(t2);
    CHECK_INT(cursor_of(r, "s"), ==, p1);
    MUST(r2, udr_tx_begin(r2, NULL, UDR_SNAPSHOT, &t2));
    MUST(r2, udr_tx_ack(t2, "s", p2));
    MUST(r2, udr_tx_commit(t2, NULL, NULL));
    CHECK_INT(cursor_of(r, "s"), ==, p2);
    /* Outside a transaction, CALL udr_ack acknowledges at once. */
    CHECK_STR(value(r, "INSERT INTO src VALUES (3, 1)"), "1");
    MUST(r, udr_sub_poll(r, "s", 0, &i1));
    while (udr_changes_next(i1, &b) == UDR_OK && b != NULL) {
    }
    udr_changes_close(i1);
    snprintf(num, sizeof num, "%llu", (unsigned long long)udr_log_position(r));
    snprintf(sql, sizeof sql, "CALL udr_ack('s', %s)", num);
    uint64_t end = udr_log_position(r);
    CHECK_STR(value(r, sql), num);
    CHECK_INT(cursor_of(r, "s"), ==, end);
    udr_close(r2);
    udr_close(r);
}

/* A version a subscription needs is gone: the poll says so and skips
 * nothing. */
static void test_retention_gap_is_an_error(void)
{
    udr_repo *r = new_repo();
    must_write(r, "t", "SELECT 1 AS id", ID, NULL);
    const char *tables[] = {"t"};
    MUST(r, udr_sub_create(r, "s", tables, 1, NULL, NULL));
    CHECK_STR(value(r, "INSERT INTO t VALUES (2)"), "1");
    udr_table_detail *d;
    MUST(r, udr_table_show(r, "t", "1", &d));
    udr_hash h;
    REQUIRE(d->nchunks > 0);
    MUST(r, udr_hash_from_hex(d->chunk_hash[0], &h));
    udr_table_detail_free(d);
    MUST(r, udr_object_delete(r, &h));
    udr_changes *it;
    MUST(r, udr_sub_poll(r, "s", 0, &it));
    const udr_change_batch *b;
    CHECK_INT(udr_changes_next(it, &b), ==, UDR_ENOTFOUND);
    CHECK_CONTAINS(udr_errmsg(r), "subscription s cannot go on");
    CHECK_CONTAINS(udr_errmsg(r), "version 1");
    udr_changes_close(it);
    CHECK_INT(cursor_of(r, "s"), ==, 0);
    udr_close(r);
}

/* ---- waiting ---------------------------------------------------------------- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_wait_wakes_on_commit(void)
{
    udr_repo *r = new_repo();
    must_write(r, "t", "SELECT 1 AS id", ID, NULL);
    uint64_t pos = udr_log_position(r);
    double t0 = now_s();
    CHECK_INT(udr_wait(r, pos, 150), ==, 0);      /* nothing: a timeout */
    CHECK(now_s() - t0 >= 0.14);
    CHECK_INT(udr_wait(r, pos - 1, 0), ==, 1);    /* there is one already */
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        usleep(300 * 1000);
        udr_repo *c;
        if (udr_open(t_path("repo"), &c) != UDR_OK)
            _exit(90);
        udr_result *res;
        int rc = udr_query(c, "INSERT INTO t VALUES (2)", NULL, 0, &res);
        udr_result_free(res);
        udr_close(c);
        _exit(rc == UDR_OK ? 0 : 91);
    }
    t0 = now_s();
    CHECK_INT(udr_wait(r, pos, 20000), ==, 1);
    double waited = now_s() - t0;
    int st;
    REQUIRE(waitpid(pid, &st, 0) == pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK(waited >= 0.2 && waited < 10);
    CHECK_INT(udr_log_position(r), >, pos);
    udr_close(r);
}

/* ---- exactly once, killed ---------------------------------------------------- */

/* A consumer: keeps total = the sum of src.amount, from the feed, in table
 * agg_<name>, and the seqs it applied in seen_<name>. exactly: acknowledge
 * in the transaction; else after it (at least once). Runs until killed, or
 * (once) until it has caught up. */
static int consume(const char *name, int exactly, int once)
{
    udr_repo *r;
    if (udr_open(t_path("repo"), &r) != UDR_OK)
        return 90;
    for (;;) {
        udr_tx *tx;
        if (udr_tx_begin(r, NULL, UDR_SNAPSHOT, &tx) != UDR_OK)
            return 91;
        udr_changes *it;
        if (udr_sub_poll(r, name, 5, &it) != UDR_OK)
            return 92;
        long long delta = 0;
        char seqs[4096] = "";
        size_t used = 0;
        uint64_t last = 0;
        const udr_change_batch *b;
        int rc;
        while ((rc = udr_changes_next(it, &b)) == UDR_OK && b != NULL) {
            for (uint64_t i = 0; i < udr_result_rows(b->rows); i++) {
                char *op = udr_result_text(b->rows, i, 0);
                long long amount = udr_result_int64(b->rows, i, 2);
                delta += op[0] == 'i' || strcmp(op, "update_after") == 0 ? amount : -amount;
                free(op);
            }
            if (b->seq != last && used + 32 < sizeof seqs)
                used += (size_t)snprintf(seqs + used, sizeof seqs - used, "%s(%llu)",
                                         used ? "," : "", (unsigned long long)b->seq);
            last = b->seq;
        }
        if (rc != UDR_OK)
            return 93;
        uint64_t pos = udr_changes_position(it);
        udr_changes_close(it);
        if (used == 0) {
            udr_tx_rollback(tx);
            if (pos > 0 && udr_sub_ack(r, name, pos) != UDR_OK)
                return 94;
            if (once)
                break;
            udr_wait(r, pos, 200);
            continue;
        }
        char sql[4300];
        udr_result *res;
        snprintf(sql, sizeof sql, "UPDATE agg_%s SET total = total + %lld", name, delta);
        if (udr_tx_query(tx, sql, &res) != UDR_OK)
            return 95;
        udr_result_free(res);
        snprintf(sql, sizeof sql, "INSERT INTO seen_%s VALUES %s", name, seqs);
        if (udr_tx_query(tx, sql, &res) != UDR_OK)
            return 96;
        udr_result_free(res);
        if (exactly && udr_tx_ack(tx, name, pos) != UDR_OK)
            return 97;
        rc = udr_tx_commit(tx, NULL, NULL);
        if (rc == UDR_ECONFLICT)
            continue;
        if (rc != UDR_OK)
            return 98;
        if (!exactly && udr_sub_ack(r, name, pos) != UDR_OK)
            return 99;
    }
    udr_close(r);
    return 0;
}

/* Commits changes to src until killed. */
static void produce(void)
{
    udr_repo *r;
    if (udr_open(t_path("repo"), &r) != UDR_OK)
        _exit(80);
    unsigned seed = (unsigned)getpid();
    for (int i = 0;; i++) {
        char sql[256];
        int x = (int)(rand_r(&seed) % 1000);
        if (i % 3 == 0)
            snprintf(sql, sizeof sql, "INSERT INTO src VALUES (%d, %d)", 100000 + i, x);
        else if (i % 3 == 1)
            snprintf(sql, sizeof sql, "UPDATE src SET amount = amount + %d WHERE id %% 50 = %d",
                     x % 7, x % 50);
        else
            snprintf(sql, sizeof sql, "DELETE FROM src WHERE id = %d", x);
        udr_result *res;
        if (udr_query(r, sql, NULL, 0, &res) == UDR_OK)
            udr_result_free(res);
        usleep(5000);
    }
}

static void test_exactly_once_killed(void)
{
    const char *env = getenv("FEED_KILL_ROUNDS");
    int rounds = env ? atoi(env) : 100;
    udr_repo *r = new_repo();
    must_write(r, "src", "SELECT i AS id, i % 100 AS amount FROM range(1000) t(i)", ID, NULL);
    must_write(r, "agg_eo", "SELECT 0::BIGINT AS total", NULL, NULL);
    must_write(r, "agg_alo", "SELECT 0::BIGINT AS total", NULL, NULL);
    must_write(r, "seen_eo", "SELECT 0::BIGINT AS seq LIMIT 0", NULL, NULL);
    must_write(r, "seen_alo", "SELECT 0::BIGINT AS seq LIMIT 0", NULL, NULL);
    const char *tables[] = {"src"};
    MUST(r, udr_sub_create(r, "eo", tables, 1, NULL, NULL));
    MUST(r, udr_sub_create(r, "alo", tables, 1, NULL, NULL));
    udr_close(r);          /* no DuckDB in this process while it forks */
    pid_t producer = fork();
    REQUIRE(producer >= 0);
    if (producer == 0)
        produce();
    unsigned seed = (unsigned)time(NULL);
    int bad_exits = 0;
    for (int round = 0; round < rounds; round++) {
        pid_t pids[2];
        for (int k = 0; k < 2; k++) {
            pids[k] = fork();
            REQUIRE(pids[k] >= 0);
            if (pids[k] == 0)
                _exit(consume(k ? "alo" : "eo", !k, 0));
        }
        usleep((useconds_t)(50000 + rand_r(&seed) % 250000));
        for (int k = 0; k < 2; k++) {
            kill(pids[k], SIGKILL);
            int st;
            REQUIRE(waitpid(pids[k], &st, 0) == pids[k]);
            if (!(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL)) {
                printf("    consumer %d exited with %d\n", k, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
                bad_exits++;
            }
        }
    }
    kill(producer, SIGKILL);
    int st;
    REQUIRE(waitpid(producer, &st, 0) == producer);
    CHECK_INT(bad_exits, ==, 0);
    /* Both catch up, unhindered. */
    CHECK_INT(consume("eo", 1, 1), ==, 0);
    CHECK_INT(consume("alo", 0, 1), ==, 0);
    MUST(r, udr_open(t_path("repo"), &r));
    char want[64], eo[64], alo[64], dup_eo[64], dup_alo[64], applied[64];
    snprintf(want, sizeof want, "%s", value(r, "SELECT sum(amount) FROM src"));
    snprintf(eo, sizeof eo, "%s", value(r, "SELECT total FROM agg_eo"));
    snprintf(alo, sizeof alo, "%s", value(r, "SELECT total FROM agg_alo"));
    snprintf(dup_eo, sizeof dup_eo, "%s",
             value(r, "SELECT count(*) - count(DISTINCT seq) FROM seen_eo"));
    snprintf(dup_alo, sizeof dup_alo, "%s",
             value(r, "SELECT count(*) - count(DISTINCT seq) FROM seen_alo"));
    snprintf(applied, sizeof applied, "%s", value(r, "SELECT count(DISTINCT seq) FROM seen_eo"));
    printf("    %d rounds, 2 consumers killed in each; %s commits of src applied; sum %s: "
           "exactly-once total %s (%s duplicates), at-least-once total %s (%s duplicate "
           "commits)\n",
           rounds, applied, want, eo, dup_eo, alo, dup_alo);
    CHECK_STR(eo, want);
    CHECK_STR(dup_eo, "0");
    CHECK_STR(value(r, "SELECT count(DISTINCT seq) = (SELECT count(DISTINCT seq) FROM seen_eo) "
                       "FROM seen_alo"),
              "true");
    CHECK(atoi(applied) > rounds);
    udr_close(r);
}

static const test_case TESTS[] = {
    TEST_ENTRY(test_feed_of_a_table),
    TEST_ENTRY(test_feed_without_key),
    TEST_ENTRY(test_batch_equals_stream),
    TEST_ENTRY(test_subscription_lifecycle),
    TEST_ENTRY(test_bad_input),
    TEST_ENTRY(test_exactly_once_conflict_and_sql),
    TEST_ENTRY(test_retention_gap_is_an_error),
    TEST_ENTRY(test_wait_wakes_on_commit),
    TEST_ENTRY(test_exactly_once_killed),
};
HARNESS_MAIN("feed", TESTS)
