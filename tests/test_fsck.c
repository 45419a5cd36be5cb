/*
 * test_fsck — udr fsck finds every fault a test plants, and names it.
 *
 * Each test makes a fresh repository (two tables, a few versions, a delete
 * file, a branch, a tag, a subscription), plants one fault in its files,
 * and checks that fsck reports it with the table, version, object or log
 * record concerned, that it counts as a problem, and that fsck changed
 * nothing on disk (the log's files and the objects are byte for byte what
 * they were). A fault in the log makes the repository refuse a normal open:
 * those are checked through a read-only salvage open, as `udr fsck` does.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "catalog.h"
#include "hash.h"
#include "repo.h"
#include "store.h"
#include "udrtest.h"

/* ---- what fsck reported ---------------------------------------------------- */

enum { MAX_PROBLEMS = 32 };

typedef struct seen_problem {
    int code;
    char what[32], table[64], object[UDR_HASH_HEX + 1], path[128], message[2048];
    uint64_t version, record;
} seen_problem;

typedef struct report {
    int n;
    seen_problem p[MAX_PROBLEMS];
    udr_fsck_stats st;
    int progress_calls, deep_progress;
} report;

static void on_problem(void *ctx, const udr_fsck_problem *p)
{
    report *r = ctx;
    if (r->n >= MAX_PROBLEMS)
        return;
    seen_problem *s = &r->p[r->n++];
    s->code = p->code;
    snprintf(s->what, sizeof s->what, "%s", p->what);
    snprintf(s->table, sizeof s->table, "%s", p->table ? p->table : "");
    snprintf(s->object, sizeof s->object, "%s", p->object ? p->object : "");
    snprintf(s->path, sizeof s->path, "%s", p->path ? p->path : "");
    snprintf(s->message, sizeof s->message, "%s", p->message);
    s->version = p->version;
    s->record = p->record;
}

static void on_progress(void *ctx, const udr_fsck_stats *st)
{
    report *r = ctx;
    r->progress_calls++;
    r->deep_progress += st->phase == UDR_FSCK_PHASE_DEEP && st->chunks_read > 0;
}

static void dump(const report *rep)
{
    for (int i = 0; i < rep->n; i++)
        fprintf(stderr, "  problem %d: [%s] %s\n", i, rep->p[i].what, rep->p[i].message);
}

static void run_fsck(udr_repo *r, int flags, report *rep)
{
    memset(rep, 0, sizeof *rep);
    udr_fsck_opts o = {flags, on_problem, on_progress, rep};
    MUST(r, udr_fsck_v2(r, &o, &rep->st));
    CHECK_INT(rep->st.problems, ==, rep->n);
    CHECK(rep->progress_calls > 0);
}

/* The one problem of rep that is about `what`; fails the test if there is
 * not exactly one. */
static const seen_problem *the_problem(const report *rep, const char *what)
{
    const seen_problem *found = NULL;
    int n = 0;
    for (int i = 0; i < rep->n; i++)
        if (strcmp(rep->p[i].what, what) == 0) {
            found = &rep->p[i];
            n++;
        }
    if (n != 1) {
        dump(rep);
        harness_fail(__FILE__, __LINE__, "expected one problem about a %s, got %d", what, n);
        harness_abort_test();
    }
    return found;
}

/* ---- the repository and its files ------------------------------------------ */

static const char *const KEY[] = {"id", NULL};

/* users v1, v2 (an UPDATE: a delete file and a one-row chunk), v3 (an
 * append); events v1; a branch "feature" and a tag "v1" at main's head; a
 * subscription "dash" on users. checkpoint_every > 0 starts new log
 * segments that often. */
static udr_repo *fixture(uint64_t checkpoint_every)
{
    udr_repo *r = new_repo();
    if (checkpoint_every > 0)
        r->cat.checkpoint_every = checkpoint_every;
    must_write(r, "users", "SELECT range AS id, 'name' || range AS name FROM range(200)", KEY,
               NULL);
    CHECK_STR(value(r, "UPDATE users SET name = 'changed' WHERE id = 7"), "1");
    MUST(r, udr_table_append(r, "users", "SELECT 1000 AS id, 'late' AS name", NULL, NULL));
    must_write(r, "events", "SELECT range AS n, range * 2 AS m FROM range(30)", NULL, NULL);
    MUST(r, udr_branch_create(r, "feature", NULL, "a branch"));
    MUST(r, udr_tag_create(r, "v1", NULL, "a tag"));
    const char *tables[] = {"users"};
    MUST(r, udr_sub_create(r, "dash", tables, 1, NULL, NULL));
    return r;
}

static cat_tablever version_of(udr_repo *r, const char *table, uint64_t version, udr_hash *tvh)
{
    const cat_version *cv = catalog_version(&r->cat, table, version);
    REQUIRE(cv != NULL);
    cat_tablever tv;
    MUST(r, catalog_read_tablever(&r->cat, &cv->hash, &tv));
    if (tvh != NULL)
        *tvh = cv->hash;
    return tv;
}

static const char *object_file(udr_repo *r, const udr_hash *h)
{
    static char path[PATH_MAX];
    REQUIRE(store_object_path(repo_store(r), h, path, sizeof path) == 0);
    return path;
}

