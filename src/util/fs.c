/*
 * fs — durable file-system primitives with fault injection; see fs.h.
 */
#include "util/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

static int injected(const fs_fault *f, fs_op op, const char *path)
{
    if (f == NULL || f->fn == NULL)
        return 0;
    return f->fn(f->ctx, op, path);
}

const char *fs_op_name(fs_op op)
{
    static const char *names[FS_OP_COUNT] = {
        [FS_OP_OPEN] = "open", [FS_OP_WRITE] = "write", [FS_OP_FSYNC] = "fsync",
        [FS_OP_RENAME] = "rename", [FS_OP_FSYNC_DIR] = "fsync of directory",
        [FS_OP_MKDIR] = "mkdir", [FS_OP_READ] = "read", [FS_OP_MMAP] = "mmap",
    };
    return op > 0 && op < FS_OP_COUNT ? names[op] : "?";
}

int fs_write_all(int fd, const void *buf, size_t len, const fs_fault *f, const char *path)
{
    int e = injected(f, FS_OP_WRITE, path);
    if (e)
        return e;
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        if (n == 0)
            return EIO;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int read_loop(int fd, void *buf, size_t len, off_t offset, int positioned,
                     size_t *got)
{
    char *p = buf;
    size_t total = 0;
    while (total < len) {
        ssize_t n = positioned ? pread(fd, p + total, len - total, offset + (off_t)total)
                               : read(fd, p + total, len - total);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            *got = total;
            return errno;
        }
        if (n == 0)
            break;
        total += (size_t)n;
    }
    *got = total;
    return 0;
}

int fs_read_full(int fd, void *buf, size_t len, size_t *got, const fs_fault *f, const char *path)
{
    int e = injected(f, FS_OP_READ, path);
    if (e) {
        *got = 0;
        return e;
    }
    return read_loop(fd, buf, len, 0, 0, got);
}

int fs_pread_full(int fd, void *buf, size_t len, off_t offset, size_t *got,
                  const fs_fault *f, const char *path)
{
    int e = injected(f, FS_OP_READ, path);
    if (e) {
        *got = 0;
        return e;
    }
    return read_loop(fd, buf, len, offset, 1, got);
}

int fs_fsync(int fd, const fs_fault *f, const char *path)
{
    int e = injected(f, FS_OP_FSYNC, path);
    if (e)
        return e;
    while (fsync(fd) != 0) {
        if (errno != EINTR)
            return errno;
    }
    return 0;
}

int fs_fsync_dir(const char *dir, const fs_fault *f)
{
    int e = injected(f, FS_OP_FSYNC_DIR, dir);
    if (e)
        return e;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return errno;
    int rc = 0;
    while (fsync(fd) != 0) {
        if (errno != EINTR) {
            rc = errno;
            break;
        }
    }
    close(fd);
    return rc;
}

int fs_rename(const char *from, const char *to, const fs_fault *f)
{
    int e = injected(f, FS_OP_RENAME, to);
    if (e)
        return e;
    return rename(from, to) == 0 ? 0 : errno;
}

int fs_mkdir(const char *path, const fs_fault *f)
{
    int e = injected(f, FS_OP_MKDIR, path);
    if (e)
        return e;
    if (mkdir(path, 0755) == 0 || errno == EEXIST)
        return 0;
    return errno;
}

int fs_create_excl(const char *path, int mode, int *fd, const fs_fault *f)
{
    int e = injected(f, FS_OP_OPEN, path);
    if (e)
        return e;
    int d;
    do {
        d = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    } while (d < 0 && errno == EINTR);
    if (d < 0)
        return errno;
    *fd = d;
    return 0;
}

int fs_path(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n < 0 || (size_t)n >= size ? ENAMETOOLONG : 0;
}
