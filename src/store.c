/*
 * store — the content-addressed object store; the format and the guarantees
 * are described in store.h.
 *
 * The write path, for every put:
 *
 *   1. hash the bytes (for a regular file: a first read-only pass);
 *   2. if objects/ab/cd/<hash> exists with the right size, stop: nothing is
 *      written (dedup);
 *   3. create tmp/obj.<pid>.<seq>.<rand> exclusively, flock it, write, fsync;
 *   4. rename it to objects/ab/cd/<hash>, creating ab/ and cd/ if needed;
 *   5. fsync objects/ab/cd/, objects/ab/ and objects/, so the name survives a
 *      crash as surely as the bytes;
 *   6. on any failure after 3, unlink the temporary file.
 *
 * A regular file is hashed first, so that storing a file already present
 * costs a read and no write. It is then copied into the temporary file (in
 * the kernel, copy_file_range, where it can) and the temporary file itself is
 * hashed again before it is renamed: what is stored is exactly what was
 * hashed, and a file that changed meanwhile is refused, not stored under the
 * wrong name.
 *
 * Hashing a file or an object maps it and hashes it on all cores (hash.h),
 * dropping each piece from memory once hashed: the memory held stays small,
 * however large the file. As with git, which also maps files to hash them, a file
 * truncated by another process while it is mapped raises SIGBUS; the udr
 * tool turns that into an error message.
 */
#include "store.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hash.h"

/* A temporary file whose name does not say who made it, younger than this,
 * is never removed by cleaning, even if unlocked: its writer may be between
 * creating and locking it. (A name with a dead maker's pid goes at once.) */
enum { TMP_GRACE_SECONDS = 10 };

int store_open(store *s, const char *root, udr_err *err)
{
    memset(s, 0, sizeof *s);
    s->err = err;
    if (fs_path(s->root, sizeof s->root, "%s", root) != 0)
        return err_set(err, UDR_EINVAL, "repository path is too long: %.200s...", root);
    return UDR_OK;
}

int store_object_relpath(const udr_hash *h, char *buf, size_t size)
{
    char hex[UDR_HASH_HEX + 1];
    hash_to_hex(h, hex);
    return fs_path(buf, size, "objects/%.2s/%.2s/%s", hex, hex + 2, hex);
}

int store_object_path(const store *s, const udr_hash *h, char *buf, size_t size)
{
    char rel[128];
    int rc = store_object_relpath(h, rel, sizeof rel);
    assert(rc == 0);
    (void)rc;
    return fs_path(buf, size, "%s/%s", s->root, rel);
}

/* Absolute path of an object; on the (only theoretical) overflow an error. */
static int obj_path(store *s, const udr_hash *h, char path[PATH_MAX])
{
    if (store_object_path(s, h, path, PATH_MAX) != 0)
        return err_set(s->err, UDR_EINVAL, "object path too long under %s", s->root);
    return UDR_OK;
}

static void hex_of(const udr_hash *h, char hex[UDR_HASH_HEX + 1])
{
    hash_to_hex(h, hex);
}

/* 1 if the object's file exists with size len, 0 if absent or the wrong size
 * (damaged: a put may replace it), negative on a stat error.
 *
 * An object found is freshened (its time set to now): a put that finds its
 * bytes stored already relies on them, so GC, which takes only objects
 * older than its grace period, must see them as new. If GC took the object
 * between the stat and the freshening, the freshening fails (ENOENT) and the
 * put writes the object again; if GC took it just after, GC sees the fresh
 * time when it checks what it took, and puts it back (gc.c). */
static int present_with_size(store *s, const udr_hash *h, uint64_t len)
{
    char path[PATH_MAX];
    int rc = obj_path(s, h, path);
    if (rc)
        return rc;
    struct stat st;
    if (stat(path, &st) != 0) {
        if (errno == ENOENT)
            return 0;
        return err_sys(s->err, errno, "cannot stat object file %s", path);
    }
    if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size != len)
        return 0;
    if (utimensat(AT_FDCWD, path, NULL, 0) != 0 && errno == ENOENT)
        return 0;                      /* taken by GC meanwhile: write it again */
    return 1;                          /* (a read-only store cannot freshen: fine) */
}

