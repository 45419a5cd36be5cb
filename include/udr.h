/*
 * udr.h — the public C API of UDR, the Unified Data Runtime.
 *
 * UDR keeps tables as immutable, content-addressed Parquet chunks in a
 * repository directory, and gives them SQL, time travel, branches,
 * transactions and a changelog. This header is the whole contract: every
 * function says what it returns, what it may fail with, and who frees what.
 *
 * Conventions
 *   - Every fallible function returns int: UDR_OK (0) on success, a negative
 *     UDR_E* code on failure. After a failure, udr_errmsg(repo) says what
 *     failed, naming the object, file or table concerned.
 *   - Memory the library allocates for the caller is released with the one
 *     matching function named in the comment (usually udr_free()).
 *   - A udr_repo handle may be used by one thread at a time. Several handles,
 *     in one process or many, may use the same repository at once.
 *
 * This version covers the foundation: the repository and its
 * content-addressed object store.
 */
#ifndef UDR_H
#define UDR_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- status codes ------------------------------------------------------- */

#define UDR_OK          0   /* success */
#define UDR_ERROR      -1   /* unclassified failure */
#define UDR_EINVAL     -2   /* bad argument or input: a malformed hash, a bad name */
#define UDR_ENOTFOUND  -3   /* the object, file, table or repository does not exist */
#define UDR_ECORRUPT   -4   /* stored bytes do not match their hash, or are truncated */
#define UDR_EIO        -5   /* an I/O error from the operating system */
#define UDR_EFULL      -6   /* the disk (or quota) is full */
#define UDR_ENOMEM     -7   /* out of memory */
#define UDR_EFORMAT    -8   /* not a UDR repository, or a newer format than this build */
#define UDR_EPERM      -9   /* permission denied or read-only file system */
#define UDR_EEXIST    -10   /* something that must not exist already does */
#define UDR_ECONFLICT -11   /* a concurrent change or a merge conflict: nothing
                               was changed; retry, or resolve and retry */

/* A short constant name for a code, e.g. "UDR_ECORRUPT". Never NULL. */
const char *udr_strerror(int code);

/* The library's version, e.g. "0.1.0". */
const char *udr_version(void);

/* The version of the BLAKE3 implementation compiled in, e.g. "1.3.1". */
const char *udr_blake3_version(void);

/* The version of the DuckDB library UDR runs on, e.g. "v1.4.4". */
const char *udr_duckdb_version(void);

/* ---- hashes ------------------------------------------------------------- */

#define UDR_HASH_BYTES 32
#define UDR_HASH_HEX   64   /* hex digits in a printed hash, without the NUL */

/* A BLAKE3-256 digest: the name of every object in a repository. */
typedef struct udr_hash {
    uint8_t bytes[UDR_HASH_BYTES];
} udr_hash;

/* Hashes len bytes at data. Cannot fail. */
void udr_hash_buffer(const void *data, size_t len, udr_hash *out);

/* Streaming hashing: new, update any number of times, final (which may be
 * called again after more updates), free. udr_hasher_new returns NULL only
 * when memory runs out. */
typedef struct udr_hasher udr_hasher;
udr_hasher *udr_hasher_new(void);
void udr_hasher_update(udr_hasher *hs, const void *data, size_t len);
void udr_hasher_final(const udr_hasher *hs, udr_hash *out);
void udr_hasher_free(udr_hasher *hs);

/* Hashes everything readable from fd, from its current offset to its end: a
 * regular file is mapped and hashed on all cores in bounded memory, a pipe
 * is read. UDR_OK, or UDR_EIO (errno says why) if it cannot be read. */
int udr_hash_fd(int fd, udr_hash *out);

/* Writes the 64 lower-case hex digits of h and a NUL into out[65]. */
void udr_hash_to_hex(const udr_hash *h, char out[UDR_HASH_HEX + 1]);

/* Parses exactly 64 lower-case hex digits followed by the end of the string.
 * Anything else (upper case, other lengths, path characters) is UDR_EINVAL. */
int udr_hash_from_hex(const char *hex, udr_hash *out);

/* ---- repositories ------------------------------------------------------- */

typedef struct udr_repo udr_repo;

/* The directory used when none is given: $UDR_DIR if set, else "./.udr".
 * The returned string is static or from the environment; do not free it. */
const char *udr_default_dir(void);

/* Creates a repository at path (the directory may exist if it is empty, or
 * not exist; its parent must exist) and opens it.
 *
 * Like sqlite3_open, *out receives a handle even on failure (unless memory
 * ran out, when it is NULL), so that udr_errmsg() can say what went wrong;
 * close it with udr_close() either way.
 * Fails with UDR_EEXIST if path already holds a repository or other files. */
int udr_init(const char *path, udr_repo **out);

/* Opens an existing repository. Removes temporary files left by writers that
 * died. Fails with UDR_ENOTFOUND if path does not exist, UDR_EFORMAT if it is
 * not a UDR repository or has a format this build does not understand.
 * *out is set as for udr_init. */
int udr_open(const char *path, udr_repo **out);

/* Opening flags for udr_open_v2. */
#define UDR_OPEN_READONLY 0x1   /* change nothing on disk: no torn log tail is
                                   cut, no temporary file removed, and every
                                   write fails with UDR_EPERM */
#define UDR_OPEN_SALVAGE 0x2    /* with UDR_OPEN_READONLY: a damaged log does not
                                   fail the open; the handle sees the repository
                                   as the log stood before its first damaged
                                   record in the newest segment, and udr_fsck
                                   reports the damage. For inspecting (and
                                   copying out of) a damaged repository. */

/* udr_open with flags (0: as udr_open). UDR_EINVAL for unknown flags or
 * UDR_OPEN_SALVAGE without UDR_OPEN_READONLY. A log whose newest segment's
 * header is unreadable still fails (UDR_ECORRUPT), salvage or not. */
int udr_open_v2(const char *path, int flags, udr_repo **out);

/* Closes the handle and frees it. NULL is allowed. */
void udr_close(udr_repo *repo);

/* The message of the last failure on this handle ("" if none). Valid until
 * the next call on the handle. Never NULL for a non-NULL repo. */
const char *udr_errmsg(const udr_repo *repo);

/* The code of the last failure on this handle (UDR_OK if none). */
int udr_errcode(const udr_repo *repo);

/* What opening the repository found and repaired. */
typedef struct udr_open_report {
    uint64_t torn_log_bytes;  /* a record cut short by a crash, removed from the log's
                                 end (commits before it are intact) */
    int stale_tmp_files;      /* temporary files of dead writers, removed */
} udr_open_report;

void udr_open_report_get(const udr_repo *repo, udr_open_report *out);

/* After a crash, opening a repository repairs what can be repaired (the
 * open report) and loses no acknowledged commit; this says what it found
 * and what is left: the log, and the objects no commit refers to (those of
 * transactions that never committed, or are committing now), which stay
 * until garbage collection. Reads the whole log and lists every object. */
typedef struct udr_recovery_report {
    uint64_t torn_log_bytes;  /* as in udr_open_report */
    int stale_tmp_files;
    uint64_t log_records;     /* records in the log (its last sequence number) */
    uint64_t commits;         /* commits on every branch */
    char last_commit[65];     /* the newest commit's hash ("" if none) */
    uint64_t last_commit_seq; /* its log record */
    uint64_t unreferenced_objects, unreferenced_bytes;
} udr_recovery_report;

