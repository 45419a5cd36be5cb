/*
 * fuzz_replay — the catalog's replay of log records (src/catalog.c,
 * catsub.c, catexp.c: apply_record and what it calls) on hostile payloads:
 * what opening a repository does with every record of its log.
 *
 * The input is a sequence of record payloads, each a u16 length
 * (little-endian) and that many bytes (the last one cut short at the end of
 * the input), at most MAX_RECORDS of them. They are appended with the log's
 * own writer (log_create, log_append: correct checksums) to a fresh segment 1
 * of a scratch repository, which is then opened (catalog_open replays every
 * record) and completed (catalog_complete). Errors are expected (a
 * malformed record is UDR_ECORRUPT, an unknown kind UDR_EFORMAT, a record
 * naming an object the store lacks UDR_ENOTFOUND), with a message; crashes,
 * leaks, undefined behaviour and a broken index are findings. After a
 * successful open, and again after catalog_complete, check_index verifies
 * the index's invariants (catalog.h) and aborts if one does not hold:
 *
 *   tables sorted by name, each a valid name with versions strictly
 *   ascending; a version is a drop exactly when its hash is zero; an
 *   expired version is not a drop; branches, tags and subscriptions sorted
 *   by name; main and the current branch exist; each branch's tables
 *   sorted; branch points and the history ascending by record number and
 *   never past the log's last record, a head being its last point; a
 *   subscription's cursor is not past the log's last record; every record
 *   was read; after catalog_complete the index is complete, its versions
 *   and expiries made by records of the log, each expiry after its version.
 *
 * So that commit and ref records can replay far, the scratch store holds a
 * few real objects, made with the catalog's own encoders at setup: two
 * table versions (TV1, TV2), a commit C1 (t1 version 1 = TV1) and its child
 * C2 (t1 version 2 = TV2, t2 version 1 = TV1), and a checkpoint naming C1.
 * Their hashes are fixed (the contents are), so the seed corpus can name
 * them. A record that begins with 2 (a checkpoint) starts a new segment
 * (log_start_segment), as a committer writes it, so that opening reads the
 * newest segment only, from its checkpoint, and catalog_complete reads
 * them all. FUZZ_REPLAY_SEEDS=DIR makes the target write its seeds to DIR and
 * exit (fuzz/corpus/replay/ was made so); FUZZ_REPLAY_VERBOSE=1 prints what
 * opening and completing said, run by run.
 *
 * The scratch repository lives in /dev/shm when there is one and is removed
 * at exit.
 */
#include <dirent.h>
#include <ftw.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "catalog.h"
#include "hash.h"
#include "log.h"
#include "store.h"
#include "util/buf.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { MAX_RECORDS = 64 };

static char repo[PATH_MAX];
static int verbose;                    /* $FUZZ_REPLAY_VERBOSE: say what each run did */
static udr_hash chunk_h, tv1_h, tv2_h, c1_h, c2_h, ckpt_h;

/* ---- the scratch repository ---------------------------------------------- */

static void path_of(char *out, size_t size, const char *rel)
{
    snprintf(out, size, "%s/%s", repo, rel);
}

static void remove_log(void)
{
    char dir[PATH_MAX + 16], path[PATH_MAX + 64];
    path_of(dir, sizeof dir, "log");
    DIR *dp = opendir(dir);
    if (dp == NULL)
        abort();
    struct dirent *de;
    while ((de = readdir(dp)) != NULL)
        if (de->d_name[0] != '.') {
            snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
            unlink(path);
        }
    closedir(dp);
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path) != 0 ? -1 : 0;
}

static void cleanup(void)
{
    if (repo[0] != '\0' && nftw(repo, remove_one, 16, FTW_DEPTH | FTW_PHYS) != 0)
        fprintf(stderr, "fuzz_replay: could not remove %s\n", repo);
}

static void must(int rc, const char *what, const udr_err *err)
{
    if (rc != UDR_OK) {
        fprintf(stderr, "fuzz_replay: setup: %s: %s\n", what, err->msg);
        abort();
    }
}

static void put_text(store *s, char *text, size_t len, udr_hash *out, udr_err *err)
{
    if (text == NULL)
        abort();
    must(store_put(s, text, len, out), "store_put", err);
    free(text);
}