/* ---- temporary files ---------------------------------------------------- */

typedef struct tmp_obj {
    char path[PATH_MAX];
    int fd;                    /* -1 once closed */
} tmp_obj;

static int tmp_create(store *s, tmp_obj *t)
{
    t->fd = -1;
    uint64_t nonce = (uint64_t)time(NULL) ^ ((uint64_t)clock() << 20) ^ (uint64_t)(uintptr_t)t;
    for (int attempt = 0; attempt < 16; attempt++) {
        s->tmp_seq++;
        nonce = nonce * 6364136223846793005ULL + 1442695040888963407ULL;
        if (fs_path(t->path, sizeof t->path, "%s/tmp/obj.%ld.%llu.%08x", s->root,
                    (long)getpid(), (unsigned long long)s->tmp_seq,
                    (unsigned)(nonce >> 32)) != 0)
            return err_set(s->err, UDR_EINVAL, "temporary path too long under %s", s->root);
        int e = fs_create_excl(t->path, 0444, &t->fd, &s->fault);
        if (e == EEXIST)
            continue;
        if (e)
            return err_sys(s->err, e, "cannot create temporary file %s", t->path);
        /* Held until the file is renamed or removed: marks it as live. */
        if (flock(t->fd, LOCK_EX | LOCK_NB) != 0) {
            e = errno;
            close(t->fd);
            unlink(t->path);
            t->fd = -1;
            return err_sys(s->err, e, "cannot lock temporary file %s", t->path);
        }
        return UDR_OK;
    }
    return err_set(s->err, UDR_EIO, "cannot find a free temporary name in %s/tmp", s->root);
}

static void tmp_discard(tmp_obj *t)
{
    if (t->fd >= 0) {
        close(t->fd);
        t->fd = -1;
    }
    unlink(t->path);
}

/* fsync and rename the temporary file to the object's name; on failure the
 * temporary file is removed. */
static int tmp_commit(store *s, tmp_obj *t, const udr_hash *h)
{
    char hex[UDR_HASH_HEX + 1];
    hex_of(h, hex);
    int e = fs_fsync(t->fd, &s->fault, t->path);
    if (e) {
        tmp_discard(t);
        return err_sys(s->err, e, "cannot store object %s: fsync of %s failed", hex, t->path);
    }

    char dir1[PATH_MAX], dir2[PATH_MAX], dest[PATH_MAX], objects[PATH_MAX];
    if (fs_path(objects, sizeof objects, "%s/objects", s->root) ||
        fs_path(dir1, sizeof dir1, "%s/objects/%.2s", s->root, hex) ||
        fs_path(dir2, sizeof dir2, "%s/objects/%.2s/%.2s", s->root, hex, hex + 2) ||
        fs_path(dest, sizeof dest, "%s/%s", dir2, hex)) {
        tmp_discard(t);
        return err_set(s->err, UDR_EINVAL, "object path too long under %s", s->root);
    }

    e = fs_rename(t->path, dest, &s->fault);
    if (e == ENOENT) {
        /* The fan-out directories do not exist yet. */
        if ((e = fs_mkdir(dir1, &s->fault)) != 0 || (e = fs_mkdir(dir2, &s->fault)) != 0) {
            tmp_discard(t);
            return err_sys(s->err, e, "cannot store object %s: cannot create directory under %s",
                           hex, objects);
        }
        e = fs_rename(t->path, dest, &s->fault);
    }
    if (e) {
        tmp_discard(t);
        return err_sys(s->err, e, "cannot store object %s: rename to %s failed", hex, dest);
    }
    close(t->fd);              /* releases the flock; the name is final now */
    t->fd = -1;

    /* The rename is durable once the leaf directory is synced; the parents
     * are synced too because a concurrent writer may have created them and
     * not synced them yet. Syncing a clean directory costs little. */
    if ((e = fs_fsync_dir(dir2, &s->fault)) != 0 || (e = fs_fsync_dir(dir1, &s->fault)) != 0 ||
        (e = fs_fsync_dir(objects, &s->fault)) != 0) {
        /* The object is in place but may not survive a crash. It is not
         * taken back: a concurrent put of the same bytes may rely on it. An
         * object nobody refers to is harmless; GC removes it. */
        return err_sys(s->err, e, "cannot store object %s: fsync of its directory failed", hex);
    }
    return UDR_OK;
}

