/*
 * test_gc — udr_gc: it removes exactly what nothing refers to, keeps every
 * version queryable, honours its grace period and freshened objects, stops
 * on an unreadable version, and never loses an object a writer in another
 * process commits while it runs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>

#include "udrtest.h"

/* An object's file in the repository. */
static const char *object_file(udr_repo *r, const udr_hash *h)
{
    static char path[4096];
    char hex[UDR_HASH_HEX + 1];
    udr_hash_to_hex(h, hex);
    snprintf(path, sizeof path, "%s/objects/%.2s/%.2s/%s", udr_repo_path(r), hex, hex + 2, hex);
    return path;
}

/* Makes an object look written seconds ago. */
static void age(udr_repo *r, const udr_hash *h, int seconds)
{
    struct timespec t[2];
    clock_gettime(CLOCK_REALTIME, &t[0]);
    t[0].tv_sec -= seconds;
    t[1] = t[0];
    REQUIRE(utimensat(AT_FDCWD, object_file(r, h), t, 0) == 0);
}

static udr_hash put_text(udr_repo *r, const char *s)
{
    udr_hash h;
    MUST(r, udr_object_put(r, s, strlen(s), &h));
    return h;
}

/* 20 versions, a branch with its own changes, a dropped table, a rolled
 * back transaction and stray objects: GC frees exactly the unreferenced
 * bytes, and every version still reads. */
static void test_gc_frees_exactly_the_unreferenced(void)
{
    udr_repo *r = new_repo();
    const char *key[] = {"id", NULL};
    char sql[256];
    for (int v = 1; v <= 20; v++) {
        snprintf(sql, sizeof sql, "SELECT range AS id, range * %d AS x FROM range(%d)", v,
                 1000 + v * 10);
        must_write(r, "t", sql, key, NULL);
    }
    MUST(r, udr_branch_create(r, "feature/x", NULL, NULL));
    MUST(r, udr_use_branch(r, "feature/x"));
    must_write(r, "t", "SELECT range AS id, 7 AS x FROM range(500)", key, NULL);
    MUST(r, udr_use_branch(r, NULL));
    must_write(r, "gone", "SELECT 1 AS a", NULL, NULL);
    MUST(r, udr_table_drop(r, "gone", NULL));
    udr_tx *tx = NULL;
    MUST(r, udr_tx_begin(r, NULL, UDR_SNAPSHOT, &tx));
    REQUIRE(udr_tx_write(tx, "never", "SELECT range AS n FROM range(3000)", NULL, NULL) == UDR_OK);
    udr_tx_rollback(tx);
    uint64_t stray_bytes = 0;
    for (int i = 0; i < 10; i++) {
        snprintf(sql, sizeof sql, "stray object %d", i);
        put_text(r, sql);
        stray_bytes += strlen(sql);
    }

    udr_recovery_report before;
    MUST(r, udr_recovery_report_get(r, &before));
    CHECK(before.unreferenced_objects >= 11);          /* the strays and the tx's chunk */
    CHECK(before.unreferenced_bytes > stray_bytes);

    udr_gc_opts dry = {1, 0, NULL, NULL};
    udr_gc_report rep;
    MUST(r, udr_gc(r, &dry, &rep));
    CHECK_INT(rep.removed, ==, before.unreferenced_objects);
    CHECK_INT(rep.removed_bytes, ==, before.unreferenced_bytes);
    udr_recovery_report still;
    MUST(r, udr_recovery_report_get(r, &still));
    CHECK_INT(still.unreferenced_objects, ==, before.unreferenced_objects);   /* dry */

    udr_gc_opts now = {0, 0, NULL, NULL};
    MUST(r, udr_gc(r, &now, &rep));
    CHECK_INT(rep.removed, ==, before.unreferenced_objects);
    CHECK_INT(rep.removed_bytes, ==, before.unreferenced_bytes);
    CHECK_INT(rep.referenced + rep.removed, ==, rep.objects);
    CHECK_INT(rep.restored, ==, 0);
    udr_recovery_report after;
    MUST(r, udr_recovery_report_get(r, &after));
    CHECK_INT(after.unreferenced_objects, ==, 0);

    for (int v = 1; v <= 21; v++) {               /* 20 on main, 1 on the branch */
        snprintf(sql, sizeof sql, "SELECT count(*) FROM \"t@%d\"", v);
        char want[32];
        snprintf(want, sizeof want, "%d", v <= 20 ? 1000 + v * 10 : 500);
        CHECK_STR(value(r, sql), want);
    }
    CHECK_STR(value(r, "SELECT count(*) FROM \"gone@1\""), "1");
    udr_fsck_stats fs;
    MUST(r, udr_fsck(r, NULL, NULL, NULL, &fs));
    CHECK_INT(fs.problems, ==, 0);
    MUST(r, udr_gc(r, &now, &rep));                 /* nothing more to take */
    CHECK_INT(rep.removed, ==, 0);
    udr_close(r);
}

