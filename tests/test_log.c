/*
 * Tests of the catalog log: records round trip, numbering across segments,
 * concurrent writers, torn tails cut, damage refused, failed appends.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "log.h"
#include "udr.h"
#include "util/crc32c.h"

static void test_crc32c_vectors(void)
{
    CHECK_INT(crc32c(0, "123456789", 9), ==, 0xE3069283u);
    CHECK_INT(crc32c_portable(0, "123456789", 9), ==, 0xE3069283u);
    CHECK_INT(crc32c(0, "", 0), ==, 0);
    unsigned char buf[1000];
    t_fill(buf, sizeof buf, 1);
    for (size_t n = 0; n < sizeof buf; n += 37) {
        CHECK_INT(crc32c(0, buf, n), ==, crc32c_portable(0, buf, n));
        /* Extending in two steps equals one step. */
        CHECK_INT(crc32c(crc32c(0, buf, n / 3), buf + n / 3, n - n / 3), ==, crc32c(0, buf, n));
    }
}

/* A repository-like directory with log/ and tmp/ and a fresh log. */
static const char *new_log_dir(void)
{
    const char *dir = t_path("repo");
    char p[4096];
    REQUIRE(mkdir(dir, 0755) == 0);
    snprintf(p, sizeof p, "%s/log", dir);
    REQUIRE(mkdir(p, 0755) == 0);
    snprintf(p, sizeof p, "%s/tmp", dir);
    REQUIRE(mkdir(p, 0755) == 0);
    udr_err err = {0, ""};
    REQUIRE(log_create(dir, &err) == UDR_OK);
    return dir;
}

typedef struct seen {
    int n;
    uint64_t seqs[4096];
    char payloads[4096][32];
} seen;

static int collect(void *ctx, uint64_t seq, const void *payload, size_t len)
{
    seen *s = ctx;
    if (s->n < 4096) {
        s->seqs[s->n] = seq;
        snprintf(s->payloads[s->n], 32, "%.*s", (int)len, (const char *)payload);
    }
    s->n++;
    return 0;
}

static void append_str(udrlog *l, const char *text)
{
    uint64_t seq;
    REQUIRE(log_lock(l) == UDR_OK);
    REQUIRE(log_read(l, NULL, NULL) == UDR_OK);
    int rc = log_append(l, text, strlen(text), &seq);
    log_unlock(l);
    if (rc == UDR_OK)
        rc = log_sync(l);
    if (rc != UDR_OK)
        harness_fail(__FILE__, __LINE__, "append: %s", l->err->msg);
    REQUIRE(rc == UDR_OK);
}

static void read_all(const char *dir, seen *s)
{
    udr_err err = {0, ""};
    udrlog l;
    s->n = 0;
    int rc = log_open(&l, dir, &err);
    if (rc != UDR_OK)
        harness_fail(__FILE__, __LINE__, "log_open: %s", err.msg);
    REQUIRE(rc == UDR_OK);
    REQUIRE(log_read(&l, collect, s) == UDR_OK);
    log_close(&l);
}

static void test_round_trip_and_numbering(void)
{
    const char *dir = new_log_dir();
    udr_err err = {0, ""};
    udrlog l;
    REQUIRE(log_open(&l, dir, &err) == UDR_OK);
    char text[32];
    for (int i = 1; i <= 100; i++) {
        snprintf(text, sizeof text, "record %d", i);
        append_str(&l, text);
    }
    CHECK_INT(log_last_seq(&l), ==, 100);
    log_close(&l);
    static seen s;
    read_all(dir, &s);
    REQUIRE(s.n == 100);
    for (int i = 0; i < 100; i++) {
        snprintf(text, sizeof text, "record %d", i + 1);
        CHECK_INT(s.seqs[i], ==, i + 1);
        CHECK_STR(s.payloads[i], text);
    }
}