/* ---- put ---------------------------------------------------------------- */

int store_put(store *s, const void *data, size_t len, udr_hash *out)
{
    assert(data != NULL || len == 0);
    udr_hash h;
    hash_buffer_mt(data, len, &h);
    int rc = present_with_size(s, &h, len);
    if (rc < 0)
        return rc;
    if (rc == 1) {
        *out = h;
        return UDR_OK;
    }
    tmp_obj t;
    if ((rc = tmp_create(s, &t)) != 0)
        return rc;
    int e = fs_write_all(t.fd, data, len, &s->fault, t.path);
    if (e) {
        char hex[UDR_HASH_HEX + 1];
        hex_of(&h, hex);
        tmp_discard(&t);
        return err_sys(s->err, e, "cannot store object %s: writing %zu bytes to %s failed", hex,
                       len, t.path);
    }
    if ((rc = tmp_commit(s, &t, &h)) != 0)
        return rc;
    *out = h;
    return UDR_OK;
}

/* Hashes len bytes of fd from offset on: mapped, on all cores. Falls back to
 * reading (one thread) where the file cannot be mapped. */
int store_hash_fd(store *s, int fd, off_t offset, uint64_t len, const char *what, udr_hash *out)
{
    int e = s->fault.fn ? s->fault.fn(s->fault.ctx, FS_OP_READ, what) : 0;
    if (e)
        return err_sys(s->err, e, "cannot read %s", what);
    if (len == 0) {
        hash_buffer(NULL, 0, out);
        return UDR_OK;
    }
    long page = sysconf(_SC_PAGESIZE);
    off_t map_at = offset - offset % page;
    size_t skew = (size_t)(offset - map_at);
    int no_map = s->fault.fn ? s->fault.fn(s->fault.ctx, FS_OP_MMAP, what) : 0;
    void *map = !no_map && len <= SIZE_MAX - skew
                    ? mmap(NULL, (size_t)len + skew, PROT_READ, MAP_SHARED, fd, map_at)
                    : MAP_FAILED;
    if (map != MAP_FAILED) {
        /* Pages fault in on the hashing threads, in parallel, and are dropped
         * from this process once hashed, so memory stays bounded. */
        hash_mapped_file((const unsigned char *)map + skew, (size_t)len, out);
        munmap(map, (size_t)len + skew);
        return UDR_OK;
    }
    /* The fallback: hash the whole region by reading it, on one thread. */
    char *buf = malloc(STORE_IO_BYTES);
    if (buf == NULL)
        return err_set(s->err, UDR_ENOMEM, "out of memory for an I/O buffer");
    hasher hs;
    hash_init(&hs);
    for (uint64_t pos = 0; pos < len;) {
        size_t want = len - pos < STORE_IO_BYTES ? (size_t)(len - pos) : STORE_IO_BYTES;
        size_t got;
        if ((e = fs_pread_full(fd, buf, want, offset + (off_t)pos, &got, NULL, what)) != 0 ||
            got == 0) {
            free(buf);
            if (e)
                return err_sys(s->err, e, "cannot read %s", what);
            return err_set(s->err, UDR_EIO, "%s became shorter while it was read", what);
        }
        hash_update(&hs, buf, got);
        pos += got;
    }
    free(buf);
    hash_final(&hs, out);
    return UDR_OK;
}

/* Copies len bytes of fd from offset on into t: in the kernel where it can,
 * else through a buffer. */
