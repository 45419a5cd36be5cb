/*
 * udrtest — helpers shared by the API tests; see udrtest.h.
 */
#include "udrtest.h"

#include <stdio.h>
#include <stdlib.h>

udr_repo *new_repo(void)
{
    udr_repo *r;
    REQUIRE(udr_init(t_path("repo"), &r) == UDR_OK);
    return r;
}

void must_at(udr_repo *r, int rc, const char *file, int line)
{
    if (rc != UDR_OK)
        harness_fail(file, line, "%s", udr_errmsg(r));
    REQUIRE(rc == UDR_OK);
}

void must_write_at(udr_repo *r, const char *table, const char *sql, const char *const *key,
                   udr_write_info *info, const char *file, int line)
{
    udr_write_opts o = {key, NULL, "tester"};
    udr_write_info scratch;
    int rc = udr_table_write(r, table, sql, &o, info ? info : &scratch);
    if (rc != UDR_OK)
        harness_fail(file, line, "write %s: %s", table, udr_errmsg(r));
    REQUIRE(rc == UDR_OK);
}

const char *text_of(udr_repo *r, int rc, udr_result *res)
{
    static char out[4096];
    if (rc != UDR_OK) {
        snprintf(out, sizeof out, "ERROR: %s", udr_errmsg(r));
        return out;
    }
    char *t = udr_result_rows(res) && udr_result_columns(res) ? udr_result_text(res, 0, 0) : NULL;
    snprintf(out, sizeof out, "%s", t ? t : "NULL");
    free(t);
    udr_result_free(res);
    return out;
}

const char *value(udr_repo *r, const char *sql)
{
    udr_result *res = NULL;
    int rc = udr_query(r, sql, NULL, 0, &res);
    return text_of(r, rc, res);
}