static void flip_byte_at(const char *path, off_t at)
{
    REQUIRE(chmod(path, 0644) == 0);
    int fd = open(path, O_RDWR);
    REQUIRE(fd >= 0);
    unsigned char b;
    REQUIRE(pread(fd, &b, 1, at) == 1);
    b ^= 0x20;
    REQUIRE(pwrite(fd, &b, 1, at) == 1);
    close(fd);
}

static off_t size_of(const char *path)
{
    struct stat st;
    REQUIRE(stat(path, &st) == 0);
    return st.st_size;
}

static void flip_byte(const char *path)
{
    flip_byte_at(path, size_of(path) / 2);
}

static void hex(const udr_hash *h, char out[UDR_HASH_HEX + 1])
{
    udr_hash_to_hex(h, out);
}

/* A digest of every file of the log and of the names and bytes of every
 * object: what fsck must leave as it found. */
typedef char entry_name[256];

static int cmp_name(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void digest_dir(const char *dir, udr_hash *acc)
{
    DIR *d = opendir(dir);
    REQUIRE(d != NULL);
    entry_name *names = calloc(1024, sizeof *names);
    REQUIRE(names != NULL);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL && n < 1024)
        if (de->d_name[0] != '.' && strlen(de->d_name) < sizeof names[0])
            memcpy(names[n++], de->d_name, strlen(de->d_name) + 1);
    closedir(d);
    qsort(names, (size_t)n, sizeof names[0], cmp_name);
    for (int i = 0; i < n; i++) {
        char path[PATH_MAX];
        if ((size_t)snprintf(path, sizeof path, "%s/%.255s", dir, names[i]) >= sizeof path)
            harness_abort_test();
        struct stat st;
        REQUIRE(stat(path, &st) == 0);
        if (S_ISDIR(st.st_mode)) {
            digest_dir(path, acc);
            continue;
        }
        /* acc = hash(acc | name | bytes) */
        size_t len = (size_t)st.st_size, nl = strlen(names[i]);
        unsigned char *data = malloc(UDR_HASH_BYTES + nl + len + 1);
        REQUIRE(data != NULL);
        memcpy(data, acc->bytes, UDR_HASH_BYTES);
        memcpy(data + UDR_HASH_BYTES, names[i], nl);
        int fd = open(path, O_RDONLY);
        REQUIRE(fd >= 0);
        REQUIRE(read(fd, data + UDR_HASH_BYTES + nl, len) == (ssize_t)len);
        close(fd);
        udr_hash_buffer(data, UDR_HASH_BYTES + nl + len, acc);
        free(data);
    }
    free(names);
}

static udr_hash digest(void)
{
    udr_hash acc;
    memset(&acc, 0, sizeof acc);
    digest_dir(t_path("repo/log"), &acc);
    digest_dir(t_path("repo/objects"), &acc);
    return acc;
}

/* Closes r and checks the repository as `udr fsck` does: a read-only
 * salvage open, the check, the files unchanged. */
static void fsck_closed(udr_repo *r, int flags, report *rep)
{
    udr_close(r);
    udr_hash before = digest();
    udr_repo *ro;
    int rc = udr_open_v2(t_path("repo"), UDR_OPEN_READONLY | UDR_OPEN_SALVAGE, &ro);
    if (rc != UDR_OK)
        harness_fail(__FILE__, __LINE__, "salvage open: %s", udr_errmsg(ro));
    REQUIRE(rc == UDR_OK);
    run_fsck(ro, flags, rep);
    udr_close(ro);
    udr_hash after = digest();
    CHECK(hash_equal(&before, &after));
}

/* ---- a clean repository ---------------------------------------------------- */

static void test_clean_repository_deep_finds_nothing(void)
{
    udr_repo *r = fixture(0);
    cat_tablever v2 = version_of(r, "users", 2, NULL);
    CHECK_INT(v2.ndeletes, ==, 1);             /* the fixture has a delete file */
    catv_free(&v2);
    report rep;
    fsck_closed(r, UDR_FSCK_DEEP, &rep);
    if (rep.n != 0)
        dump(&rep);
    CHECK_INT(rep.n, ==, 0);
    CHECK(rep.st.log_records >= 7);
    CHECK_INT(rep.st.log_segments, ==, 1);
    /* users: v1's chunks, v2's new chunk and delete file, v3's chunk;
     * events: its chunks. Every one read in full. */
    CHECK(rep.st.chunks_read >= 5);
    CHECK(rep.st.chunk_bytes_read > 0);
    CHECK(rep.deep_progress > 0);
    /* Without --deep, nothing is read through DuckDB. */
    REQUIRE(udr_open(t_path("repo"), &r) == UDR_OK);
    run_fsck(r, 0, &rep);
    CHECK_INT(rep.n, ==, 0);
    CHECK_INT(rep.st.chunks_read, ==, 0);
    /* Unknown flags are refused. */
    udr_fsck_opts bad = {0x100, NULL, NULL, NULL};
    CHECK_INT(udr_fsck_v2(r, &bad, NULL), ==, UDR_EINVAL);
    udr_close(r);
}

/* ---- objects --------------------------------------------------------------- */