static int copy_region(store *s, int fd, off_t offset, uint64_t len, tmp_obj *t)
{
    int e = s->fault.fn ? s->fault.fn(s->fault.ctx, FS_OP_WRITE, t->path) : 0;
    if (e)
        return err_sys(s->err, e, "cannot store object: writing to %s failed", t->path);
    loff_t in = offset, out = 0;
    uint64_t done = 0;
    while (done < len) {
        size_t want = len - done > (1u << 30) ? (1u << 30) : (size_t)(len - done);
        ssize_t n = copy_file_range(fd, &in, t->fd, &out, want, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;             /* unsupported here, or end of file: see below */
        done += (uint64_t)n;
    }
    if (done == len)
        return UDR_OK;
    char *buf = malloc(STORE_IO_BYTES);
    if (buf == NULL)
        return err_set(s->err, UDR_ENOMEM, "out of memory for an I/O buffer");
    while (done < len) {
        size_t want = len - done < STORE_IO_BYTES ? (size_t)(len - done) : STORE_IO_BYTES;
        size_t got;
        e = fs_pread_full(fd, buf, want, offset + (off_t)done, &got, NULL, "input");
        if (e == 0 && got == 0)
            break;             /* shorter than it was: the hash check refuses it */
        if (e == 0)
            e = fs_write_all(t->fd, buf, got, NULL, t->path);
        if (e) {
            free(buf);
            return err_sys(s->err, e, "cannot store object: copying into %s failed", t->path);
        }
        done += got;
    }
    free(buf);
    return UDR_OK;
}

/* A regular file: hash (a read), and if new, copy, re-hash the copy, rename. */
static int put_regular(store *s, int fd, const struct stat *st, udr_hash *out)
{
    off_t start = lseek(fd, 0, SEEK_CUR);
    if (start < 0 || start > st->st_size)
        start = 0;
    uint64_t len = (uint64_t)(st->st_size - start);
    udr_hash h;
    int rc = store_hash_fd(s, fd, start, len, "the input file", &h);
    if (rc)
        return rc;
    rc = present_with_size(s, &h, len);
    if (rc < 0)
        return rc;
    if (rc == 1) {
        *out = h;
        return UDR_OK;
    }
    tmp_obj t;
    if ((rc = tmp_create(s, &t)) != 0)
        return rc;
    udr_hash copied;
    struct stat tst;
    if ((rc = copy_region(s, fd, start, len, &t)) != 0 ||
        (rc = fstat(t.fd, &tst) != 0 ? err_sys(s->err, errno, "cannot stat %s", t.path) : 0) ||
        (rc = store_hash_fd(s, t.fd, 0, (uint64_t)tst.st_size, t.path, &copied)) != 0) {
        tmp_discard(&t);
        return rc;
    }
    if (!hash_equal(&copied, &h) || (uint64_t)tst.st_size != len) {
        tmp_discard(&t);
        return err_set(s->err, UDR_ECORRUPT,
                       "the input file changed while it was being stored (%llu bytes, then "
                       "%llu); nothing was stored",
                       (unsigned long long)len, (unsigned long long)tst.st_size);
    }
    if ((rc = tmp_commit(s, &t, &h)) != 0)
        return rc;
    *out = h;
    return UDR_OK;
}

/* A pipe or socket: one pass into a temporary file, hashing on the way. */
static int put_stream(store *s, int fd, udr_hash *out)
{
    char *buf = malloc(STORE_IO_BYTES);
    if (buf == NULL)
        return err_set(s->err, UDR_ENOMEM, "out of memory for an I/O buffer");
    tmp_obj t;
    int rc = tmp_create(s, &t);
    if (rc) {
        free(buf);
        return rc;
    }
    hasher hs;
    hash_init(&hs);
    for (;;) {
        size_t got;
        int e = fs_read_full(fd, buf, STORE_IO_BYTES, &got, &s->fault, "input");
        if (e) {
            rc = err_sys(s->err, e, "cannot read the input to store");
            break;
        }
        if (got == 0)
            break;
        hash_update(&hs, buf, got);
        if ((e = fs_write_all(t.fd, buf, got, &s->fault, t.path)) != 0) {
            rc = err_sys(s->err, e, "cannot store object: writing to %s failed", t.path);
            break;
        }
    }
    free(buf);
    udr_hash h;
    hash_final(&hs, &h);
    if (rc == UDR_OK)
        rc = present_with_size(s, &h, hs.bytes);
    if (rc != 0) {             /* an error (< 0), or already stored (1) */
        tmp_discard(&t);
        if (rc == 1)
            *out = h;
        return rc == 1 ? UDR_OK : rc;
    }
    if ((rc = tmp_commit(s, &t, &h)) != 0)
        return rc;
    *out = h;
    return UDR_OK;
}

int store_put_fd(store *s, int fd, udr_hash *out)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return err_sys(s->err, errno, "cannot stat the input to store");
    return S_ISREG(st.st_mode) ? put_regular(s, fd, &st, out) : put_stream(s, fd, out);
}

