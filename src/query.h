/*
 * query — the DuckDB binding: tables written as content-defined Parquet
 * chunks, and SQL over any version of them.
 *
 * Writing a table (query_write):
 *
 *   1. The source (any DuckDB query) is read once, with a hash per row: of
 *      the key's columns when there is a key, of every column otherwise.
 *      Streamed (a first write, a rewrite without a key): straight from a
 *      streaming result, the key order checked in C on the way. Staged
 *      (appends, keyed rewrites that may become deltas, rows that need a
 *      sort): into a temporary table, sorted by the key.
 *   2. Chunk boundaries fall after rows whose hash is 0 modulo
 *      QUERY_CHUNK_AVG_ROWS, within QUERY_CHUNK_MIN_ROWS..MAX_ROWS of the
 *      previous boundary (content-defined chunking at row granularity): an
 *      edit moves only the boundaries next to it, so rewriting a table after
 *      a small change produces the same chunks everywhere else.
 *   3. A pool of writer threads writes each chunk as a zstd Parquet file of
 *      one row group (the same rows give the same bytes, by either path)
 *      into tmp/ and adopts it into the object store: equal chunks are
 *      stored once. zstd level 1: measured 18% faster to write than level 3
 *      for 0.3% more bytes. The settings are part of what a chunk's bytes
 *      are, so changing them changes every new chunk's hash.
 *   4. A table-version object lists the chunks; the catalog commits it.
 *
 * Appending rows whose key is above every existing key (or to a table
 * without a key) adds chunks after the existing ones and rewrites nothing.
 *
 * Reading: a replacement scan resolves a table name that DuckDB does not
 * know — `users`, `"users@3"`, `"users@2026-11-24T10:00:00Z"` — through the
 * catalog to read_parquet() of that version's chunk files, so DuckDB scans
 * them natively, in parallel, with its filter pushdown.
 */
#ifndef UDR_QUERY_H
#define UDR_QUERY_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "catalog.h"
#include "feed.h"
#include "duckdb.h"
#include "store.h"
#include "udr.h"
#include "util/err.h"

enum {
    QUERY_CHUNK_AVG_ROWS = 1 << 15,   /* boundary where hash % avg == 0 */
    QUERY_CHUNK_MIN_ROWS = 1 << 13,
    QUERY_CHUNK_MAX_ROWS = 1 << 16,
};

/* Chunking parameters (tests use small ones). */
typedef struct query_chunking {
    uint64_t avg_rows, min_rows, max_rows;
} query_chunking;

enum { QUERY_CACHE = 16 };

/* Table versions are immutable: decoded ones are kept, by hash, so a query
 * does not read and check the same metadata again. */
typedef struct query_cached {
    udr_hash hash;
    cat_tablever tv;
    uint64_t last_used;
    int full;
} query_cached;

/* A chunk's range of first key values (from its Parquet statistics). */
typedef struct query_range {
    udr_hash chunk;
    int64_t lo, hi;
    int used;                         /* slot taken */
    int known;                        /* lo and hi hold (else: never pruned) */
} query_range;

typedef struct query_pool query_pool;  /* chunk writers at work (query.c) */
typedef struct query_frame query_frame;  /* the caller's arrays (frame.c) */

/* A transaction's view of the tables: while set, plain table names resolve
 * through lookup (hash; version 0 for a write not committed yet), and
 * on_read (may be NULL) hears of each table a query reads. */
typedef struct query_view {
    int (*lookup)(void *ctx, const char *table, cat_entry *out, int *found);
    void (*on_read)(void *ctx, const char *table);
    void *ctx;
} query_view;