static void setup(void)
{
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(repo, sizeof repo, "%s/udr-fuzz-replay-XXXXXX", base);
    if (mkdtemp(repo) == NULL)
        abort();
    atexit(cleanup);
    const char *dirs[] = {"objects", "tmp", "log"};
    for (size_t i = 0; i < 3; i++) {
        char dir[PATH_MAX + 16];
        path_of(dir, sizeof dir, dirs[i]);
        if (mkdir(dir, 0755) != 0)
            abort();
    }
    udr_err err = {0};
    store s;
    must(store_open(&s, repo, &err), "store_open", &err);
    must(store_put(&s, "not parquet", 11, &chunk_h), "store_put", &err);

    cat_column cols[] = {{"id", "BIGINT"}, {"name", "VARCHAR"}};
    char *key[] = {"id", NULL};
    cat_chunk ch = {chunk_h, 1, 11, 1, 1, 1};
    cat_tablever tv = {0, {{0}}, 1, cols, 2, key, 1, &ch, 1, NULL, 0, NULL, 0};
    size_t len;
    put_text(&s, catv_encode(&tv, &len), len, &tv1_h, &err);
    tv.has_parent = 1;
    tv.parent = tv1_h;
    tv.rows = 1;
    ch.lo = ch.hi = 2;
    put_text(&s, catv_encode(&tv, &len), len, &tv2_h, &err);

    cat_entry e1[] = {{"t1", 1, tv1_h}};
    cat_commit c1 = {0, {{{0}}}, 1000, "fuzz", "one", e1, 1};
    put_text(&s, catc_encode(&c1, &len), len, &c1_h, &err);
    cat_entry e2[] = {{"t1", 2, tv2_h}, {"t2", 1, tv1_h}};
    cat_commit c2 = {1, {c1_h}, 2000, "fuzz", "two", e2, 2};
    put_text(&s, catc_encode(&c2, &len), len, &c2_h, &err);

    /* A checkpoint as a committer writes it after record 1 (C1 on main). */
    char c1x[UDR_HASH_HEX + 1], tv1x[UDR_HASH_HEX + 1];
    hash_to_hex(&c1_h, c1x);
    hash_to_hex(&tv1_h, tv1x);
    buf b;
    buf_init(&b);
    buf_printf(&b,
               "udr checkpoint 3\ncurrent main\nbranch main 0 1 1000 %s %%\n"
               "table t1 1 1 1000 %s %s\nsub s1 main 1000 1 t1\ncommit 1 1000 %s\n",
               c1x, tv1x, c1x, c1x);
    put_text(&s, buf_take(&b, &len), len, &ckpt_h, &err);
}

/* Writes the payloads as the records of a fresh segment 1. */
static void write_log(const uint8_t *data, size_t size, uint64_t *last_seq)
{
    remove_log();
    udr_err err = {0};
    must(log_create(repo, &err), "log_create", &err);
    udrlog l;
    must(log_open(&l, repo, &err), "log_open", &err);
    must(log_lock(&l), "log_lock", &err);
    *last_seq = 0;
    for (size_t pos = 0, n = 0; pos < size && n < MAX_RECORDS; n++) {
        size_t len = data[pos];
        if (pos + 1 < size)
            len |= (size_t)data[pos + 1] << 8;
        pos += 2;
        if (pos > size)
            pos = size;
        if (len > size - pos)
            len = size - pos;
        /* A checkpoint record starts a segment, as a committer writes it. */
        if (len > 0 && data[pos] == 2)
            must(log_start_segment(&l, data + pos, len, last_seq), "log_start_segment", &err);
        else
            must(log_append(&l, data + pos, len, last_seq), "log_append", &err);
        pos += len;
    }
    log_unlock(&l);
    must(log_sync(&l), "log_sync", &err);
    log_close(&l);
}

/* ---- the invariants ------------------------------------------------------ */

static void broken(const char *what, const char *name)
{
    fprintf(stderr, "fuzz_replay: broken invariant: %s (%s)\n", what, name ? name : "");
    abort();
}

static int is_zero(const udr_hash *h)
{
    static const udr_hash zero;
    return hash_equal(h, &zero);
}

static void check_points(const cat_point *p, size_t n, uint64_t last, const char *what)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i].seq > last)
            broken("a point past the log's last record", what);
        if (i > 0 && p[i].seq <= p[i - 1].seq)
            broken("points not ascending by record number", what);
    }
}