int store_adopt(store *s, const char *path, udr_hash *out, int *fresh)
{
    *fresh = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return err_sys(s->err, errno, "cannot open %s", path);
    struct stat st;
    udr_hash h;
    int rc = fstat(fd, &st) != 0 ? err_sys(s->err, errno, "cannot stat %s", path) : UDR_OK;
    if (rc == UDR_OK)
        rc = store_hash_fd(s, fd, 0, (uint64_t)st.st_size, path, &h);
    if (rc == UDR_OK) {
        rc = present_with_size(s, &h, (uint64_t)st.st_size);
        if (rc == 1) {                 /* stored already: drop the file */
            close(fd);
            unlink(path);
            *out = h;
            return UDR_OK;
        }
    }
    if (rc != UDR_OK) {
        close(fd);
        unlink(path);
        return rc;
    }
    /* Take it over as our own temporary file: read-only, synced, renamed. */
    tmp_obj t;
    fs_path(t.path, sizeof t.path, "%s", path);
    t.fd = fd;
    if (fchmod(fd, 0444) != 0) {
        tmp_discard(&t);
        return err_sys(s->err, errno, "cannot make %s read-only", path);
    }
    if ((rc = tmp_commit(s, &t, &h)) != 0)
        return rc;
    *fresh = 1;
    *out = h;
    return UDR_OK;
}

/* ---- get ---------------------------------------------------------------- */

/* Opens an object for reading; *size receives its size. */
static int obj_open(store *s, const udr_hash *h, int *fd, uint64_t *size)
{
    char path[PATH_MAX], hex[UDR_HASH_HEX + 1];
    int rc = obj_path(s, h, path);
    if (rc)
        return rc;
    hex_of(h, hex);
    int d = open(path, O_RDONLY | O_CLOEXEC);
    if (d < 0) {
        if (errno == ENOENT)
            return err_set(s->err, UDR_ENOTFOUND, "object %s is missing (no file %s)", hex, path);
        return err_sys(s->err, errno, "cannot open object %s (%s)", hex, path);
    }
    struct stat st;
    if (fstat(d, &st) != 0 || !S_ISREG(st.st_mode)) {
        int e = errno;
        close(d);
        return err_sys(s->err, e ? e : EINVAL, "object %s: %s is not a regular file", hex, path);
    }
    *fd = d;
    *size = (uint64_t)st.st_size;
    return UDR_OK;
}

static int corrupt(store *s, const udr_hash *want, const udr_hash *got, uint64_t len)
{
    char w[UDR_HASH_HEX + 1], g[UDR_HASH_HEX + 1], rel[128];
    hex_of(want, w);
    hex_of(got, g);
    store_object_relpath(want, rel, sizeof rel);
    if (len == 0)
        return err_set(s->err, UDR_ECORRUPT, "object %s is corrupt: %s is empty (truncated)", w,
                       rel);
    return err_set(s->err, UDR_ECORRUPT,
                   "object %s is corrupt: the %llu bytes of %s hash to %s (altered or "
                   "truncated); restore it from a copy",
                   w, (unsigned long long)len, rel, g);
}

int store_get(store *s, const udr_hash *h, int verify, void **data, size_t *len)
{
    int fd;
    uint64_t size;
    int rc = obj_open(s, h, &fd, &size);
    if (rc)
        return rc;
    if (size > SIZE_MAX - 1) {
        close(fd);
        return err_set(s->err, UDR_ENOMEM, "object too large to read into memory");
    }
    char *buf = malloc(size ? size : 1);
    if (buf == NULL) {
        close(fd);
        return err_set(s->err, UDR_ENOMEM, "out of memory reading a %llu-byte object",
                       (unsigned long long)size);
    }
    size_t got;
    int e = fs_read_full(fd, buf, size, &got, &s->fault, "object");
    close(fd);
    if (e || got != size) {
        free(buf);
        char hex[UDR_HASH_HEX + 1];
        hex_of(h, hex);
        if (e)
            return err_sys(s->err, e, "cannot read object %s", hex);
        return err_set(s->err, UDR_EIO, "object %s changed size while being read", hex);
    }
    if (verify) {
        udr_hash actual;
        hash_buffer_mt(buf, size, &actual);
        if (!hash_equal(&actual, h)) {
            free(buf);
            return corrupt(s, h, &actual, size);
        }
    }
    *data = buf;
    *len = size;
    return UDR_OK;
}

