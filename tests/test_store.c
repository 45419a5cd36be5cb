/*
 * Tests of the object store through the public API (and the store's fault
 * hook): round trips, dedup, corruption, hostile input, concurrent writers,
 * injected I/O failures, stale temporary files, bounded memory.
 */
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "repo.h"
#include "store.h"
#include "udr.h"

static udr_repo *new_repo(void)
{
    udr_repo *r;
    int rc = udr_init(t_path("repo"), &r);
    if (rc != UDR_OK)
        harness_fail(__FILE__, __LINE__, "udr_init: %s", udr_errmsg(r));
    REQUIRE(rc == UDR_OK);
    return r;
}

static udr_repo *reopen(udr_repo *r)
{
    udr_close(r);
    int rc = udr_open(t_path("repo"), &r);
    if (rc != UDR_OK)
        harness_fail(__FILE__, __LINE__, "udr_open: %s", udr_errmsg(r));
    REQUIRE(rc == UDR_OK);
    return r;
}

static const char *obj_file(udr_repo *r, const udr_hash *h)
{
    static char path[PATH_MAX];
    REQUIRE(store_object_path(repo_store(r), h, path, sizeof path) == 0);
    return path;
}

static int tmp_files(void)
{
    return t_count_files(t_path("repo/tmp"));
}

static int count_cb(void *ctx, const udr_hash *h, uint64_t size)
{
    (void)h;
    (void)size;
    (*(int *)ctx)++;
    return 0;
}

static int object_count(udr_repo *r)
{
    int n = 0;
    REQUIRE(udr_object_foreach(r, count_cb, &n) == UDR_OK);
    return n;
}

/* Bytes this process has passed to write() so far (Linux /proc/self/io). */
static long long bytes_written_by_me(void)
{
    FILE *f = fopen("/proc/self/io", "r");
    REQUIRE(f != NULL);
    char key[64];
    long long v, wchar = -1;
    while (fscanf(f, "%63[^:]: %lld\n", key, &v) == 2)
        if (strcmp(key, "wchar") == 0)
            wchar = v;
    fclose(f);
    REQUIRE(wchar >= 0);
    return wchar;
}

/* ---- round trips ---------------------------------------------------------- */

static void test_round_trip_sizes(void)
{
    udr_repo *r = new_repo();
    static const size_t sizes[] = {0, 1, 1000, STORE_IO_BYTES - 1, STORE_IO_BYTES,
                                   STORE_IO_BYTES + 1, 3 * STORE_IO_BYTES + 17};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t len = sizes[i];
        unsigned char *buf = malloc(len + 1);
        REQUIRE(buf != NULL);
        t_fill(buf, len, i);
        udr_hash h, want;
        udr_hash_buffer(buf, len, &want);
        REQUIRE(udr_object_put(r, buf, len, &h) == UDR_OK);
        CHECK(memcmp(&h, &want, sizeof h) == 0);
        CHECK_INT(udr_object_exists(r, &h), ==, 1);
        uint64_t size;
        CHECK(udr_object_size(r, &h, &size) == UDR_OK && size == len);

        void *back;
        size_t back_len;
        REQUIRE(udr_object_get_verified(r, &h, &back, &back_len) == UDR_OK);
        CHECK_INT(back_len, ==, len);
        CHECK(back != NULL && memcmp(back, buf, len) == 0);
        udr_free(back);
        REQUIRE(udr_object_get(r, &h, &back, &back_len) == UDR_OK);
        CHECK(back_len == len && memcmp(back, buf, len) == 0);
        udr_free(back);
        CHECK_INT(udr_object_verify(r, &h), ==, UDR_OK);

        /* Stored files are named by their hash, fanned out ab/cd/, read-only. */
        char hex[UDR_HASH_HEX + 1], rel[128];
        udr_hash_to_hex(&h, hex);
        snprintf(rel, sizeof rel, "repo/objects/%.2s/%.2s/%s", hex, hex + 2, hex);
        struct stat st;
        REQUIRE(stat(t_path(rel), &st) == 0);
        CHECK_INT(st.st_size, ==, len);
        CHECK_INT(st.st_mode & 0777, ==, 0444);
        free(buf);
    }
    CHECK_INT(object_count(r), ==, 7);
    CHECK_INT(tmp_files(), ==, 0);
    udr_close(r);
}