static void check_index(const catalog *c, uint64_t last)
{
    udr_err err = {0};
    for (size_t i = 0; i < c->ntables; i++) {
        const cat_table *t = &c->tables[i];
        if (i > 0 && strcmp(c->tables[i - 1].name, t->name) >= 0)
            broken("tables not sorted by name", t->name);
        if (catalog_check_name(t->name, &err) != UDR_OK)
            broken("a table with an invalid name", t->name);
        if (t->nv == 0 || t->nv > t->cap)
            broken("a table without versions", t->name);
        for (size_t k = 0; k < t->nv; k++) {
            const cat_version *v = &t->v[k];
            if (k > 0 && v->version <= t->v[k - 1].version)
                broken("versions not strictly ascending", t->name);
            if (v->dropped != is_zero(&v->hash))
                broken("a drop with a hash, or a zero hash that is no drop", t->name);
            if (v->expired_us != 0 && v->dropped)
                broken("an expired drop", t->name);
            if ((v->expired_us != 0) != (v->expired_seq != 0) || v->expired_us < 0)
                broken("an expiry without its record, or a record without its time", t->name);
            if (v->expired_seq > last)
                broken("an expiry by a record past the log's end", t->name);
            if (c->complete && (v->seq == 0 || v->seq > last))
                broken("a version not made by a record of the log", t->name);
            if (c->complete && v->expired_seq != 0 && v->expired_seq <= v->seq)
                broken("a version expired before it was made", t->name);
        }
    }
    /* Existence: a branch whose head commit cannot be read is there, broken. */
    if (catalog_branch_any(c, "main") == NULL)
        broken("main is gone", NULL);
    if (catalog_branch_any(c, c->current) == NULL)
        broken("the current branch does not exist", c->current);
    if (c->work[0] && catalog_branch_any(c, c->work) == NULL)
        broken("the working branch does not exist", c->work);
    for (size_t i = 0; i < c->nbranches; i++) {
        const cat_branch *b = &c->branches[i];
        if (i > 0 && strcmp(c->branches[i - 1].name, b->name) >= 0)
            broken("branches not sorted by name", b->name);
        if (catalog_check_ref_name(b->name, "branch", &err) != UDR_OK)
            broken("a branch with an invalid name", b->name);
        if (b->ntables > 0 && !b->has_head)
            broken("tables on a branch without a head", b->name);
        if (b->broken != NULL && (b->ntables > 0 || !b->has_head))
            broken("a broken branch with tables, or without a head", b->name);
        if ((b->broken != NULL) != (catalog_branch(c, b->name) == NULL))
            broken("catalog_branch disagrees with the branch's broken mark", b->name);
        for (size_t k = 1; k < b->ntables; k++)
            if (strcmp(b->tables[k - 1].table, b->tables[k].table) >= 0)
                broken("a branch's tables not sorted by name", b->name);
        check_points(b->points, b->npoints, last, b->name);
        if (b->npoints > 0 && (!b->has_head || !hash_equal(&b->head, &b->points[b->npoints - 1].commit)))
            broken("a branch's head is not its last point", b->name);
        if (c->complete && b->has_head && b->npoints == 0)
            broken("a head without a point in a full history", b->name);
    }
    check_points(c->history, c->nhist, last, "history");
    for (size_t i = 0; i < c->ntags; i++) {
        if (i > 0 && strcmp(c->tags[i - 1].name, c->tags[i].name) >= 0)
            broken("tags not sorted by name", c->tags[i].name);
        if (catalog_check_ref_name(c->tags[i].name, "tag", &err) != UDR_OK)
            broken("a tag with an invalid name", c->tags[i].name);
        if (c->tags[i].message == NULL)
            broken("a tag without a message", c->tags[i].name);
    }
    for (size_t i = 0; i < c->nsubs; i++) {
        const cat_sub *sb = &c->subs[i];
        if (i > 0 && strcmp(c->subs[i - 1].name, sb->name) >= 0)
            broken("subscriptions not sorted by name", sb->name);
        if (sb->cursor > last)
            broken("a subscription's cursor past the log's last record", sb->name);
        if (sb->ntables == 0)
            broken("a subscription without tables", sb->name);
        for (size_t k = 1; k < sb->ntables; k++)
            if (strcmp(sb->tables[k - 1], sb->tables[k]) > 0)
                broken("a subscription's tables not sorted", sb->name);
    }
    if (c->nckpt > last)
        broken("more checkpoints than records", NULL);
}