/* Opens an object and checks its bytes against its name; on success the
 * open descriptor and the size are returned. */
static int open_verified(store *s, const udr_hash *h, int *fd_out, uint64_t *size)
{
    int fd;
    int rc = obj_open(s, h, &fd, size);
    if (rc)
        return rc;
    char rel[128];
    store_object_relpath(h, rel, sizeof rel);
    udr_hash actual;
    rc = store_hash_fd(s, fd, 0, *size, rel, &actual);
    if (rc == UDR_OK && !hash_equal(&actual, h))
        rc = corrupt(s, h, &actual, *size);
    if (rc) {
        close(fd);
        return rc;
    }
    *fd_out = fd;
    return UDR_OK;
}

/* Sends len bytes of in_fd to out_fd: sendfile where it can, else a buffer. */
static int send_all(store *s, int in_fd, uint64_t len, int out_fd, const char *hex)
{
    off_t off = 0;
    while ((uint64_t)off < len) {
        size_t want = len - (uint64_t)off > (1u << 30) ? (1u << 30) : (size_t)(len - (uint64_t)off);
        ssize_t n = sendfile(out_fd, in_fd, &off, want);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP))
            break;             /* e.g. an O_APPEND output: copy through a buffer */
        if (n < 0)
            return err_sys(s->err, errno, "cannot write object %s to the output", hex);
        if (n == 0)
            return err_set(s->err, UDR_EIO, "object %s became shorter while it was read", hex);
    }
    if ((uint64_t)off == len)
        return UDR_OK;
    char *buf = malloc(STORE_IO_BYTES);
    if (buf == NULL)
        return err_set(s->err, UDR_ENOMEM, "out of memory for an I/O buffer");
    int rc = UDR_OK;
    while ((uint64_t)off < len) {
        size_t got;
        size_t want = len - (uint64_t)off < STORE_IO_BYTES ? (size_t)(len - (uint64_t)off)
                                                            : STORE_IO_BYTES;
        int e = fs_pread_full(in_fd, buf, want, off, &got, NULL, "object");
        if (e == 0 && got == 0) {
            rc = err_set(s->err, UDR_EIO, "object %s became shorter while it was read", hex);
            break;
        }
        if (e == 0)
            e = fs_write_all(out_fd, buf, got, NULL, "output");
        if (e) {
            rc = err_sys(s->err, e, "cannot write object %s to the output", hex);
            break;
        }
        off += (off_t)got;
    }
    free(buf);
    return rc;
}

int store_write_to_fd(store *s, const udr_hash *h, int fd)
{
    int in;
    uint64_t size;
    int rc = open_verified(s, h, &in, &size);
    if (rc)
        return rc;
    char hex[UDR_HASH_HEX + 1];
    hex_of(h, hex);
    rc = send_all(s, in, size, fd, hex);
    close(in);
    return rc;
}

int store_verify(store *s, const udr_hash *h)
{
    int fd;
    uint64_t size;
    int rc = open_verified(s, h, &fd, &size);
    if (rc == UDR_OK)
        close(fd);
    return rc;
}

int store_exists(store *s, const udr_hash *h)
{
    char path[PATH_MAX];
    int rc = obj_path(s, h, path);
    if (rc)
        return rc;
    if (access(path, F_OK) == 0)
        return 1;
    if (errno == ENOENT)
        return 0;
    return err_sys(s->err, errno, "cannot check object file %s", path);
}

int store_pread(store *s, const udr_hash *h, void *buf, size_t len, uint64_t offset,
                size_t *got)
{
    char path[PATH_MAX], hex[UDR_HASH_HEX + 1];
    int rc = obj_path(s, h, path);
    if (rc)
        return rc;
    *got = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        hex_of(h, hex);
        if (errno == ENOENT)
            return err_set(s->err, UDR_ENOTFOUND, "object %s is missing (no file %s)", hex, path);
        return err_sys(s->err, errno, "cannot open object %s", hex);
    }
    int e = fs_pread_full(fd, buf, len, (off_t)offset, got, &s->fault, path);
    close(fd);
    if (e) {
        hex_of(h, hex);
        return err_sys(s->err, e, "cannot read object %s", hex);
    }
    return UDR_OK;
}

