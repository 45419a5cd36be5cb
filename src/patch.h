/*
 * patch — column patches: new values an UPDATE gave to some fixed-width
 * columns of a table version's rows, applied in place by scans.
 *
 * An UPDATE of 1 % of a table's rows used to store each updated row whole
 * (a delta chunk) and its old position (a delete file): about 7.7 bytes a
 * row in bench_stats. When it assigns only fixed-width columns that are not
 * in the key, it now stores, per updated row, the chunk, the row number and
 * the new values of those columns (cat_patch; catalog.h): a patch, about
 * 4.6 bytes a row there, and rows keep their positions.
 *
 * A scan of a version with patches reads each patchable column that some
 * patch names through
 *
 *     udr_patched(ID, COLUMN, file_index, file_row_number, value)
 *
 * a C function returning the row's value in the version's latest patch that
 * names the row, else `value` (what the chunk holds). ID names the version's
 * patch maps (below), COLUMN the column's position in the version.
 * Overloads exist for each type patch_type_ok accepts; the value and the
 * result have the column's type. They take NULLs themselves (DuckDB's
 * special NULL handling): a NULL stored value may be patched to a value.
 * A patch row naming no chunk of the version, or a row past a chunk's end,
 * matches nothing; within one patch file a position appears once (UDR
 * writes them so).
 *
 * Maps are built once per list of patch files by reading them through a
 * DuckDB connection of their own (scans are planned while another
 * connection binds). Per chunk (by hash) and patched column, a dense array
 * of values up to the highest row a patch names there, with a bitmap of
 * the rows patched and one of NULLs. An ID also fixes the order of the
 * scan's chunk list, since file_index is a position in it: scans of
 * different chunk lists over the same patches (diffs read subsets) share
 * the maps and differ only in that small index.
 *
 * Memory is bounded by PATCH_MAX_BYTES of maps and views (or
 * $UDR_PATCH_MAX_BYTES, read at patch_open; 0 turns maps off). Unlike
 * deletion vectors, maps are evicted to stay under it: each UPDATE makes a
 * version with a patch list of its own, so a long-lived handle would
 * otherwise fill the bound with the maps of versions it no longer reads.
 * A bound udr_patched expression holds its maps (bind data, destroyed with
 * the plan), and the maps of the last PATCH_FRESH IDs handed out are kept
 * for the SQL naming them that is not bound yet; of the rest, at most
 * PATCH_STALE stay (least recently used go first), however far under the
 * bound: so a handle's maps stay a few versions' worth, not up to the bound
 * (measured before: 67 KB more each single-row UPDATE of a 10,000-row table
 * until 256 MiB, per handle). An evicted ID is never reused: SQL naming it
 * fails at bind. When
 * new maps do not fit even so, patch_for returns 0 and the caller joins
 * the patch files in SQL instead.
 *
 * Threads: DuckDB calls udr_patched from its worker threads; maps and IDs
 * are complete before an ID is handed out and never change after.
 */
#ifndef UDR_PATCH_H
#define UDR_PATCH_H

#include <stddef.h>
#include <stdint.h>

#include "catalog.h"
#include "duckdb.h"
#include "util/err.h"

enum {
    PATCH_MAX_BYTES = 256 << 20,
    PATCH_FRESH = 16,                /* IDs whose maps are kept unbound */
    PATCH_STALE = 8,                 /* unheld maps kept beyond those */
};

typedef struct patch_set patch_set;

/* Registers udr_patched's overloads on con (its database's catalog) and
 * returns an empty set in *out. */
int patch_open(duckdb_connection con, patch_set **out, udr_err *err);
/* After the database closes: udr_patched's overloads point into the set. */
void patch_close(patch_set *s);

/* 1 if a column of this type (DuckDB's name for it, as cat_column holds
 * it, e.g. "BIGINT") can be patched: BOOLEAN, TINYINT, SMALLINT, INTEGER,
 * BIGINT, UTINYINT, USMALLINT, UINTEGER, UBIGINT, FLOAT, DOUBLE, DATE,
 * TIMESTAMP. */
int patch_type_ok(const char *type);

/* The ID for a scan of tv->chunks (in that order) with tv's patches
 * applied (tv->npatches > 0). The maps of tv's patch list are built on
 * first use by reading its patch files through con (not busy binding);
 * root is the repository directory. Returns 1 and *id; 0 when the memory
 * bound leaves tv to SQL; or a negative udr status (a patch file that
 * cannot be read, or whose columns are not those its cat_patch names) with
 * err set. */
int patch_for(patch_set *s, duckdb_connection con, const char *root, const cat_tablever *tv,
              uint64_t *id, udr_err *err);

/* After a change made the version `to` from `from` by adding patch rows
 * (to's last patch holds every row it changed; the patches before it are
 * from's, or a run at the start of them): to's maps are from's with that
 * patch applied. Builds them now if from's maps are held, sharing the
 * records of the chunks the patch does not name, so that a small UPDATE
 * costs the chunks it touches, not every patched chunk of the table.
 * Returns 1 if to's maps are held, 0 if not (they are built on first use),
 * or a negative status with err set. */
int patch_derive(patch_set *s, duckdb_connection con, const char *root, const cat_tablever *from,
                 const cat_tablever *to, udr_err *err);

/* The bytes of maps and views the set holds now (at most its limit). */
size_t patch_bytes(patch_set *s);

#endif