/* ---- the target ---------------------------------------------------------- */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (repo[0] == '\0')
        setup();
    uint64_t last;
    write_log(data, size, &last);

    udr_err err = {0};
    store s;
    must(store_open(&s, repo, &err), "store_open", &err);
    catalog c;
    int rc = catalog_open(&c, &s, repo, &err);
    if (verbose)
        fprintf(stderr, "fuzz_replay: %llu records: open %d %s\n", (unsigned long long)last, rc,
                err.msg);
    if (rc == UDR_OK) {
        if (log_last_seq(&c.log) != last)
            broken("the catalog did not read every record", NULL);
        check_index(&c, last);
        int crc = catalog_complete(&c);
        if (verbose)
            fprintf(stderr, "fuzz_replay: complete %d %s: %zu tables, %zu branches, %zu tags, "
                            "%zu subscriptions, %zu commits, %zu checkpoints\n",
                    crc, err.msg, c.ntables, c.nbranches, c.ntags, c.nsubs, c.nhist, c.nckpt);
        if (crc == UDR_OK) {
            if (!c.complete)
                broken("catalog_complete left the history partial", NULL);
            check_index(&c, last);
            if (catalog_complete(&c) != UDR_OK)
                broken("a second catalog_complete failed", NULL);
        }
        catalog_close(&c);
    } else if (rc != UDR_ECORRUPT && rc != UDR_EFORMAT && rc != UDR_ENOTFOUND) {
        fprintf(stderr, "fuzz_replay: catalog_open failed with %d: %s\n", rc, err.msg);
        abort();
    } else if (err.msg[0] == '\0') {
        broken("an error without a message", NULL);
    }
    return 0;
}

/* ---- the seed corpus ----------------------------------------------------- */

typedef struct seed {
    buf in;                            /* the fuzzer's input: u16 length | payload ... */
    buf rec;                           /* the record being made */
} seed;

static void rec_begin(seed *sd, uint8_t type)
{
    buf_init(&sd->rec);
    buf_u8(&sd->rec, type);
}

static void rec_end(seed *sd)
{
    buf_u16(&sd->in, (uint16_t)sd->rec.len);
    buf_add(&sd->in, sd->rec.data, sd->rec.len);
    buf_free(&sd->rec);
}

static void rec_commit(seed *sd, const udr_hash *commit, const char *branch, int second,
                       const char *ack, uint64_t ack_seq)
{
    rec_begin(sd, 1);
    buf_u64(&sd->rec, second ? 2000 : 1000);
    buf_add(&sd->rec, commit->bytes, UDR_HASH_BYTES);
    buf_str16(&sd->rec, branch);
    buf_u32(&sd->rec, second ? 2 : 1);
    buf_str16(&sd->rec, "t1");
    buf_u64(&sd->rec, second ? 2 : 1);
    buf_add(&sd->rec, (second ? &tv2_h : &tv1_h)->bytes, UDR_HASH_BYTES);
    if (second) {
        buf_str16(&sd->rec, "t2");
        buf_u64(&sd->rec, 1);
        buf_add(&sd->rec, tv1_h.bytes, UDR_HASH_BYTES);
    }
    if (ack != NULL) {
        buf_u32(&sd->rec, 1);
        buf_str16(&sd->rec, ack);
        buf_u64(&sd->rec, ack_seq);
    }
    rec_end(sd);
}

static void rec_ref(seed *sd, uint8_t kind, const char *name, const udr_hash *commit,
                    const char *text)
{
    rec_begin(sd, 3);
    buf_u8(&sd->rec, kind);
    buf_u64(&sd->rec, 3000);
    buf_str16(&sd->rec, name);
    buf_u8(&sd->rec, commit != NULL);
    if (commit != NULL)
        buf_add(&sd->rec, commit->bytes, UDR_HASH_BYTES);
    buf_str16(&sd->rec, text);
    rec_end(sd);
}

static void rec_sub(seed *sd, uint8_t kind, const char *name, uint64_t seq)
{
    rec_begin(sd, 4);
    buf_u8(&sd->rec, kind);
    buf_u64(&sd->rec, 4000);
    buf_str16(&sd->rec, name);
    if (kind == 1) {
        buf_str16(&sd->rec, "main");
        buf_u64(&sd->rec, seq);
        buf_u32(&sd->rec, 1);
        buf_str16(&sd->rec, "t1");
    } else if (kind == 3) {
        buf_u64(&sd->rec, seq);
    }
    rec_end(sd);
}

