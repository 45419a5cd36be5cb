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
 * A regular file is read twice (hash, then copy) so that storing a file
 * already present costs a read and no write; the copy pass re-hashes, and a
 * file that changed between the passes is refused rather than stored under
 * the wrong name.
 */
#include "store.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hash.h"

/* A temporary file younger than this is never removed by cleaning, even if
 * unlocked: its writer may be between creating and locking it. */
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
 * (damaged: a put may replace it), negative on a stat error. */
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
    return S_ISREG(st.st_mode) && (uint64_t)st.st_size == len;
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
    hash_buffer(data, len, &h);
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

/* Copies from fd (from offset on, if positioned) into t while hashing. */
static int copy_hashing(store *s, int fd, int positioned, off_t offset, tmp_obj *t,
                        char *buf, udr_hash *out, uint64_t *copied)
{
    hasher hs;
    hash_init(&hs);
    for (;;) {
        size_t got;
        int e = positioned ? fs_pread_full(fd, buf, STORE_IO_BYTES, offset + (off_t)hs.bytes, &got,
                                           &s->fault, "input")
                           : fs_read_full(fd, buf, STORE_IO_BYTES, &got, &s->fault, "input");
        if (e)
            return err_sys(s->err, e, "cannot read the input to store");
        if (got == 0)
            break;
        hash_update(&hs, buf, got);
        if (t != NULL && (e = fs_write_all(t->fd, buf, got, &s->fault, t->path)) != 0)
            return err_sys(s->err, e, "cannot store object: writing to %s failed", t->path);
    }
    hash_final(&hs, out);
    *copied = hs.bytes;
    return UDR_OK;
}

int store_put_fd(store *s, int fd, udr_hash *out)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return err_sys(s->err, errno, "cannot stat the input to store");
    char *buf = malloc(STORE_IO_BYTES);
    if (buf == NULL)
        return err_set(s->err, UDR_ENOMEM, "out of memory for an I/O buffer");
    int rc;
    int regular = S_ISREG(st.st_mode);
    off_t start = 0;
    udr_hash first;
    uint64_t first_len = 0;
    if (regular) {
        start = lseek(fd, 0, SEEK_CUR);
        if (start < 0)
            start = 0;
        posix_fadvise(fd, start, 0, POSIX_FADV_SEQUENTIAL);
        if ((rc = copy_hashing(s, fd, 1, start, NULL, buf, &first, &first_len)) != 0)
            goto done;
        rc = present_with_size(s, &first, first_len);
        if (rc < 0)
            goto done;
        if (rc == 1) {
            *out = first;
            rc = UDR_OK;
            goto done;
        }
    }

    tmp_obj t;
    if ((rc = tmp_create(s, &t)) != 0)
        goto done;
    udr_hash h;
    uint64_t len;
    if ((rc = copy_hashing(s, fd, regular, start, &t, buf, &h, &len)) != 0) {
        tmp_discard(&t);
        goto done;
    }
    if (regular && (!hash_equal(&h, &first) || len != first_len)) {
        tmp_discard(&t);
        rc = err_set(s->err, UDR_ECORRUPT,
                     "the input file changed while it was being stored (%llu bytes, then "
                     "%llu); nothing was stored",
                     (unsigned long long)first_len, (unsigned long long)len);
        goto done;
    }
    if (!regular) {
        rc = present_with_size(s, &h, len);
        if (rc == 1) {
            tmp_discard(&t);
            *out = h;
            rc = UDR_OK;
            goto done;
        }
        if (rc < 0) {
            tmp_discard(&t);
            goto done;
        }
    }
    if ((rc = tmp_commit(s, &t, &h)) != 0)
        goto done;
    *out = h;
    rc = UDR_OK;
done:
    free(buf);
    return rc;
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
        hash_buffer(buf, size, &actual);
        if (!hash_equal(&actual, h)) {
            free(buf);
            return corrupt(s, h, &actual, size);
        }
    }
    *data = buf;
    *len = size;
    return UDR_OK;
}

/* Streams an object through the hasher, to out_fd when it is >= 0. */
static int stream_object(store *s, const udr_hash *h, int out_fd)
{
    int fd;
    uint64_t size;
    int rc = obj_open(s, h, &fd, &size);
    if (rc)
        return rc;
    char *buf = malloc(STORE_IO_BYTES);
    if (buf == NULL) {
        close(fd);
        return err_set(s->err, UDR_ENOMEM, "out of memory for an I/O buffer");
    }
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    hasher hs;
    hash_init(&hs);
    char hex[UDR_HASH_HEX + 1];
    hex_of(h, hex);
    for (;;) {
        size_t got;
        int e = fs_read_full(fd, buf, STORE_IO_BYTES, &got, &s->fault, "object");
        if (e) {
            rc = err_sys(s->err, e, "cannot read object %s", hex);
            goto done;
        }
        if (got == 0)
            break;
        hash_update(&hs, buf, got);
        if (out_fd >= 0 && (e = fs_write_all(out_fd, buf, got, NULL, "output")) != 0) {
            rc = err_sys(s->err, e, "cannot write object %s to the output", hex);
            goto done;
        }
    }
    udr_hash actual;
    hash_final(&hs, &actual);
    rc = hash_equal(&actual, h) ? UDR_OK : corrupt(s, h, &actual, hs.bytes);
done:
    free(buf);
    close(fd);
    return rc;
}

int store_write_to_fd(store *s, const udr_hash *h, int fd)
{
    return stream_object(s, h, fd);
}

int store_verify(store *s, const udr_hash *h)
{
    return stream_object(s, h, -1);
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
        int fd = openat(dirfd(dp), de->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
        if (fd < 0)
            continue;          /* gone already, or not ours to open */
        struct stat st, again;
        if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && now - st.st_mtime >= TMP_GRACE_SECONDS &&
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
