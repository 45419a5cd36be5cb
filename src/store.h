/*
 * store — the content-addressed object store.
 *
 * On disk (inside a repository directory):
 *
 *   objects/ab/cd/abcd…(64 hex)   one file per object, named by the BLAKE3-256
 *                                 of its bytes, read-only (0444), nothing else
 *                                 in it: a Parquet chunk is a file DuckDB can
 *                                 read in place
 *   tmp/obj.<pid>.<seq>.<rand>    a put in progress
 *
 * A put writes a temporary file, fsyncs it, renames it to its name and fsyncs
 * the directories on the way, so an object is complete under its name or not
 * there. The writer holds an flock on its temporary file until it is renamed;
 * store_clean_tmp removes only temporary files whose lock it can take (their
 * writer is gone), so cleaning never races a live writer in another process.
 * Every temporary name carries its maker's pid ("<kind>.<pid>..."): files of
 * a live process are left alone whatever their lock (DuckDB writes chunk
 * files and spills to tmp/duckdb.<pid>/ without ours), and the spill
 * directory of a dead one is removed.
 *
 * Putting bytes that are already stored writes nothing. An object whose file
 * has the wrong size is known to be damaged and is replaced by a put of the
 * right bytes (self-repair); a same-size alteration is found by verification
 * (get_verified, verify, fsck), which re-hashes.
 *
 * A regular file is hashed where it lies (mapped, on all cores), copied in
 * the kernel, and its copy hashed again before the rename; streams go
 * through one STORE_IO_BYTES buffer. Memory stays bounded either way; the
 * details are in store.c and docs/format.md.
 */
#ifndef UDR_STORE_H
#define UDR_STORE_H

#include <limits.h>
#include <stdint.h>
#include <sys/types.h>

#include "udr.h"
#include "util/err.h"
#include "util/fs.h"

enum { STORE_IO_BYTES = 1 << 20 };

typedef struct store {
    char root[PATH_MAX];       /* the repository directory */
    udr_err *err;              /* where failures are described */
    fs_fault fault;            /* test-only fault injection */
    uint64_t tmp_seq;          /* makes temporary names unique in a process */
} store;

/* Opens the store inside repository directory root (objects/ and tmp/ must
 * exist). Does not clean temporary files; see store_clean_tmp. */
int store_open(store *s, const char *root, udr_err *err);

/* Writes "objects/ab/cd/<hex>" relative to the root, or the absolute path. */
int store_object_relpath(const udr_hash *h, char *buf, size_t size);
int store_object_path(const store *s, const udr_hash *h, char *buf, size_t size);

int store_put(store *s, const void *data, size_t len, udr_hash *out);
int store_put_fd(store *s, int fd, udr_hash *out);
int store_get(store *s, const udr_hash *h, int verify, void **data, size_t *len);
int store_write_to_fd(store *s, const udr_hash *h, int fd);
int store_exists(store *s, const udr_hash *h);
int store_size(store *s, const udr_hash *h, uint64_t *size_bytes);
int store_verify(store *s, const udr_hash *h);
/* Reads up to len bytes of an object from offset, unchecked (*got: how
 * many; fewer at its end). UDR_ENOTFOUND if absent. */
int store_pread(store *s, const udr_hash *h, void *buf, size_t len, uint64_t offset,
                size_t *got);
int store_delete(store *s, const udr_hash *h);

/* Moves a file written in the repository's tmp/ (by DuckDB, say) into the
 * store under its hash: hashed where it lies, made read-only, fsynced and
 * renamed; if the object is stored already the file is removed. *fresh is 1
 * if the object is new. The file is gone afterwards either way. */
int store_adopt(store *s, const char *path, udr_hash *out, int *fresh);

/* Hashes len bytes of fd from offset on (a regular file: mapped, on all
 * cores, in bounded memory; else read). what names the input in messages. */
int store_hash_fd(store *s, int fd, off_t offset, uint64_t len, const char *what, udr_hash *out);

/* Walks objects/; strays (files not named like objects) go to stray_fn if
 * non-NULL. fn returning non-zero stops the walk and is returned. */
typedef void (*store_stray_fn)(void *ctx, const char *relpath, const char *why);
int store_foreach(store *s, udr_object_fn fn, store_stray_fn stray_fn, void *ctx);

/* Removes temporary files whose writers are gone; *removed counts them. */
int store_clean_tmp(store *s, int *removed);

#endif