typedef struct query {
    udr_err *err;
    catalog *cat;
    store *store;
    char root[PATH_MAX];              /* absolute repository directory */
    duckdb_database db;
    duckdb_connection con;
    int open;
    duckdb_connection con2;           /* for SQL functions that run queries while
                                         con binds a statement (changes.c) */
    int con2_open;
    struct delvec_set *dv;            /* deletion vectors (delvec.h) */
    struct patch_set *ps;             /* column patches' maps (patch.h) */
    duckdb_connection con_dv;         /* reads delete and patch files for them */
    int con_dv_open;
    /* CALL udr_ack(name, seq): set by the layer above (feedapi.c). */
    int (*ack)(void *ctx, const char *name, uint64_t seq);
    void *ack_ctx;
    query_chunking chunking;
    const udr_pin *pins;              /* versions pinned for the running query */
    size_t npins;
    int staged_strict;                /* staged keys strictly increasing */
    query_pool *pool;                 /* during a write */
    const query_view *view;           /* during a transaction's calls */
    query_cached cache[QUERY_CACHE];
    uint64_t uses;
    query_range *ranges;              /* chunk key ranges seen (open addressing) */
    size_t nranges, ranges_cap;
    uint64_t small_changes;           /* query_change calls so far */
    udr_hash *delcache;               /* delete files held in __udr_delrows */
    size_t ndelcache;
    query_frame **frames;             /* udr_frame('name') tables (frame.c) */
    char **shown;                     /* query_take_shown: types cast to text */
    size_t nshown;
    size_t nframes;
    udr_work_progress_fn progress;    /* the handle's progress hook, or NULL */
    void *progress_ctx;
    udr_work_progress prog;           /* what the running call has done (progress.c) */
    char prog_table[256];             /* prog.table points here */
} query;

/* ---- progress (progress.c) ----------------------------------------------
 *
 * The handle's hook (udr_progress_set) lives in the query layer because the
 * chunk writers count what they store. Every function here does nothing
 * when no hook is set. Reports are made on the calling thread only, with
 * no lock held: the writer pool counts under its mutex and the thread that
 * runs the pool reports after letting go of it. */

/* Starts counting a call of the API on table (zero counts; the name is
 * copied). Every call that may write chunks begins so. */
void query_progress_begin(query *q, const char *table);
/* Reports q->prog under phase; rows, chunks and bytes only grow. */
void query_progress_note(query *q, const char *phase, uint64_t rows, uint64_t chunks,
                         uint64_t bytes);
/* The last report of a call: the totals, done = 1. */
void query_progress_done(query *q, uint64_t rows, uint64_t chunks, uint64_t bytes);

/* Writes the rows of ref (a name as a query has it: "users@3") to path by
 * COPY in format ("parquet" or "csv"); the rows and the file's size to
 * *info. With a hook, the statement runs task by task and reports about
 * every 100 ms. */
int query_export(query *q, const char *ref, const char *path, const char *format,
                 udr_export_info *info);

/* The rows that turn a table's version step->from into step->to (either
 * absent: no rows there), computed from the chunks and delete files in which
 * they differ: a first column _op ('insert', 'delete', 'update_before',
 * 'update_after'), then the table's columns. With a key (the same on both
 * sides) rows pair by key and come in key order; without one, rows are
 * compared whole, as multisets. Other columns on the two sides: every old
 * row is a delete and every new row an insert. A missing object is
 * UDR_ENOTFOUND naming the table, version and object. */
int query_changes(query *q, const char *table, const feed_step *step,
                  duckdb_result *out);

/* DuckDB's name for a type ("INTEGER", "DECIMAL(18,3)", "INTEGER[]" ...). */
struct buf;
void query_type_name(duckdb_logical_type t, struct buf *b);
/* The types a result's columns had before they were shown as text (the
 * last query_run or qi_exec_shown that cast some): NULL where a column was
 * not cast, and nshown 0 when none was. The caller takes them (and clears
 * them) with query_take_shown; free with query_free_shown. */
char **query_take_shown(query *q, size_t *n);
void query_free_shown(char **types, size_t n);
/* Prepares the binding; DuckDB itself starts on first use. */
void query_init(query *q, catalog *cat, store *s, const char *root, udr_err *err);
void query_close(query *q);
/* Asks the statement running on q's connection to stop (it then fails with
 * DuckDB's "Interrupted"). Safe from another thread while q is in use, not
 * while it is being closed. Does nothing before DuckDB has started. */
void query_interrupt(query *q);

/* Runs SQL (one or more statements); the last statement's result goes to
 * *out (duckdb_destroy_result it) when out is non-NULL. */
int query_run(query *q, const char *sql, const udr_pin *pins, size_t npins, duckdb_result *out);

/* Builds a new version of a table from the rows of src_sql over base (the
 * table-version it replaces or appends to; NULL for a new table) and stores
 * its table-version object (*out). Commits nothing: a transaction commits
 * it with others. info: as query_write's, without the version number. */