static void test_flipped_byte_in_chunk(void)
{
    udr_repo *r = fixture(0);
    cat_tablever tv = version_of(r, "events", 1, NULL);
    udr_hash chunk = tv.chunks[0].hash;
    catv_free(&tv);
    char h[UDR_HASH_HEX + 1];
    hex(&chunk, h);
    flip_byte(object_file(r, &chunk));
    report rep;
    fsck_closed(r, UDR_FSCK_DEEP, &rep);
    CHECK_INT(rep.n, ==, 1);                   /* once, not again by the deep pass */
    const seen_problem *p = the_problem(&rep, "chunk");
    CHECK_INT(p->code, ==, UDR_ECORRUPT);
    CHECK_STR(p->object, h);
    CHECK_STR(p->table, "events");
    CHECK_INT(p->version, ==, 1);
    CHECK_CONTAINS(p->message, "table events version 1: its chunk");
    CHECK_CONTAINS(p->message, h);
    CHECK_CONTAINS(p->message, "corrupt");
    CHECK_CONTAINS(p->path, "objects/");
}

/* A chunk many versions share is reported once, by its first version, with
 * the count of the others. */
static void test_shared_chunk_reported_once(void)
{
    udr_repo *r = fixture(0);
    cat_tablever tv = version_of(r, "users", 1, NULL);
    udr_hash chunk = tv.chunks[tv.nchunks - 1].hash;
    catv_free(&tv);
    flip_byte(object_file(r, &chunk));
    report rep;
    fsck_closed(r, 0, &rep);
    CHECK_INT(rep.n, ==, 1);
    const seen_problem *p = the_problem(&rep, "chunk");
    CHECK_STR(p->table, "users");
    CHECK_INT(p->version, ==, 1);
    CHECK_CONTAINS(p->message, "table users version 1: its chunk");
    CHECK_CONTAINS(p->message, "other reference");
}

static void test_truncated_chunk(void)
{
    udr_repo *r = fixture(0);
    cat_tablever tv = version_of(r, "users", 3, NULL);
    udr_hash chunk = tv.chunks[tv.nchunks - 1].hash;   /* v3's own (the append) */
    catv_free(&tv);
    char h[UDR_HASH_HEX + 1];
    hex(&chunk, h);
    const char *path = object_file(r, &chunk);
    REQUIRE(chmod(path, 0644) == 0);
    REQUIRE(truncate(path, size_of(path) - 20) == 0);
    report rep;
    fsck_closed(r, UDR_FSCK_DEEP, &rep);
    CHECK_INT(rep.n, ==, 1);
    const seen_problem *p = the_problem(&rep, "chunk");
    CHECK_STR(p->object, h);
    CHECK_STR(p->table, "users");
    CHECK_INT(p->version, ==, 3);
    CHECK_CONTAINS(p->message, "table users version 3: its chunk");
    CHECK_CONTAINS(p->message, "truncated");
}

static void test_missing_chunk_and_delete_file(void)
{
    udr_repo *r = fixture(0);
    cat_tablever tv = version_of(r, "users", 2, NULL);
    REQUIRE(tv.ndeletes == 1);
    udr_hash del = tv.deletes[0].hash, chunk = tv.chunks[tv.nchunks - 1].hash;
    catv_free(&tv);
    char dh[UDR_HASH_HEX + 1];
    hex(&del, dh);
    REQUIRE(unlink(object_file(r, &del)) == 0);
    REQUIRE(unlink(object_file(r, &chunk)) == 0);
    report rep;
    fsck_closed(r, 0, &rep);
    CHECK_INT(rep.n, ==, 2);
    const seen_problem *p = the_problem(&rep, "delete file");
    CHECK_INT(p->code, ==, UDR_ENOTFOUND);
    CHECK_STR(p->object, dh);
    CHECK_INT(p->version, ==, 2);
    CHECK_CONTAINS(p->message, "table users version 2: its delete file");
    CHECK_CONTAINS(p->message, "is missing");
    p = the_problem(&rep, "chunk");
    CHECK_CONTAINS(p->message, "table users version 2: its chunk");
    CHECK_CONTAINS(p->message, "(1 rows) is missing");
}

static void test_flipped_byte_in_table_version(void)
{
    udr_repo *r = fixture(0);
    udr_hash tvh;
    cat_tablever tv = version_of(r, "users", 2, &tvh);
    catv_free(&tv);
    char h[UDR_HASH_HEX + 1];
    hex(&tvh, h);
    flip_byte(object_file(r, &tvh));
    report rep;
    fsck_closed(r, 0, &rep);
    CHECK_INT(rep.n, ==, 1);
    const seen_problem *p = the_problem(&rep, "table version");
    CHECK_INT(p->code, ==, UDR_ECORRUPT);
    CHECK_STR(p->object, h);
    CHECK_STR(p->table, "users");
    CHECK_INT(p->version, ==, 2);
    CHECK_CONTAINS(p->message, "table users version 2: its table version");
    CHECK_CONTAINS(p->message, "damaged");
}

static void test_missing_table_version(void)
{
    udr_repo *r = fixture(0);
    udr_hash tvh;
    cat_tablever tv = version_of(r, "events", 1, &tvh);
    catv_free(&tv);
    REQUIRE(unlink(object_file(r, &tvh)) == 0);
    report rep;
    fsck_closed(r, 0, &rep);
    CHECK_INT(rep.n, ==, 1);
    const seen_problem *p = the_problem(&rep, "table version");
    CHECK_INT(p->code, ==, UDR_ENOTFOUND);
    CHECK_INT(p->version, ==, 1);
    CHECK_CONTAINS(p->message, "table events version 1: its table version");
    CHECK_CONTAINS(p->message, "missing");
}

