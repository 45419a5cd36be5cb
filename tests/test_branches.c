/*
 * Tests of branches, tags, history, diffs between commits, merges, reverts
 * and resets, through the public API.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "udrtest.h"

static const char *head_of(udr_repo *r, const char *branch)
{
    static char out[UDR_HASH_HEX + 1];
    udr_branch_info *v;
    size_t n;
    out[0] = '\0';
    if (udr_branch_list(r, &v, &n) != UDR_OK)
        return out;
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].name, branch) == 0)
            snprintf(out, sizeof out, "%s", v[i].head);
    udr_branch_info_free(v, n);
    return out;
}

/* The README's branching example. */
static void test_readme_branching(void)
{
    udr_repo *r = new_repo();
    must_write(r, "scores", "SELECT * FROM (VALUES (1, 80), (2, 90)) t(id, score)", NULL, NULL);
    MUST(r, udr_branch_create(r, "feature/new-scoring", NULL, "Testing new algorithm"));
    MUST(r, udr_checkout(r, "feature/new-scoring"));
    CHECK_STR(udr_branch_current(r), "feature/new-scoring");
    must_write(r, "scores", "SELECT * FROM (VALUES (1, 85), (2, 95)) t(id, score)", NULL, NULL);

    MUST(r, udr_use_branch(r, "main"));
    CHECK_STR(value(r, "SELECT AVG(score) AS avg FROM scores"), "85.0");
    MUST(r, udr_use_branch(r, "feature/new-scoring"));
    CHECK_STR(value(r, "SELECT AVG(score) AS avg FROM scores"), "90.0");
    /* By name from anywhere, too. */
    CHECK_STR(value(r, "SELECT AVG(score) FROM \"scores@main\""), "85.0");
    CHECK_STR(value(r, "SELECT AVG(score) FROM \"scores@feature/new-scoring\""), "90.0");

    udr_table_change *d;
    size_t n;
    MUST(r, udr_diff_refs(r, "feature/new-scoring", "main", &d, &n));
    REQUIRE(n == 1);
    CHECK_STR(d[0].table, "scores");
    CHECK_INT(d[0].version_a, ==, 2);
    CHECK_INT(d[0].version_b, ==, 1);
    udr_table_change_free(d, n);

    MUST(r, udr_checkout(r, "main"));
    udr_merge_opts mo = {"main", UDR_MERGE_FAIL, NULL, NULL};
    udr_merge_info mi;
    MUST(r, udr_merge(r, "feature/new-scoring", &mo, &mi));
    CHECK(mi.fast_forward);
    udr_merge_info_clear(&mi);
    CHECK_STR(value(r, "SELECT AVG(score) AS avg FROM scores"), "90.0");
    CHECK_STR(head_of(r, "main"), head_of(r, "feature/new-scoring"));
    /* The checkout is the repository's: another handle sees it. */
    MUST(r, udr_checkout(r, "feature/new-scoring"));
    udr_repo *other;
    REQUIRE(udr_open(t_path("repo"), &other) == UDR_OK);
    CHECK_STR(udr_branch_current(other), "feature/new-scoring");
    udr_close(other);
    udr_close(r);
}

