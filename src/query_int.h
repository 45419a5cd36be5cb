/*
 * query_int — what the query layer's files share among themselves (query.c
 * and changes.c); nothing above the layer includes it.
 */
#ifndef UDR_QUERY_INT_H
#define UDR_QUERY_INT_H

#include "query.h"
#include "util/buf.h"

typedef struct schema {
    cat_column *cols;
    size_t n;
} schema;

/* How an SQL function of ours starts an error message for DuckDB:
 * "[udr] -3 there is no table x": db_error takes the code and the text. */
#define QUERY_MSG_MARK "[udr] "
void qi_function_error(const query *q, char *out, size_t size);

/* Starts DuckDB if need be. */
/* Chunk boundaries: the row numbers where chunks start, plus the total. */
typedef struct cuts {
    uint64_t *at;                      /* at[0] = 0, ..., at[n] = rows */
    size_t n;
} cuts;

/* query.c's helpers that qdiff.c (diffs and merges) uses too. */
void qi_add_column_list(buf *b, const schema *s);
void qi_add_ident(buf *b, const char *s);
void qi_add_key_text(buf *b, const char *const *key);
void qi_add_literal(buf *b, const char *s);
void qi_add_path_list(buf *b, const query *q, const cat_chunk *chunks, size_t n);
int qi_chunks_unique(const cat_chunk *v, size_t n);
uint64_t qi_count_of(query *q, const char *table_name);
int qi_exec_buf(query *q, buf *b, const char *what);
int qi_exec_result(query *q, buf *b, duckdb_result *out, const char *what);
int qi_find_cuts(query *q, uint64_t rows, cuts *c);
int qi_has_chunk(const cat_chunk *v, size_t n, const udr_hash *h);
/* How many patches a and b list alike from the first on. A patch after
 * that on either side is one side's own, even if the other lists a patch
 * of the same hash earlier: patches are a sequence in which a later one
 * wins, and the same file (the same rows and values) may come back later
 * in a list, as when a balance returns to a value it once had. */
size_t qi_patch_prefix(const cat_tablever *a, const cat_tablever *b);
int qi_has_column(const schema *s, const char *name);
int qi_needs_cast(const cat_tablever *tv);
void qi_object_path(const query *q, const udr_hash *h, char *out, size_t size);
int qi_put_tablever(query *q, const cat_tablever *tv, udr_hash *out);
int qi_read_schema(query *q, const char *what, schema *s);
void qi_schema_free(schema *s);
int qi_stage(query *q, const char *src_sql, const char *const *key, const cat_tablever *old,
             int append);
int qi_write_chunks(query *q, const schema *s, const char *const *key, const cuts *c,
                    cat_chunk **out, size_t *n, udr_write_info *info);
/* Writes table whole (chunks only) from src_sql's rows, as a version
 * whose parent is base. */
int qi_build_whole(query *q, const char *table, const char *src_sql, const char *const *key,
                   const udr_hash *base, udr_hash *out, udr_write_info *info);
/* tv's patches, then a change's (more_sql: SELECT chunk, "row" and tv's
 * columns cols, new_rows rows), the newest merged by size tiers as an
 * UPDATE merges them: into *list (malloc'd; free it) and *n. */
/* 1 if tv's patches and the n at more stay within the bounds the size
 * tiers keep (no merge needed). */
int qi_patches_fit(const cat_tablever *tv, const cat_patch *more, size_t n);
int qi_patches_with(query *q, const cat_tablever *tv, uint64_t cols, const char *more_sql,
                    uint64_t new_rows, cat_patch **list, size_t *n, udr_write_info *info);
int qi_write_delete_file(query *q, const char *select_sql, uint64_t rows, cat_chunk *del,
                         udr_write_info *info);

int qi_open(query *q);
/* A DuckDB error message as UDR's error (what: the prefix); returns the code. */
int qi_db_error(query *q, const char *what, const char *msg);
/* Runs one internal statement on q->con; its result to *out if non-NULL. */
int qi_exec(query *q, const char *sql, duckdb_result *out, const char *what);
/* The same for a SELECT whose result a user reads: list, struct, map and
 * array columns come as text (the C API reads them only through vectors). */
int qi_exec_shown(query *q, const char *sql, duckdb_result *out, const char *what);
/* The live rows of a table version as a SELECT (positions: with filename
 * and file_row_number). */
void qi_add_scan(buf *b, const query *q, const cat_tablever *tv, int positions);
/* Rows of chunks both a and b have that one deletes and the other does not
 * (qi_read_diffs compares the delete files only one side has): side 1, live
 * in a only; side 0, live in b only. Free v. */
typedef struct pos {
    int side;                        /* 1: live in the old version only; 0: in the new only */
    udr_hash chunk;
    int64_t row;
} pos;

typedef struct diffs {
    pos *v;
    size_t n;
} diffs;
int qi_read_diffs(query *q, const cat_tablever *a, const cat_tablever *b, diffs *d);
/* SELECT x's columns FROM the rows x may have and y not: x's own chunks
 * (less x's deletes), and the rows of shared chunks on this side of d. */
void qi_add_side(buf *s, const query *q, const cat_tablever *x, const cat_tablever *y,
                 const diffs *d, int side);

/* 1 (and a message) if a chunk or delete file of tv is not in the store. */
int qi_missing_object(const query *q, const char *table, uint64_t version,
                      const cat_tablever *tv, char *msg, size_t size);
void qi_add_key_list(buf *b, const char *const *key);

/* changes.c: the SQL functions udr_changes() and udr_ack(). */
int changes_register(query *q);
/* Registers a table function on q->con (extra info: q). */
int qi_register_table_function(query *q, const char *name, const duckdb_type *params,
                               size_t n, duckdb_table_function_bind_t bind,
                               duckdb_table_function_init_t init, duckdb_table_function_t scan);

#endif
