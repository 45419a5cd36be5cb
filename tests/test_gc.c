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

#include "repo.h"
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

/* Whether version v of table is kept (not expired), as udr_table_log says. */
static int kept(udr_repo *r, const char *table, int v)
{
    udr_version_info *log;
    size_t n;
    MUST(r, udr_table_log(r, table, &log, &n));
    int yes = -1;
    for (size_t i = 0; i < n; i++)
        if (log[i].version == (uint64_t)v)
            yes = log[i].expired_us == 0;
    udr_version_info_free(log, n);
    REQUIRE(yes >= 0);
    return yes;
}

/* A query of an expired version fails, saying so (not a missing object). */
static int query_says_expired(udr_repo *r, const char *sql)
{
    udr_result *res = NULL;
    int rc = udr_query(r, sql, NULL, 0, &res);
    udr_result_free(res);
    return rc != UDR_OK && strstr(udr_errmsg(r), "has expired") != NULL;
}

/* ---- expire, then gc ------------------------------------------------------ */

/* A set of object hashes, by hex (a few hundred: a linear search will do). */
typedef struct hexset {
    char (*hex)[UDR_HASH_HEX + 1];
    uint64_t *size;
    size_t n;
} hexset;

static int hexset_has(const hexset *s, const char *hex)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->hex[i], hex) == 0)
            return 1;
    return 0;
}

static void hexset_add(hexset *s, const char *hex, uint64_t size)
{
    if (hexset_has(s, hex))
        return;
    s->hex = realloc(s->hex, (s->n + 1) * sizeof *s->hex);
    s->size = realloc(s->size, (s->n + 1) * sizeof *s->size);
    REQUIRE(s->hex != NULL && s->size != NULL);
    memcpy(s->hex[s->n], hex, UDR_HASH_HEX + 1);
    s->size[s->n++] = size;
}

static void hexset_free(hexset *s)
{
    free(s->hex);
    free(s->size);
}

static int add_object(void *ctx, const udr_hash *h, uint64_t size_bytes)
{
    char hex[UDR_HASH_HEX + 1];
    udr_hash_to_hex(h, hex);
    hexset_add(ctx, hex, size_bytes);
    return 0;
}

/* What must stay, found through the public API alone: the commits of every
 * branch, each version udr_table_log lists as kept with its chunks, delete
 * files and patches, and the checkpoints (objects that say they are one). */
static void reachable(udr_repo *r, const char *const *tables, const char *const *branches,
                      const hexset *all, hexset *keep)
{
    for (size_t b = 0; branches[b] != NULL; b++) {
        udr_commit_info *cs;
        size_t n;
        MUST(r, udr_log(r, branches[b], 0, &cs, &n));
        for (size_t i = 0; i < n; i++)
            hexset_add(keep, cs[i].hash, 0);
        udr_commit_info_free(cs, n);
    }
    for (size_t t = 0; tables[t] != NULL; t++) {
        udr_version_info *log;
        size_t n;
        MUST(r, udr_table_log(r, tables[t], &log, &n));
        for (size_t i = 0; i < n; i++) {
            if (log[i].dropped || log[i].expired_us != 0)
                continue;
            char ref[32];
            snprintf(ref, sizeof ref, "%llu", (unsigned long long)log[i].version);
            udr_table_detail *d;
            MUST(r, udr_table_show(r, tables[t], ref, &d));
            hexset_add(keep, d->info.content, 0);
            for (size_t k = 0; k < d->nchunks; k++)
                hexset_add(keep, d->chunk_hash[k], 0);
            for (size_t k = 0; k < d->ndeletes; k++)
                hexset_add(keep, d->delete_hash[k], 0);
            for (size_t k = 0; k < d->npatches; k++)
                hexset_add(keep, d->patch_hash[k], 0);
            udr_table_detail_free(d);
        }
        udr_version_info_free(log, n);
    }
    for (size_t i = 0; i < all->n; i++) {
        udr_hash h;
        void *data;
        size_t len;
        REQUIRE(udr_hash_from_hex(all->hex[i], &h) == UDR_OK);
        MUST(r, udr_object_get(r, &h, &data, &len));
        if (len > 15 && memcmp(data, "udr checkpoint ", 15) == 0)
            hexset_add(keep, all->hex[i], 0);
        free(data);
    }
}