static void test_names(void)
{
    udr_repo *r = new_repo();
    must_write(r, "t", "SELECT 1 AS x", NULL, NULL);
    MUST(r, udr_branch_create(r, "feature/new-scoring", NULL, NULL));
    MUST(r, udr_branch_create(r, "release-1.2_rc", "main", NULL));
    char long_name[1001];
    memset(long_name, 'a', 1000);
    long_name[1000] = '\0';
    static const char *bad[] = {"../x", "", "a\nb", "a\tb", "x/../y", "/x", "x/", "a//b",
                                ".hidden", "-x", "x.lock", "123", "2026-11-24", "a@b", "a b",
                                "x.", NULL};
    for (size_t i = 0; bad[i]; i++) {
        CHECK_INT(udr_branch_create(r, bad[i], NULL, NULL), ==, UDR_EINVAL);
        CHECK_CONTAINS(udr_errmsg(r), "branch name");
    }
    CHECK_INT(udr_branch_create(r, long_name, NULL, NULL), ==, UDR_EINVAL);
    CHECK_CONTAINS(udr_errmsg(r), "too long");
    CHECK_INT(udr_tag_create(r, "../v1", NULL, NULL), ==, UDR_EINVAL);
    CHECK_CONTAINS(udr_errmsg(r), "tag name");
    /* Existing names, unknown refs (with a suggestion). */
    CHECK_INT(udr_branch_create(r, "feature/new-scoring", NULL, NULL), ==, UDR_EEXIST);
    CHECK_INT(udr_checkout(r, "feature/new-scorin"), ==, UDR_ENOTFOUND);
    CHECK_INT(udr_branch_create(r, "x", "feature/new-scorng", NULL), ==, UDR_ENOTFOUND);
    CHECK_CONTAINS(udr_errmsg(r), "did you mean feature/new-scoring");
    udr_branch_info *v;
    size_t n;
    MUST(r, udr_branch_list(r, &v, &n));
    CHECK_INT(n, ==, 3);
    udr_branch_info_free(v, n);
    udr_close(r);
}

/* A small keyed table, 10 rows: id 1..10, v = id * 10. */
static void keyed_base(udr_repo *r)
{
    const char *key[] = {"id", NULL};
    must_write(r, "k", "SELECT range::INTEGER AS id, range * 10 AS v FROM range(1, 11)", key, NULL);
    MUST(r, udr_branch_create(r, "feature", NULL, NULL));
}

static void write_on(udr_repo *r, const char *branch, const char *table, const char *sql)
{
    MUST(r, udr_use_branch(r, branch));
    must_write(r, table, sql, NULL, NULL);
}

static int merge(udr_repo *r, udr_merge_strategy s, udr_merge_info *mi)
{
    udr_merge_opts mo = {"main", s, NULL, NULL};
    return udr_merge(r, "feature", &mo, mi);
}

static void test_merge_disjoint_tables(void)
{
    udr_repo *r = new_repo();
    must_write(r, "a", "SELECT 1 AS x", NULL, NULL);
    must_write(r, "b", "SELECT 1 AS y", NULL, NULL);
    MUST(r, udr_branch_create(r, "feature", NULL, NULL));
    write_on(r, "main", "a", "SELECT 2 AS x");
    write_on(r, "feature", "b", "SELECT 3 AS y");
    write_on(r, "feature", "c", "SELECT 4 AS z");
    udr_merge_info mi;
    MUST(r, merge(r, UDR_MERGE_FAIL, &mi));
    CHECK(!mi.fast_forward);
    CHECK_INT(mi.tables_taken, ==, 2);
    CHECK_INT(mi.conflicts, ==, 0);
    udr_merge_info_clear(&mi);
    MUST(r, udr_use_branch(r, "main"));
    CHECK_STR(value(r, "SELECT x FROM a"), "2");
    CHECK_STR(value(r, "SELECT y FROM b"), "3");
    CHECK_STR(value(r, "SELECT z FROM c"), "4");
    /* A merge commit has two parents; the log lists both sides' commits. */
    udr_commit_info *ci;
    size_t n;
    MUST(r, udr_log(r, NULL, 0, &ci, &n));
    REQUIRE(n >= 5);
    CHECK_INT(ci[0].nparents, ==, 2);
    CHECK_STR(ci[0].parents[1], head_of(r, "feature"));
    CHECK_INT(ci[0].nchanges, ==, 2);
    udr_commit_info_free(ci, n);
    /* Merging again: nothing to do. */
    MUST(r, merge(r, UDR_MERGE_FAIL, &mi));
    CHECK(mi.up_to_date);
    udr_merge_info_clear(&mi);
    udr_close(r);
}

