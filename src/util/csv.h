/*
 * csv — a check of a CSV file's shape before it is imported: every record
 * must have as many fields as the first (the header). DuckDB's reader,
 * meeting a ragged file, may silently pick another dialect (one column, say);
 * this check names the first bad line instead. Streams the file, so any size
 * is fine.
 */
#ifndef UDR_UTIL_CSV_H
#define UDR_UTIL_CSV_H

#include <stddef.h>
#include <stdint.h>

typedef struct csv_shape {
    uint64_t bad_line;     /* the line where the first ragged record starts, 0 if none */
    size_t fields;         /* fields in that record */
    size_t expected;       /* fields in the header */
    uint64_t records;      /* records read, header included */
    int open_quote;        /* the file ended inside a quoted field */
} csv_shape;

/* Reads path with delimiter delim and RFC 4180 quoting ("..." with "").
 * Returns 0 (see shape) or an errno if the file cannot be read. */
int csv_check(const char *path, char delim, csv_shape *shape);

#endif