int store_size(store *s, const udr_hash *h, uint64_t *size_bytes)
{
    char path[PATH_MAX], hex[UDR_HASH_HEX + 1];
    int rc = obj_path(s, h, path);
    if (rc)
        return rc;
    struct stat st;
    if (stat(path, &st) != 0) {
        hex_of(h, hex);
        if (errno == ENOENT)
            return err_set(s->err, UDR_ENOTFOUND, "object %s is missing (no file %s)", hex, path);
        return err_sys(s->err, errno, "cannot stat object %s", hex);
    }
    *size_bytes = (uint64_t)st.st_size;
    return UDR_OK;
}

int store_delete(store *s, const udr_hash *h)
{
    char path[PATH_MAX], hex[UDR_HASH_HEX + 1];
    int rc = obj_path(s, h, path);
    if (rc)
        return rc;
    if (unlink(path) == 0)
        return UDR_OK;
    hex_of(h, hex);
    if (errno == ENOENT)
        return err_set(s->err, UDR_ENOTFOUND, "object %s is missing (no file %s)", hex, path);
    return err_sys(s->err, errno, "cannot delete object %s", hex);
}

/* ---- walking ------------------------------------------------------------ */

static int is_hex_name(const char *name, size_t len)
{
    if (strlen(name) != len)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return 0;
    }
    return 1;
}

static void stray(store_stray_fn fn, void *ctx, const char *rel, const char *why)
{
    if (fn != NULL)
        fn(ctx, rel, why);
}

/* One leaf directory objects/ab/cd. */
static int walk_leaf(store *s, const char *d1, const char *d2, udr_object_fn fn,
                     store_stray_fn stray_fn, void *ctx)
{
    char dir[PATH_MAX], rel[PATH_MAX];
    if (fs_path(dir, sizeof dir, "%s/objects/%s/%s", s->root, d1, d2))
        return err_set(s->err, UDR_EINVAL, "path too long under %s", s->root);
    DIR *dp = opendir(dir);
    if (dp == NULL)
        return err_sys(s->err, errno, "cannot read directory %s", dir);
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(dp)) != NULL) {
        const char *n = de->d_name;
        if (strcmp(n, ".") == 0 || strcmp(n, "..") == 0)
            continue;
        fs_path(rel, sizeof rel, "objects/%s/%s/%s", d1, d2, n);
        udr_hash h;
        if (!is_hex_name(n, UDR_HASH_HEX) || n[0] != d1[0] || n[1] != d1[1] || n[2] != d2[0] ||
            n[3] != d2[1] || hash_from_hex(n, &h) != 0) {
            stray(stray_fn, ctx, rel, "not named like an object of this directory");
            continue;
        }
        struct stat st;
        if (fstatat(dirfd(dp), n, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            if (errno == ENOENT)
                continue;      /* deleted while we walked */
            rc = err_sys(s->err, errno, "cannot stat %s", rel);
            break;
        }
        if (!S_ISREG(st.st_mode)) {
            stray(stray_fn, ctx, rel, "not a regular file");
            continue;
        }
        if ((rc = fn(ctx, &h, (uint64_t)st.st_size)) != 0)
            break;
    }
    closedir(dp);
    return rc;
}