static void test_merge_rows(void)
{
    udr_repo *r = new_repo();
    keyed_base(r);
    /* main: 1 updated, 11 inserted; feature: 2 updated, 3 deleted, 12 inserted,
     * and 4 updated the same way as main. */
    write_on(r, "main", "k",
             "SELECT id, CASE WHEN id = 1 THEN -1 WHEN id = 4 THEN 444 ELSE v END AS v FROM k "
             "UNION ALL SELECT 11, 110");
    write_on(r, "feature", "k",
             "SELECT id, CASE WHEN id = 2 THEN -2 WHEN id = 4 THEN 444 ELSE v END AS v FROM k "
             "WHERE id <> 3 UNION ALL SELECT 12, 120");
    udr_merge_info mi;
    MUST(r, merge(r, UDR_MERGE_FAIL, &mi));
    CHECK_INT(mi.conflicts, ==, 0);
    CHECK_INT(mi.tables_merged, ==, 1);
    CHECK(mi.conflict_rows == NULL);
    udr_merge_info_clear(&mi);
    MUST(r, udr_use_branch(r, "main"));
    CHECK_STR(value(r, "SELECT string_agg(id || ':' || v, ' ' ORDER BY id) FROM k"),
              "1:-1 2:-2 4:444 5:50 6:60 7:70 8:80 9:90 10:100 11:110 12:120");
    CHECK_STR(value(r, "SELECT count(*) FROM k"), "11");
    udr_fsck_stats st;
    MUST(r, udr_fsck(r, NULL, NULL, NULL, &st));
    CHECK_INT(st.problems, ==, 0);
    udr_close(r);
}

static void test_merge_conflicts(void)
{
    udr_repo *r = new_repo();
    keyed_base(r);
    /* 5: changed differently; 6: updated on main, deleted on feature. */
    write_on(r, "main", "k",
             "SELECT id, CASE WHEN id = 5 THEN 555 WHEN id = 6 THEN 666 ELSE v END AS v FROM k");
    write_on(r, "feature", "k",
             "SELECT id, CASE WHEN id = 5 THEN 5000 ELSE v END AS v FROM k WHERE id <> 6");
    char before[UDR_HASH_HEX + 1];
    snprintf(before, sizeof before, "%s", head_of(r, "main"));
    udr_merge_info mi;
    CHECK_INT(merge(r, UDR_MERGE_FAIL, &mi), ==, UDR_ECONFLICT);
    CHECK_CONTAINS(udr_errmsg(r), "2 conflicts");
    CHECK_INT(mi.conflicts, ==, 2);
    REQUIRE(mi.conflict_rows != NULL);
    CHECK_INT(udr_result_rows(mi.conflict_rows), ==, 2);
    char *t = udr_result_text(mi.conflict_rows, 0, 1);
    CHECK_STR(t, "id=5");
    free(t);
    t = udr_result_text(mi.conflict_rows, 0, 3);      /* ours */
    CHECK_CONTAINS(t, "555");
    free(t);
    t = udr_result_text(mi.conflict_rows, 0, 4);      /* theirs */
    CHECK_CONTAINS(t, "5000");
    free(t);
    CHECK(udr_result_is_null(mi.conflict_rows, 1, 4));  /* 6 deleted by theirs */
    udr_merge_info_clear(&mi);
    CHECK_STR(head_of(r, "main"), before);             /* nothing changed */

    MUST(r, udr_branch_create(r, "saved", "main", NULL));
    MUST(r, merge(r, UDR_MERGE_OURS, &mi));
    CHECK_INT(mi.conflicts, ==, 2);
    udr_merge_info_clear(&mi);
    MUST(r, udr_use_branch(r, "main"));
    CHECK_STR(value(r, "SELECT v FROM k WHERE id = 5"), "555");
    CHECK_STR(value(r, "SELECT v FROM k WHERE id = 6"), "666");

    MUST(r, udr_reset(r, "saved", 1));
    CHECK_STR(head_of(r, "main"), before);
    MUST(r, merge(r, UDR_MERGE_THEIRS, &mi));
    udr_merge_info_clear(&mi);
    CHECK_STR(value(r, "SELECT v FROM k WHERE id = 5"), "5000");
    CHECK_STR(value(r, "SELECT count(*) FROM k WHERE id = 6"), "0");
    CHECK_STR(value(r, "SELECT count(*) FROM k"), "9");
    udr_close(r);
}

