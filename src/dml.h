/*
 * dml — recognising the SQL statements UDR runs itself rather than DuckDB:
 * transaction control and writes to UDR tables.
 *
 *   BEGIN [TRANSACTION | WORK] [ISOLATION LEVEL SERIALIZABLE | SNAPSHOT |
 *         REPEATABLE READ]  (also START TRANSACTION ...)
 *   COMMIT [TRANSACTION | WORK], END
 *   ROLLBACK [TRANSACTION | WORK], ABORT
 *   INSERT INTO t [(c1, c2, ...)] VALUES ... | SELECT ...
 *   UPDATE t SET c1 = e1 [, ...] [WHERE cond]
 *   DELETE FROM t [WHERE cond]
 *   CREATE [OR REPLACE] TABLE t AS query
 *
 * Only the statement's outline is parsed here: its keywords, the table
 * name, the column list, and where the SET list, the source and the WHERE
 * condition begin and end (at the top level: not inside parentheses,
 * quotes or comments). The expressions themselves go to DuckDB as written.
 * Whether t is a UDR table is for the caller to decide.
 */
#ifndef UDR_DML_H
#define UDR_DML_H

#include <stddef.h>

typedef enum dml_kind {
    DML_NONE = 0,                    /* not one of ours: DuckDB runs it */
    DML_BEGIN,
    DML_COMMIT,
    DML_ROLLBACK,
    DML_INSERT,
    DML_UPDATE,
    DML_DELETE,
    DML_CREATE_AS,
} dml_kind;

typedef struct dml_set {
    char *column;                    /* unquoted */
    char *expr;
} dml_set;

typedef struct dml {
    dml_kind kind;
    int serializable;                /* BEGIN ... SERIALIZABLE */
    int replace;                     /* CREATE OR REPLACE */
    char *table;                     /* unquoted */
    char **columns;                  /* INSERT's column list (unquoted), or NULL */
    size_t ncolumns;
    char *source;                    /* INSERT: VALUES ... or a query; CREATE: the query */
    dml_set *sets;                   /* UPDATE */
    size_t nsets;
    char *where;                     /* UPDATE, DELETE: the condition, or NULL */
} dml;

/* Parses sql (one statement). Returns the kind (DML_NONE: not ours), or -1
 * with a message in err for a statement of ours that is malformed. */
int dml_parse(const char *sql, dml *out, char *err, size_t errsize);
void dml_free(dml *d);

#endif