static void test_segments_continue_numbering(void)
{
    const char *dir = new_log_dir();
    udr_err err = {0, ""};
    udrlog w, r;
    REQUIRE(log_open(&w, dir, &err) == UDR_OK);
    REQUIRE(log_open(&r, dir, &err) == UDR_OK);
    append_str(&w, "a");
    append_str(&w, "b");
    static seen s;
    s.n = 0;
    REQUIRE(log_read(&r, collect, &s) == UDR_OK);
    CHECK_INT(s.n, ==, 2);
    uint64_t seq;
    REQUIRE(log_lock(&w) == UDR_OK);
    REQUIRE(log_read(&w, NULL, NULL) == UDR_OK);
    REQUIRE(log_start_segment(&w, "checkpoint", 10, &seq) == UDR_OK);
    CHECK_INT(seq, ==, 3);
    REQUIRE(log_append(&w, "c", 1, &seq) == UDR_OK);
    CHECK_INT(seq, ==, 4);
    log_unlock(&w);
    /* A reader at the end of segment 1 goes on into segment 2. */
    REQUIRE(log_read(&r, collect, &s) == UDR_OK);
    REQUIRE(s.n == 4);
    CHECK_STR(s.payloads[2], "checkpoint");
    CHECK_INT(s.seqs[3], ==, 4);
    log_close(&r);
    log_close(&w);
    /* A new reader starts at the newest segment, with its checkpoint. */
    read_all(dir, &s);
    REQUIRE(s.n == 2);
    CHECK_STR(s.payloads[0], "checkpoint");
    CHECK_INT(s.seqs[0], ==, 3);
    CHECK_STR(s.payloads[1], "c");
}

enum { WRITERS = 4, EACH = 150 };

static void test_concurrent_writers(void)
{
    const char *dir = new_log_dir();
    pid_t pids[WRITERS];
    for (int w = 0; w < WRITERS; w++) {
        pids[w] = fork();
        REQUIRE(pids[w] >= 0);
        if (pids[w] == 0) {
            udr_err err = {0, ""};
            udrlog l;
            if (log_open(&l, dir, &err) != UDR_OK)
                _exit(10);
            for (int i = 0; i < EACH; i++) {
                char text[32];
                uint64_t seq;
                int n = snprintf(text, sizeof text, "w%d %d", w, i);
                if (log_lock(&l) || log_read(&l, NULL, NULL) ||
                    log_append(&l, text, (size_t)n, &seq))
                    _exit(11);
                log_unlock(&l);
                if (log_sync(&l))
                    _exit(12);
            }
            log_close(&l);
            _exit(0);
        }
    }
    for (int w = 0; w < WRITERS; w++) {
        int st;
        REQUIRE(waitpid(pids[w], &st, 0) == pids[w]);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    static seen s;
    read_all(dir, &s);
    REQUIRE(s.n == WRITERS * EACH);
    int next[WRITERS] = {0};
    for (int i = 0; i < s.n; i++) {
        CHECK_INT(s.seqs[i], ==, i + 1);
        int w, k;
        REQUIRE(sscanf(s.payloads[i], "w%d %d", &w, &k) == 2 && w >= 0 && w < WRITERS);
        CHECK_INT(k, ==, next[w]);          /* each writer's records in its order */
        next[w] = k + 1;
    }
}

static const char *segment_file(const char *dir)
{
    static char p[4096];
    snprintf(p, sizeof p, "%s/log/0000000000000001.seg", dir);
    return p;
}

static off_t file_size(const char *path)
{
    struct stat st;
    REQUIRE(stat(path, &st) == 0);
    return st.st_size;
}

static void append_raw(const char *path, const void *bytes, size_t n)
{
    int fd = open(path, O_WRONLY | O_APPEND);
    REQUIRE(fd >= 0);
    REQUIRE(write(fd, bytes, n) == (ssize_t)n);
    close(fd);
}

static void test_torn_tail_cut(void)
{
    const char *dir = new_log_dir();
    udr_err err = {0, ""};
    udrlog l;
    REQUIRE(log_open(&l, dir, &err) == UDR_OK);
    append_str(&l, "one");
    append_str(&l, "two");
    append_str(&l, "three");
    log_close(&l);
    off_t good = file_size(segment_file(dir));

    /* A record whose header promises 100 bytes, cut after 10. */
    unsigned char torn[18] = {100, 0, 0, 0, 1, 2, 3, 4, 'p', 'a', 'r', 't', 'i', 'a', 'l'};
    append_raw(segment_file(dir), torn, sizeof torn);
    REQUIRE(log_open(&l, dir, &err) == UDR_OK);
    CHECK_INT(l.cut_bytes, ==, sizeof torn);
    log_close(&l);
    CHECK_INT(file_size(segment_file(dir)), ==, good);
    static seen s;
    read_all(dir, &s);
    CHECK_INT(s.n, ==, 3);

    /* A complete last record with a bad checksum (its bytes not all
     * written) followed by zeros (a file extended before its data). */
    unsigned char bad[8 + 5 + 7] = {5, 0, 0, 0, 9, 9, 9, 9, 'w', 'r', 'o', 'n', 'g'};
    append_raw(segment_file(dir), bad, sizeof bad);
    REQUIRE(log_open(&l, dir, &err) == UDR_OK);
    CHECK_INT(l.cut_bytes, ==, sizeof bad);
    /* Appending after the cut works, and numbering goes on from 4. */
    append_str(&l, "four");
    log_close(&l);
    read_all(dir, &s);
    REQUIRE(s.n == 4);
    CHECK_STR(s.payloads[3], "four");
    CHECK_INT(s.seqs[3], ==, 4);
}

/* Opening does not wait for a writer when the log's tail is clean (its
 * lock is held over a whole commit, merges included: under load an open
 * that took it waited seconds), and still waits, then cuts, when bytes
 * past the last whole record may be a writer mid-append or a torn write.
 * The opener runs in a child; the parent holds the lock. */
static pid_t open_in_child(const char *dir, uint64_t want_cut)
{
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        udr_err err = {0, ""};
        udrlog l;
        int rc = log_open(&l, dir, &err);
        int ok = rc == UDR_OK && l.cut_bytes == want_cut;
        log_close(&l);
        _exit(ok ? 0 : 1);
    }
    return pid;
}