int udr_recovery_report_get(udr_repo *repo, udr_recovery_report *out);

/* How this handle's commits were made durable (group commit): log records
 * it fsynced itself, and records another committer's fsync had covered
 * already when it came to sync them. */
typedef struct udr_sync_stats {
    uint64_t fsyncs;
    uint64_t shared;
} udr_sync_stats;

void udr_sync_stats_get(const udr_repo *repo, udr_sync_stats *out);

/* The repository's directory, as given to udr_open/udr_init. */
const char *udr_repo_path(const udr_repo *repo);

/* Frees memory the library returned to the caller. NULL is allowed. */
void udr_free(void *ptr);

/* ---- objects ------------------------------------------------------------
 *
 * Objects are immutable byte strings named by the BLAKE3-256 of their bytes,
 * stored once however often they are put. A put is atomic and durable when it
 * returns: the object is complete under its name or absent, never partial.
 */

/* Stores len bytes; writes their hash to *out. Writes nothing if an intact
 * object with that hash is already stored. */
int udr_object_put(udr_repo *repo, const void *data, size_t len, udr_hash *out);

/* Stores everything readable from fd (a file, pipe or socket), streaming it
 * in bounded memory. A regular file is hashed first and copied only if the
 * object is new; other streams go through a temporary file. The file must
 * not change while it is put: if it does, UDR_ECORRUPT and nothing stored. */
int udr_object_put_fd(udr_repo *repo, int fd, udr_hash *out);

/* Opens path and stores its contents as udr_object_put_fd. */
int udr_object_put_file(udr_repo *repo, const char *path, udr_hash *out);

/* Reads a whole object into a buffer the library allocates (*data, free with
 * udr_free; a 0-byte object gives a non-NULL *data). Does not check the hash;
 * see udr_object_get_verified. UDR_ENOTFOUND if absent. */
int udr_object_get(udr_repo *repo, const udr_hash *h, void **data, size_t *len);

/* As udr_object_get, and checks the bytes against the hash: UDR_ECORRUPT,
 * naming the object, if they differ (nothing is returned then). */
int udr_object_get_verified(udr_repo *repo, const udr_hash *h, void **data, size_t *len);

/* Streams an object to fd in bounded memory, checking its hash on the way.
 * On UDR_ECORRUPT the bytes already written are wrong: the caller discards
 * them (the CLI writes to a temporary file and renames only on success). */
int udr_object_write_to_fd(udr_repo *repo, const udr_hash *h, int fd);

/* 1 if an object with this hash is stored, 0 if not, negative on error. */
int udr_object_exists(udr_repo *repo, const udr_hash *h);

/* The stored size of an object in bytes. UDR_ENOTFOUND if absent. */
int udr_object_size(udr_repo *repo, const udr_hash *h, uint64_t *size_bytes);

/* Reads the whole object and checks it against its name: UDR_OK,
 * UDR_ENOTFOUND, or UDR_ECORRUPT (with a message saying how: wrong bytes or
 * truncated). */
int udr_object_verify(udr_repo *repo, const udr_hash *h);

/* Removes an object (for garbage collection). UDR_ENOTFOUND if absent. */
int udr_object_delete(udr_repo *repo, const udr_hash *h);

/* Calls fn for every stored object, in no particular order, with its hash
 * and size. fn returns 0 to go on; any other value stops the walk and is
 * returned. Files in objects/ that are not validly named objects are
 * reported through udr_fsck, not here. */
typedef int (*udr_object_fn)(void *ctx, const udr_hash *h, uint64_t size_bytes);
int udr_object_foreach(udr_repo *repo, udr_object_fn fn, void *ctx);

/* ---- tables -------------------------------------------------------------
 *
 * A table is a sequence of versions, numbered 1, 2, 3 ... Each write makes a
 * new version from the rows of any DuckDB query: "SELECT ...",
 * "SELECT * FROM read_csv('users.csv')", read_parquet(...), read_json(...),
 * or an earlier version of any table ("SELECT * FROM \"users@2\"").
 * Table names are letters, digits and _, not starting with a digit, at most
 * 128 bytes.
 */

typedef struct udr_write_opts {
    const char *const *key;   /* primary key: NULL-terminated column names, or
                                 NULL for none. The key must be unique and
                                 never NULL; rows are kept sorted by it. */
    const char *message;      /* the commit message; NULL for a default */
    const char *author;       /* NULL: $UDR_AUTHOR, else $USER, else the account name */
} udr_write_opts;

typedef struct udr_write_info {
    uint64_t version;         /* the version number the write made */
    uint64_t rows;            /* rows in that version */
    uint64_t chunks;          /* its chunks */
    uint64_t bytes;           /* the bytes of its chunks */
    uint64_t new_chunks;      /* chunks that were not stored before */
    uint64_t new_bytes;       /* their bytes, and a new delete file or patch's: what the
                                 write added to the store (metadata aside) */
    int staged;               /* 1: the rows were first held in memory (or
                                 DuckDB's spill files) to be sorted by the key,
                                 checked, or compared with the current version;
                                 0: streamed from the source straight into
                                 chunks, a few chunks in memory at a time. A
                                 keyed table's first write streams when its
                                 rows come in key order. */
} udr_write_info;

/* Replaces a table's content with the rows of select_sql (creating the
 * table if need be). opts and info may be NULL. Errors name the table and,
 * for bad input, the line or value (a malformed CSV line, a duplicate key). */
int udr_table_write(udr_repo *repo, const char *table, const char *select_sql,
                    const udr_write_opts *opts, udr_write_info *info);

/* Adds the rows of select_sql to a table (creating it if need be). They take
 * the table's columns, types and key. */
int udr_table_append(udr_repo *repo, const char *table, const char *select_sql,
                     const udr_write_opts *opts, udr_write_info *info);

/* Folds a table's deltas (the new chunks and delete files of small
 * INSERT, UPDATE and DELETE statements) back into clean chunks in key
 * order, as a new version with the same rows, committed on the current
 * branch. A table already clean is left as it is (info->version: its
 * current version). Small changes also compact a table by themselves once
 * a fifth of its stored rows are deleted ones. info may be NULL. */
int udr_table_compact(udr_repo *repo, const char *table, udr_write_info *info);

/* Imports a file as a new version of a table (append = 1: adds its rows).
 * format is "csv", "parquet" or "json" (JSON lines too), or NULL to go by
 * the extension (.csv .tsv .parquet .json .jsonl .ndjson). A CSV file is
 * checked first: a record with more or fewer fields than the header is
 * UDR_EINVAL naming the file and the line. */
int udr_table_import(udr_repo *repo, const char *table, const char *path, const char *format,
                     int append, const udr_write_opts *opts, udr_write_info *info);