static void test_flipped_byte_in_commit(void)
{
    udr_repo *r = fixture(0);
    REQUIRE(r->cat.nhist >= 4);
    /* users v1's commit: no branch or tag is at it. */
    udr_hash commit = r->cat.history[0].commit;
    uint64_t seq = r->cat.history[0].seq;
    char h[UDR_HASH_HEX + 1], rec[64];
    hex(&commit, h);
    snprintf(rec, sizeof rec, "log record %llu: its commit", (unsigned long long)seq);
    flip_byte(object_file(r, &commit));
    report rep;
    fsck_closed(r, 0, &rep);
    CHECK_INT(rep.n, ==, 1);
    const seen_problem *p = the_problem(&rep, "commit");
    CHECK_STR(p->object, h);
    CHECK_INT(p->record, ==, seq);
    CHECK_CONTAINS(p->message, rec);
    CHECK_CONTAINS(p->message, "damaged");
}

/* An object that is not Parquet, committed as the chunk of a version with
 * columns (a table version written by hand: udr_table_commit_chunks would
 * make it a raw version, which holds no rows and is not checked so). */
static void test_not_parquet_committed_as_chunk(void)
{
    udr_repo *r = fixture(0);
    udr_hash junk, tvh;
    MUST(r, store_put(repo_store(r), "this is not a parquet file at all", 33, &junk));
    cat_column col = {"a", "INTEGER"};
    cat_chunk ch = {junk, 5, 33, 0, 0, 0};
    cat_tablever tv = {0};
    tv.rows = 5;
    tv.cols = &col;
    tv.ncols = 1;
    tv.chunks = &ch;
    tv.nchunks = 1;
    size_t len;
    char *enc = catv_encode(&tv, &len);
    REQUIRE(enc != NULL);
    MUST(r, store_put(repo_store(r), enc, len, &tvh));
    free(enc);
    cat_change change = {"bogus", &tvh, 0};
    MUST(r, catalog_commit(&r->cat, "by hand", "tester", &change, 1, NULL));
    char h[UDR_HASH_HEX + 1];
    hex(&junk, h);
    report rep;
    fsck_closed(r, 0, &rep);
    CHECK_INT(rep.n, ==, 1);
    const seen_problem *p = the_problem(&rep, "chunk");
    CHECK_STR(p->object, h);
    CHECK_STR(p->table, "bogus");
    CHECK_INT(p->version, ==, 1);
    CHECK_CONTAINS(p->message, "table bogus version 1: its chunk");
    CHECK_CONTAINS(p->message, "not a Parquet file");
}

/* A Parquet chunk whose version records the wrong row count: only --deep
 * reads the rows and sees it. */
static void test_deep_finds_wrong_row_count(void)
{
    udr_repo *r = fixture(0);
    cat_tablever ev = version_of(r, "events", 1, NULL);
    REQUIRE(ev.nchunks == 1 && ev.chunks[0].rows == 30);
    udr_hash tvh, chunk = ev.chunks[0].hash;
    ev.chunks[0].rows = 31;
    ev.rows = 31;
    size_t len;
    char *enc = catv_encode(&ev, &len);
    catv_free(&ev);
    REQUIRE(enc != NULL);
    MUST(r, store_put(repo_store(r), enc, len, &tvh));
    free(enc);
    cat_change change = {"events", &tvh, 0};
    MUST(r, catalog_commit(&r->cat, "wrong count", "tester", &change, 1, NULL));
    report rep;
    fsck_closed(r, 0, &rep);
    CHECK_INT(rep.n, ==, 0);                   /* the bytes are fine */
    REQUIRE(udr_open_v2(t_path("repo"), UDR_OPEN_READONLY, &r) == UDR_OK);
    run_fsck(r, UDR_FSCK_DEEP, &rep);
    udr_close(r);
    CHECK_INT(rep.n, ==, 1);
    char h[UDR_HASH_HEX + 1];
    hex(&chunk, h);
    const seen_problem *p = the_problem(&rep, "chunk");
    CHECK_STR(p->object, h);
    CHECK_INT(p->version, ==, 2);
    CHECK_CONTAINS(p->message, "table events version 2: its chunk");
    CHECK_CONTAINS(p->message, "holds 30 rows, but the version records 31");
}

/* An unreferenced object with a flipped byte is still reported, as such. */
static void test_unreferenced_corrupt_object(void)
{
    udr_repo *r = fixture(0);
    udr_hash h;
    MUST(r, udr_object_put(r, "a leftover of a failed write", 28, &h));
    flip_byte(object_file(r, &h));
    char x[UDR_HASH_HEX + 1];
    hex(&h, x);
    report rep;
    fsck_closed(r, 0, &rep);
    CHECK_INT(rep.n, ==, 1);
    const seen_problem *p = the_problem(&rep, "object");
    CHECK_STR(p->object, x);
    CHECK_CONTAINS(p->message, "nothing in the log refers to it");
}

/* ---- branches, tags ------------------------------------------------------ */

/* A commit object that nothing in the history names, set as a branch head
 * and a tag, then lost. */
static udr_hash lone_commit(udr_repo *r, const char *message)
{
    cat_commit cm = {0};
    cm.time_us = 1;
    cm.author = (char *)"tester";
    cm.message = (char *)message;
    size_t len;
    char *enc = catc_encode(&cm, &len);
    REQUIRE(enc != NULL);
    udr_hash h;
    MUST(r, store_put(repo_store(r), enc, len, &h));
    free(enc);
    return h;
}

