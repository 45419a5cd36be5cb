/*
 * fs — the few file-system operations durability rests on, each retried on
 * EINTR, each able to fail on purpose.
 *
 * Every function returns 0 on success or a positive errno. A fault hook, set
 * by tests only, is asked before each operation and may make it fail with an
 * errno of its choosing (as SQLite's sqlite3FaultSim does), so that the paths
 * taken on a full disk or a failing fsync are exercised, not hoped for.
 */
#ifndef UDR_UTIL_FS_H
#define UDR_UTIL_FS_H

#include <stddef.h>
#include <sys/types.h>

typedef enum fs_op {
    FS_OP_OPEN = 1,     /* creating a temporary file */
    FS_OP_WRITE,        /* writing to it */
    FS_OP_FSYNC,        /* fsync of a file */
    FS_OP_RENAME,       /* rename into place */
    FS_OP_FSYNC_DIR,    /* fsync of a directory after rename or mkdir */
    FS_OP_MKDIR,        /* creating a directory */
    FS_OP_READ,         /* reading */
    FS_OP_MMAP,         /* mapping a file to hash it (failure: read instead) */
    FS_OP_COUNT
} fs_op;

/* Returns 0 to let the operation run, or an errno to fail it with. */
typedef int (*fs_fault_fn)(void *ctx, fs_op op, const char *path);

typedef struct fs_fault {
    fs_fault_fn fn;     /* NULL: no injection (always, outside tests) */
    void *ctx;
} fs_fault;

const char *fs_op_name(fs_op op);

/* Writes all len bytes. */
int fs_write_all(int fd, const void *buf, size_t len, const fs_fault *f, const char *path);

/* Reads until len bytes or end of file; *got receives the count. */
int fs_read_full(int fd, void *buf, size_t len, size_t *got, const fs_fault *f, const char *path);

/* As fs_read_full, at a file offset (pread). */
int fs_pread_full(int fd, void *buf, size_t len, off_t offset, size_t *got,
                  const fs_fault *f, const char *path);

int fs_fsync(int fd, const fs_fault *f, const char *path);

/* Opens the directory and fsyncs it, so that renames and creations in it are
 * durable. */
int fs_fsync_dir(const char *dir, const fs_fault *f);

int fs_rename(const char *from, const char *to, const fs_fault *f);

/* Creates a directory (mode 0755); an existing one is not an error. */
int fs_mkdir(const char *path, const fs_fault *f);

/* Creates a new file exclusively (O_EXCL), open for reading and writing
 * (whatever its mode); *fd receives it. */
int fs_create_excl(const char *path, int mode, int *fd, const fs_fault *f);

/* snprintf into buf that reports truncation: 0, or ENAMETOOLONG. */
int fs_path(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