/* Makes version `version` of a table out of objects already in the store
 * (udr_object_put), in the order given, committed on the handle's branch:
 * the Python module's PyCatalog.commit(PyTableVersion(table, version,
 * [hashes])). No row is read or written.
 *
 * version must be the table's next number (1 for a new table; versions are
 * numbered per table across all branches): UDR_EINVAL otherwise, naming the
 * number expected. Each object must exist: UDR_ENOTFOUND naming it.
 *
 * If every object is a Parquet file and all have the same columns (names
 * and types, in order), the version is an ordinary table of their rows,
 * without a key: each object a chunk (its rows from its footer, its bytes
 * its size). Parquet objects with other columns than the first one's are
 * UDR_EINVAL naming both objects. Otherwise (any object that is not
 * Parquet, or n == 0) it is a raw version: it keeps the objects, in order,
 * as chunks of 0 rows, but has no columns and no rows. Reading rows from a
 * raw version (a query of it, an append, UPDATE, DELETE, INSERT, a diff) is
 * UDR_EINVAL saying so; udr_table_write over it starts the table afresh;
 * the change feed sees it as holding no rows; udr_table_list, _show and
 * _log list it with its objects as chunks.
 *
 * opts and info may be NULL (as udr_table_write's); opts->key must be NULL
 * (UDR_EINVAL), opts->message defaults to "commit chunks to TABLE". info
 * receives the version, rows, chunks and bytes (new_chunks and new_bytes
 * are 0: the objects were stored already). Not inside a transaction. */
int udr_table_commit_chunks(udr_repo *repo, const char *table, uint64_t version,
                            const udr_hash *objects, size_t n,
                            const udr_write_opts *opts, udr_write_info *info);

/* Removes a table from the current branch; its versions stay readable. */
int udr_table_drop(udr_repo *repo, const char *table, const char *message);

/* Writes a table version to a file: ref is what a query names, "users",
 * "users@3", "users@v1.0" (on the handle's branch, as udr_query resolves
 * it); format is "parquet" (zstd) or "csv" (with a header), or NULL to go by
 * the extension (.parquet .pq .csv .tsv .txt). DuckDB's COPY writes a
 * temporary file beside path (path.udr-export.PID), renamed over path once
 * whole: on failure an existing file at path is left as it was. info (may
 * be NULL) receives the rows written and the file's size. UDR_EINVAL for an
 * unknown format, and for a failed COPY (an unknown table, a directory that
 * is not there), with DuckDB's message; UDR_EIO if the rename fails. */
typedef struct udr_export_info {
    uint64_t rows;            /* rows written */
    uint64_t bytes;           /* the size of the file written */
} udr_export_info;

int udr_table_export(udr_repo *repo, const char *ref, const char *path, const char *format,
                     udr_export_info *info);

/* ---- progress of long work ------------------------------------------------
 *
 * A handle may have one progress hook. Long work calls it on the calling
 * thread, now and then, with what it has done so far:
 *
 *   udr_table_write, _append, _import (and udr_tx_write, _append, SQL
 *   writes that rewrite a whole table, and udr_merge's row merges)
 *                "reading"         before a statement that reads the whole
 *                                  source before any chunk can be written
 *                                  (a keyed write's sort, a check); counts 0
 *                "writing chunks"  after each chunk is stored: rows, chunks
 *                                  and bytes of the chunks stored so far
 *   udr_table_compact   the same ("reading" while it gathers the rows)
 *   udr_table_export    "exporting": first with 0 rows, then rows as
 *                                  DuckDB's progress estimates them (its
 *                                  percentage of total_rows, the version's
 *                                  rows from the catalog; for a ref the
 *                                  catalog cannot resolve, DuckDB's own row
 *                                  count and estimate), bytes the size of
 *                                  the file written so far
 *
 * Until the last report rows, chunks and bytes never decrease within one
 * call of the API. The last report of udr_table_write, _append, _import,
 * _compact and _export has done = 1 and phase "done", and carries the
 * totals of what was made: for writes and compaction rows, chunks and
 * bytes as udr_write_info has them (the whole version's, reused chunks
 * included; a write that stored chunks and then changed course, a delta
 * turned into a rewrite, may have counted more before), for an export as
 * udr_export_info has them (chunks 0). A call that fails makes no done
 * report. A compaction of a table already clean makes only the done report.
 *
 * Reports come at most once per chunk, and during one long DuckDB statement
 * (an export) about every 100 ms; the callback should be quick (the front
 * end limits how often it draws). It is called on the thread that called
 * the API, with no lock of UDR's held (so a transaction's commit, which may
 * merge rows under the log's lock, reports nothing), but inside the call:
 * it must not call into the same handle (nor close it). The strings live
 * until the callback returns. With no hook set (the default) nothing is
 * counted or measured, and an export runs as one plain DuckDB statement.
 */

typedef struct udr_work_progress {
    const char *phase;        /* "reading", "writing chunks", "exporting", "done" */
    const char *table;        /* the table written, compacted or exported */
    uint64_t rows;            /* rows done so far */
    uint64_t total_rows;      /* rows to do, when known (else 0) */
    uint64_t chunks;          /* chunks stored so far (exports: 0) */
    uint64_t bytes;           /* bytes stored (or exported) so far */
    int done;                 /* 1 on the last report, which has the totals */
} udr_work_progress;

typedef void (*udr_work_progress_fn)(void *ctx, const udr_work_progress *p);

/* Sets the handle's progress hook (fn NULL: none). Takes effect from the
 * next call; not to be called from inside the hook. */
void udr_progress_set(udr_repo *repo, udr_work_progress_fn fn, void *ctx);

/* ---- inspecting tables -------------------------------------------------- */

/* One version of a table, as `udr tables` and `udr log` show it. */
typedef struct udr_version_info {
    char *table;
    uint64_t version;
    int dropped;              /* this version is the table's removal */
    int64_t time_us;          /* when it was committed (microseconds since 1970) */
    int64_t expired_us;       /* when udr_expire let it go (0: kept); an expired
                                 version's rows, chunks and bytes are not read: 0 */
    uint64_t rows, chunks, bytes;
    uint64_t new_bytes;       /* bytes of chunks the previous version did not have */
    char *message, *author;
    char commit[UDR_HASH_HEX + 1];
    char content[UDR_HASH_HEX + 1];  /* the table-version object ("" for a drop) */
} udr_version_info;

/* The tables of the current branch, by name, at their current versions.
 * *out is an array of *n entries; free it with udr_version_info_free. */
int udr_table_list(udr_repo *repo, udr_version_info **out, size_t *n);

/* Every version of a table, newest first (drops included). */
int udr_table_log(udr_repo *repo, const char *table, udr_version_info **out, size_t *n);

void udr_version_info_free(udr_version_info *v, size_t n);

/* A table version in detail, as `udr show` prints it. */
typedef struct udr_table_detail {
    udr_version_info info;
    size_t ncols;
    char **col_names, **col_types;
    size_t nkey;
    char **key;
    size_t nchunks;
    char (*chunk_hash)[UDR_HASH_HEX + 1];
    uint64_t *chunk_rows, *chunk_bytes;
    size_t ndeletes;          /* delete files: rows of the chunks no longer there */
    char (*delete_hash)[UDR_HASH_HEX + 1];
    uint64_t *delete_rows;
    size_t npatches;          /* patches: new values of some columns of rows of
                                 the chunks, in order (a later one wins) */
    char (*patch_hash)[UDR_HASH_HEX + 1];
    uint64_t *patch_rows;     /* the rows each names */
    uint64_t *patch_cols;     /* the columns each holds: bit i for col_names[i] */
} udr_table_detail;