static void run_on(udr_repo *r, const char *branch, const char *sql, const char *want)
{
    MUST(r, udr_use_branch(r, branch));
    CHECK_STR(value(r, sql), want);
}

static size_t patches_of(udr_repo *r, const char *branch)
{
    MUST(r, udr_use_branch(r, branch));
    udr_table_detail *d;
    MUST(r, udr_table_show(r, "k", NULL, &d));
    size_t n = d->npatches;
    udr_table_detail_free(d);
    return n;
}

/* Rows updated in place on both sides (column patches, patch.h) merge row
 * by row like any other change: different keys both land, the same change
 * on both sides is no conflict, different changes to one key are. */
static void test_merge_patched_rows(void)
{
    udr_repo *r = new_repo();
    keyed_base(r);
    run_on(r, "main", "UPDATE k SET v = -1 WHERE id = 1", "1");
    run_on(r, "main", "UPDATE k SET v = 444 WHERE id = 4", "1");
    run_on(r, "feature", "UPDATE k SET v = -2 WHERE id = 2", "1");
    run_on(r, "feature", "UPDATE k SET v = 444 WHERE id = 4", "1");
    run_on(r, "feature", "DELETE FROM k WHERE id = 3", "1");
    run_on(r, "feature", "INSERT INTO k VALUES (12, 120)", "1");
    CHECK_INT(patches_of(r, "main"), ==, 2);
    CHECK_INT(patches_of(r, "feature"), ==, 2);
    udr_merge_info mi;
    MUST(r, merge(r, UDR_MERGE_FAIL, &mi));
    CHECK_INT(mi.conflicts, ==, 0);
    CHECK_INT(mi.tables_merged, ==, 1);
    udr_merge_info_clear(&mi);
    MUST(r, udr_use_branch(r, "main"));
    CHECK_STR(value(r, "SELECT string_agg(id || ':' || v, ' ' ORDER BY id) FROM k"),
              "1:-1 2:-2 4:444 5:50 6:60 7:70 8:80 9:90 10:100 12:120");
    /* The diff of main across the merge: what feature brought. */
    udr_diff d;
    MUST(r, udr_table_diff(r, "k", "3", NULL, NULL, &d, NULL));
    CHECK_INT(d.rows_added, ==, 1);
    CHECK_INT(d.rows_removed, ==, 1);
    CHECK_INT(d.rows_modified, ==, 1);
    /* One key patched differently on each side: a conflict, then theirs. */
    run_on(r, "main", "UPDATE k SET v = 555 WHERE id = 5", "1");
    run_on(r, "feature", "UPDATE k SET v = 5000 WHERE id = 5", "1");
    char before[UDR_HASH_HEX + 1];
    snprintf(before, sizeof before, "%s", head_of(r, "main"));
    CHECK_INT(merge(r, UDR_MERGE_FAIL, &mi), ==, UDR_ECONFLICT);
    CHECK_INT(mi.conflicts, ==, 1);
    udr_merge_info_clear(&mi);
    CHECK_STR(head_of(r, "main"), before);
    MUST(r, merge(r, UDR_MERGE_THEIRS, &mi));
    udr_merge_info_clear(&mi);
    MUST(r, udr_use_branch(r, "main"));
    CHECK_STR(value(r, "SELECT string_agg(id || ':' || v, ' ' ORDER BY id) FROM k"),
              "1:-1 2:-2 4:444 5:5000 6:60 7:70 8:80 9:90 10:100 12:120");
    udr_fsck_stats st;
    MUST(r, udr_fsck(r, NULL, NULL, NULL, &st));
    CHECK_INT(st.problems, ==, 0);
    udr_close(r);
}

/* A row merge writes theirs' rows as a new chunk. When that chunk has the
 * bytes of one ours still lists (an earlier merge wrote the same row, which
 * ours then changed back), a delete file cannot tell the two apart: the
 * merge must not lose the row. (It once did: the delete file that removed
 * the old chunk's row removed the new one's too.) */