static void test_dangling_branch(void)
{
    udr_repo *r = fixture(0);
    udr_hash c = lone_commit(r, "ghost head");
    cat_ref_change rc = {CAT_REF_BRANCH, "ghost", &c, "", 1, 0, 0, {{0}}};
    MUST(r, catalog_set_ref(&r->cat, &rc));
    REQUIRE(unlink(object_file(r, &c)) == 0);
    char h[UDR_HASH_HEX + 1];
    hex(&c, h);
    udr_close(r);
    /* A normal open marks the branch broken and goes on: the rest of the
     * repository reads and writes; the branch says why it cannot be used,
     * naming the commit, and can be deleted with force. */
    REQUIRE(udr_open(t_path("repo"), &r) == UDR_OK);
    CHECK_STR(value(r, "SELECT count(*) FROM users"), "201");
    CHECK_STR(value(r, "SELECT count(*) FROM \"users@feature\""), "201");
    CHECK_STR(value(r, "INSERT INTO events VALUES (100, 200)"), "1");
    const char *got = value(r, "SELECT count(*) FROM \"users@ghost\"");
    CHECK_CONTAINS(got, "branch ghost cannot be used: its head, commit");
    CHECK_CONTAINS(got, h);
    CHECK_INT(udr_use_branch(r, "ghost"), ==, UDR_ECORRUPT);
    CHECK_CONTAINS(udr_errmsg(r), "branch ghost cannot be used");
    CHECK_INT(udr_branch_create(r, "copy", "ghost", NULL), ==, UDR_ECORRUPT);
    udr_branch_info *bl;
    size_t nb;
    MUST(r, udr_branch_list(r, &bl, &nb));
    int seen_broken = 0;
    for (size_t i = 0; i < nb; i++) {
        if (strcmp(bl[i].name, "ghost") == 0) {
            seen_broken = 1;
            CHECK(bl[i].broken != NULL && strstr(bl[i].broken, h) != NULL);
        } else {
            CHECK(bl[i].broken == NULL);
        }
    }
    CHECK(seen_broken);
    udr_branch_info_free(bl, nb);
    CHECK_INT(udr_branch_delete(r, "ghost", 0), ==, UDR_ECORRUPT);
    report rep;
    fsck_closed(r, 0, &rep);
    CHECK_INT(rep.n, ==, 1);
    const seen_problem *p = the_problem(&rep, "branch");
    CHECK_INT(p->code, ==, UDR_ENOTFOUND);
    CHECK_STR(p->object, h);
    CHECK_CONTAINS(p->message, "branch ghost: its head, commit");
    CHECK_CONTAINS(p->message, "missing");
    /* Deleted with force, the branch is gone and fsck finds nothing. */
    REQUIRE(udr_open(t_path("repo"), &r) == UDR_OK);
    MUST(r, udr_branch_delete(r, "ghost", 1));
    fsck_closed(r, 0, &rep);
    CHECK_INT(rep.n, ==, 0);
}

static void test_dangling_tag(void)
{
    udr_repo *r = fixture(0);
    udr_hash c = lone_commit(r, "ghost tag");
    cat_ref_change rc = {CAT_REF_TAG, "gone", &c, "msg", 1, 0, 0, {{0}}};
    MUST(r, catalog_set_ref(&r->cat, &rc));
    flip_byte(object_file(r, &c));
    char h[UDR_HASH_HEX + 1];
    hex(&c, h);
    report rep;
    fsck_closed(r, 0, &rep);
    CHECK_INT(rep.n, ==, 1);
    const seen_problem *p = the_problem(&rep, "tag");
    CHECK_INT(p->code, ==, UDR_ECORRUPT);
    CHECK_STR(p->object, h);
    CHECK_CONTAINS(p->message, "tag gone: its commit");
    CHECK_CONTAINS(p->message, "damaged");
}

/* The commit a branch head and a tag share, lost: each is named. */
static void test_lost_head_names_branch_and_tag(void)
{
    udr_repo *r = fixture(0);
    const cat_tag *t = catalog_tag(&r->cat, "v1");
    REQUIRE(t != NULL);
    udr_hash c = t->commit;
    REQUIRE(unlink(object_file(r, &c)) == 0);
    report rep;
    fsck_closed(r, 0, &rep);
    const seen_problem *p = the_problem(&rep, "tag");
    CHECK_CONTAINS(p->message, "tag v1: its commit");
    int branches = 0;
    for (int i = 0; i < rep.n; i++)
        if (strcmp(rep.p[i].what, "branch") == 0) {
            branches++;
            CHECK(strstr(rep.p[i].message, "branch main:") != NULL ||
                  strstr(rep.p[i].message, "branch feature:") != NULL);
        }
    CHECK_INT(branches, ==, 2);
    (void)the_problem(&rep, "commit");         /* and its log record */
    CHECK_INT(rep.n, ==, 4);
}

/* ---- the log --------------------------------------------------------------- */

static const char *segment(uint64_t n)
{
    static char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/log/%016llx.seg", t_path("repo"), (unsigned long long)n);
    return path;
}