/* ref as in SQL after the @: NULL for current, a version, or a time. */
int udr_table_show(udr_repo *repo, const char *table, const char *ref, udr_table_detail **out);
void udr_table_detail_free(udr_table_detail *d);

/* A query's result: rows and columns, materialised. */
typedef struct udr_result udr_result;

/* What changed between two versions of a table. */
typedef struct udr_diff {
    uint64_t from_version, to_version;
    uint64_t rows_added;      /* keys (or whole rows, without a key) only in `to` */
    uint64_t rows_removed;    /* only in `from` */
    uint64_t rows_modified;   /* keys in both whose rows differ (0 without a key) */
} udr_diff;

/* Compares versions from_ref and to_ref of a table ("3", a time, or NULL for
 * the current one): by key (key, else the table's own), else by whole rows.
 * Reads only the chunks that differ. If rows is non-NULL it receives the
 * changed rows, with a first column `change`: added, removed, or before and
 * after for a modified key. */
int udr_table_diff(udr_repo *repo, const char *table, const char *from_ref, const char *to_ref,
                   const char *const *key, udr_diff *out, udr_result **rows);

/* ---- queries ------------------------------------------------------------
 *
 * Full DuckDB SQL. A table name that DuckDB does not know is resolved by UDR:
 * `users` is the current version, "users@3" version 3, and
 * "users@2026-11-24T10:00:00Z" the version current at that instant (quote
 * names with @ as SQL identifiers). A pin fixes the version a plain name
 * reads, for one query: {"users", 1} makes `users` mean "users@1".
 */

typedef struct udr_pin {
    const char *table;
    uint64_t version;
} udr_pin;

/* Runs sql (one or more statements; the result is the last one's). *out
 * receives the result, to be freed with udr_result_free. */
int udr_query(udr_repo *repo, const char *sql, const udr_pin *pins, size_t npins,
              udr_result **out);

/* Asks the query running on repo (in udr_query, udr_tx_query ...) to stop:
 * it then fails, with a message saying it was interrupted. The one function
 * that may be called from another thread while the handle is in use (as
 * sqlite3_interrupt); not while udr_close runs. Does nothing if no query is
 * running, though a query starting at the same instant may be stopped. */
void udr_interrupt(udr_repo *repo);

size_t udr_result_columns(const udr_result *r);
uint64_t udr_result_rows(const udr_result *r);
const char *udr_result_column_name(const udr_result *r, size_t col);
/* The column's type, e.g. "BIGINT", "VARCHAR", "DECIMAL(18,3)", "INTEGER[]". */
const char *udr_result_column_type(const udr_result *r, size_t col);
int udr_result_is_null(const udr_result *r, uint64_t row, size_t col);
int64_t udr_result_int64(const udr_result *r, uint64_t row, size_t col);
double udr_result_double(const udr_result *r, uint64_t row, size_t col);
/* Any value as text (lists and structs as DuckDB prints them); NULL for a
 * SQL NULL. Free with udr_free. */
char *udr_result_text(const udr_result *r, uint64_t row, size_t col);
void udr_result_free(udr_result *r);

/* ---- columns as C arrays --------------------------------------------------
 *
 * For bindings that move whole columns (the Python module's DataFrames): a
 * result's column copied out as one array, and arrays of the caller's read
 * by SQL as a table (udr_frame_register), without a call per value.
 */

typedef enum udr_ctype {
    UDR_CTYPE_OTHER = 0,      /* no C array form: read it with udr_result_text */
    UDR_CTYPE_BOOL,           /* bool (1 byte) */
    UDR_CTYPE_INT8, UDR_CTYPE_INT16, UDR_CTYPE_INT32, UDR_CTYPE_INT64,
    UDR_CTYPE_UINT8, UDR_CTYPE_UINT16, UDR_CTYPE_UINT32, UDR_CTYPE_UINT64,
    UDR_CTYPE_FLOAT, UDR_CTYPE_DOUBLE,   /* DECIMAL results come as DOUBLE */
    UDR_CTYPE_DATE,           /* int32_t: days since 1970-01-01 */
    UDR_CTYPE_TIMESTAMP,      /* int64_t: microseconds since 1970, no time zone */
    UDR_CTYPE_TIMESTAMP_NS,   /* int64_t: nanoseconds since 1970, no time zone */
    UDR_CTYPE_TIMESTAMP_TZ,   /* int64_t: microseconds since 1970 UTC */
    UDR_CTYPE_TEXT,           /* udr_bytes of UTF-8 (VARCHAR) */
    UDR_CTYPE_BLOB,           /* udr_bytes (BLOB) */
} udr_ctype;

/* A text or blob value: data NULL for a SQL NULL. */
typedef struct udr_bytes {
    const char *data;
    size_t len;
} udr_bytes;

/* Bytes of one value of the type in an array; 0 for UDR_CTYPE_OTHER. */
size_t udr_ctype_width(udr_ctype t);

/* A result column's C form (UDR_CTYPE_OTHER for any other type). */
udr_ctype udr_result_column_ctype(const udr_result *r, size_t col);

/* Copies a whole column into values (udr_result_rows values of the ctype's
 * width) and, if nulls is non-NULL, sets nulls[i] to 1 where row i is NULL
 * (0 elsewhere; a NULL's value is unspecified). Text and blob values point
 * into the result (valid until udr_result_free). UDR_EINVAL for an OTHER
 * column. Not thread-safe with other reads of the same result. */
int udr_result_copy(const udr_result *r, size_t col, void *values, uint8_t *nulls);

/* A TEXT or BLOB value in place (valid until udr_result_free) and its
 * length (not NUL-terminated); NULL for a SQL NULL or another type.
 *
 * A result is read either by values (udr_result_text, _int64 ...) or, when
 * udr_result_copy comes first, by DuckDB's vectors (no second copy of the
 * result); either way every function works and gives the same values. */
const char *udr_result_bytes(const udr_result *r, uint64_t row, size_t col, size_t *len);

/* One column of the caller's: nrows values of type in values (udr_bytes
 * for TEXT and BLOB); nulls NULL for none, else nulls[i] = 1 makes row i
 * NULL. Floats are kept as they are (NaN is a value, not a NULL). */
typedef struct udr_column {
    const char *name;
    udr_ctype type;           /* any but UDR_CTYPE_OTHER */
    const void *values;
    const uint8_t *nulls;
} udr_column;

/* Makes the caller's arrays readable by SQL on this handle as the table
 * function udr_frame('name'): SELECT * FROM udr_frame('df') in udr_query,
 * udr_table_write, udr_tx_write ... The arrays are read, not copied: they
 * must stay unchanged until udr_frame_unregister. Names follow the table
 * rules; UDR_EEXIST if registered already, UDR_EINVAL for a bad column
 * (no name, a name twice, UDR_CTYPE_OTHER). */
int udr_frame_register(udr_repo *repo, const char *name, const udr_column *cols, size_t ncols,
                       uint64_t nrows);
/* Forgets a frame; UDR_ENOTFOUND if there is none of that name. */
int udr_frame_unregister(udr_repo *repo, const char *name);