static const char *commit_of(udr_repo *r, const char *table, const char *ref)
{
    static char hex[UDR_HASH_HEX + 1];
    udr_table_detail *d;
    MUST(r, udr_table_show(r, table, ref, &d));
    memcpy(hex, d->info.commit, sizeof hex);
    udr_table_detail_free(d);
    return hex;
}

static int64_t count_of(udr_repo *r, const char *table, int v)
{
    char sql[96];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM \"%s@%d\"", table, v);
    return atoll(value(r, sql));
}

/* 20 versions of t (two of them small updates, with delete files), a
 * branch with its own version, a tag, a subscription part way, a table
 * dropped, checkpoints every few records; then expire --keep-last 2 and
 * gc: exactly the versions nothing holds expire, gc frees exactly the bytes
 * of the objects no kept version, commit or checkpoint names (found through
 * the public API), and every kept version still reads. */
static void test_expire_then_gc_frees_exactly_the_unreachable(void)
{
    udr_repo *r = new_repo();
    r->cat.checkpoint_every = 7;
    const char *key[] = {"id", NULL};
    char sql[256];
    for (int v = 1; v <= 18; v++) {
        snprintf(sql, sizeof sql, "SELECT range AS id, range * %d AS x FROM range(%d)", v,
                 1000 + v * 10);
        must_write(r, "t", sql, key, NULL);
    }
    for (int v = 19; v <= 20; v++) {                /* small: delete files */
        snprintf(sql, sizeof sql, "UPDATE t SET x = -%d WHERE id %% 97 = %d", v, v);
        CHECK_STR(value(r, sql), "12");           /* 19 + 97k, 20 + 97k below 1180 */
    }
    MUST(r, udr_tag_create(r, "v1.0", commit_of(r, "t", "5"), "release"));
    MUST(r, udr_branch_create(r, "feature/x", commit_of(r, "t", "12"), NULL));
    const char *tables[] = {"t", NULL};
    MUST(r, udr_sub_create(r, "s", tables, 1, "main", commit_of(r, "t", "15")));
    MUST(r, udr_use_branch(r, "feature/x"));
    must_write(r, "t", "SELECT range AS id, 7 AS x FROM range(500)", key, NULL);   /* t@21 */
    MUST(r, udr_use_branch(r, NULL));
    for (int v = 1; v <= 3; v++) {
        snprintf(sql, sizeof sql, "SELECT range AS a FROM range(%d)", 100 * v);
        must_write(r, "gone", sql, NULL, NULL);
    }
    MUST(r, udr_table_drop(r, "gone", NULL));
    put_text(r, "a stray object");

    /* A dry run says what would go, and records nothing. */
    udr_expire_opts o = {-1, 2, NULL, 1, NULL, NULL};
    udr_expire_report er;
    MUST(r, udr_expire(r, &o, &er));
    CHECK_INT(er.expired, ==, 12);
    CHECK_INT(er.seq, ==, 0);
    CHECK(kept(r, "t", 1));

    o.dry_run = 0;
    MUST(r, udr_expire(r, &o, &er));
    /* t: 1-21 considered; 20, 21 kept by the rule; 5 (tag), 12 (branch head,
     * merge base), 14-19 (the subscription's cursor is before 15) held;
     * gone: 1-3 considered, 2 and 3 kept by the rule. */
    CHECK_INT(er.considered, ==, 24);
    CHECK_INT(er.expired, ==, 12);
    CHECK_INT(er.kept_by_rule, ==, 4);
    CHECK_INT(er.kept_held, ==, 8);
    CHECK(er.seq > 0);
    static const int gone_t[] = {1, 2, 3, 4, 6, 7, 8, 9, 10, 11, 13};
    int expired_t = 0;
    for (int v = 1; v <= 21; v++) {
        int want = 1;
        for (size_t i = 0; i < sizeof gone_t / sizeof *gone_t; i++)
            want &= gone_t[i] != v;
        CHECK_INT(kept(r, "t", v), ==, want);
        expired_t += !kept(r, "t", v);
    }
    CHECK_INT(expired_t, ==, 11);
    CHECK(!kept(r, "gone", 1) && kept(r, "gone", 2) && kept(r, "gone", 3));

    /* Exactly what nothing kept names goes. */
    hexset all = {0}, keep = {0};
    MUST(r, udr_object_foreach(r, add_object, &all));
    const char *branches[] = {"main", "feature/x", NULL};
    const char *every[] = {"t", "gone", NULL};
    reachable(r, every, branches, &all, &keep);
    uint64_t want_objects = 0, want_bytes = 0;
    for (size_t i = 0; i < all.n; i++)
        if (!hexset_has(&keep, all.hex[i])) {
            want_objects++;
            want_bytes += all.size[i];
        }
    CHECK(want_objects > 13);                       /* versions, chunks, the stray */
    udr_gc_opts now = {0, 0, NULL, NULL};
    udr_gc_report rep;
    MUST(r, udr_gc(r, &now, &rep));
    printf("    expired %llu versions; gc freed %llu objects, %llu bytes (expected %llu, %llu)\n",
           (unsigned long long)er.expired, (unsigned long long)rep.removed,
           (unsigned long long)rep.removed_bytes, (unsigned long long)want_objects,
           (unsigned long long)want_bytes);
    CHECK_INT(rep.removed, ==, want_objects);
    CHECK_INT(rep.removed_bytes, ==, want_bytes);
    hexset after = {0};
    MUST(r, udr_object_foreach(r, add_object, &after));
    CHECK_INT(after.n, ==, keep.n);
    for (size_t i = 0; i < keep.n; i++)
        CHECK(hexset_has(&after, keep.hex[i]));
    hexset_free(&all);
    hexset_free(&keep);
    hexset_free(&after);

    /* Every kept version reads, in this handle and a fresh one (which opens
     * from a checkpoint GC kept); every expired one says it expired. */
    for (int pass = 0; pass < 2; pass++) {
        for (int v = 1; v <= 21; v++) {
            snprintf(sql, sizeof sql, "SELECT count(*) FROM \"t@%d\"", v);
            if (!kept(r, "t", v)) {
                CHECK(query_says_expired(r, sql));
                continue;
            }
            CHECK_INT(count_of(r, "t", v), ==, v <= 18 ? 1000 + v * 10 : v <= 20 ? 1180 : 500);
        }
        CHECK_INT(count_of(r, "gone", 2), ==, 200);
        CHECK_INT(count_of(r, "gone", 3), ==, 300);
        CHECK_STR(value(r, "SELECT count(*) FROM \"t@v1.0\""), "1050");
        CHECK_STR(value(r, "SELECT count(*) FROM \"t@feature/x\""), "500");
        CHECK_STR(value(r, "SELECT count(*) FROM t WHERE x < 0"), "24");
        udr_close(r);
        REQUIRE(udr_open(t_path("repo"), &r) == UDR_OK);
    }
    /* The subscription reads on from its cursor: versions 15 to 20 of t,
     * the first of them from 14. */
    udr_changes *ch;
    MUST(r, udr_sub_poll(r, "s", 0, &ch));
    const udr_change_batch *bt;
    int batches = 0;
    uint64_t first_from = 0, last = 0;
    while (udr_changes_next(ch, &bt) == UDR_OK && bt != NULL) {
        first_from = batches++ == 0 ? bt->from_version : first_from;
        last = bt->version;
    }
    CHECK_INT(batches, ==, 6);
    CHECK_INT(first_from, ==, 14);
    CHECK_INT(last, ==, 20);
    udr_changes_close(ch);
    /* A feed over expired versions says so rather than skip them. */
    CHECK(udr_changes_open(r, "t", "2", "4", &ch) == UDR_OK);
    int rc = udr_changes_next(ch, &bt);
    CHECK_INT(rc, ==, UDR_ENOTFOUND);
    CHECK_CONTAINS(udr_errmsg(r), "has expired");
    udr_changes_close(ch);
    udr_fsck_stats fs;
    MUST(r, udr_fsck(r, NULL, NULL, NULL, &fs));
    CHECK_INT(fs.problems, ==, 0);
    udr_stats st;
    MUST(r, udr_stats_get(r, &st, NULL, NULL));
    CHECK_INT(st.versions, ==, 21 + 3 - 12);
    udr_stats_clear(&st);
    MUST(r, udr_gc(r, &now, &rep));                 /* nothing more to take */
    CHECK_INT(rep.removed, ==, 0);
    /* A subscription made now, from the beginning, starts from the earliest
     * kept version (5, the tag's): every row of it new; then each kept
     * version from the one before it. */
    MUST(r, udr_sub_create(r, "late", tables, 1, "main", NULL));
    MUST(r, udr_sub_poll(r, "late", 0, &ch));
    static const uint64_t want_from[] = {0, 5, 12, 14, 15, 16, 17, 18, 19};
    static const uint64_t want_to[] = {5, 12, 14, 15, 16, 17, 18, 19, 20};
    batches = 0;
    while (udr_changes_next(ch, &bt) == UDR_OK && bt != NULL && batches < 9) {
        CHECK_INT(bt->from_version, ==, want_from[batches]);
        CHECK_INT(bt->version, ==, want_to[batches]);
        if (batches++ == 0) {
            CHECK_INT(udr_result_rows(bt->rows), ==, 1050);
            char *op = udr_result_text(bt->rows, 1049, 0);
            CHECK_STR(op, "insert");
            free(op);
        }
    }
    CHECK_INT(batches, ==, 9);
    CHECK(bt == NULL);
    udr_changes_close(ch);
    MUST(r, udr_sub_drop(r, "late"));
    /* The same through the change feed: from the beginning to version 12,
     * two batches; to version 13, which expired, an error naming it. */
    MUST(r, udr_changes_open(r, "t", NULL, "12", &ch));
    batches = 0;
    while (udr_changes_next(ch, &bt) == UDR_OK && bt != NULL)
        batches++;
    CHECK_INT(batches, ==, 2);
    udr_changes_close(ch);
    MUST(r, udr_changes_open(r, "t", NULL, "13", &ch));
    int end_rc = UDR_OK;
    while ((end_rc = udr_changes_next(ch, &bt)) == UDR_OK && bt != NULL)
        ;
    CHECK_INT(end_rc, ==, UDR_ENOTFOUND);
    CHECK_CONTAINS(udr_errmsg(r), "version 13 has expired");
    udr_changes_close(ch);
    udr_close(r);
}