static void test_merge_writes_a_chunk_ours_has(void)
{
    udr_repo *r = new_repo();
    keyed_base(r);
    MUST(r, udr_branch_create(r, "second", NULL, NULL));
    run_on(r, "feature", "UPDATE k SET v = 5 WHERE id = 2", "1");
    run_on(r, "main", "UPDATE k SET v = 1 WHERE id = 3", "1");
    udr_merge_info mi;
    MUST(r, merge(r, UDR_MERGE_FAIL, &mi));
    CHECK_INT(mi.tables_merged, ==, 1);
    udr_merge_info_clear(&mi);
    run_on(r, "main", "UPDATE k SET v = 20 WHERE id = 2", "1");
    run_on(r, "second", "UPDATE k SET v = 5 WHERE id = 2", "1");
    udr_merge_opts mo = {"main", UDR_MERGE_FAIL, NULL, NULL};
    MUST(r, udr_merge(r, "second", &mo, &mi));
    CHECK_INT(mi.tables_merged, ==, 1);
    CHECK_INT(mi.conflicts, ==, 0);
    udr_merge_info_clear(&mi);
    MUST(r, udr_use_branch(r, "main"));
    CHECK_STR(value(r, "SELECT string_agg(id || ':' || v, ' ' ORDER BY id) FROM k"),
              "1:10 2:5 3:1 4:40 5:50 6:60 7:70 8:80 9:90 10:100");
    udr_fsck_stats st;
    MUST(r, udr_fsck(r, NULL, NULL, NULL, &st));
    CHECK_INT(st.problems, ==, 0);
    udr_close(r);
}

static void test_table_level_conflict(void)
{
    udr_repo *r = new_repo();
    must_write(r, "nokey", "SELECT 1 AS x", NULL, NULL);
    MUST(r, udr_branch_create(r, "feature", NULL, NULL));
    write_on(r, "main", "nokey", "SELECT 2 AS x");
    write_on(r, "feature", "nokey", "SELECT 3 AS x");
    udr_merge_info mi;
    CHECK_INT(merge(r, UDR_MERGE_FAIL, &mi), ==, UDR_ECONFLICT);
    REQUIRE(mi.conflict_rows != NULL);
    char *t = udr_result_text(mi.conflict_rows, 0, 0);
    CHECK_STR(t, "nokey");
    free(t);
    udr_merge_info_clear(&mi);
    MUST(r, merge(r, UDR_MERGE_THEIRS, &mi));
    udr_merge_info_clear(&mi);
    MUST(r, udr_use_branch(r, "main"));
    CHECK_STR(value(r, "SELECT x FROM nokey"), "3");
    udr_close(r);
}

static void test_criss_cross_refused(void)
{
    udr_repo *r = new_repo();
    must_write(r, "a", "SELECT 0 AS x", NULL, NULL);
    MUST(r, udr_branch_create(r, "feature", NULL, NULL));
    write_on(r, "main", "a", "SELECT 1 AS x");
    write_on(r, "feature", "b", "SELECT 1 AS y");
    /* Each side merges the other's current head: two merge bases. */
    char m1[UDR_HASH_HEX + 1], f1[UDR_HASH_HEX + 1];
    snprintf(m1, sizeof m1, "%s", head_of(r, "main"));
    snprintf(f1, sizeof f1, "%s", head_of(r, "feature"));
    udr_merge_info mi;
    udr_merge_opts to_main = {"main", UDR_MERGE_FAIL, NULL, NULL};
    udr_merge_opts to_feature = {"feature", UDR_MERGE_FAIL, NULL, NULL};
    MUST(r, udr_merge(r, f1, &to_main, &mi));
    udr_merge_info_clear(&mi);
    MUST(r, udr_merge(r, m1, &to_feature, &mi));
    udr_merge_info_clear(&mi);
    write_on(r, "main", "a", "SELECT 2 AS x");
    write_on(r, "feature", "b", "SELECT 2 AS y");
    snprintf(m1, sizeof m1, "%s", head_of(r, "main"));
    CHECK_INT(udr_merge(r, "feature", &to_main, &mi), ==, UDR_ECONFLICT);
    CHECK_CONTAINS(udr_errmsg(r), "two merge bases");
    CHECK_STR(head_of(r, "main"), m1);
    udr_merge_info_clear(&mi);
    udr_close(r);
}