/* ---- branches, tags, history ------------------------------------------- */

/*
 * A branch is a name for a line of commits; every commit is the state of all
 * tables of its branch. main exists from the start. Creating a branch or a
 * tag copies no data. A handle works on one branch: the repository's current
 * branch (udr_checkout sets it, for every process) unless udr_use_branch
 * chose another for this handle. Writes and unqualified table names go to
 * the handle's branch; "users@feature/x" reads another branch's head and
 * "users@v1.0" a tag's.
 *
 * Branch and tag names are like git's: letters, digits and . _ - /, in
 * /-separated parts, at most 200 bytes; not all digits or a time.
 *
 * A commit is named by a branch, a tag, a hash or a prefix of at least 4 hex
 * digits, with an optional ~N (N first-parent steps back).
 */

typedef struct udr_branch_info {
    char *name;
    char *description;
    int64_t created_us;
    int has_head;             /* 0: no commit on it yet */
    char head[UDR_HASH_HEX + 1];
    int current;              /* the repository's current branch */
    int working;              /* this handle's branch */
    size_t tables;
    char *broken;             /* NULL, or why the branch cannot be used: its head
                                 commit is missing or damaged (udr_fsck names it);
                                 every other call on it fails so, but
                                 udr_branch_delete with force */
} udr_branch_info;

/* Creates a branch at from_ref (NULL: the handle's branch's head). */
int udr_branch_create(udr_repo *repo, const char *name, const char *from_ref,
                      const char *description);
/* Deletes a branch. Refuses main, the repository's current branch, and,
 * without force, a branch whose head no other branch or tag holds
 * (UDR_ECONFLICT: its commits would be unreachable). */
int udr_branch_delete(udr_repo *repo, const char *name, int force);
int udr_branch_list(udr_repo *repo, udr_branch_info **out, size_t *n);
void udr_branch_info_free(udr_branch_info *v, size_t n);

/* Makes name the repository's current branch (recorded in the log, so
 * every process sees it), and this handle's. */
int udr_checkout(udr_repo *repo, const char *name);
/* This handle only (NULL: follow the repository's current branch). */
int udr_use_branch(udr_repo *repo, const char *name);
/* The handle's branch. Valid until the next call on the handle. */
const char *udr_branch_current(udr_repo *repo);

typedef struct udr_tag_info {
    char *name;
    char commit[UDR_HASH_HEX + 1];
    int64_t time_us;
    char *message;
} udr_tag_info;

/* Tags a commit (ref NULL: the handle's branch's head); a tag never moves. */
int udr_tag_create(udr_repo *repo, const char *name, const char *ref, const char *message);
int udr_tag_delete(udr_repo *repo, const char *name);
int udr_tag_list(udr_repo *repo, udr_tag_info **out, size_t *n);
void udr_tag_info_free(udr_tag_info *v, size_t n);

/* A table as two commits differ in it: versions on each side (0: absent). */
typedef struct udr_table_change {
    char *table;
    uint64_t version_a, version_b;
} udr_table_change;

typedef struct udr_commit_info {
    char hash[UDR_HASH_HEX + 1];
    int nparents;
    char parents[2][UDR_HASH_HEX + 1];
    int64_t time_us;
    char *author, *message;
    size_t nchanges;          /* tables changed from the first parent */
    udr_table_change *changes;  /* (version_a: before, version_b: after) */
} udr_commit_info;

/* The commits reachable from ref (NULL: the handle's branch), newest first,
 * at most max (0: all). Free with udr_commit_info_free. */
int udr_log(udr_repo *repo, const char *ref, size_t max, udr_commit_info **out, size_t *n);
/* One commit. */
int udr_commit_show(udr_repo *repo, const char *ref, udr_commit_info **out);
void udr_commit_info_free(udr_commit_info *v, size_t n);

/* The tables that differ between two commits, by name: added (version_a 0),
 * removed (version_b 0) or at other versions. The README's
 * diff_branches("feature/x", "main") is udr_diff_refs(r, "feature/x", "main"). */
int udr_diff_refs(udr_repo *repo, const char *ref_a, const char *ref_b, udr_table_change **out,
                  size_t *n);
void udr_table_change_free(udr_table_change *v, size_t n);

typedef enum udr_merge_strategy {
    UDR_MERGE_FAIL = 0,       /* any conflict: change nothing, report them */
    UDR_MERGE_OURS = 1,       /* conflicts keep the target's rows */
    UDR_MERGE_THEIRS = 2,     /* conflicts take the source's rows */
} udr_merge_strategy;

typedef struct udr_merge_opts {
    const char *into;         /* the target branch; NULL: the handle's */
    udr_merge_strategy strategy;
    const char *message;      /* NULL: "merge SOURCE into TARGET" */
    const char *author;
} udr_merge_opts;

typedef struct udr_merge_info {
    int up_to_date;           /* the source was merged already: nothing done */
    int fast_forward;         /* the target moved to the source's commit */
    char commit[UDR_HASH_HEX + 1];  /* the target's new head */
    char base[UDR_HASH_HEX + 1];    /* the merge base ("" for a fast-forward) */
    size_t tables_taken;      /* tables taken whole from the source */
    size_t tables_merged;     /* tables merged row by row */
    uint64_t conflicts;       /* conflicting rows and tables */
    /* The conflicts, one row each: table, key (as text, "" for a table-level
     * conflict), base, ours and theirs (rows as text, NULL where absent),
     * and what was done ("conflict", "kept ours", "took theirs"). NULL if
     * there were none; free with udr_result_free. */
    udr_result *conflict_rows;
} udr_merge_info;

/* Merges the source commit (a ref) into the target branch: fast-forward
 * when the target is an ancestor; otherwise a merge commit with two parents,
 * per table: taken from the side that changed it; changed on both sides,
 * merged row by row by primary key (three-way, against the merge base).
 * Under UDR_MERGE_FAIL any conflict returns UDR_ECONFLICT and changes
 * nothing; info lists the conflicts. Tables without a key changed on both
 * sides are a table-level conflict. Criss-cross history (two merge bases) is
 * refused with UDR_ECONFLICT. */
int udr_merge(udr_repo *repo, const char *source, const udr_merge_opts *opts,
              udr_merge_info *info);
void udr_merge_info_clear(udr_merge_info *info);

/* A new commit on the handle's branch undoing one commit's changes (against
 * its first parent), table by table; UDR_ECONFLICT if a table it changed has
 * changed since. */
int udr_revert(udr_repo *repo, const char *commit_ref, const char *message, char *new_commit);

/* Moves the handle's branch to ref. Without force, refuses (UDR_ECONFLICT)
 * to leave commits that no other branch or tag holds. */
int udr_reset(udr_repo *repo, const char *ref, int force);

/* ---- transactions -------------------------------------------------------- */