/* A merge whose base appeared after expire let its versions go (a branch
 * made at a kept commit of a deleted branch): the merge says the base's
 * version expired, names it, and merges nothing. */
static void test_merge_over_an_expired_base_says_so(void)
{
    udr_repo *r = new_repo();
    const char *key[] = {"id", NULL};
    char sql[160];
    for (int v = 1; v <= 6; v++) {
        snprintf(sql, sizeof sql, "SELECT range AS id, range * %d AS x FROM range(100)", v);
        must_write(r, "t", sql, key, NULL);
    }
    MUST(r, udr_branch_create(r, "feat", commit_of(r, "t", "2"), NULL));
    MUST(r, udr_use_branch(r, "feat"));
    CHECK_STR(value(r, "UPDATE t SET x = -1 WHERE id = 1"), "1");          /* t@7 */
    char feat_head[UDR_HASH_HEX + 1];
    snprintf(feat_head, sizeof feat_head, "%s", commit_of(r, "t", "7"));
    MUST(r, udr_use_branch(r, NULL));
    MUST(r, udr_branch_delete(r, "feat", 1));
    udr_expire_opts last = {-1, 1, NULL, 0, NULL, NULL};
    udr_expire_report er;
    MUST(r, udr_expire(r, &last, &er));
    CHECK(!kept(r, "t", 2) && kept(r, "t", 6) && kept(r, "t", 7));
    /* Back at feat's old head, which kept its version; both sides change t. */
    MUST(r, udr_branch_create(r, "again", feat_head, NULL));
    CHECK_STR(value(r, "UPDATE t SET x = -2 WHERE id = 2"), "1");          /* main: t@8 */
    MUST(r, udr_use_branch(r, "again"));
    CHECK_STR(value(r, "UPDATE t SET x = -3 WHERE id = 3"), "1");          /* again: t@9 */
    MUST(r, udr_use_branch(r, NULL));
    const char *head = commit_of(r, "t", "8");
    char before[UDR_HASH_HEX + 1];
    snprintf(before, sizeof before, "%s", head);
    udr_merge_opts mo = {NULL, UDR_MERGE_FAIL, NULL, NULL};
    udr_merge_info mi;
    memset(&mi, 0, sizeof mi);
    CHECK_INT(udr_merge(r, "again", &mo, &mi), ==, UDR_ENOTFOUND);
    CHECK_CONTAINS(udr_errmsg(r), "merging again into main");
    CHECK_CONTAINS(udr_errmsg(r), "table t version 2 has expired");
    udr_merge_info_clear(&mi);
    CHECK_STR(value(r, "SELECT count(*) FILTER (x < 0) FROM t"), "1");     /* nothing merged */
    udr_branch_info *bl;
    size_t nb;
    MUST(r, udr_branch_list(r, &bl, &nb));
    for (size_t i = 0; i < nb; i++)
        if (strcmp(bl[i].name, "main") == 0)
            CHECK_STR(bl[i].head, before);
    udr_branch_info_free(bl, nb);
    udr_close(r);
}