static void test_put_file_pipe_and_stream_out(void)
{
    udr_repo *r = new_repo();
    size_t len = 2 * STORE_IO_BYTES + 12345;
    unsigned char *buf = malloc(len);
    REQUIRE(buf != NULL);
    t_fill(buf, len, 7);
    t_write_file(t_path("in"), buf, len);
    udr_hash want, h1, h2;
    udr_hash_buffer(buf, len, &want);

    REQUIRE(udr_object_put_file(r, t_path("in"), &h1) == UDR_OK);
    CHECK(memcmp(&h1, &want, sizeof want) == 0);

    /* A pipe: a child writes the bytes, the store reads a stream. */
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        size_t off = 0;
        while (off < len) {
            ssize_t n = write(fds[1], buf + off, len - off > 4000 ? 4000 : len - off);
            if (n <= 0)
                _exit(1);
            off += (size_t)n;
        }
        _exit(0);
    }
    close(fds[1]);
    int rc = udr_object_put_fd(r, fds[0], &h2);
    close(fds[0]);
    waitpid(pid, NULL, 0);
    REQUIRE(rc == UDR_OK);
    CHECK(memcmp(&h2, &want, sizeof want) == 0);
    CHECK_INT(object_count(r), ==, 1);
    CHECK_INT(tmp_files(), ==, 0);

    /* Streaming out gives the same bytes back. */
    int out = open(t_path("out"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    REQUIRE(out >= 0);
    CHECK_INT(udr_object_write_to_fd(r, &h1, out), ==, UDR_OK);
    close(out);
    char cmd[PATH_MAX * 2 + 16];
    snprintf(cmd, sizeof cmd, "cmp '%s' '%s'", t_path("in"), t_path("out"));
    int status;
    t_run(cmd, &status);
    CHECK_INT(status, ==, 0);

    /* put_fd from the middle of a file stores the rest of it. */
    int fd = open(t_path("in"), O_RDONLY);
    REQUIRE(fd >= 0 && lseek(fd, 1000, SEEK_SET) == 1000);
    REQUIRE(udr_object_put_fd(r, fd, &h2) == UDR_OK);
    close(fd);
    udr_hash_buffer(buf + 1000, len - 1000, &want);
    CHECK(memcmp(&h2, &want, sizeof want) == 0);
    free(buf);
    udr_close(r);
}

/* ---- dedup ------------------------------------------------------------- */

static void test_dedup_writes_nothing(void)
{
    udr_repo *r = new_repo();
    unsigned char buf[50000];
    t_fill(buf, sizeof buf, 3);
    udr_hash h;
    REQUIRE(udr_object_put(r, buf, sizeof buf, &h) == UDR_OK);

    /* Age the object's file: a dedup hit freshens its time (so GC sees the
       object as in use), but rewrites nothing: same inode, no bytes. */
    const char *path = obj_file(r, &h);
    struct timespec old[2] = {{946684800, 0}, {946684800, 0}};   /* 2000-01-01 */
    REQUIRE(utimensat(AT_FDCWD, path, old, 0) == 0);
    struct stat before, after;
    REQUIRE(stat(path, &before) == 0);

    long long w0 = bytes_written_by_me();
    udr_hash h2;
    REQUIRE(udr_object_put(r, buf, sizeof buf, &h2) == UDR_OK);
    t_write_file(t_path("same"), buf, sizeof buf);
    long long w1 = bytes_written_by_me();
    REQUIRE(udr_object_put_file(r, t_path("same"), &h2) == UDR_OK);
    long long w2 = bytes_written_by_me();
    CHECK(memcmp(&h, &h2, sizeof h) == 0);
    CHECK_INT(w1 - w0, ==, sizeof buf);     /* only t_write_file wrote */
    CHECK_INT(w2 - w1, ==, 0);              /* put_file of known bytes: no write */

    REQUIRE(stat(path, &after) == 0);
    CHECK_INT(after.st_mtime, >, before.st_mtime);
    CHECK_INT(after.st_ino, ==, before.st_ino);
    CHECK_INT(after.st_size, ==, sizeof buf);
    CHECK_INT(object_count(r), ==, 1);
    CHECK_INT(tmp_files(), ==, 0);
    udr_close(r);
}

/* ---- corruption ---------------------------------------------------------- */

typedef struct problems {
    int n;
    char last[1024];
} problems;

static void on_problem(void *ctx, const udr_fsck_problem *p)
{
    problems *ps = ctx;
    ps->n++;
    snprintf(ps->last, sizeof ps->last, "%s|%s|%s", p->object ? p->object : "-", p->path,
             p->message);
}

static void expect_corrupt(udr_repo *r, const udr_hash *h, const char *how)
{
    char hex[UDR_HASH_HEX + 1];
    udr_hash_to_hex(h, hex);
    void *data = NULL;
    size_t len;
    CHECK_INT(udr_object_get_verified(r, h, &data, &len), ==, UDR_ECORRUPT);
    CHECK_CONTAINS(udr_errmsg(r), hex);
    CHECK_CONTAINS(udr_errmsg(r), how);
    CHECK_INT(udr_object_verify(r, h), ==, UDR_ECORRUPT);
    CHECK_CONTAINS(udr_errmsg(r), hex);
    int fd = open("/dev/null", O_WRONLY);
    CHECK_INT(udr_object_write_to_fd(r, h, fd), ==, UDR_ECORRUPT);
    close(fd);

    problems ps = {0, ""};
    udr_fsck_stats st;
    REQUIRE(udr_fsck(r, on_problem, NULL, &ps, &st) == UDR_OK);
    CHECK_INT(ps.n, ==, 1);
    CHECK_INT(st.problems, ==, 1);
    CHECK_CONTAINS(ps.last, hex);
}

static void test_flipped_byte_detected(void)
{
    udr_repo *r = new_repo();
    unsigned char buf[10000];
    t_fill(buf, sizeof buf, 11);
    udr_hash h, other;
    REQUIRE(udr_object_put(r, buf, sizeof buf, &h) == UDR_OK);
    REQUIRE(udr_object_put(r, "intact", 6, &other) == UDR_OK);
    const char *path = obj_file(r, &h);
    REQUIRE(chmod(path, 0644) == 0);
    int fd = open(path, O_RDWR);
    REQUIRE(fd >= 0);
    unsigned char b = buf[5000] ^ 0x01;
    REQUIRE(pwrite(fd, &b, 1, 5000) == 1);
    close(fd);
    expect_corrupt(r, &h, "altered or truncated");
    /* Unverified get still returns the (wrong) bytes: it does not check. */
    void *data;
    size_t len;
    CHECK_INT(udr_object_get(r, &h, &data, &len), ==, UDR_OK);
    udr_free(data);
    CHECK_INT(udr_object_verify(r, &other), ==, UDR_OK);
    udr_close(r);
}

static void test_truncated_object_detected_and_repaired(void)
{
    udr_repo *r = new_repo();
    unsigned char buf[10000];
    t_fill(buf, sizeof buf, 12);
    udr_hash h;
    REQUIRE(udr_object_put(r, buf, sizeof buf, &h) == UDR_OK);
    const char *path = obj_file(r, &h);
    REQUIRE(truncate(path, 4096) == 0);
    expect_corrupt(r, &h, "4096 bytes");

    /* Truncated to nothing. */
    REQUIRE(truncate(path, 0) == 0);
    expect_corrupt(r, &h, "empty");

    /* A put of the right bytes repairs a file of the wrong size. */
    udr_hash h2;
    REQUIRE(udr_object_put(r, buf, sizeof buf, &h2) == UDR_OK);
    CHECK_INT(udr_object_verify(r, &h), ==, UDR_OK);
    udr_close(r);
}

static void test_missing_object_named(void)
{
    udr_repo *r = new_repo();
    udr_hash h;
    REQUIRE(udr_object_put(r, "soon gone", 9, &h) == UDR_OK);
    REQUIRE(unlink(obj_file(r, &h)) == 0);
    char hex[UDR_HASH_HEX + 1];
    udr_hash_to_hex(&h, hex);
    void *data;
    size_t len;
    CHECK_INT(udr_object_get_verified(r, &h, &data, &len), ==, UDR_ENOTFOUND);
    CHECK_CONTAINS(udr_errmsg(r), hex);
    CHECK_CONTAINS(udr_errmsg(r), "missing");
    CHECK_INT(udr_object_verify(r, &h), ==, UDR_ENOTFOUND);
    CHECK_CONTAINS(udr_errmsg(r), hex);
    CHECK_INT(udr_object_exists(r, &h), ==, 0);
    uint64_t size;
    CHECK_INT(udr_object_size(r, &h, &size), ==, UDR_ENOTFOUND);
    CHECK_INT(udr_object_delete(r, &h), ==, UDR_ENOTFOUND);
    udr_close(r);
}

static void test_fsck_reports_strays(void)
{
    udr_repo *r = new_repo();
    udr_hash h;
    REQUIRE(udr_object_put(r, "x", 1, &h) == UDR_OK);
    char hex[UDR_HASH_HEX + 1], rel[256];
    udr_hash_to_hex(&h, hex);
    snprintf(rel, sizeof rel, "repo/objects/%.2s/%.2s/notes.txt", hex, hex + 2);
    t_write_file(t_path(rel), "junk", 4);
    problems ps = {0, ""};
    udr_fsck_stats st;
    REQUIRE(udr_fsck(r, on_problem, NULL, &ps, &st) == UDR_OK);
    CHECK_INT(st.objects, ==, 1);
    CHECK_INT(ps.n, ==, 1);
    CHECK_CONTAINS(ps.last, "notes.txt");
    CHECK_INT(object_count(r), ==, 1);     /* foreach skips strays */
    udr_close(r);
}

static void test_delete(void)
{
    udr_repo *r = new_repo();
    udr_hash a, b;
    REQUIRE(udr_object_put(r, "a", 1, &a) == UDR_OK);
    REQUIRE(udr_object_put(r, "b", 1, &b) == UDR_OK);
    CHECK_INT(udr_object_delete(r, &a), ==, UDR_OK);
    CHECK_INT(udr_object_exists(r, &a), ==, 0);
    CHECK_INT(udr_object_exists(r, &b), ==, 1);
    CHECK_INT(object_count(r), ==, 1);
    udr_close(r);
}

/* ---- concurrency ------------------------------------------------------- */

enum { WRITERS = 4, SHARED_OBJECTS = 100, OWN_OBJECTS = 100 };

static size_t object_bytes(uint64_t seed, unsigned char *buf)
{
    size_t len = (size_t)(seed * 2654435761u % 65536);
    t_fill(buf, len, seed);
    return len;
}

static void writer(int id)
{
    udr_repo *r;
    if (udr_open(t_path("repo"), &r) != UDR_OK)
        _exit(10);
    static unsigned char buf[65536];
    for (int i = 0; i < SHARED_OBJECTS + OWN_OBJECTS; i++) {
        /* Shared objects in a different order in each writer. */
        uint64_t seed = i < SHARED_OBJECTS ? (uint64_t)((i * (id + 1) * 7) % SHARED_OBJECTS)
                                           : (uint64_t)(1000 + id * OWN_OBJECTS + i);
        size_t len = object_bytes(seed, buf);
        udr_hash h;
        if (udr_object_put(r, buf, len, &h) != UDR_OK) {
            fprintf(stderr, "writer %d: %s\n", id, udr_errmsg(r));
            _exit(11);
        }
    }
    udr_close(r);
    _exit(0);
}

static void test_four_processes_put_at_once(void)
{
    udr_repo *r = new_repo();
    pid_t pids[WRITERS];
    for (int i = 0; i < WRITERS; i++) {
        pids[i] = fork();
        REQUIRE(pids[i] >= 0);
        if (pids[i] == 0)
            writer(i);
    }
    for (int i = 0; i < WRITERS; i++) {
        int st;
        REQUIRE(waitpid(pids[i], &st, 0) == pids[i]);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    /* Every object is there and intact, once. */
    static unsigned char buf[65536];
    int distinct = SHARED_OBJECTS + WRITERS * OWN_OBJECTS;
    for (int i = 0; i < distinct; i++) {
        uint64_t seed = i < SHARED_OBJECTS ? (uint64_t)i : (uint64_t)(1000 + i);
        size_t len = object_bytes(seed, buf);
        udr_hash h;
        udr_hash_buffer(buf, len, &h);
        CHECK_INT(udr_object_verify(r, &h), ==, UDR_OK);
    }
    CHECK_INT(object_count(r), ==, distinct);
    problems ps = {0, ""};
    udr_fsck_stats st;
    REQUIRE(udr_fsck(r, on_problem, NULL, &ps, &st) == UDR_OK);
    CHECK_INT(ps.n, ==, 0);
    CHECK_INT(st.objects, ==, distinct);
    CHECK_INT(tmp_files(), ==, 0);
    udr_close(r);
}

/* ---- injected failures ------------------------------------------------- */

typedef struct fault_plan {
    fs_op op;                  /* the operation to fail */
    int skip;                  /* let this many of them through first */
    int err;                   /* errno to fail with */
    int hits;                  /* how many were failed */
} fault_plan;

static int fault_hook(void *ctx, fs_op op, const char *path)
{
    (void)path;
    fault_plan *p = ctx;
    if (op != p->op)
        return 0;
    if (p->skip > 0) {
        p->skip--;
        return 0;
    }
    p->hits++;
    return p->err;
}

static void expect_clean_failure(udr_repo *r, int rc, int want_rc, const udr_hash *h,
                                 const char *what, const char *says)
{
    if (rc != want_rc)
        harness_fail(__FILE__, __LINE__, "%s: rc %d (%s), wanted %d", what, rc, udr_errmsg(r),
                     want_rc);
    CHECK_CONTAINS(udr_errmsg(r), says);
    CHECK_INT(udr_object_exists(r, h), ==, 0);
    CHECK_INT(tmp_files(), ==, 0);
}

static void test_injected_failures_leave_nothing(void)
{
    udr_repo *r = new_repo();
    store *s = repo_store(r);
    unsigned char buf[3000];
    t_fill(buf, sizeof buf, 99);
    t_write_file(t_path("input"), buf, sizeof buf);
    udr_hash h;
    udr_hash_buffer(buf, sizeof buf, &h);

    static const struct {
        fs_op op;
        int err;
        int want;
        const char *says;
    } cases[] = {
        {FS_OP_OPEN, EMFILE, UDR_EIO, "temporary file"},
        {FS_OP_WRITE, EIO, UDR_EIO, "writing"},
        {FS_OP_WRITE, ENOSPC, UDR_EFULL, "no space left"},
        {FS_OP_FSYNC, EIO, UDR_EIO, "fsync"},
        {FS_OP_MKDIR, EACCES, UDR_EPERM, "cannot create directory"},
        {FS_OP_RENAME, EIO, UDR_EIO, "rename"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (int how = 0; how < 3; how++) {     /* memory, file, pipe */
            fault_plan plan = {cases[i].op, 0, cases[i].err, 0};
            s->fault.fn = fault_hook;
            s->fault.ctx = &plan;
            udr_hash got;
            int rc;
            if (how == 0) {
                rc = udr_object_put(r, buf, sizeof buf, &got);
            } else if (how == 1) {
                rc = udr_object_put_file(r, t_path("input"), &got);
            } else {
                int fds[2];
                REQUIRE(pipe(fds) == 0);
                REQUIRE(write(fds[1], buf, sizeof buf) == (ssize_t)sizeof buf);
                close(fds[1]);
                rc = udr_object_put_fd(r, fds[0], &got);
                close(fds[0]);
            }
            s->fault.fn = NULL;
            char what[128];
            snprintf(what, sizeof what, "%s failing with %s (put %s)", fs_op_name(cases[i].op),
                     strerror(cases[i].err), how == 0 ? "memory" : how == 1 ? "file" : "pipe");
            CHECK_INT(plan.hits, ==, 1);
            expect_clean_failure(r, rc, cases[i].want, &h, what, cases[i].says);
        }
    }
    /* With the hook gone, the same put works. */
    udr_hash got;
    CHECK_INT(udr_object_put(r, buf, sizeof buf, &got), ==, UDR_OK);
    CHECK_INT(udr_object_verify(r, &h), ==, UDR_OK);

    /* A failing directory fsync is reported; the object, complete under its
     * name, is left (a concurrent put may share it), no temporary file. */
    REQUIRE(udr_object_delete(r, &h) == UDR_OK);
    fault_plan plan = {FS_OP_FSYNC_DIR, 0, EIO, 0};
    s->fault.fn = fault_hook;
    s->fault.ctx = &plan;
    CHECK_INT(udr_object_put(r, buf, sizeof buf, &got), ==, UDR_EIO);
    s->fault.fn = NULL;
    CHECK_CONTAINS(udr_errmsg(r), "fsync of its directory");
    CHECK_INT(tmp_files(), ==, 0);
    CHECK_INT(udr_object_verify(r, &h), ==, UDR_OK);

    /* A failing read of the input. */
    plan = (fault_plan){FS_OP_READ, 0, EIO, 0};
    s->fault.fn = fault_hook;
    s->fault.ctx = &plan;
    unsigned char other[100];
    t_fill(other, sizeof other, 5);
    t_write_file(t_path("other"), other, sizeof other);
    udr_hash oh;
    udr_hash_buffer(other, sizeof other, &oh);
    int rc = udr_object_put_file(r, t_path("other"), &got);
    s->fault.fn = NULL;
    expect_clean_failure(r, rc, UDR_EIO, &oh, "read", "cannot read");
    udr_close(r);
}

/* The fault hook changes the input file between the store's hashing of it
 * and its copy into the temporary file (the first write). */
static int change_file_hook(void *ctx, fs_op op, const char *path)
{
    (void)path;
    int *writes = ctx;
    if (op == FS_OP_WRITE && ++*writes == 1) {
        int fd = open(t_path("changing"), O_WRONLY);
        if (fd >= 0) {
            if (pwrite(fd, "CHANGED", 7, 10) != 7)
                return EIO;
            close(fd);
        }
    }
    return 0;
}

static void test_file_changing_during_put_is_refused(void)
{
    udr_repo *r = new_repo();
    store *s = repo_store(r);
    unsigned char buf[5000];
    t_fill(buf, sizeof buf, 8);
    t_write_file(t_path("changing"), buf, sizeof buf);
    int writes = 0;
    s->fault.fn = change_file_hook;
    s->fault.ctx = &writes;
    udr_hash h;
    int rc = udr_object_put_file(r, t_path("changing"), &h);
    s->fault.fn = NULL;
    CHECK_INT(rc, ==, UDR_ECORRUPT);
    CHECK_CONTAINS(udr_errmsg(r), "changed while it was being stored");
    CHECK_INT(object_count(r), ==, 0);
    CHECK_INT(tmp_files(), ==, 0);
    udr_close(r);
}

/* Where a file cannot be mapped, hashing falls back to reading it. */
static void test_hashing_without_mmap(void)
{
    udr_repo *r = new_repo();
    store *s = repo_store(r);
    size_t len = 5 * STORE_IO_BYTES + 999;
    unsigned char *buf = malloc(len);
    REQUIRE(buf != NULL);
    t_fill(buf, len, 31);
    t_write_file(t_path("input"), buf, len);
    udr_hash want, got;
    udr_hash_buffer(buf, len, &want);
    fault_plan plan = {FS_OP_MMAP, 0, ENODEV, 0};
    s->fault.fn = fault_hook;
    s->fault.ctx = &plan;
    CHECK_INT(udr_object_put_file(r, t_path("input"), &got), ==, UDR_OK);
    CHECK(memcmp(&got, &want, sizeof got) == 0);
    CHECK_INT(plan.hits, ==, 2);               /* the input, then the copy */
    CHECK_INT(udr_object_verify(r, &want), ==, UDR_OK);
    /* A flipped byte is found by the fallback as well. */
    const char *path = obj_file(r, &want);
    REQUIRE(chmod(path, 0644) == 0);
    int fd = open(path, O_RDWR);
    REQUIRE(fd >= 0);
    REQUIRE(pwrite(fd, "!", 1, (off_t)len - 3) == 1);
    close(fd);
    CHECK_INT(udr_object_verify(r, &want), ==, UDR_ECORRUPT);
    s->fault.fn = NULL;
    CHECK_INT(udr_object_verify(r, &want), ==, UDR_ECORRUPT);
    free(buf);
    udr_close(r);
}

/* ---- temporary files --------------------------------------------------- */

static void age(const char *path)
{
    struct timespec old[2] = {{time(NULL) - 3600, 0}, {time(NULL) - 3600, 0}};
    REQUIRE(utimensat(AT_FDCWD, path, old, 0) == 0);
}

/* The pid of a process that has exited (temporary names carry their
 * maker's pid). */
static pid_t dead_pid(void)
{
    pid_t p = fork();
    REQUIRE(p >= 0);
    if (p == 0)
        _exit(0);
    waitpid(p, NULL, 0);
    return p;
}

static void test_stale_tmp_cleaned_live_kept(void)
{
    udr_repo *r = new_repo();
    char died[256], starting[256], locked[256];
    /* A writer that died: old, unlocked. */
    snprintf(died, sizeof died, "repo/tmp/obj.%ld.1.deadbeef", (long)dead_pid());
    t_write_file(t_path(died), "partial", 7);
    age(t_path(died));
    /* A writer that just started (this process): not locked yet. */
    snprintf(starting, sizeof starting, "repo/tmp/obj.%ld.2.00000000", (long)getpid());
    t_write_file(t_path(starting), "starting", 8);
    /* A live writer in another process: old and locked by it. */
    int sync_pipe[2];
    REQUIRE(pipe(sync_pipe) == 0);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    snprintf(locked, sizeof locked, "repo/tmp/obj.%ld.3.11111111", (long)(pid ? pid : getpid()));
    if (pid == 0) {
        t_write_file(t_path(locked), "writing", 7);
        int fd = open(t_path(locked), O_RDONLY);
        if (fd < 0 || flock(fd, LOCK_EX) != 0)
            _exit(1);
        if (write(sync_pipe[1], "L", 1) != 1)
            _exit(1);
        pause();
        _exit(0);
    }
    char c;
    REQUIRE(read(sync_pipe[0], &c, 1) == 1);
    age(t_path(locked));

    r = reopen(r);
    CHECK_INT(r->tmp_removed, ==, 1);
    CHECK(access(t_path(died), F_OK) != 0);
    CHECK(access(t_path(starting), F_OK) == 0);
    CHECK(access(t_path(locked), F_OK) == 0);
    /* A file whose name says nothing of its maker: kept while new. */
    t_write_file(t_path("repo/tmp/unnamed"), "?", 1);

    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    close(sync_pipe[0]);
    close(sync_pipe[1]);
    /* Its writer is gone now: the next open removes it. */
    r = reopen(r);
    CHECK_INT(r->tmp_removed, ==, 1);
    CHECK(access(t_path(locked), F_OK) != 0);
    CHECK(access(t_path("repo/tmp/unnamed"), F_OK) == 0);
    age(t_path("repo/tmp/unnamed"));
    r = reopen(r);
    CHECK(access(t_path("repo/tmp/unnamed"), F_OK) != 0);
    udr_close(r);
}

/* Temporary files named for a live process are its, locked or not; a dead
 * process's DuckDB spill directory goes. */
static void test_clean_tmp_respects_live_makers(void)
{
    udr_repo *r = new_repo();
    char name[256];
    /* This test process is alive: its unlocked, old chunk file stays. */
    snprintf(name, sizeof name, "repo/tmp/chunk.%ld.1.parquet", (long)getpid());
    t_write_file(t_path(name), "rows", 4);
    age(t_path(name));
    /* A process that has exited. */
    pid_t dead = dead_pid();
    char gone[256], spill[256], spilled[300];
    snprintf(gone, sizeof gone, "repo/tmp/chunk.%ld.7.parquet", (long)dead);
    t_write_file(t_path(gone), "rows", 4);
    age(t_path(gone));
    snprintf(spill, sizeof spill, "repo/tmp/duckdb.%ld", (long)dead);
    REQUIRE(mkdir(t_path(spill), 0755) == 0);
    snprintf(spilled, sizeof spilled, "%s/spill.tmp", spill);
    t_write_file(t_path(spilled), "x", 1);
    r = reopen(r);
    CHECK(access(t_path(name), F_OK) == 0);
    CHECK(access(t_path(gone), F_OK) != 0);
    CHECK(access(t_path(spill), F_OK) != 0);
    CHECK_INT(r->tmp_removed, ==, 2);
    udr_close(r);
}

/* ---- bounded memory ---------------------------------------------------- */

/* Streams a 1 GiB file through `udr object put` in a child process and reads
 * the child's peak resident set from wait4(). */
static void test_streaming_put_1gib_bounded_memory(void)
{
    udr_repo *r = new_repo();
    udr_close(r);
    const char *big = t_path("big");
    int fd = open(big, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    REQUIRE(fd >= 0);
    enum { PIECE = 1 << 20 };
    unsigned char *piece = malloc(PIECE);
    REQUIRE(piece != NULL);
    for (int i = 0; i < 1024; i++) {
        t_fill(piece, PIECE, (uint64_t)i);
        REQUIRE(write(fd, piece, PIECE) == PIECE);
    }
    close(fd);
    free(piece);

    /* Measured through tests/peak_rss, which forks udr from a small process:
     * a child forked from this (large) test would inherit its peak. */
    char cmd[PATH_MAX * 4];
    for (int via_stdin = 0; via_stdin < 2; via_stdin++) {
        /* A file (mapped and hashed, then copied), and a pipe (streamed). */
        if (via_stdin)
            snprintf(cmd, sizeof cmd,
                     "cat '%s' | %s/peak_rss %s/../udr --repo '%s' object put - 2>&1 >/dev/null",
                     big, t_bindir(), t_bindir(), t_path("repo"));
        else
            snprintf(cmd, sizeof cmd,
                     "%s/peak_rss %s/../udr --repo '%s' object put '%s' 2>&1 >/dev/null",
                     t_bindir(), t_bindir(), t_path("repo"), big);
        int status;
        const char *line = t_run(cmd, &status);
        CHECK_INT(status, ==, 0);
        long peak_kib = -1;
        REQUIRE(line != NULL && sscanf(line, "peak_rss_kib %ld", &peak_kib) == 1);
        printf("    peak RSS of 'udr object put %s' on 1 GiB: %ld KiB\n",
               via_stdin ? "- (a pipe)" : "FILE", peak_kib);
        CHECK_INT(peak_kib, <, 64 * 1024);
    }
    REQUIRE(udr_open(t_path("repo"), &r) == UDR_OK);
    CHECK_INT(object_count(r), ==, 1);
    udr_close(r);
}

static const test_case TESTS[] = {
    TEST_ENTRY(test_round_trip_sizes),
    TEST_ENTRY(test_put_file_pipe_and_stream_out),
    TEST_ENTRY(test_dedup_writes_nothing),
    TEST_ENTRY(test_flipped_byte_detected),
    TEST_ENTRY(test_truncated_object_detected_and_repaired),
    TEST_ENTRY(test_missing_object_named),
    TEST_ENTRY(test_fsck_reports_strays),
    TEST_ENTRY(test_delete),
    TEST_ENTRY(test_four_processes_put_at_once),
    TEST_ENTRY(test_injected_failures_leave_nothing),
    TEST_ENTRY(test_file_changing_during_put_is_refused),
    TEST_ENTRY(test_hashing_without_mmap),
    TEST_ENTRY(test_stale_tmp_cleaned_live_kept),
    TEST_ENTRY(test_clean_tmp_respects_live_makers),
    TEST_ENTRY(test_streaming_put_1gib_bounded_memory),
};
HARNESS_MAIN("store", TESTS)