/*
 * A transaction reads a snapshot of one branch (its head when it began) plus
 * its own writes, and commits all its writes as one commit, or none. At
 * commit it is checked against what others committed meanwhile:
 *
 *   - a table it wrote that another commit changed too: the first committer
 *     wins, and this commit fails with UDR_ECONFLICT naming the table and the
 *     other commit; except that for a table with a primary key, changes to
 *     different keys are merged row by row and both commit;
 *   - UDR_SERIALIZABLE also fails if a table it read changed (write skew),
 *     and does not merge rows of a table it both read and wrote.
 *
 * After a failed call inside a transaction (bad SQL, a bad write), the
 * transaction is aborted: every later call but rollback fails (PostgreSQL's
 * rule). Outside a transaction, each write is a transaction of its own.
 * One transaction at a time per handle. See docs/transactions.md.
 */
typedef struct udr_tx udr_tx;

typedef enum udr_isolation {
    UDR_SNAPSHOT = 0,
    UDR_SERIALIZABLE = 1,
} udr_isolation;

/* Begins a transaction on branch (NULL: the handle's branch). */
int udr_tx_begin(udr_repo *repo, const char *branch, udr_isolation isolation, udr_tx **out);
int udr_tx_write(udr_tx *tx, const char *table, const char *select_sql,
                 const udr_write_opts *opts, udr_write_info *info);
int udr_tx_append(udr_tx *tx, const char *table, const char *select_sql,
                  const udr_write_opts *opts, udr_write_info *info);
int udr_tx_drop(udr_tx *tx, const char *table);
/* Runs SQL against the snapshot plus the transaction's own writes. */
int udr_tx_query(udr_tx *tx, const char *sql, udr_result **out);
/* Commits (message NULL: a default) and ends the transaction, whatever the
 * outcome; commit_hex (may be NULL) receives the commit. A transaction
 * without writes commits nothing and succeeds. */
int udr_tx_commit(udr_tx *tx, const char *message, char *commit_hex);
/* Ends the transaction, discarding its writes. */
void udr_tx_rollback(udr_tx *tx);

/* For SQL sessions (udr sql, a server): whether a statement is transaction
 * control. Returns 0 for any other statement, 1 for BEGIN / START
 * TRANSACTION (*isolation set from ISOLATION LEVEL SERIALIZABLE | SNAPSHOT |
 * REPEATABLE READ), 2 for COMMIT / END, 3 for ROLLBACK / ABORT, and
 * UDR_EINVAL for a malformed one. Inside a transaction, udr_tx_query also
 * runs INSERT, UPDATE, DELETE and CREATE [OR REPLACE] TABLE ... AS on UDR
 * tables (outside one, udr_query runs each as a transaction of its own). */
int udr_sql_tx_control(udr_repo *repo, const char *sql, udr_isolation *isolation);

/* ---- changes and subscriptions ---------------------------------------------
 *
 * The log orders every commit: its record number (seq) is the commit's place
 * in the whole repository's history. The change feed of a table is what each
 * commit of a branch did to it, as rows: inserted, deleted, and for a table
 * with a primary key, updated (the row before and after). It is computed from
 * the chunks and delete files in which two versions differ, so a small change
 * costs a small read whatever the table's size. A commit that changed nothing
 * a reader could see (compaction) yields no rows.
 *
 * A subscription is a named, durable cursor in the log over some tables of
 * one branch: a consumer polls the commits after its cursor, processes them,
 * and acknowledges how far it got. Delivery is at least once: what was polled
 * and not acknowledged is delivered again. Acknowledging inside the
 * transaction that writes the consumer's results (udr_tx_ack, or SQL
 * CALL udr_ack('name', seq) between BEGIN and COMMIT) makes it exactly once:
 * the results and the cursor commit together or not at all.
 */

/* What one commit did to one table. */
typedef struct udr_change_batch {
    uint64_t seq;              /* the commit's record number in the log */
    int64_t time_us;           /* when it committed */
    char commit[UDR_HASH_HEX + 1];
    const char *table;
    uint64_t from_version;     /* the table's version before (0: it did not exist) */
    uint64_t version;          /* after (0: the commit dropped the table) */
    /* The rows: a first column _op ('insert', 'delete', 'update_before',
     * 'update_after'), then the table's columns (as of version, or of
     * from_version for a drop). A keyed table's rows come in key order, an
     * update's before-image just ahead of its after-image. If the columns
     * changed, every row of from_version is a delete and every row of version
     * an insert. Owned by the iterator: valid until the next call on it. */
    udr_result *rows;
} udr_change_batch;

typedef struct udr_changes udr_changes;

/* The change feed of a table on the handle's branch, commit by commit, from
 * `from` to `to`, both included. Either is a version number of the table
 * ("3": the commit that made version 3), a commit (branch, tag, hash or
 * prefix), or an instant (ISO 8601: the commits at or after it / at or
 * before it); NULL or "" means the beginning (every row an insert) or the
 * branch's head now. Free with udr_changes_close. SQL has the same as a table
 * function: SELECT * FROM udr_changes('users', 2, NULL), with columns _seq,
 * _version, _time and _op before the table's. */
int udr_changes_open(udr_repo *repo, const char *table, const char *from, const char *to,
                     udr_changes **out);
/* The next batch (*out NULL at the end). The rows of a commit are computed
 * when it is reached, from the chunks that differ. */
int udr_changes_next(udr_changes *it, const udr_change_batch **out);
/* The log record the iterator has read through: once every batch so far is
 * processed, acknowledging this skips the commits that did not touch the
 * subscription's tables as well. Before the first batch it is where the
 * walk starts (a poll's: the subscription's cursor); after the last, the
 * log's end when the poll began (or the last commit delivered, when
 * max_commits stopped it). */
uint64_t udr_changes_position(const udr_changes *it);
void udr_changes_close(udr_changes *it);

typedef struct udr_sub_info {
    char *name;
    char *branch;              /* the branch it follows */
    char **tables;             /* the tables it delivers, sorted */
    size_t ntables;
    uint64_t cursor;           /* acknowledged through this log record */
    int64_t created_us;
    uint64_t pending;          /* commits after the cursor that changed its tables */
} udr_sub_info;

/* Creates a subscription to tables (each must exist) on branch (NULL: the
 * handle's branch), recorded in the log. from: NULL or "beginning" (every
 * commit, so the first poll replays the tables' whole history; where
 * udr_expire let the oldest versions go, from the earliest kept, its rows
 * all inserts, as a Kafka consumer starts at the earliest offset), "now" (only
 * commits after this one), or a commit ref (that commit and after).
 * Names follow the rules of branch names. UDR_EEXIST if the name is taken. */
int udr_sub_create(udr_repo *repo, const char *name, const char *const *tables, size_t ntables,
                   const char *branch, const char *from);
/* Drops a subscription; what it retained is no longer kept for it. */
int udr_sub_drop(udr_repo *repo, const char *name);
int udr_sub_list(udr_repo *repo, udr_sub_info **out, size_t *n);
void udr_sub_info_free(udr_sub_info *v, size_t n);

/* The commits after the subscription's cursor, at most max_commits of them
 * (0: all there are now), as batches of udr_changes_next. Moves nothing:
 * acknowledge with udr_sub_ack or udr_tx_ack. A version that expired
 * after one it delivered is not a step of its own: the next kept version's
 * batch goes from the last delivered. If it must read from an expired
 * version (or end on one), UDR_ENOTFOUND says which, rather than skip it. */
int udr_sub_poll(udr_repo *repo, const char *name, size_t max_commits, udr_changes **out);

