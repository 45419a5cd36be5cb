/*
 * udfarg — the constant first argument of UDR's SQL functions.
 *
 * udr_live (delvec.c) and udr_patched (patch.c) take the ID of what they
 * read (deletion vectors, patch maps) as their first argument, always a
 * constant in the SQL the query layer writes. Their bind callbacks fold it
 * here, to hold what the ID names for as long as the plan lives.
 */
#ifndef UDR_UDFARG_H
#define UDR_UDFARG_H

#include <stdint.h>

#include "duckdb.h"

/* Folds the bound function's first argument to *id. 1 if it is a constant
 * that folds, 0 otherwise (the caller sets the bind error). */
int udfarg_const_id(duckdb_bind_info info, uint64_t *id);

#endif