int query_build(query *q, const char *table, const char *src_sql, const char *const *key,
                int append, const udr_hash *base, udr_hash *out, udr_write_info *info);

/* Folds a table version's deltas back into clean chunks: its live rows
 * written anew in key order (the chunks a fresh write of the same rows would
 * have, so most are stored already). *changed 0 (and *out = *base) when it
 * is clean already: no delete files, chunks in key order. */
int query_compact(query *q, const char *table, const udr_hash *base, udr_hash *out,
                  int *changed, udr_write_info *info);

/* The rows of a table version. */
int query_rows(query *q, const udr_hash *tvh, uint64_t *rows);

/* A small change made in place (UPDATE, DELETE): the rows of base where
 * `where` holds (all when NULL) are named in a new delete file and, for an
 * update, written back as `replace` makes them into new chunks. Both are
 * written denser than a write's chunks (Parquet v2 encodings, zstd 15), and
 * the delete file holds this change's rows only, merged with earlier ones
 * by size tier once there are many (docs/tables.md, "What small changes
 * store"). */
typedef struct query_change_req {
    const char *where;               /* SQL condition over the table, or NULL */
    const char *replace;             /* UPDATE: "expr AS col, ..."; DELETE: NULL */
    const char *const *columns;      /* UPDATE: the columns assigned, NULL-ended */
} query_change_req;

/* *matched: the rows where holds. *done 1: *out is the new version (base
 * itself when nothing matched). *done 0: the change is not small (it would
 * leave over a fifth of the rows deleted, or it assigns a key column): the
 * caller writes the table whole instead, which compacts it. */
int query_change(query *q, const char *table, const udr_hash *base, const query_change_req *req,
                 udr_hash *out, uint64_t *matched, int *done, udr_write_info *info);

/* Compares two versions of a table (refs as catalog_resolve takes them): by
 * key (the one given, else the table's), else by whole rows. Only the
 * chunks that differ are read. *rows (if non-NULL) receives the changed rows:
 * a column `change` (added, removed, before, after) and the columns both
 * versions have. */
int query_diff(query *q, const char *table, const char *from, const char *to,
               const char *const *key, udr_diff *counts, duckdb_result *rows);

/* Three-way merge of a keyed table's rows: theirs' changes (against base,
 * by key) applied to ours, reading only the chunks where the versions
 * differ. The result is written as a table-version object over ours (*out:
 * ours' chunks, a delete file for the rows replaced, new chunks for theirs'
 * rows; ours itself when there is nothing to apply), not committed. A key
 * both sides changed differently is a conflict (strict: any key both sides changed,
 * as transactions need: first committer wins per row), counted in *nconflicts and
 * added to the merge report (below): with
 * take_theirs theirs' row wins, with keep_ours ours', otherwise nothing is
 * written when there is one. *mergeable 0 (and nothing done): the three
 * sides do not share one key and one schema. */
int query_merge_rows(query *q, const char *table, const udr_hash *base, const udr_hash *ours,
                     const udr_hash *theirs, int take_theirs, int keep_ours, int strict,
                     udr_hash *out, uint64_t *nconflicts, int *mergeable, udr_write_info *info);

/* Merges a small change (ours: base with chunks and delete files added,
 * nothing folded) into theirs (what committed on base meanwhile), reading
 * only the delete files and the chunks either side added: theirs with ours'
 * additions. *applies 0 (nothing done): the shapes do not allow it (ours
 * folded, or a row ours deleted was moved by a fold of theirs); use
 * query_merge_rows. *conflict: both sides deleted or updated one row, or
 * added one key (first committer wins by row). */
int query_merge_deltas(query *q, const udr_hash *base, const udr_hash *ours,
                       const udr_hash *theirs, udr_hash *out, int *applies, int *conflict);

/* A merge's report of conflicts, kept in DuckDB while the merge runs:
 * begin empties it, query_merge_rows adds its conflicting rows, report_table
 * adds a table-level conflict, take returns the rows ("table", "key", base,
 * ours, theirs, resolution) and drops the report. */
int query_report_begin(query *q);
int query_report_table(query *q, const char *table, const char *resolution);
int query_report_take(query *q, duckdb_result *out, uint64_t *rows);

#endif
