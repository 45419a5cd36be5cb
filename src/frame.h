/*
 * frame — the caller's column arrays read by SQL as udr_frame('name')
 * (query layer; see frame.c).
 */
#ifndef UDR_FRAME_H
#define UDR_FRAME_H
#include "query.h"

/* Registers (a copy of the column list of) a frame on q; the arrays stay
 * the caller's. UDR_EEXIST for a name taken, UDR_EINVAL for bad columns. */
int frame_add(query *q, const char *name, const udr_column *cols, size_t ncols, uint64_t nrows);
/* UDR_ENOTFOUND if there is no such frame. */
int frame_remove(query *q, const char *name);
/* Forgets every frame (when the handle closes). */
void frame_free_all(query *q);
/* Registers the table function udr_frame on q's connection. */
int frame_register_function(query *q);

#endif
