/*
 * err — the error record every layer writes its failures into.
 *
 * A layer function that fails returns a negative UDR_E* code and leaves a
 * message in the udr_err it was handed, naming the thing concerned (object
 * hash, file, table) and, where there is one, what to do about it. The public
 * handle owns one udr_err; udr_errmsg() returns its text. Lower layers never
 * print.
 */
#ifndef UDR_UTIL_ERR_H
#define UDR_UTIL_ERR_H

#include <stddef.h>

#include "udr.h"

enum { ERR_MSG_BYTES = 1024 };

typedef struct udr_err {
    int code;                   /* last UDR_E* code, UDR_OK when clear */
    char msg[ERR_MSG_BYTES];    /* NUL-terminated, "" when clear */
} udr_err;

/* Records code and a printf-style message; returns code so callers can write
 * `return err_set(e, UDR_EIO, "...")`. A NULL e is allowed (message dropped). */
int err_set(udr_err *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Like err_set, for a failed system call: appends ": strerror(errnum)" and
 * picks the code from errnum (ENOSPC -> UDR_EFULL, ENOMEM -> UDR_ENOMEM,
 * EACCES/EPERM -> UDR_EPERM, everything else -> UDR_EIO). */
int err_sys(udr_err *e, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefixes the current message with more context: "context: old message". */
void err_prefix(udr_err *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

void err_clear(udr_err *e);

#endif