/* What expire refuses, and what it leaves: no rule; an unknown table; a
 * branch or tag at a commit with an expired version; the history says what
 * expired; a second run finds nothing more; --table limits it. */
static void test_expire_refuses_and_reports(void)
{
    udr_repo *r = new_repo();
    char sql[128];
    for (int v = 1; v <= 6; v++) {
        snprintf(sql, sizeof sql, "SELECT range AS a FROM range(%d)", v);
        must_write(r, "a", sql, NULL, NULL);
        must_write(r, "b", sql, NULL, NULL);
    }
    udr_expire_opts none = {-1, 0, NULL, 0, NULL, NULL};
    CHECK_INT(udr_expire(r, &none, NULL), ==, UDR_EINVAL);
    CHECK_CONTAINS(udr_errmsg(r), "needs a rule");
    udr_expire_opts unknown = {-1, 1, "nosuch", 0, NULL, NULL};
    CHECK_INT(udr_expire(r, &unknown, NULL), ==, UDR_ENOTFOUND);
    CHECK_CONTAINS(udr_errmsg(r), "nosuch");
    udr_expire_opts hostile = {-1, 1, "../../etc", 0, NULL, NULL};
    CHECK_INT(udr_expire(r, &hostile, NULL), ==, UDR_EINVAL);
    /* An age past 1970 (no overflow: UBSan watches) keeps everything. */
    udr_expire_opts ages = {INT64_MAX / 2, 0, NULL, 0, NULL, NULL};
    udr_expire_report er;
    MUST(r, udr_expire(r, &ages, &er));
    CHECK_INT(er.expired, ==, 0);
    /* An hour's age: nothing is that old. */
    udr_expire_opts hour = {3600, 0, NULL, 0, NULL, NULL};
    MUST(r, udr_expire(r, &hour, &er));
    CHECK_INT(er.expired, ==, 0);
    CHECK_INT(er.kept_by_rule, ==, 12);
    CHECK_INT(er.seq, ==, 0);
    /* Only a: keep the last 2. */
    const char *old_commit = commit_of(r, "a", "2");
    char saved[UDR_HASH_HEX + 1];
    memcpy(saved, old_commit, sizeof saved);
    udr_expire_opts a2 = {0, 2, "a", 0, NULL, NULL};
    MUST(r, udr_expire(r, &a2, &er));
    CHECK_INT(er.expired, ==, 4);
    CHECK(kept(r, "b", 1));
    CHECK(!kept(r, "a", 4) && kept(r, "a", 5));
    CHECK(query_says_expired(r, "SELECT * FROM \"a@2\""));
    CHECK_CONTAINS(udr_errmsg(r), "table a version 2 has expired");
    /* a@2's commit has b@2 too, but a@2 expired: no branch or tag there. */
    CHECK_INT(udr_branch_create(r, "back", saved, NULL), ==, UDR_EINVAL);
    CHECK_CONTAINS(udr_errmsg(r), "table a version 2 has expired");
    CHECK_INT(udr_tag_create(r, "old", saved, NULL), ==, UDR_EINVAL);
    MUST(r, udr_branch_create(r, "fine", commit_of(r, "a", "5"), NULL));

    /* A second run lets nothing more go; the earlier ones are counted. */
    MUST(r, udr_expire(r, &a2, &er));
    CHECK_INT(er.expired, ==, 0);
    CHECK_INT(er.expired_before, ==, 4);
    /* Age 0 lets every b go but the newest (main's head) and b@4 (the
     * head of branch fine, made at a@5's commit, before b@5). */
    udr_expire_opts b0 = {0, 0, "b", 0, NULL, NULL};
    MUST(r, udr_expire(r, &b0, &er));
    CHECK_INT(er.expired, ==, 4);
    CHECK_INT(er.kept_held, ==, 2);
    CHECK(kept(r, "b", 4) && kept(r, "b", 6) && !kept(r, "b", 5));
    /* Reverting b@6's commit would bring back b@5, which expired. */
    char b6[UDR_HASH_HEX + 1];
    memcpy(b6, commit_of(r, "b", "6"), sizeof b6);
    CHECK(udr_revert(r, b6, NULL, NULL) != UDR_OK);
    CHECK_CONTAINS(udr_errmsg(r), "table b version 5 has expired");
    CHECK_STR(value(r, "SELECT count(*) FROM b"), "6");
    /* The log replays the record: a fresh handle knows. */
    udr_close(r);
    REQUIRE(udr_open(t_path("repo"), &r) == UDR_OK);
    CHECK(!kept(r, "a", 1));
    CHECK(query_says_expired(r, "SELECT * FROM \"a@1\""));
    CHECK_STR(value(r, "SELECT count(*) FROM \"a@5\""), "5");
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

typedef struct putback {
    udr_tx *tx;                      /* committed at GC's first progress call */
    int calls, rc;
} putback;

static void commit_midway(void *ctx, const udr_gc_report *sofar)
{
    putback *p = ctx;
    (void)sofar;
    if (p->calls++ == 0)
        p->rc = udr_tx_commit(p->tx, "midway", NULL);
}

/* A transaction wrote its objects; GC with no grace takes them; the
 * transaction commits after the sweep, before GC checks what it took: GC
 * puts them back (by rename), and the committed version reads. */
static void test_gc_puts_back_what_a_commit_took(void)
{
    udr_repo *r = new_repo(), *w = NULL;
    must_write(r, "t", "SELECT 1 AS a", NULL, NULL);
    REQUIRE(udr_open(t_path("repo"), &w) == UDR_OK);
    putback p = {NULL, 0, UDR_OK};
    MUST(w, udr_tx_begin(w, NULL, UDR_SNAPSHOT, &p.tx));
    REQUIRE(udr_tx_write(p.tx, "u", "SELECT range AS n FROM range(5000)", NULL, NULL) == UDR_OK);
    udr_gc_opts now = {0, 0, commit_midway, &p};
    udr_gc_report rep;
    MUST(r, udr_gc(r, &now, &rep));
    CHECK_INT(p.rc, ==, UDR_OK);
    CHECK(p.calls >= 2);
    CHECK(rep.restored >= 2);                         /* the chunk and the table version */
    CHECK_INT(rep.removed, ==, 0);
    CHECK_STR(value(r, "SELECT sum(n) FROM u"), "12497500");
    udr_fsck_stats fs;
    MUST(r, udr_fsck(r, NULL, NULL, NULL, &fs));
    CHECK_INT(fs.problems, ==, 0);
    udr_close(w);
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
static void race(int with_expire)
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
    udr_expire_opts keep3 = {-1, 3, NULL, 0, NULL, NULL};
    uint64_t expired = 0;
    for (;;) {
        udr_gc_report rep;
        udr_expire_report er;
        if (with_expire) {
            MUST(r, udr_expire(r, &keep3, &er));
            expired += er.expired;
        }
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
    printf("    %d rounds written while %sgc ran %llu times: %llu objects removed, "
           "%llu put back, %llu versions expired\n", rounds, with_expire ? "expire and " : "",
           (unsigned long long)runs, (unsigned long long)removed, (unsigned long long)restored,
           (unsigned long long)expired);
    CHECK(runs > 10);
    CHECK(removed >= (uint64_t)rounds);             /* at least the strays went */
    char want[32];
    int bad = 0, gone = 0;
    for (int v = 1; v <= rounds; v++) {
        snprintf(sql, sizeof sql, "SELECT count(*) FROM \"t@%d\"", v);
        snprintf(want, sizeof want, "%d", 200 + v - 1);
        gone += !kept(r, "t", v);
        bad += kept(r, "t", v) ? strcmp(value(r, sql), want) != 0 : !query_says_expired(r, sql);
    }
    for (int v = 1; v <= rounds / 10; v++) {
        snprintf(sql, sizeof sql, "SELECT sum(n) FROM \"u@%d\"", v);
        snprintf(want, sizeof want, "%d", (v + 1) * 2999 * 3000 / 2);
        gone += !kept(r, "u", v);
        bad += kept(r, "u", v) ? strcmp(value(r, sql), want) != 0 : !query_says_expired(r, sql);
    }
    CHECK_INT(bad, ==, 0);
    if (with_expire) {
        CHECK_INT((uint64_t)gone, ==, expired);
        CHECK(expired > (uint64_t)rounds / 2);
        for (int v = rounds - 2; v <= rounds; v++)  /* the last three are kept */
            CHECK(kept(r, "t", v));
    } else {
        CHECK_INT(gone, ==, 0);
    }
    udr_fsck_stats fs;
    MUST(r, udr_fsck(r, NULL, NULL, NULL, &fs));
    CHECK_INT(fs.problems, ==, 0);
    udr_recovery_report rr;
    MUST(r, udr_recovery_report_get(r, &rr));
    CHECK_INT(rr.unreferenced_objects, ==, 0);
    udr_close(r);
}

static void test_gc_races_a_writer(void)
{
    race(0);
}

/* The same race with `udr expire --keep-last 3` before each GC: versions
 * expire as the writer commits, GC takes their objects, and the writer's
 * puts reuse old chunks GC may be taking. Every version kept still reads;
 * every expired one says it expired. */
static void test_gc_and_expire_race_a_writer(void)
{
    race(1);
}

/* ---- column patches ------------------------------------------------------- */

/* The patches a version of t lists, by hex, added to s; their count. */
static size_t patches_of(udr_repo *r, const char *table, int v, hexset *s)
{
    char ref[32];
    snprintf(ref, sizeof ref, "%d", v);
    udr_table_detail *d;
    MUST(r, udr_table_show(r, table, ref, &d));
    size_t n = d->npatches;
    for (size_t k = 0; k < n; k++)
        hexset_add(s, d->patch_hash[k], 0);
    udr_table_detail_free(d);
    return n;
}

/* What a version of t holds, as one line: rows, sum(v), a hash of all. */
static const char *content_of(udr_repo *r, int v)
{
    char sql[200];
    snprintf(sql, sizeof sql,
             "SELECT count(*) || '/' || sum(v) || '/' || bit_xor(hash(id, v, name)) FROM \"t@%d\"",
             v);
    return value(r, sql);
}

static int present(udr_repo *r, const char *hex)
{
    udr_hash h;
    REQUIRE(udr_hash_from_hex(hex, &h) == UDR_OK);
    return udr_object_exists(r, &h);
}

/* Patches (an UPDATE of a fixed-width non-key column) are objects GC keeps
 * while a version kept lists them: every version reads the same after GC,
 * in this handle and a fresh one; once the versions that list a patch
 * expire, GC frees it. */
static void test_gc_keeps_patches_of_kept_versions(void)
{
    udr_repo *r = new_repo();
    const char *key[] = {"id", NULL};
    must_write(r, "t", "SELECT i AS id, i * 2 AS v, 'x' || i AS name FROM range(10000) t(i)", key,
               NULL);                                                          /* t@1 */
    CHECK_STR(value(r, "UPDATE t SET v = v + 1 WHERE id % 100 = 0"), "100");    /* t@2 */
    CHECK_STR(value(r, "UPDATE t SET v = -v WHERE id % 1000 = 7"), "10");      /* t@3 */
    hexset p2 = {0}, p3 = {0};
    REQUIRE(patches_of(r, "t", 1, &p2) == 0);
    REQUIRE(patches_of(r, "t", 2, &p2) > 0);         /* not vacuous: the UPDATEs patched */
    REQUIRE(patches_of(r, "t", 3, &p3) > 0);
    char before[4][200];
    for (int v = 1; v <= 3; v++)
        snprintf(before[v], sizeof before[v], "%s", content_of(r, v));
    CHECK(strcmp(before[1], before[2]) != 0 && strcmp(before[2], before[3]) != 0);
    CHECK_STR(value(r, "SELECT sum(v) FROM \"t@2\""), "99990100");  /* 2 * sum(0..9999) + 100 */

    /* Nothing expired: GC takes the stray object and no patch. */
    put_text(r, "a stray object");
    udr_gc_opts now = {0, 0, NULL, NULL};
    udr_gc_report rep;
    MUST(r, udr_gc(r, &now, &rep));
    CHECK_INT(rep.removed, ==, 1);
    for (size_t i = 0; i < p2.n; i++)
        CHECK(present(r, p2.hex[i]));
    for (size_t i = 0; i < p3.n; i++)
        CHECK(present(r, p3.hex[i]));
    for (int pass = 0; pass < 2; pass++) {           /* this handle, then a fresh one */
        for (int v = 1; v <= 3; v++)
            CHECK_STR(content_of(r, v), before[v]);
        udr_close(r);
        REQUIRE(udr_open(t_path("repo"), &r) == UDR_OK);
    }

    /* t@4 is written whole (no patches); versions 1 and 2 expire. A patch
     * of t@2 that t@3 lists too stays; the others go. */
    must_write(r, "t", "SELECT i AS id, i * 3 AS v, 'y' || i AS name FROM range(5000) t(i)", key,
               NULL);
    hexset p4 = {0};
    REQUIRE(patches_of(r, "t", 4, &p4) == 0);
    udr_expire_opts keep2 = {-1, 2, NULL, 0, NULL, NULL};
    udr_expire_report er;
    MUST(r, udr_expire(r, &keep2, &er));
    CHECK_INT(er.expired, ==, 2);
    MUST(r, udr_gc(r, &now, &rep));
    size_t freed = 0;
    for (size_t i = 0; i < p2.n; i++) {
        int shared = hexset_has(&p3, p2.hex[i]);
        CHECK_INT(present(r, p2.hex[i]), ==, shared);
        freed += !shared;
    }
    for (size_t i = 0; i < p3.n; i++)
        CHECK(present(r, p3.hex[i]));
    CHECK_STR(content_of(r, 3), before[3]);
    CHECK_CONTAINS(content_of(r, 4), "5000/37492500/");
    udr_fsck_stats fs;
    MUST(r, udr_fsck_v2(r, &(udr_fsck_opts){UDR_FSCK_DEEP, NULL, NULL, NULL}, &fs));
    CHECK_INT(fs.problems, ==, 0);

    /* t@3 expires too: nothing lists its patches now, and GC frees them. */
    udr_expire_opts keep1 = {-1, 1, NULL, 0, NULL, NULL};
    MUST(r, udr_expire(r, &keep1, &er));
    CHECK_INT(er.expired, ==, 1);
    MUST(r, udr_gc(r, &now, &rep));
    for (size_t i = 0; i < p3.n; i++)
        CHECK(!present(r, p3.hex[i]));
    CHECK(rep.removed >= p3.n);
    printf("    %zu + %zu patches; %zu of t@2's freed with it, t@3's with t@3\n", p2.n, p3.n,
           freed);
    CHECK_CONTAINS(content_of(r, 4), "5000/37492500/");
    MUST(r, udr_fsck_v2(r, &(udr_fsck_opts){UDR_FSCK_DEEP, NULL, NULL, NULL}, &fs));
    CHECK_INT(fs.problems, ==, 0);
    hexset_free(&p2);
    hexset_free(&p3);
    hexset_free(&p4);
    udr_close(r);
}

static const test_case TESTS[] = {
    TEST_ENTRY(test_gc_frees_exactly_the_unreferenced),
    TEST_ENTRY(test_gc_grace_and_freshened_objects),
    TEST_ENTRY(test_gc_stops_on_an_unreadable_version),
    TEST_ENTRY(test_gc_puts_back_what_a_commit_took),
    TEST_ENTRY(test_gc_races_a_writer),
    TEST_ENTRY(test_gc_and_expire_race_a_writer),
    TEST_ENTRY(test_expire_then_gc_frees_exactly_the_unreachable),
    TEST_ENTRY(test_expire_refuses_and_reports),
    TEST_ENTRY(test_merge_over_an_expired_base_says_so),
    TEST_ENTRY(test_gc_keeps_patches_of_kept_versions),
};

HARNESS_MAIN("gc", TESTS)