/* Young objects stay; an old one a put reuses is freshened and stays. */
static void test_gc_grace_and_freshened_objects(void)
{
    udr_repo *r = new_repo();
    udr_hash young = put_text(r, "young"), old = put_text(r, "old"), reused = put_text(r, "reused");
    age(r, &old, 120);
    age(r, &reused, 120);
    put_text(r, "reused");                          /* a dedup hit freshens it */
    udr_gc_opts minute = {0, 60, NULL, NULL};
    udr_gc_report rep;
    MUST(r, udr_gc(r, &minute, &rep));
    CHECK_INT(rep.removed, ==, 1);
    CHECK_INT(rep.young, ==, 2);
    CHECK_INT(udr_object_exists(r, &old), ==, 0);
    CHECK_INT(udr_object_exists(r, &young), ==, 1);
    CHECK_INT(udr_object_exists(r, &reused), ==, 1);
    MUST(r, udr_gc(r, NULL, &rep));                  /* the default: an hour */
    CHECK_INT(rep.removed, ==, 0);
    udr_close(r);
}

/* A table version that cannot be read: GC removes nothing, and says why. */
static void test_gc_stops_on_an_unreadable_version(void)
{
    udr_repo *r = new_repo();
    must_write(r, "t", "SELECT 1 AS a", NULL, NULL);
    udr_hash stray = put_text(r, "stray");
    udr_table_detail *d = NULL;
    MUST(r, udr_table_show(r, "t", NULL, &d));
    udr_hash tv;
    REQUIRE(udr_hash_from_hex(d->info.content, &tv) == UDR_OK);
    udr_table_detail_free(d);
    const char *f = object_file(r, &tv);
    chmod(f, 0644);
    FILE *fp = fopen(f, "r+");
    REQUIRE(fp != NULL);
    fputc('#', fp);                                 /* a flipped first byte */
    fclose(fp);
    udr_close(r);
    REQUIRE(udr_open(t_path("repo"), &r) == UDR_OK);
    udr_gc_opts now = {0, 0, NULL, NULL};
    int rc = udr_gc(r, &now, NULL);
    CHECK(rc != UDR_OK);
    CHECK_CONTAINS(udr_errmsg(r), "table t version 1");
    CHECK_INT(udr_object_exists(r, &stray), ==, 1);
    udr_close(r);
}

static int age_each(void *ctx, const udr_hash *h, uint64_t size_bytes)
{
    (void)size_bytes;
    age(ctx, h, 600);
    return 0;
}

/* The chunk content that round k of the race reuses. */
static void reused_sql(char *sql, size_t size, int k)
{
    snprintf(sql, size, "SELECT range * %d AS n FROM range(3000)", k + 2);
}

/* A writer in another process commits 200 versions while GC runs over and
 * over. Each round stores a stray object and a table version of new
 * objects; every tenth also commits content whose chunk is already stored,
 * unreferenced and old (written by a transaction rolled back long ago): the
 * put reuses it, and GC must not take it from under the commit. No
 * committed object is ever lost. */