/* A merge killed at a random moment leaves main as it was or fully merged. */
static void test_merge_killed(void)
{
    udr_repo *r = new_repo();
    keyed_base(r);
    const char *key[] = {"id", NULL};
    udr_write_opts o = {key, NULL, NULL};
    udr_write_info wi;
    MUST(r, udr_use_branch(r, "main"));
    MUST(r, udr_table_write(r, "big", "SELECT range AS id, range % 7 AS v FROM range(200000)",
                            &o, &wi));
    MUST(r, udr_branch_create(r, "feature2", NULL, NULL));
    MUST(r, udr_table_write(r, "big",
                            "SELECT id, CASE WHEN id % 1000 = 1 THEN -1 ELSE v END AS v FROM big",
                            &o, &wi));
    MUST(r, udr_use_branch(r, "feature2"));
    MUST(r, udr_table_write(r, "big",
                            "SELECT id, CASE WHEN id % 1000 = 2 THEN -2 ELSE v END AS v FROM big",
                            &o, &wi));
    MUST(r, udr_use_branch(r, "main"));
    MUST(r, udr_branch_create(r, "before", NULL, NULL));
    char before[UDR_HASH_HEX + 1];
    snprintf(before, sizeof before, "%s", head_of(r, "main"));
    udr_close(r);
    srand((unsigned)time(NULL));
    int as_was = 0, merged = 0;
    for (int round = 0; round < 12; round++) {
        pid_t pid = fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            udr_repo *c;
            if (udr_open(t_path("repo"), &c) != UDR_OK)
                _exit(10);
            udr_merge_opts mo = {"main", UDR_MERGE_FAIL, NULL, NULL};
            udr_merge_info mi;
            _exit(udr_merge(c, "feature2", &mo, &mi) == UDR_OK ? 0 : 11);
        }
        usleep((useconds_t)(rand() % 200000));
        kill(pid, SIGKILL);
        int st;
        waitpid(pid, &st, 0);
        REQUIRE(udr_open(t_path("repo"), &r) == UDR_OK);
        MUST(r, udr_use_branch(r, "main"));
        if (strcmp(head_of(r, "main"), before) == 0) {
            as_was++;
            CHECK_STR(value(r, "SELECT count(*) FROM big WHERE v < 0"), "200");
        } else {
            merged++;
            CHECK_STR(value(r, "SELECT count(*) FROM big WHERE v < 0"), "400");
            CHECK_STR(value(r, "SELECT count(*) FROM big"), "200000");
            MUST(r, udr_reset(r, "before", 1));
        }
        udr_close(r);
    }
    printf("    12 merges killed: %d left main as it was, %d had merged\n", as_was, merged);
    REQUIRE(udr_open(t_path("repo"), &r) == UDR_OK);
    udr_fsck_stats st;
    MUST(r, udr_fsck(r, NULL, NULL, NULL, &st));
    CHECK_INT(st.problems, ==, 0);
    udr_close(r);
}

