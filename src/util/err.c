/*
 * err — formatting of error records; see err.h.
 */
#include "util/err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int vset(udr_err *e, int code, const char *fmt, va_list ap)
{
    if (e == NULL)
        return code;
    e->code = code;
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    return code;
}

int err_set(udr_err *e, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vset(e, code, fmt, ap);
    va_end(ap);
    return code;
}

static int code_of_errno(int errnum)
{
    switch (errnum) {
    case ENOSPC:
    case EDQUOT:
        return UDR_EFULL;
    case ENOMEM:
        return UDR_ENOMEM;
    case EACCES:
    case EPERM:
    case EROFS:
        return UDR_EPERM;
    case ENOENT:
        return UDR_ENOTFOUND;
    default:
        return UDR_EIO;
    }
}

int err_sys(udr_err *e, int errnum, const char *fmt, ...)
{
    int code = code_of_errno(errnum);
    if (e == NULL)
        return code;
    va_list ap;
    va_start(ap, fmt);
    vset(e, code, fmt, ap);
    va_end(ap);
    size_t n = strlen(e->msg);
    const char *why = errnum == ENOSPC ? "no space left on device (free some disk space and retry)"
                                       : strerror(errnum);
    snprintf(e->msg + n, sizeof e->msg - n, ": %s", why);
    return code;
}

void err_prefix(udr_err *e, const char *fmt, ...)
{
    if (e == NULL)
        return;
    char head[ERR_MSG_BYTES];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    char joined[2 * ERR_MSG_BYTES + 4];
    snprintf(joined, sizeof joined, "%s: %s", head, e->msg);
    snprintf(e->msg, sizeof e->msg, "%.*s", (int)sizeof e->msg - 1, joined);
}

void err_clear(udr_err *e)
{
    if (e == NULL)
        return;
    e->code = UDR_OK;
    e->msg[0] = '\0';
}
