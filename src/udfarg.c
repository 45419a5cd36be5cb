/*
 * udfarg — the constant first argument of UDR's SQL functions (udfarg.h).
 */
#include "udfarg.h"

int udfarg_const_id(duckdb_bind_info info, uint64_t *id)
{
    duckdb_expression e = duckdb_scalar_function_bind_get_argument(info, 0);
    duckdb_client_context ctx = NULL;
    duckdb_value v = NULL;
    int ok = e != NULL && duckdb_expression_is_foldable(e);
    if (ok) {
        duckdb_scalar_function_get_client_context(info, &ctx);
        duckdb_error_data ed = duckdb_expression_fold(ctx, e, &v);
        ok = !duckdb_error_data_has_error(ed) && v != NULL;
        duckdb_destroy_error_data(&ed);
    }
    *id = ok ? duckdb_get_uint64(v) : UINT64_MAX;
    if (v != NULL)
        duckdb_destroy_value(&v);
    if (ctx != NULL)
        duckdb_destroy_client_context(&ctx);
    if (e != NULL)
        duckdb_destroy_expression(&e);
    return ok;
}
