/*
 * delvec — deletion vectors: the rows a table version's delete files name,
 * held in memory as one bitmap per chunk, for scans to leave out.
 *
 * A scan of a version with deletes used to anti-join its rows with the
 * delete files' (chunk, row) pairs, naming each row by its file name: a hash
 * join whose build side grows with every deleted row. At a third of the rows
 * deleted that made `SELECT sum(v)` over a million rows five times slower
 * than over the same rows compacted. Here the delete files are read once per
 * version into bitmaps, and the scan keeps a row where
 *
 *     udr_live(ID, file_index, file_row_number)
 *
 * is true: a C function over DuckDB's vectors testing one bit a row, about
 * 1.5 times the compacted scan at a third deleted (bench_stats).
 *
 * A version's vectors are keyed by the hash of its chunk and delete lists,
 * so every scan of it, in any statement, shares them. Past DELVEC_MAX_BYTES
 * of bitmaps (or $UDR_DELVEC_MAX_BYTES, read when the handle first runs
 * SQL; 0 turns vectors off) the vectors least recently handed out are
 * freed to make room, as patch maps are (patch.h): a bound udr_live
 * expression holds its vectors through DuckDB's bind data (copied and
 * destroyed with the plan), and those of the last DELVEC_FRESH IDs handed
 * out are kept for SQL not bound yet. Of the others at most DELVEC_STALE
 * stay, however far under the bound, so a long-lived handle that deletes
 * row after row keeps a few versions' vectors, not the bound's worth. An
 * evicted ID is never reused: SQL naming it fails at bind, it never reads
 * freed memory. When a version's
 * vectors do not fit even so, delvec_for says so and the caller falls
 * back to the anti-join.
 *
 * Threads: DuckDB calls udr_live from its worker threads; a vector is
 * complete before its ID is handed out and never changes after.
 */
#ifndef UDR_DELVEC_H
#define UDR_DELVEC_H

#include <stddef.h>
#include <stdint.h>

#include "catalog.h"
#include "duckdb.h"
#include "util/err.h"

enum {
    DELVEC_MAX_BYTES = 64 << 20,
    DELVEC_FRESH = 16,             /* IDs whose vectors are kept unbound */
    DELVEC_STALE = 8,              /* unheld vectors kept beyond those */
};

typedef struct delvec_set delvec_set;

/* Registers udr_live on con (its database's catalog, so every connection
 * of the database sees it) and returns an empty set in *out. */
int delvec_open(duckdb_connection con, delvec_set **out, udr_err *err);
void delvec_close(delvec_set *s);
/* The bytes of bitmaps the set holds now. */
size_t delvec_bytes(delvec_set *s);

/* The ID of tv's deletion vectors, built on first use by reading its delete
 * files through con (a connection not busy binding: the caller may be in a
 * replacement scan of another). root is the repository directory. Returns
 * 1 and *id, 0 when the memory bound leaves tv to the anti-join, or a
 * negative udr status (a delete file that cannot be read) with err set. */
int delvec_for(delvec_set *s, duckdb_connection con, const char *root, const cat_tablever *tv,
               uint64_t *id, udr_err *err);

#endif