int store_foreach(store *s, udr_object_fn fn, store_stray_fn stray_fn, void *ctx)
{
    char dir[PATH_MAX], rel[PATH_MAX];
    if (fs_path(dir, sizeof dir, "%s/objects", s->root))
        return err_set(s->err, UDR_EINVAL, "path too long under %s", s->root);
    DIR *top = opendir(dir);
    if (top == NULL)
        return err_sys(s->err, errno, "cannot read directory %s", dir);
    int rc = 0;
    struct dirent *d1;
    while (rc == 0 && (d1 = readdir(top)) != NULL) {
        if (strcmp(d1->d_name, ".") == 0 || strcmp(d1->d_name, "..") == 0)
            continue;
        fs_path(rel, sizeof rel, "objects/%s", d1->d_name);
        if (!is_hex_name(d1->d_name, 2)) {
            stray(stray_fn, ctx, rel, "not a fan-out directory (two hex digits)");
            continue;
        }
        char sub[PATH_MAX];
        fs_path(sub, sizeof sub, "%s/%s", dir, d1->d_name);
        DIR *mid = opendir(sub);
        if (mid == NULL) {
            if (errno == ENOTDIR) {
                stray(stray_fn, ctx, rel, "not a directory");
                continue;
            }
            rc = err_sys(s->err, errno, "cannot read directory %s", sub);
            break;
        }
        struct dirent *d2;
        while (rc == 0 && (d2 = readdir(mid)) != NULL) {
            if (strcmp(d2->d_name, ".") == 0 || strcmp(d2->d_name, "..") == 0)
                continue;
            fs_path(rel, sizeof rel, "objects/%s/%s", d1->d_name, d2->d_name);
            if (!is_hex_name(d2->d_name, 2)) {
                stray(stray_fn, ctx, rel, "not a fan-out directory (two hex digits)");
                continue;
            }
            struct stat st;
            if (fstatat(dirfd(mid), d2->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                !S_ISDIR(st.st_mode)) {
                stray(stray_fn, ctx, rel, "not a directory");
                continue;
            }
            rc = walk_leaf(s, d1->d_name, d2->d_name, fn, stray_fn, ctx);
        }
        closedir(mid);
    }
    closedir(top);
    return rc;
}

/* ---- cleaning ----------------------------------------------------------- */

/* The process that made a temporary name "<kind>.<pid>...": 0 if none. */
static pid_t maker_of(const char *name)
{
    const char *dot = strchr(name, '.');
    if (dot == NULL)
        return 0;
    char *end;
    long pid = strtol(dot + 1, &end, 10);
    return pid > 0 && (*end == '.' || *end == '\0') ? (pid_t)pid : 0;
}

static int alive(pid_t pid)
{
    return kill(pid, 0) == 0 || errno == EPERM;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    return flag == FTW_DP ? rmdir(path) : unlink(path);
}

int store_clean_tmp(store *s, int *removed)
{
    char dir[PATH_MAX];
    *removed = 0;
    if (fs_path(dir, sizeof dir, "%s/tmp", s->root))
        return err_set(s->err, UDR_EINVAL, "path too long under %s", s->root);
    DIR *dp = opendir(dir);
    if (dp == NULL)
        return err_sys(s->err, errno, "cannot read directory %s", dir);
    time_t now = time(NULL);
    struct dirent *de;
    while ((de = readdir(dp)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        /* Files written for a live process are its (DuckDB writes chunk
         * files without our lock, and may hold them for minutes). */
        pid_t maker = maker_of(de->d_name);
        if (maker > 0 && alive(maker))
            continue;
        int fd = openat(dirfd(dp), de->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
        if (fd < 0)
            continue;          /* gone already, or not ours to open */
        struct stat st, again;
        if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode) && maker > 0 &&
            strncmp(de->d_name, "duckdb.", 7) == 0) {
            /* The spill directory of a DuckDB whose process is gone. */
            char path[PATH_MAX];
            if (fs_path(path, sizeof path, "%s/%s", dir, de->d_name) == 0 &&
                nftw(path, rm_entry, 8, FTW_DEPTH | FTW_PHYS) == 0)
                (*removed)++;
        } else if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
                   (maker > 0 || now - st.st_mtime >= TMP_GRACE_SECONDS) &&
                   flock(fd, LOCK_EX | LOCK_NB) == 0 &&
                   fstatat(dirfd(dp), de->d_name, &again, AT_SYMLINK_NOFOLLOW) == 0 &&
                   again.st_ino == st.st_ino && again.st_dev == st.st_dev) {
            /* Unlocked, old, and still the file we locked: its writer is gone. */
            if (unlinkat(dirfd(dp), de->d_name, 0) == 0)
                (*removed)++;
        }
        close(fd);
    }
    closedir(dp);
    return UDR_OK;
}
