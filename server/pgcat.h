/*
 * pgcat — enough of PostgreSQL's system catalogs for psql and drivers,
 * computed from a UDR repository's tables (see pgcat.c for the queries
 * recognised and why they are recognised by pattern).
 *
 * The session (session.c) hands every simple query's text to
 * pgcat_rewrite() before running it: a catalog query comes back as other
 * SQL, which DuckDB runs through udr_query on the same handle and which
 * yields the columns (names, count, order) and rows the client expects.
 */
#ifndef UDR_SERVER_PGCAT_H
#define UDR_SERVER_PGCAT_H

#include <stdint.h>

#include "udr.h"

/* Names the catalog shows: the database (pg_database, \l) and the owner of
 * every table and schema. NULL fields, or a NULL pgcat_names, mean "udr". */
typedef struct pgcat_names {
    const char *database;
    const char *user;
} pgcat_names;

/* If sql is a catalog query of a PostgreSQL client that DuckDB cannot run
 * as it is, returns replacement SQL (malloc'd; free()) that DuckDB can run
 * through udr_query on the same handle and that yields the columns the
 * client expects, with rows computed from repo's tables on the handle's
 * current branch. Returns NULL with *rc = 0 if sql is not such a query (run
 * it as it is), NULL with *rc < 0 on failure (UDR_ENOMEM, or the code of a
 * failed udr_table_list / udr_table_show: udr_errmsg(repo) says why).
 * Cheap for other queries: nothing is read unless the text names
 * pg_catalog, a pg_ table, information_schema or version(). Not
 * thread-safe on one handle (it calls into repo), as the handle is not. */
char *pgcat_rewrite(udr_repo *repo, const char *sql, int *rc);

/* pgcat_rewrite with the names the catalog shows (names may be NULL). */
char *pgcat_rewrite_names(udr_repo *repo, const char *sql, const pgcat_names *names, int *rc);

/* The oid a table is shown with: 16384 + (FNV-1a of its name) mod 10^9, so
 * it is the same in every session and a follow-up query (WHERE c.oid =
 * '...') finds the table again. Two names may share an oid (unlikely; the
 * first in name order wins). */
uint32_t pgcat_table_oid(const char *name);

#endif
