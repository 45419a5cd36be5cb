/*
 * udrtest — helpers shared by the tests that drive a repository through the
 * public API (tables, branches, transactions).
 */
#ifndef UDR_UDRTEST_H
#define UDR_UDRTEST_H

#include "harness.h"
#include "udr.h"

/* A new repository in the test's directory ("repo"). */
udr_repo *new_repo(void);

/* Fails the test with the repository's message unless rc is UDR_OK. */
void must_at(udr_repo *r, int rc, const char *file, int line);
#define MUST(r, call) must_at((r), (call), __FILE__, __LINE__)

/* udr_table_write with key, author "tester", that must succeed; info may be
 * NULL. */
void must_write_at(udr_repo *r, const char *table, const char *sql, const char *const *key,
                   udr_write_info *info, const char *file, int line);
#define must_write(r, table, sql, key, info) \
    must_write_at((r), (table), (sql), (key), (info), __FILE__, __LINE__)

/* A result's first value as text (a static buffer): "ERROR: msg" if rc
 * failed, "NULL" for none. Frees res. */
const char *text_of(udr_repo *r, int rc, udr_result *res);
/* The first value of a query (udr_query), as text_of gives it. */
const char *value(udr_repo *r, const char *sql);

#endif