/* The child's exit status once it ends within ms, else -1 (still running). */
static int wait_child(pid_t pid, int ms)
{
    int st;
    for (int i = 0; i < ms / 10; i++) {
        if (waitpid(pid, &st, WNOHANG) == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
        usleep(10000);
    }
    return -1;
}

static void test_open_waits_for_writers_only_at_a_torn_tail(void)
{
    const char *dir = new_log_dir();
    udr_err err = {0, ""};
    udrlog w;
    REQUIRE(log_open(&w, dir, &err) == UDR_OK);
    append_str(&w, "one");
    append_str(&w, "two");
    REQUIRE(log_lock(&w) == UDR_OK);
    pid_t pid = open_in_child(dir, 0);
    CHECK_INT(wait_child(pid, 5000), ==, 0);
    log_unlock(&w);

    unsigned char torn[12] = {100, 0, 0, 0, 1, 2, 3, 4, 'h', 'a', 'l', 'f'};
    append_raw(segment_file(dir), torn, sizeof torn);
    REQUIRE(log_lock(&w) == UDR_OK);
    pid = open_in_child(dir, sizeof torn);
    CHECK_INT(wait_child(pid, 300), ==, -1);       /* waits: a writer may be mid-append */
    log_unlock(&w);
    CHECK_INT(wait_child(pid, 5000), ==, 0);       /* then cuts it */
    log_close(&w);
    static seen s;
    read_all(dir, &s);
    CHECK_INT(s.n, ==, 2);
}

static void test_damage_in_the_middle_refused(void)
{
    const char *dir = new_log_dir();
    udr_err err = {0, ""};
    udrlog l;
    REQUIRE(log_open(&l, dir, &err) == UDR_OK);
    append_str(&l, "first record");
    append_str(&l, "second record");
    append_str(&l, "third record");
    log_close(&l);
    /* Flip a byte in the payload of record 2. */
    int fd = open(segment_file(dir), O_RDWR);
    REQUIRE(fd >= 0);
    off_t at = LOG_HEADER_BYTES + 8 + 12 + 8 + 3;
    REQUIRE(pwrite(fd, "X", 1, at) == 1);
    close(fd);
    off_t size = file_size(segment_file(dir));
    CHECK_INT(log_open(&l, dir, &err), ==, UDR_ECORRUPT);
    CHECK_CONTAINS(err.msg, "record 2");
    CHECK_CONTAINS(err.msg, "checksum");
    log_close(&l);
    CHECK_INT(file_size(segment_file(dir)), ==, size);   /* nothing was cut */
}

static int fail_write(void *ctx, fs_op op, const char *path)
{
    (void)ctx;
    (void)path;
    return op == FS_OP_WRITE ? ENOSPC : 0;
}

static int fail_fsync(void *ctx, fs_op op, const char *path)
{
    (void)ctx;
    (void)path;
    return op == FS_OP_FSYNC ? EIO : 0;
}

static void test_failed_append_leaves_nothing(void)
{
    const char *dir = new_log_dir();
    udr_err err = {0, ""};
    udrlog l;
    REQUIRE(log_open(&l, dir, &err) == UDR_OK);
    append_str(&l, "kept");
    off_t size = file_size(segment_file(dir));
    l.group_commit = 0;                /* the fsync under the lock */
    fs_fault_fn hooks[] = {fail_write, fail_fsync};
    for (int i = 0; i < 2; i++) {
        l.fault.fn = hooks[i];
        uint64_t seq;
        REQUIRE(log_lock(&l) == UDR_OK);
        int rc = log_append(&l, "lost", 4, &seq);
        log_unlock(&l);
        l.fault.fn = NULL;
        CHECK_INT(rc, ==, i == 0 ? UDR_EFULL : UDR_EIO);
        CHECK_CONTAINS(err.msg, "cannot append to the log");
        CHECK_INT(file_size(segment_file(dir)), ==, size);
    }
    append_str(&l, "after");
    log_close(&l);
    static seen s;
    read_all(dir, &s);
    REQUIRE(s.n == 2);
    CHECK_STR(s.payloads[1], "after");
    CHECK_INT(s.seqs[1], ==, 2);
}

/* Group commit: a record is appended under the lock and synced after it;
 * one fdatasync serves every record before it. A failed sync is reported
 * (the record stays: others may stand on it). After a crash, records past
 * the durable mark that did not all reach the disk are cut, not taken for
 * damage. */
static void test_group_commit(void)
{
    const char *dir = new_log_dir();
    udr_err e1 = {0, ""}, e2 = {0, ""};
    udrlog a, b;
    REQUIRE(log_open(&a, dir, &e1) == UDR_OK);
    REQUIRE(log_open(&b, dir, &e2) == UDR_OK);
    REQUIRE(a.group_commit && b.group_commit);
    uint64_t seq;
    REQUIRE(log_lock(&a) == UDR_OK && log_read(&a, NULL, NULL) == UDR_OK);
    REQUIRE(log_append(&a, "from a", 6, &seq) == UDR_OK);
    log_unlock(&a);
    CHECK(a.unsynced);
    REQUIRE(log_lock(&b) == UDR_OK && log_read(&b, NULL, NULL) == UDR_OK);
    REQUIRE(log_append(&b, "from b", 6, &seq) == UDR_OK);
    log_unlock(&b);
    REQUIRE(log_sync(&b) == UDR_OK);
    REQUIRE(log_sync(&a) == UDR_OK);
    CHECK_INT(b.syncs, ==, 1);
    CHECK_INT(a.syncs, ==, 0);               /* b's fdatasync covered a's record */
    CHECK_INT(a.shared_syncs, ==, 1);
    /* A failed fdatasync: an error that says so; the record is there. */
    a.fault.fn = fail_fsync;
    REQUIRE(log_lock(&a) == UDR_OK && log_read(&a, NULL, NULL) == UDR_OK);
    REQUIRE(log_append(&a, "unsure", 6, &seq) == UDR_OK);
    log_unlock(&a);
    CHECK_INT(log_sync(&a), ==, UDR_EIO);
    CHECK_CONTAINS(e1.msg, "may not survive a crash");
    a.fault.fn = NULL;
    log_close(&a);
    log_close(&b);
    static seen s;
    read_all(dir, &s);
    CHECK_INT(s.n, ==, 3);
    /* A crash tore a group: a record with a bad checksum, a good one after
     * it, both past the durable mark. Both are cut at open. */
    off_t good = file_size(segment_file(dir));
    unsigned char torn[8 + 4 + 8 + 4] = {4, 0, 0, 0, 9, 9, 9, 9, 'l', 'o', 's', 't'};
    uint32_t crc = crc32c(0, (const unsigned char[]){4, 0, 0, 0}, 4);
    crc = crc32c(crc, (const unsigned char *)"next", 4);
    unsigned char *next = torn + 12;
    next[0] = 4;
    next[4] = (unsigned char)crc;
    next[5] = (unsigned char)(crc >> 8);
    next[6] = (unsigned char)(crc >> 16);
    next[7] = (unsigned char)(crc >> 24);
    memcpy(next + 8, "next", 4);
    append_raw(segment_file(dir), torn, sizeof torn);
    REQUIRE(log_open(&a, dir, &e1) == UDR_OK);
    CHECK_INT(a.cut_bytes, ==, sizeof torn);
    log_close(&a);
    CHECK_INT(file_size(segment_file(dir)), ==, good);
    read_all(dir, &s);
    CHECK_INT(s.n, ==, 3);
}

static void test_damaged_header_refused(void)
{
    const char *dir = new_log_dir();
    int fd = open(segment_file(dir), O_RDWR);
    REQUIRE(fd >= 0);
    REQUIRE(pwrite(fd, "NOTALOG!", 8, 0) == 8);
    close(fd);
    udr_err err = {0, ""};
    udrlog l;
    CHECK_INT(log_open(&l, dir, &err), ==, UDR_ECORRUPT);
    CHECK_CONTAINS(err.msg, "header");
    log_close(&l);
}


static void flip_at(const char *path, off_t at)
{
    int fd = open(path, O_RDWR);
    REQUIRE(fd >= 0);
    unsigned char b;
    REQUIRE(pread(fd, &b, 1, at) == 1);
    b ^= 0x10;
    REQUIRE(pwrite(fd, &b, 1, at) == 1);
    close(fd);
}

/* The last record, synced before its append was acknowledged (the durable
 * mark covers it), with a flipped byte: damage, refused and left alone.
 * Cutting it as a torn tail would lose an acknowledged commit. */
static void test_durable_last_record_damage_refused(void)
{
    const char *dir = new_log_dir();
    udr_err err = {0, ""};
    udrlog l;
    REQUIRE(log_open(&l, dir, &err) == UDR_OK);
    append_str(&l, "first record");
    append_str(&l, "last record");
    log_close(&l);
    off_t size = file_size(segment_file(dir));
    flip_at(segment_file(dir), size - 2);
    CHECK_INT(log_open(&l, dir, &err), ==, UDR_ECORRUPT);
    CHECK_CONTAINS(err.msg, "record 2");
    CHECK_CONTAINS(err.msg, "not a torn write");
    log_close(&l);
    CHECK_INT(file_size(segment_file(dir)), ==, size);
    /* A reader without the lock refuses it too (it does not stop short). */
    REQUIRE(log_open_mode(&l, dir, 1, &err) == UDR_OK);
    CHECK_INT(log_read(&l, NULL, NULL), ==, UDR_ECORRUPT);
    CHECK_INT(log_lock(&l), ==, UDR_EPERM);    /* read-only: never locks */
    CHECK_CONTAINS(err.msg, "read-only");
    log_close(&l);
    CHECK_INT(file_size(segment_file(dir)), ==, size);
}

/* Without group commit each append syncs itself, and moves the durable
 * mark as log_sync does: damage behind it is refused, not cut with
 * everything after it. */
static void test_damage_refused_without_group_commit(void)
{
    const char *dir = new_log_dir();
    udr_err err = {0, ""};
    udrlog l;
    setenv("UDR_GROUP_COMMIT", "0", 1);
    int rc = log_open(&l, dir, &err);
    unsetenv("UDR_GROUP_COMMIT");
    REQUIRE(rc == UDR_OK);
    REQUIRE(!l.group_commit);
    append_str(&l, "one");
    append_str(&l, "two");
    append_str(&l, "three");
    log_close(&l);
    off_t size = file_size(segment_file(dir));
    flip_at(segment_file(dir), LOG_HEADER_BYTES + 8 + 3 + 8 + 1);   /* in "two" */
    CHECK_INT(log_open(&l, dir, &err), ==, UDR_ECORRUPT);
    CHECK_CONTAINS(err.msg, "record 2");
    log_close(&l);
    CHECK_INT(file_size(segment_file(dir)), ==, size);
}

typedef struct damages {
    int n;
    uint64_t seg[8], seq[8], byte[8];
    char msg[8][512];
} damages;

static void on_damage(void *ctx, uint64_t seg, uint64_t seq, uint64_t byte, const char *msg)
{
    damages *d = ctx;
    if (d->n < 8) {
        d->seg[d->n] = seg;
        d->seq[d->n] = seq;
        d->byte[d->n] = byte;
        snprintf(d->msg[d->n], sizeof d->msg[0], "%s", msg);
    }
    d->n++;
}

/* log_verify reads every segment, reports each bad record by segment,
 * number and offset, goes on past it, and changes nothing; a torn tail past
 * the durable mark is not a fault. */
static void test_verify_names_every_bad_record(void)
{
    const char *dir = new_log_dir();
    udr_err err = {0, ""};
    udrlog l;
    REQUIRE(log_open(&l, dir, &err) == UDR_OK);
    append_str(&l, "a1");
    append_str(&l, "a2");
    append_str(&l, "a3");
    uint64_t seq;
    REQUIRE(log_lock(&l) == UDR_OK && log_read(&l, NULL, NULL) == UDR_OK);
    REQUIRE(log_start_segment(&l, "checkpoint", 10, &seq) == UDR_OK);
    log_unlock(&l);
    append_str(&l, "b1");
    log_close(&l);
    damages d = {0};
    log_verify_stats st;
    REQUIRE(log_verify(dir, on_damage, &d, &st, &err) == UDR_OK);
    CHECK_INT(d.n, ==, 0);
    CHECK_INT(st.segments, ==, 2);
    CHECK_INT(st.records, ==, 5);
    /* Records 1 and 3 (the last of segment 1) damaged; a torn tail. */
    char seg1[4096];
    snprintf(seg1, sizeof seg1, "%s", segment_file(dir));
    flip_at(seg1, LOG_HEADER_BYTES + 8);
    flip_at(seg1, file_size(seg1) - 1);
    char seg2[4096];
    snprintf(seg2, sizeof seg2, "%s/log/%016llx.seg", dir, 2ULL);
    append_raw(seg2, (const unsigned char[]){50, 0, 0, 0, 1, 2, 3, 4, 'x'}, 9);
    off_t s1 = file_size(seg1), s2 = file_size(seg2);
    REQUIRE(log_verify(dir, on_damage, &d, &st, &err) == UDR_OK);
    REQUIRE(d.n == 2);
    CHECK_INT(st.damaged, ==, 2);
    CHECK_INT(d.seg[0], ==, 1);
    CHECK_INT(d.seq[0], ==, 1);
    CHECK_INT(d.byte[0], ==, LOG_HEADER_BYTES);
    CHECK_CONTAINS(d.msg[0], "log record 1 (segment 0000000000000001, byte 16");
    CHECK_INT(d.seq[1], ==, 3);
    CHECK_CONTAINS(d.msg[1], "log record 3");
    CHECK_CONTAINS(d.msg[1], "a newer one follows");
    CHECK_INT(file_size(seg1), ==, s1);
    CHECK_INT(file_size(seg2), ==, s2);
    /* A missing segment is named. */
    REQUIRE(unlink(seg1) == 0);
    d.n = 0;
    REQUIRE(log_verify(dir, on_damage, &d, &st, &err) == UDR_OK);
    REQUIRE(d.n == 1);
    CHECK_CONTAINS(d.msg[0], "log segment 0000000000000001 is missing");
}

static const test_case TESTS[] = {
    TEST_ENTRY(test_crc32c_vectors),
    TEST_ENTRY(test_round_trip_and_numbering),
    TEST_ENTRY(test_segments_continue_numbering),
    TEST_ENTRY(test_concurrent_writers),
    TEST_ENTRY(test_torn_tail_cut),
    TEST_ENTRY(test_open_waits_for_writers_only_at_a_torn_tail),
    TEST_ENTRY(test_damage_in_the_middle_refused),
    TEST_ENTRY(test_failed_append_leaves_nothing),
    TEST_ENTRY(test_group_commit),
    TEST_ENTRY(test_damaged_header_refused),
    TEST_ENTRY(test_durable_last_record_damage_refused),
    TEST_ENTRY(test_damage_refused_without_group_commit),
    TEST_ENTRY(test_verify_names_every_bad_record),
};
HARNESS_MAIN("log", TESTS)