/* The byte offset of record i (0-based) in a segment file. */
static off_t record_offset(const char *path, int i)
{
    int fd = open(path, O_RDONLY);
    REQUIRE(fd >= 0);
    off_t at = LOG_HEADER_BYTES;
    for (int k = 0; k < i; k++) {
        unsigned char h[4];
        REQUIRE(pread(fd, h, 4, at) == 4);
        uint32_t n = (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16 |
                     (uint32_t)h[3] << 24;
        at += LOG_RECORD_HEADER_BYTES + n;
    }
    close(fd);
    return at;
}

static int record_count(const char *path)
{
    off_t size = size_of(path);
    int n = 0;
    while (record_offset(path, n) < size)
        n++;
    return n;
}

static void expect_log_damage(const report *rep, uint64_t seg, uint64_t seq)
{
    char name[64], rec[64];
    snprintf(name, sizeof name, "log/%016llx.seg", (unsigned long long)seg);
    snprintf(rec, sizeof rec, "log record %llu (segment %016llx", (unsigned long long)seq,
             (unsigned long long)seg);
    const seen_problem *p = the_problem(rep, "log");
    CHECK_INT(p->code, ==, UDR_ECORRUPT);
    CHECK_STR(p->path, name);
    CHECK_INT(p->record, ==, seq);
    CHECK_CONTAINS(p->message, rec);
    CHECK_CONTAINS(p->message, "checksum");
}

static void test_flipped_byte_in_middle_log_record(void)
{
    udr_repo *r = fixture(0);
    udr_close(r);
    const char *seg = segment(1);
    int n = record_count(seg);
    REQUIRE(n >= 6);
    flip_byte_at(seg, record_offset(seg, 2) + LOG_RECORD_HEADER_BYTES + 3);
    off_t size = size_of(seg);
    CHECK_INT(udr_open(t_path("repo"), &r), ==, UDR_ECORRUPT);
    CHECK_CONTAINS(udr_errmsg(r), "record 3");
    CHECK_INT(size_of(seg), ==, size);         /* a writer's open cut nothing */
    report rep;
    fsck_closed(r, 0, &rep);
    expect_log_damage(&rep, 1, 3);
    CHECK_INT(rep.n, ==, 1);                   /* what comes before is intact */
    CHECK_INT(size_of(seg), ==, size);
}

/* The last record of the newest segment, synced (acknowledged) when its
 * commit returned: a flipped byte there is damage, not a torn write. Before
 * this was fixed, the next writer's open cut it, and the commit with it. */
static void test_flipped_byte_in_last_log_record(void)
{
    udr_repo *r = fixture(0);
    must_write(r, "last", "SELECT 42 AS answer", NULL, NULL);
    udr_close(r);
    const char *seg = segment(1);
    int n = record_count(seg);
    off_t size = size_of(seg);
    flip_byte_at(seg, record_offset(seg, n - 1) + LOG_RECORD_HEADER_BYTES + 2);
    CHECK_INT(udr_open(t_path("repo"), &r), ==, UDR_ECORRUPT);
    CHECK_CONTAINS(udr_errmsg(r), "not a torn write");
    udr_close(r);
    CHECK_INT(size_of(seg), ==, size);         /* not cut */
    r = NULL;
    report rep;
    udr_repo *ro;
    REQUIRE(udr_open_v2(t_path("repo"), UDR_OPEN_READONLY | UDR_OPEN_SALVAGE, &ro) == UDR_OK);
    /* The salvage open sees everything before the damaged record. */
    CHECK_STR(value(ro, "SELECT count(*) FROM events"), "30");
    CHECK_INT(udr_table_write(ro, "x", "SELECT 1", NULL, NULL), ==, UDR_EPERM);
    fsck_closed(ro, 0, &rep);
    expect_log_damage(&rep, 1, (uint64_t)n);
    CHECK_CONTAINS(rep.p[0].message, "last record");
    CHECK_INT(rep.n, ==, 1);
    CHECK_INT(size_of(seg), ==, size);
}

/* A torn tail a crash left (a record past the durable mark) is not
 * damage: fsck does not report it, and does not cut it either. */
static void test_torn_tail_not_a_problem_and_not_cut(void)
{
    udr_repo *r = fixture(0);
    udr_close(r);
    const char *seg = segment(1);
    int fd = open(seg, O_WRONLY | O_APPEND);
    REQUIRE(fd >= 0);
    unsigned char torn[14] = {100, 0, 0, 0, 1, 2, 3, 4, 'p', 'a', 'r', 't'};
    REQUIRE(write(fd, torn, sizeof torn) == (ssize_t)sizeof torn);
    close(fd);
    off_t size = size_of(seg);
    report rep;
    REQUIRE(udr_open_v2(t_path("repo"), UDR_OPEN_READONLY, &r) == UDR_OK);
    fsck_closed(r, 0, &rep);
    CHECK_INT(rep.n, ==, 0);
    CHECK_INT(size_of(seg), ==, size);
    /* A writer's open cuts it, as before. */
    REQUIRE(udr_open(t_path("repo"), &r) == UDR_OK);
    udr_open_report op;
    udr_open_report_get(r, &op);
    CHECK_INT(op.torn_log_bytes, ==, sizeof torn);
    udr_close(r);
    CHECK_INT(size_of(seg), ==, size - (off_t)sizeof torn);
}

/* A record of an old segment (before a checkpoint): opening reads only the
 * newest segment, so the repository opens; fsck reads them all. */
static void test_flipped_byte_in_old_segment(void)
{
    udr_repo *r = fixture(3);
    for (int i = 0; i < 4; i++)
        must_write(r, "more", "SELECT range AS k FROM range(5)", NULL, NULL);
    udr_close(r);
    struct stat st;
    REQUIRE(stat(segment(2), &st) == 0);       /* checkpoints made segments */
    const char *seg = segment(1);
    int n = record_count(seg);
    REQUIRE(n >= 2);
    uint64_t seq = (uint64_t)n;                /* segment 1 starts at record 1 */
    flip_byte_at(seg, record_offset(seg, n - 1) + LOG_RECORD_HEADER_BYTES + 2);
    REQUIRE(udr_open(t_path("repo"), &r) == UDR_OK);
    report rep;
    fsck_closed(r, 0, &rep);
    expect_log_damage(&rep, 1, seq);
    /* The history cannot be replayed past it: fsck says what it followed
     * (the references of the newest segment, which are intact). */
    const seen_problem *p = the_problem(&rep, "history");
    CHECK_CONTAINS(p->message, "history cannot be read in full");
    CHECK_CONTAINS(p->message, "record 3");
    CHECK_INT(rep.n, ==, 2);
}

/* A subscription's cursor past the log's end. */
static void test_subscription_cursor_past_end(void)
{
    udr_repo *r = fixture(0);
    uint64_t last = udr_log_position(r);
    /* An acknowledgement the log's end later lost (written by hand). */
    catalog *c = &r->cat;
    for (size_t i = 0; i < c->nsubs; i++)
        if (strcmp(c->subs[i].name, "dash") == 0)
            c->subs[i].cursor = last + 5;
    report rep;
    run_fsck(r, 0, &rep);
    udr_close(r);
    const seen_problem *p = the_problem(&rep, "subscription");
    CHECK_CONTAINS(p->message, "subscription dash: its cursor");
    CHECK_INT(p->record, ==, last + 5);
    CHECK_INT(rep.n, ==, 1);
}

/* ---- column patches --------------------------------------------------------- */

/* The one problem of rep about the object hex; fails the test if not one. */
static const seen_problem *problem_with(const report *rep, const char *hex_)
{
    const seen_problem *found = NULL;
    int n = 0;
    for (int i = 0; i < rep->n; i++)
        if (strcmp(rep->p[i].object, hex_) == 0) {
            found = &rep->p[i];
            n++;
        }
    if (n != 1) {
        dump(rep);
        harness_fail(__FILE__, __LINE__, "expected one problem about %s, got %d", hex_, n);
        harness_abort_test();
    }
    return found;
}

/* t@1 (10,000 rows, key id), t@2 and t@3: UPDATEs of its BIGINT column v
 * alone, which store patches. */
static udr_repo *patched(void)
{
    udr_repo *r = new_repo();
    must_write(r, "t", "SELECT i AS id, i * 2 AS v, 'x' || i AS name FROM range(10000) t(i)", KEY,
               NULL);
    CHECK_STR(value(r, "UPDATE t SET v = v + 1 WHERE id % 100 = 0"), "100");
    CHECK_STR(value(r, "UPDATE t SET v = -v WHERE id % 1000 = 7"), "10");
    return r;
}

/* A patch is checked like a chunk: a clean one is read in full by --deep; a
 * damaged one and a missing one are named "patch", with the table and
 * version that list them and their hashes. */
static void test_flipped_and_missing_patch(void)
{
    udr_repo *r = patched();
    cat_tablever v2 = version_of(r, "t", 2, NULL), v3 = version_of(r, "t", 3, NULL);
    REQUIRE(v2.npatches > 0);                  /* the UPDATEs made patches */
    REQUIRE(v3.npatches > 0);
    udr_hash flipped = v2.patches[0].hash, missing = v3.patches[v3.npatches - 1].hash;
    REQUIRE(!hash_equal(&flipped, &missing));
    uint64_t missing_rows = v3.patches[v3.npatches - 1].rows;
    size_t objects = v3.nchunks + v3.npatches;
    catv_free(&v2);
    catv_free(&v3);
    report rep;
    run_fsck(r, UDR_FSCK_DEEP, &rep);
    if (rep.n != 0)
        dump(&rep);
    CHECK_INT(rep.n, ==, 0);
    CHECK(rep.st.chunks_read >= objects);       /* the patches were read too */

    char fh[UDR_HASH_HEX + 1], mh[UDR_HASH_HEX + 1], want[UDR_HASH_HEX + 64];
    hex(&flipped, fh);
    hex(&missing, mh);
    flip_byte(object_file(r, &flipped));
    REQUIRE(unlink(object_file(r, &missing)) == 0);
    fsck_closed(r, UDR_FSCK_DEEP, &rep);
    CHECK_INT(rep.n, ==, 2);                   /* once each, not again by --deep */
    const seen_problem *p = problem_with(&rep, fh);
    CHECK_STR(p->what, "patch");
    CHECK_INT(p->code, ==, UDR_ECORRUPT);
    CHECK_STR(p->table, "t");
    CHECK_INT(p->version, ==, 2);
    snprintf(want, sizeof want, "patch %s", fh);
    CHECK_CONTAINS(p->message, "table t version 2: its patch");
    CHECK_CONTAINS(p->message, want);
    CHECK_CONTAINS(p->message, "corrupt");
    CHECK_CONTAINS(p->path, "objects/");
    p = problem_with(&rep, mh);
    CHECK_STR(p->what, "patch");
    CHECK_INT(p->code, ==, UDR_ENOTFOUND);
    CHECK_STR(p->table, "t");
    CHECK_INT(p->version, ==, 3);
    snprintf(want, sizeof want, "patch %s (%llu rows) is missing", mh,
             (unsigned long long)missing_rows);
    CHECK_CONTAINS(p->message, "table t version 3: its patch");
    CHECK_CONTAINS(p->message, want);
}

/* Commits under table `name` a copy of t@2 whose patch records rows and
 * cols instead; returns the patch's hash (hex) and its true row count. */
static uint64_t commit_wrong_patch(udr_repo *r, const char *name, int64_t more_rows,
                                   uint64_t more_cols, char ph[UDR_HASH_HEX + 1])
{
    cat_tablever tv = version_of(r, "t", 2, NULL);
    REQUIRE(tv.npatches == 1);
    REQUIRE(tv.patches[0].cols == 2);          /* v, column 1 (name is VARCHAR) */
    uint64_t rows = tv.patches[0].rows;
    hex(&tv.patches[0].hash, ph);
    tv.patches[0].rows = (uint64_t)((int64_t)rows + more_rows);
    tv.patches[0].cols |= more_cols;
    size_t len;
    char *enc = catv_encode(&tv, &len);
    catv_free(&tv);
    REQUIRE(enc != NULL);
    udr_hash tvh;
    MUST(r, store_put(repo_store(r), enc, len, &tvh));
    free(enc);
    cat_change change = {name, &tvh, 0};
    MUST(r, catalog_commit(&r->cat, "by hand", "tester", &change, 1, NULL));
    return rows;
}

/* A patch whose (later) version records the wrong row count: only --deep
 * reads it and sees that, and names that version. */
static void test_deep_finds_wrong_patch_rows(void)
{
    udr_repo *r = patched();
    char ph[UDR_HASH_HEX + 1], want[200];
    uint64_t rows = commit_wrong_patch(r, "t", 1, 0, ph);     /* t@4 */
    report rep;
    fsck_closed(r, 0, &rep);
    CHECK_INT(rep.n, ==, 0);                   /* the bytes are fine */
    REQUIRE(udr_open_v2(t_path("repo"), UDR_OPEN_READONLY, &r) == UDR_OK);
    run_fsck(r, UDR_FSCK_DEEP, &rep);
    udr_close(r);
    CHECK_INT(rep.n, ==, 1);
    const seen_problem *p = problem_with(&rep, ph);
    CHECK_STR(p->what, "patch");
    CHECK_STR(p->table, "t");
    CHECK_INT(p->version, ==, 4);
    snprintf(want, sizeof want, "table t version 4: its patch %s holds %llu rows, but the "
             "version records %llu", ph, (unsigned long long)rows, (unsigned long long)rows + 1);
    CHECK_CONTAINS(p->message, want);
}

/* A version that says its patch holds a column more than it does: --deep
 * compares the patch's columns with its version's. */
static void test_deep_finds_wrong_patch_columns(void)
{
    udr_repo *r = patched();
    char ph[UDR_HASH_HEX + 1];
    commit_wrong_patch(r, "u", 0, 4, ph);                     /* u@1: v and name */
    report rep;
    fsck_closed(r, 0, &rep);
    CHECK_INT(rep.n, ==, 0);
    REQUIRE(udr_open_v2(t_path("repo"), UDR_OPEN_READONLY, &r) == UDR_OK);
    run_fsck(r, UDR_FSCK_DEEP, &rep);
    udr_close(r);
    CHECK_INT(rep.n, ==, 1);
    const seen_problem *p = problem_with(&rep, ph);
    CHECK_STR(p->what, "patch");
    CHECK_STR(p->table, "u");
    CHECK_INT(p->version, ==, 1);
    CHECK_CONTAINS(p->message, "table u version 1: its patch");
    CHECK_CONTAINS(p->message, "holds 3 columns, but the version records 4");
}

static const test_case TESTS[] = {
    TEST_ENTRY(test_clean_repository_deep_finds_nothing),
    TEST_ENTRY(test_flipped_byte_in_chunk),
    TEST_ENTRY(test_shared_chunk_reported_once),
    TEST_ENTRY(test_truncated_chunk),
    TEST_ENTRY(test_missing_chunk_and_delete_file),
    TEST_ENTRY(test_flipped_byte_in_table_version),
    TEST_ENTRY(test_missing_table_version),
    TEST_ENTRY(test_flipped_byte_in_commit),
    TEST_ENTRY(test_not_parquet_committed_as_chunk),
    TEST_ENTRY(test_deep_finds_wrong_row_count),
    TEST_ENTRY(test_unreferenced_corrupt_object),
    TEST_ENTRY(test_dangling_branch),
    TEST_ENTRY(test_dangling_tag),
    TEST_ENTRY(test_lost_head_names_branch_and_tag),
    TEST_ENTRY(test_flipped_byte_in_middle_log_record),
    TEST_ENTRY(test_flipped_byte_in_last_log_record),
    TEST_ENTRY(test_torn_tail_not_a_problem_and_not_cut),
    TEST_ENTRY(test_flipped_byte_in_old_segment),
    TEST_ENTRY(test_subscription_cursor_past_end),
    TEST_ENTRY(test_flipped_and_missing_patch),
    TEST_ENTRY(test_deep_finds_wrong_patch_rows),
    TEST_ENTRY(test_deep_finds_wrong_patch_columns),
};
HARNESS_MAIN("fsck", TESTS)