/* The same from log position after, when it is ahead of the cursor: for a
 * reader that keeps its own place without acknowledging (a follow that
 * only watches), so that each poll reads only what is new. */
int udr_sub_poll_after(udr_repo *repo, const char *name, uint64_t after, size_t max_commits,
                       udr_changes **out);

/* Moves the cursor to seq (at least once). seq may not be behind the
 * cursor, nor ahead of what this handle's polls of it delivered (or, with no
 * poll in this handle, of the log): UDR_EINVAL, and the cursor stays. An
 * acknowledgement is itself a log record (so it wakes udr_wait):
 * acknowledge only when the cursor moves. */
int udr_sub_ack(udr_repo *repo, const char *name, uint64_t seq);

/* The same inside a transaction: the cursor moves when the transaction
 * commits, with its writes (exactly once). If another consumer moved the
 * cursor meanwhile, the commit fails with UDR_ECONFLICT and changes nothing. */
int udr_tx_ack(udr_tx *tx, const char *name, uint64_t seq);

/* Waits until the log has a record after seq (a commit by any process), or
 * timeout_ms passes (negative: no limit), without using the CPU (inotify).
 * Returns 1 if there is one, 0 on timeout or when a signal interrupted the
 * wait (the caller checks its own flags), or an error. */
int udr_wait(udr_repo *repo, uint64_t seq, int timeout_ms);

/* The number of the log's last record, as this handle has read it now. */
uint64_t udr_log_position(udr_repo *repo);

/* ---- garbage collection --------------------------------------------------
 *
 * udr_gc removes the objects nothing in the log refers to: objects of
 * writes that failed or were rolled back, of transactions never committed,
 * of commands killed half way. It marks every commit, table version, chunk,
 * delete file and patch the log names, then removes unmarked objects older
 * than a grace period. It is safe while other processes write: a writer's
 * objects are younger than the grace period until it commits, and an old
 * object that a put finds and reuses is made young by that put. An object
 * GC took while a commit came to refer to it is put back before GC ends.
 * A table version that cannot be read stops GC (UDR_ECORRUPT): run fsck.
 */

#define UDR_GC_GRACE_S 3600           /* the default grace period: an hour */

typedef struct udr_gc_report {
    uint64_t objects, bytes;          /* in the store when GC looked */
    uint64_t referenced;              /* named by the log */
    uint64_t unreferenced, unreferenced_bytes;  /* named by nothing, old enough */
    uint64_t young, young_bytes;      /* named by nothing, within the grace period */
    uint64_t removed, removed_bytes;  /* removed (dry run: what would be) */
    uint64_t restored;                /* taken, then put back: a commit or put needed it */
} udr_gc_report;

typedef void (*udr_gc_progress_fn)(void *ctx, const udr_gc_report *sofar);

typedef struct udr_gc_opts {
    int dry_run;                      /* count, remove nothing */
    int64_t grace_s;                  /* negative: UDR_GC_GRACE_S. 0 takes every
                                         unreferenced object: only when nothing
                                         else writes */
    udr_gc_progress_fn progress;      /* may be NULL; called every few thousand objects,
                                         once the sweep is done (before GC checks what
                                         it took against the log), and at the end */
    void *ctx;
} udr_gc_opts;

/* opts and out may be NULL (defaults; no report). */
int udr_gc(udr_repo *repo, const udr_gc_opts *opts, udr_gc_report *out);

/* ---- retention -----------------------------------------------------------
 *
 * udr_expire lets old table versions go: it appends one expire record to
 * the log naming them (and the rule applied), after which they no longer
 * resolve ("users@3" says the version expired, and when) and udr_gc no
 * longer keeps their chunks. The history keeps them: udr_table_log lists
 * them with expired_us set. A version is never expired while it is
 *   - its table's newest version, or a branch head's, or a tag's;
 *   - a version of the merge base of two branches (a merge needs it);
 *   - what a subscription has still to read: the versions at and after its
 *     cursor on its branch, for its tables.
 * A branch or tag cannot later be made to point at a commit with an expired
 * version (UDR_EINVAL), nor can a commit bring one back (a revert to it). GC keeps a version's objects for its grace period
 * after the version expired, so a reader that resolved it just before has
 * that long to finish.
 *
 * Rules: older_than_s >= 0 lets go versions committed longer ago than
 * that; keep_last > 0 keeps each table's keep_last newest versions. With
 * both, a version goes only if both let it go. At least one is required
 * (UDR_EINVAL). Thread-safety: as every call on one handle.
 */

typedef enum udr_expire_verdict {
    UDR_EXPIRE_EXPIRED = 0,           /* let go now (dry run: would be) */
    UDR_EXPIRE_KEPT_RULE,             /* the rule keeps it (newer, or among the last N) */
    UDR_EXPIRE_KEPT_NEWEST,           /* its table's newest version */
    UDR_EXPIRE_KEPT_BRANCH,           /* a branch head has it (holder: the branch) */
    UDR_EXPIRE_KEPT_TAG,              /* a tag has it (holder: the tag) */
    UDR_EXPIRE_KEPT_MERGE_BASE,       /* the merge base of two branches has it
                                         (holder: "a...b") */
    UDR_EXPIRE_KEPT_SUBSCRIPTION,     /* a subscription has still to read it (holder) */
} udr_expire_verdict;

/* Called for each version considered (not drops, not expired before), per
 * table oldest first; holder names the branch, tag or subscription, or "". */
typedef void (*udr_expire_fn)(void *ctx, const char *table, uint64_t version,
                              udr_expire_verdict verdict, const char *holder);

typedef struct udr_expire_opts {
    int64_t older_than_s;             /* negative: no age rule */
    uint64_t keep_last;               /* 0: no count rule */
    const char *table;                /* NULL: every table */
    int dry_run;                      /* decide and report, record nothing */
    udr_expire_fn each;               /* may be NULL */
    void *ctx;
} udr_expire_opts;

typedef struct udr_expire_report {
    uint64_t considered;              /* versions looked at */
    uint64_t expired;                 /* let go (dry run: would be) */
    uint64_t kept_by_rule;            /* kept because the rule keeps them */
    uint64_t kept_held;               /* the rule would let them go, but a head, tag,
                                         merge base or subscription needs them */
    uint64_t expired_before;          /* versions an earlier expire let go */
    uint64_t seq;                     /* the expire record (0: none written) */
} udr_expire_report;

/* out may be NULL. UDR_ENOTFOUND for an unknown opts->table. */
int udr_expire(udr_repo *repo, const udr_expire_opts *opts, udr_expire_report *out);

/* ---- checking ----------------------------------------------------------- */

