/*
 * sqlsplit — cutting SQL text into statements at the semicolons that are
 * not inside a string ('...', E'...'), a quoted name ("..."), a dollar-quoted
 * string ($tag$...$tag$) or a comment (-- ..., nested block comments).
 */
#ifndef UDR_CLI_SQLSPLIT_H
#define UDR_CLI_SQLSPLIT_H

#include <stddef.h>

/* The next statement starting at *p: *start and *len receive it (trimmed,
 * without its semicolon); *p moves past it. Returns 1 for a statement, 0 at
 * the end of the text. Statements holding only space and comments are
 * skipped. *complete is 0 when the text ended inside a string, a comment or
 * before a semicolon (the shell then asks for more). */
int sql_next(const char **p, const char **start, size_t *len, int *complete);

/* 1 if the text holds at least one statement and ends after a semicolon
 * outside quotes and comments (with only space and comments after it). */
int sql_is_complete(const char *text);

#endif