static void test_tags_log_show(void)
{
    udr_repo *r = new_repo();
    must_write(r, "t", "SELECT 1 AS x", NULL, NULL);
    MUST(r, udr_tag_create(r, "v1.0", NULL, "first release"));
    must_write(r, "t", "SELECT 2 AS x", NULL, NULL);
    CHECK_STR(value(r, "SELECT x FROM \"t@v1.0\""), "1");
    CHECK_STR(value(r, "SELECT x FROM t"), "2");
    CHECK_INT(udr_tag_create(r, "v1.0", NULL, NULL), ==, UDR_EEXIST);
    udr_tag_info *tags;
    size_t n;
    MUST(r, udr_tag_list(r, &tags, &n));
    REQUIRE(n == 1);
    CHECK_STR(tags[0].message, "first release");
    udr_tag_info_free(tags, n);
    udr_commit_info *ci;
    MUST(r, udr_commit_show(r, "v1.0", &ci));
    CHECK_INT(ci->nparents, ==, 0);
    CHECK_INT(ci->nchanges, ==, 1);
    CHECK_INT(ci->changes[0].version_b, ==, 1);
    char prefix[9];
    snprintf(prefix, sizeof prefix, "%.8s", ci->hash);
    udr_commit_info_free(ci, 1);
    MUST(r, udr_commit_show(r, prefix, &ci));
    udr_commit_info_free(ci, 1);
    /* A table as a commit had it, by (a prefix of) the commit's hash. */
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT x FROM \"t@%s\"", prefix);
    CHECK_STR(value(r, sql), "1");
    MUST(r, udr_commit_show(r, "main~1", &ci));
    CHECK_STR(ci->message, "write t");
    udr_commit_info_free(ci, 1);
    CHECK_INT(udr_commit_show(r, "main~2", &ci), ==, UDR_ENOTFOUND);
    MUST(r, udr_tag_delete(r, "v1.0"));
    CHECK_CONTAINS(value(r, "SELECT x FROM \"t@v1.0\""), "not a version, a branch, a tag");
    udr_close(r);
}

static void test_delete_reset_revert(void)
{
    udr_repo *r = new_repo();
    must_write(r, "t", "SELECT 1 AS x", NULL, NULL);
    MUST(r, udr_branch_create(r, "work", NULL, NULL));
    write_on(r, "work", "t", "SELECT 2 AS x");
    MUST(r, udr_use_branch(r, "main"));
    /* Unmerged work is kept unless forced; the current branch never goes. */
    CHECK_INT(udr_branch_delete(r, "work", 0), ==, UDR_ECONFLICT);
    CHECK_CONTAINS(udr_errmsg(r), "--force");
    CHECK_INT(udr_branch_delete(r, "main", 1), ==, UDR_EINVAL);
    MUST(r, udr_tag_create(r, "keep", "work", NULL));
    MUST(r, udr_branch_delete(r, "work", 0));     /* the tag holds it */
    CHECK_STR(value(r, "SELECT x FROM \"t@keep\""), "2");

    /* reset: refuses to lose commits, unless forced. */
    must_write(r, "t", "SELECT 3 AS x", NULL, NULL);
    CHECK_INT(udr_reset(r, "main~1", 0), ==, UDR_ECONFLICT);
    MUST(r, udr_reset(r, "main~1", 1));
    CHECK_STR(value(r, "SELECT x FROM t"), "1");
    MUST(r, udr_reset(r, "keep", 0));             /* forward: nothing lost */
    CHECK_STR(value(r, "SELECT x FROM t"), "2");

    /* revert: a new commit undoing one. */
    must_write(r, "u", "SELECT 9 AS y", NULL, NULL);
    must_write(r, "t", "SELECT 4 AS x", NULL, NULL);
    char c[UDR_HASH_HEX + 1];
    MUST(r, udr_revert(r, "main", NULL, c));
    CHECK_STR(value(r, "SELECT x FROM t"), "2");
    MUST(r, udr_revert(r, "main~2", NULL, c));    /* the commit that made u */
    CHECK_CONTAINS(value(r, "SELECT * FROM u"), "ERROR");
    must_write(r, "t", "SELECT 5 AS x", NULL, NULL);
    CHECK_INT(udr_revert(r, "main~2", NULL, c), ==, UDR_ECONFLICT);   /* t changed since */
    udr_close(r);
}

static const test_case TESTS[] = {
    TEST_ENTRY(test_readme_branching),
    TEST_ENTRY(test_names),
    TEST_ENTRY(test_merge_disjoint_tables),
    TEST_ENTRY(test_merge_rows),
    TEST_ENTRY(test_merge_conflicts),
    TEST_ENTRY(test_merge_patched_rows),
    TEST_ENTRY(test_merge_writes_a_chunk_ours_has),
    TEST_ENTRY(test_table_level_conflict),
    TEST_ENTRY(test_criss_cross_refused),
    TEST_ENTRY(test_merge_killed),
    TEST_ENTRY(test_tags_log_show),
    TEST_ENTRY(test_delete_reset_revert),
};
HARNESS_MAIN("branches", TESTS)