/* udr_fsck checks a whole repository and reports every fault it finds,
 * each naming what it concerns. It only reads: nothing is repaired, cut or
 * rewritten (open the handle with udr_open_v2(UDR_OPEN_READONLY |
 * UDR_OPEN_SALVAGE) and not even opening changes anything, and a damaged
 * log can be checked too). What it checks, in order:
 *
 *   the log     every segment from the first is there, numbered on from the
 *               one before, and every record's checksum holds, the last
 *               one of the newest segment included once the durable mark
 *               covers it (a torn tail past the mark is a write never
 *               acknowledged, not a fault); a fault names the segment
 *               (path log/<segment>.seg), the record and its byte offset
 *   references  every commit of the log, every branch head and tag, every
 *               table version of every table (dropped and expired ones
 *               excepted) and every chunk, delete file and patch those
 *               name: each must be there and decode; a subscription's
 *               cursor must not be past the log's end
 *   objects     every file under objects/ is named like an object (strays
 *               are reported) and its bytes hash to its name; a damaged
 *               object is reported with what refers to it (the first
 *               referrer in the log, and how many others), or as referred
 *               to by nothing; every chunk, delete file and patch of a
 *               version with rows is a Parquet file: "PAR1" at both ends
 *               and a footer length that fits
 *   deep        (UDR_FSCK_DEEP) every such chunk, delete file and patch is
 *               read in full through DuckDB, every column of every row
 *               decoded, and its row count compared with the count its
 *               version records (and a patch's columns: chunk, row and one
 *               for each column its version says it patches)
 *
 * Each object is reported once, by its first referrer; a branch head or tag
 * whose commit is missing or damaged is reported under its own name too. */

/* One problem udr_fsck found. The strings live until the callback returns. */
typedef struct udr_fsck_problem {
    int code;              /* UDR_ECORRUPT (damaged), UDR_ENOTFOUND (missing),
                              UDR_EIO, UDR_EINVAL (a stray file) */
    const char *object;    /* hex hash of the object concerned, or NULL (a
                              stray file, the log, a subscription) */
    const char *path;      /* the file concerned, relative to the repository
                              (objects/ab/cd/<hash>, log/<segment>.seg, "log") */
    const char *message;   /* what is wrong, naming the table and version,
                              branch, tag or log record concerned */
    const char *what;      /* what is damaged or missing: "chunk", "delete file",
                              "patch", "table version", "commit", "branch", "tag",
                              "object" (referred to by nothing), "log", "subscription",
                              "history" (the log could not be replayed in
                              full: what was not followed), "stray" */
    const char *table;     /* the table whose version refers to it, or NULL */
    uint64_t version;      /* that version (0: none) */
    uint64_t record;       /* the log record concerned (0: none): the damaged
                              record, or the record of the version or commit
                              that refers to the object */
} udr_fsck_problem;

/* What udr_fsck is doing (udr_fsck_stats.phase). */
enum {
    UDR_FSCK_PHASE_LOG = 0,
    UDR_FSCK_PHASE_REFERENCES = 1,
    UDR_FSCK_PHASE_OBJECTS = 2,
    UDR_FSCK_PHASE_DEEP = 3,
};

typedef struct udr_fsck_stats {
    uint64_t objects;      /* objects checked */
    uint64_t bytes;        /* bytes read and hashed */
    uint64_t problems;     /* problems reported */
    uint64_t log_segments, log_records;   /* the log checked */
    uint64_t chunks_read;  /* deep: chunks, delete files and patches read */
    uint64_t chunk_bytes_read;            /*   and their bytes */
    int phase;             /* UDR_FSCK_PHASE_*: for progress callbacks */
} udr_fsck_stats;

typedef void (*udr_fsck_fn)(void *ctx, const udr_fsck_problem *p);
typedef void (*udr_progress_fn)(void *ctx, const udr_fsck_stats *sofar);

#define UDR_FSCK_DEEP 0x1  /* read every chunk through DuckDB (slow: all the data) */

typedef struct udr_fsck_opts {
    int flags;             /* 0 or UDR_FSCK_DEEP */
    udr_fsck_fn fn;        /* each problem (may be NULL) */
    udr_progress_fn progress;  /* may be NULL: called at each phase, every
                                  FSCK_PROGRESS_EVERY objects, after each
                                  chunk of the deep pass, and at the end */
    void *ctx;             /* for fn and progress */
} udr_fsck_opts;

/* Checks the repository as described above. Returns UDR_OK if the check
 * completed, whatever it found (stats->problems, which may be NULL, says how
 * many), or an error if it could not go on (out of memory, an I/O error
 * listing the store; UDR_EINVAL for unknown flags). opts may be NULL. Not
 * for use while the handle has a transaction open. */
int udr_fsck_v2(udr_repo *repo, const udr_fsck_opts *opts, udr_fsck_stats *stats);

/* udr_fsck_v2 without the deep pass. */
int udr_fsck(udr_repo *repo, udr_fsck_fn fn, udr_progress_fn progress, void *ctx,
             udr_fsck_stats *stats);

/* ---- storage statistics ------------------------------------------------ */

/* One table's share of the repository (every table ever made, dropped ones
 * included, sorted by name). */
typedef struct udr_table_stats {
    char *table;
    uint64_t versions;        /* its versions kept, all branches (drops, expired excluded) */
    uint64_t live_rows;       /* rows of its current version on the handle's branch
                                 (0 if the branch does not have it) */
    uint64_t logical_bytes;   /* as udr_stats, over this table's versions only */
    uint64_t physical_bytes;  /* as udr_stats, over this table's versions only */
    uint64_t chunks;          /* chunk references, summed over its versions */
    uint64_t unique_chunks;   /* distinct chunk objects among them */
} udr_table_stats;

/* What a repository holds, against what its history would take stored
 * version by version.
 *
 *   logical_bytes   the sum over every table version kept (all tables, all
 *                   branches; drops and expired versions excluded) of the bytes
 *                   of its chunks, delete files and patches: what storing each
 *                   version as a full copy would take
 *   physical_bytes  the bytes of the distinct chunk, delete-file and patch
 *                   objects those versions refer to, each counted once
 *   dedup_ratio     1 - physical_bytes / logical_bytes (0 when logical is 0):
 *                   the share of the history's bytes that dedup saved
 *   objects, object_bytes  everything in the object store (as
 *                   udr_object_foreach walks it): chunks, delete files,
 *                   patches, the metadata (table versions, commits,
 *                   checkpoints), and objects no commit refers to yet
 *   versions        table versions kept (drops and expired ones excluded)
 *   commits, branches, tags, subscriptions  as in the log now */
typedef struct udr_stats {
    uint64_t objects, object_bytes;
    uint64_t logical_bytes, physical_bytes;
    uint64_t versions, commits, branches, tags, subscriptions;
    uint64_t chunks;          /* chunk references, summed over every version */
    uint64_t unique_chunks;   /* distinct chunk objects among them */
    double dedup_ratio;
    size_t ntables;
    udr_table_stats *tables;  /* ntables of them; freed by udr_stats_clear */
} udr_stats;

/* Reads the whole log and every table version object once (each chunk's
 * bytes come from its version; a delete file's or patch's from the store),
 * and lists every object. progress (may be NULL) is called now and then and
 * at the end, with objects = table versions read so far and bytes = their
 * logical bytes. On failure (a table version, delete file or patch missing
 * or damaged: the message names the table, version and object) *out is
 * left empty.
 * Free with udr_stats_clear. */
int udr_stats_get(udr_repo *repo, udr_stats *out, udr_progress_fn progress, void *ctx);
/* Frees what udr_stats_get allocated and zeroes *s. NULL is allowed. */
void udr_stats_clear(udr_stats *s);

#ifdef __cplusplus
}
#endif

#endif /* UDR_H */