static void rec_expire(seed *sd, const char *table, uint64_t version)
{
    rec_begin(sd, 5);
    buf_u64(&sd->rec, 5000);
    buf_str16(&sd->rec, "keep 1");
    buf_u32(&sd->rec, 1);
    buf_str16(&sd->rec, table);
    buf_u64(&sd->rec, version);
    rec_end(sd);
}

static void rec_checkpoint(seed *sd)
{
    rec_begin(sd, 2);
    buf_add(&sd->rec, ckpt_h.bytes, UDR_HASH_BYTES);
    rec_end(sd);
}

static void seed_write(const char *dir, const char *name, seed *sd)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(sd->in.data, 1, sd->in.len, f) != sd->in.len || fclose(f) != 0) {
        fprintf(stderr, "fuzz_replay: cannot write %s\n", path);
        exit(1);
    }
    buf_free(&sd->in);
    buf_init(&sd->in);
}

/* Each seed is a log a writer could have made (records numbered from 1). */
static void write_seeds(const char *dir)
{
    seed sd;
    buf_init(&sd.in);
    rec_commit(&sd, &c1_h, "main", 0, NULL, 0);
    rec_commit(&sd, &c2_h, "main", 1, NULL, 0);
    seed_write(dir, "commits", &sd);

    rec_commit(&sd, &c1_h, "main", 0, NULL, 0);
    rec_ref(&sd, 1, "dev", &c1_h, "a branch");
    rec_ref(&sd, 5, "dev", NULL, "");
    rec_commit(&sd, &c2_h, "dev", 1, NULL, 0);
    rec_ref(&sd, 3, "v1", &c1_h, "the first");
    rec_ref(&sd, 1, "main", &c2_h, "");               /* fast-forward */
    rec_ref(&sd, 5, "main", NULL, "");
    rec_ref(&sd, 2, "dev", NULL, "");
    rec_ref(&sd, 4, "v1", NULL, "");
    rec_ref(&sd, 1, "empty", NULL, "no commit yet");
    seed_write(dir, "refs", &sd);

    rec_commit(&sd, &c2_h, "main", 1, NULL, 0);
    rec_sub(&sd, 1, "s1", 0);
    rec_sub(&sd, 3, "s1", 1);
    rec_commit(&sd, &c2_h, "main", 1, "s1", 3);       /* t1 v2 again: a reuse */
    rec_sub(&sd, 1, "s2", 4);
    rec_sub(&sd, 2, "s2", 0);
    seed_write(dir, "subs", &sd);

    rec_commit(&sd, &c1_h, "main", 0, NULL, 0);
    rec_commit(&sd, &c2_h, "main", 1, NULL, 0);
    rec_expire(&sd, "t1", 1);
    rec_ref(&sd, 3, "v2", &c2_h, "kept");
    seed_write(dir, "expire", &sd);

    rec_commit(&sd, &c1_h, "main", 0, NULL, 0);
    rec_sub(&sd, 1, "s1", 1);
    rec_checkpoint(&sd);                              /* segment 2, from record 3 */
    rec_commit(&sd, &c2_h, "main", 1, NULL, 0);
    rec_expire(&sd, "t1", 1);
    rec_sub(&sd, 3, "s1", 4);
    seed_write(dir, "checkpoint", &sd);

    rec_commit(&sd, &c1_h, "main", 0, NULL, 0);
    rec_sub(&sd, 1, "s1", 1);
    rec_ref(&sd, 1, "dev", &c1_h, "");
    rec_commit(&sd, &c2_h, "dev", 1, "s1", 3);
    rec_ref(&sd, 3, "v1", &c2_h, "");
    rec_expire(&sd, "t1", 1);
    rec_ref(&sd, 5, "dev", NULL, "");
    rec_checkpoint(&sd);                              /* segment 2, from record 8 */
    rec_commit(&sd, &c1_h, "main", 0, NULL, 0);       /* main back to C1: a reset */
    seed_write(dir, "mixed", &sd);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    verbose = getenv("FUZZ_REPLAY_VERBOSE") != NULL;
    const char *dir = getenv("FUZZ_REPLAY_SEEDS");
    if (dir == NULL)
        return 0;
    setup();
    write_seeds(dir);
    exit(0);
}