static void test_gc_races_a_writer(void)
{
    udr_repo *r = new_repo();
    const char *rounds_env = getenv("GC_RACE_ROUNDS");
    int rounds = rounds_env ? atoi(rounds_env) : 200;
    char sql[200];
    for (int k = 0; k < rounds / 10; k++) {
        udr_tx *tx = NULL;
        MUST(r, udr_tx_begin(r, NULL, UDR_SNAPSHOT, &tx));
        reused_sql(sql, sizeof sql, k);
        REQUIRE(udr_tx_write(tx, "u", sql, NULL, NULL) == UDR_OK);
        udr_tx_rollback(tx);
    }
    MUST(r, udr_object_foreach(r, age_each, r));
    udr_recovery_report orphans;
    MUST(r, udr_recovery_report_get(r, &orphans));
    CHECK(orphans.unreferenced_objects >= (uint64_t)rounds / 10);
    udr_close(r);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        udr_repo *w = NULL;
        if (udr_open(t_path("repo"), &w) != UDR_OK)
            _exit(2);
        for (int i = 0; i < rounds; i++) {
            char stray[64];
            snprintf(stray, sizeof stray, "stray of round %d", i);
            udr_hash h;
            if (udr_object_put(w, stray, strlen(stray), &h) != UDR_OK)
                _exit(3);
            snprintf(sql, sizeof sql, "SELECT range AS id, range + %d AS x FROM range(%d)", i,
                     200 + i);
            int rc = udr_table_write(w, "t", sql, NULL, NULL);
            if (rc == UDR_OK && i % 10 == 0) {
                reused_sql(sql, sizeof sql, i / 10);
                rc = udr_table_write(w, "u", sql, NULL, NULL);
            }
            if (rc != UDR_OK) {
                fprintf(stderr, "writer: %s\n", udr_errmsg(w));
                _exit(4);
            }
        }
        udr_close(w);
        _exit(0);
    }
    REQUIRE(udr_open(t_path("repo"), &r) == UDR_OK);
    udr_gc_opts opts = {0, 1, NULL, NULL};        /* a one-second grace period */
    uint64_t runs = 0, removed = 0, restored = 0;
    int status = 0;
    for (;;) {
        udr_gc_report rep;
        MUST(r, udr_gc(r, &opts, &rep));
        runs++;
        removed += rep.removed;
        restored += rep.restored;
        if (waitpid(pid, &status, WNOHANG) == pid)
            break;
        usleep(20000);
    }
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    sleep(2);                                       /* past the grace period */
    udr_gc_report last;
    MUST(r, udr_gc(r, &opts, &last));
    removed += last.removed;
    printf("    %d rounds written while gc ran %llu times: %llu objects removed, "
           "%llu put back\n", rounds, (unsigned long long)runs, (unsigned long long)removed,
           (unsigned long long)restored);
    CHECK(runs > 10);
    CHECK(removed >= (uint64_t)rounds);             /* at least the strays went */
    char want[32];
    int bad = 0;
    for (int v = 1; v <= rounds; v++) {
        snprintf(sql, sizeof sql, "SELECT count(*) FROM \"t@%d\"", v);
        snprintf(want, sizeof want, "%d", 200 + v - 1);
        bad += strcmp(value(r, sql), want) != 0;
    }
    for (int v = 1; v <= rounds / 10; v++) {
        snprintf(sql, sizeof sql, "SELECT sum(n) FROM \"u@%d\"", v);
        snprintf(want, sizeof want, "%d", (v + 1) * 2999 * 3000 / 2);
        bad += strcmp(value(r, sql), want) != 0;
    }
    CHECK_INT(bad, ==, 0);
    udr_fsck_stats fs;
    MUST(r, udr_fsck(r, NULL, NULL, NULL, &fs));
    CHECK_INT(fs.problems, ==, 0);
    udr_recovery_report rr;
    MUST(r, udr_recovery_report_get(r, &rr));
    CHECK_INT(rr.unreferenced_objects, ==, 0);
    udr_close(r);
}

static const test_case TESTS[] = {
    TEST_ENTRY(test_gc_frees_exactly_the_unreferenced),
    TEST_ENTRY(test_gc_grace_and_freshened_objects),
    TEST_ENTRY(test_gc_stops_on_an_unreadable_version),
    TEST_ENTRY(test_gc_races_a_writer),
};

HARNESS_MAIN("gc", TESTS)
