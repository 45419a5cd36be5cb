/*
 * csv — see csv.h. A three-state scanner: outside quotes, inside quotes, and
 * just after a quote inside quotes (a "" or the closing quote).
 */
#include "util/csv.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A record ended: the first sets the expected count, a later one that
 * differs is the first bad line. */
static void end_record(csv_shape *shape, size_t fields, uint64_t record_line)
{
    shape->records++;
    if (shape->records == 1)
        shape->expected = fields;
    else if (fields != shape->expected && shape->bad_line == 0) {
        shape->bad_line = record_line;
        shape->fields = fields;
    }
}

int csv_check(const char *path, char delim, csv_shape *shape)
{
    memset(shape, 0, sizeof *shape);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno;
    enum { BUF = 1 << 16 };
    char *buf = malloc(BUF);
    if (buf == NULL) {
        close(fd);
        return ENOMEM;
    }
    enum { OUT, IN, QUOTE_IN } st = OUT;
    uint64_t line = 1, record_line = 1;
    size_t fields = 1;
    int empty_record = 1, rc = 0;
    ssize_t n;
    while ((n = read(fd, buf, BUF)) != 0) {
        if (n < 0) {
            if (errno == EINTR)
                continue;
            rc = errno;
            break;
        }
        for (ssize_t i = 0; i < n; i++) {
            char c = buf[i];
            if (st == IN) {
                if (c == '"')
                    st = QUOTE_IN;
                else if (c == '\n')
                    line++;
                continue;
            }
            if (st == QUOTE_IN) {
                if (c == '"') {
                    st = IN;           /* "" stands for a quote */
                    continue;
                }
                st = OUT;              /* the closing quote; c is read below */
            }
            if (c == '"') {
                st = IN;
                empty_record = 0;
            } else if (c == delim) {
                fields++;
                empty_record = 0;
            } else if (c == '\n') {
                if (!empty_record)
                    end_record(shape, fields, record_line);
                line++;
                record_line = line;
                fields = 1;
                empty_record = 1;
            } else if (c != '\r') {
                empty_record = 0;
            }
            if (shape->bad_line)
                goto done;
        }
    }
    if (rc == 0 && st == IN)
        shape->open_quote = 1;
    if (rc == 0 && !empty_record)      /* a last record without a newline */
        end_record(shape, fields, record_line);
done:
    free(buf);
    close(fd);
    return rc;
}
