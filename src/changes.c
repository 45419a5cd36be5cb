/*
 * changes — the change feed's rows, and the changelog's SQL functions:
 *
 *   SELECT * FROM udr_changes('users', from, to)
 *       the feed of a table on the handle's branch (feed_bound says what
 *       from and to may be), with columns _seq, _version, _time, _op and
 *       the table's;
 *   CALL udr_ack('name', seq)
 *       acknowledges for a subscription: inside a transaction, with it.
 *
 * The rows of one step come from the two table versions' differing parts
 * only (qi_read_diffs, qi_add_side): chunks one side lacks, and the rows of shared
 * chunks that one side deletes and the other does not. So the feed of a
 * 100-row update of a large table reads one new chunk, one delete file and
 * the chunks holding the rows it deletes.
 *
 * udr_changes() must know its columns when DuckDB binds it, which means
 * computing the feed then. Binding happens inside a statement of the main
 * connection, so the feed's own queries run on a second connection to the
 * same database (q->con2), and the materialized result is handed out
 * chunk by chunk.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "feed.h"
#include "query_int.h"

/* ---- one step's rows -------------------------------------------------------- */

static void add_literal(buf *b, const char *s)
{
    buf_quoted(b, s, '\'');
}

static int same_key(const cat_tablever *a, const cat_tablever *b)
{
    if (a->nkey != b->nkey || a->nkey == 0)
        return 0;
    for (size_t i = 0; i < a->nkey; i++)
        if (strcmp(a->key[i], b->key[i]) != 0)
            return 0;
    return 1;
}

/* 1 if a column's type is one DuckDB's C API reads only through vectors
 * (lists, structs, maps, arrays, unions, UUID, TIMESTAMP_NS, ENUM ...):
 * such values are read as text, through a rewritten query. */
static int has_nested(const cat_tablever *tv)
{
    static const char *const plain[] = {
        "BOOLEAN", "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT",
        "UINTEGER", "UBIGINT", "FLOAT", "DOUBLE", "DATE", "TIME", "TIMESTAMP", "TIMESTAMP_S",
        "TIMESTAMP_MS", "TIMESTAMP WITH TIME ZONE", "INTERVAL", "HUGEINT", "UHUGEINT",
        "VARCHAR", "BLOB"};
    for (size_t i = 0; i < tv->ncols; i++) {
        const char *t = tv->cols[i].type;
        int ok = strncmp(t, "DECIMAL(", 8) == 0;
        for (size_t k = 0; k < sizeof plain / sizeof *plain && !ok; k++)
            ok = strcmp(t, plain[k]) == 0;
        if (!ok)
            return 1;
    }
    return 0;
}

static void add_all(buf *s, const query *q, const char *op, const cat_tablever *tv)
{
    buf_adds(s, "SELECT ");
    add_literal(s, op);
    buf_adds(s, " AS _op, * FROM (");
    qi_add_scan(s, q, tv, 0);
    buf_adds(s, ")");
}

/* 1 if a scan of tv gives its rows in key order already: its chunks'
 * ranges of first key values follow one another (a scan keeps the files'
 * order, and leaving deleted rows out keeps it too). */
static int chunks_in_key_order(const cat_tablever *tv)
{
    for (size_t i = 0; i < tv->nchunks; i++)
        if (!tv->chunks[i].has_range || (i > 0 && tv->chunks[i].lo <= tv->chunks[i - 1].hi))
            return 0;
    return 1;
}

/* " ORDER BY first, tv's key" (either may be absent; nothing if both are,
 * nor for a lone tv whose rows come in key order already). */
static void add_key_order(buf *s, const cat_tablever *tv, const char *first)
{
    int keyed = tv != NULL && tv->nkey > 0;
    if (first == NULL && keyed && chunks_in_key_order(tv))
        return;
    if (!keyed && first == NULL)
        return;
    buf_adds(s, " ORDER BY ");
    if (first != NULL)
        buf_adds(s, first);
    if (keyed) {
        if (first != NULL)
            buf_adds(s, ", ");
        qi_add_key_list(s, (const char *const *)tv->key);
    }
}

static int read_side(query *q, const char *table, int has, const udr_hash *h, uint64_t version,
                     cat_tablever *tv)
{
    if (!has)
        return UDR_OK;
    int rc = catalog_read_tablever(q->cat, h, tv);
    if (rc) {
        err_prefix(q->err, "table %s version %llu cannot be read", table,
                   (unsigned long long)version);
        return rc == UDR_ECORRUPT ? rc : UDR_ENOTFOUND;
    }
    char msg[ERR_MSG_BYTES];
    if (qi_missing_object(q, table, version, tv, msg, sizeof msg))
        return err_set(q->err, UDR_ENOTFOUND, "%s", msg);
    return UDR_OK;
}

/* The step's rows as a SELECT into s; *key (if non-NULL) receives a copy of
 * the key the rows are ordered by (NULL without one). */
static int step_sql(query *q, const char *table, const feed_step *st, buf *s, char ***key,
                    int *nested)
{
    cat_tablever a = {0}, b = {0};
    if (key != NULL)
        *key = NULL;
    int rc = read_side(q, table, st->has_from, &st->from, st->from_version, &a);
    if (rc == UDR_OK)
        rc = read_side(q, table, st->has_to, &st->to, st->to_version, &b);
    if (rc)
        goto done;
    if (nested != NULL)
        *nested = has_nested(&a) || has_nested(&b);
    /* A raw version (udr_table_commit_chunks) holds no rows: to the feed it
     * is as if the table were absent, so a subscription never sticks on one. */
    int has_from = st->has_from && !catv_is_raw(&a), has_to = st->has_to && !catv_is_raw(&b);
    if (!has_from && !has_to) {
        buf_adds(s, "SELECT NULL::VARCHAR AS _op LIMIT 0");
        goto done;
    }
    /* Rows of a keyed table in key order: a scan that leaves deleted rows
     * out gives them in no set order. */
    if (!has_from || !has_to) {
        const cat_tablever *all = has_to ? &b : &a;
        buf_adds(s, "SELECT * FROM (");
        add_all(s, q, has_to ? "insert" : "delete", all);
        buf_adds(s, ")");
        add_key_order(s, all, NULL);
        goto done;
    }
    if (!catv_same_columns(&a, &b)) {
        buf_adds(s, "SELECT * FROM (");
        add_all(s, q, "delete", &a);
        buf_adds(s, " UNION ALL BY NAME ");
        add_all(s, q, "insert", &b);
        buf_adds(s, ")");
        add_key_order(s, same_key(&a, &b) ? &b : NULL, "_op = 'insert'");
        goto done;
    }
    diffs d;
    if ((rc = qi_read_diffs(q, &a, &b, &d)) != 0)
        goto done;
    buf_adds(s, "WITH a AS MATERIALIZED (");
    qi_add_side(s, q, &a, &b, &d, 1);
    buf_adds(s, "), b AS MATERIALIZED (");
    qi_add_side(s, q, &b, &a, &d, 0);
    buf_adds(s, ")");
    free(d.v);
    if (!same_key(&a, &b)) {
        buf_adds(s, " SELECT 'insert' AS _op, * FROM (SELECT * FROM b EXCEPT ALL SELECT * FROM a)"
                    " UNION ALL SELECT 'delete', * FROM (SELECT * FROM a EXCEPT ALL SELECT * FROM b)");
        goto done;
    }
    buf kl;
    buf_init(&kl);
    qi_add_key_list(&kl, (const char *const *)b.key);
    const char *k = kl.data ? kl.data : "";
    buf_printf(s,
               ", ins AS (SELECT * FROM b ANTI JOIN a USING (%s)),"
               " del AS (SELECT * FROM a ANTI JOIN b USING (%s)),"
               " aft AS (SELECT * FROM (SELECT * FROM b EXCEPT SELECT * FROM a) SEMI JOIN a USING (%s)),"
               " bef AS (SELECT * FROM (SELECT * FROM a EXCEPT SELECT * FROM b) SEMI JOIN b USING (%s))"
               " SELECT * FROM (SELECT 'insert' AS _op, * FROM ins UNION ALL"
               " SELECT 'delete', * FROM del UNION ALL SELECT 'update_before', * FROM bef"
               " UNION ALL SELECT 'update_after', * FROM aft) ORDER BY %s, _op = 'update_after'",
               k, k, k, k, k);
    buf_free(&kl);
    if (key != NULL) {
        *key = calloc(b.nkey + 1, sizeof **key);
        for (size_t i = 0; *key != NULL && i < b.nkey; i++)
            (*key)[i] = strdup(b.key[i]);
    }
done:
    catv_free(&a);
    catv_free(&b);
    return rc;
}

static int same_strings(char **a, char **b)
{
    size_t i = 0;
    for (; a[i] != NULL && b[i] != NULL; i++)
        if (strcmp(a[i], b[i]) != 0)
            return 0;
    return a[i] == NULL && b[i] == NULL;
}

static void free_key(char **key)
{
    for (size_t i = 0; key != NULL && key[i] != NULL; i++)
        free(key[i]);
    free(key);
}

int query_changes(query *q, const char *table, const feed_step *step, duckdb_result *out)
{
    int rc = qi_open(q);
    if (rc)
        return rc;
    buf s;
    buf_init(&s);
    int nested = 0;
    if ((rc = step_sql(q, table, step, &s, NULL, &nested)) != 0) {
        buf_free(&s);
        return rc;
    }
    char *sql = buf_take(&s, NULL);
    if (sql == NULL)
        return err_set(q->err, UDR_ENOMEM, "out of memory");
    rc = nested ? qi_exec_shown(q, sql, out, "cannot compute the changes")
                : qi_exec(q, sql, out, "cannot compute the changes");
    free(sql);
    return rc;
}

void qi_function_error(const query *q, char *out, size_t size)
{
    snprintf(out, size, QUERY_MSG_MARK "%d %s", q->err->code, q->err->msg);
}

/* ---- udr_changes('table', from, to) ----------------------------------------- */

typedef struct changes_data {
    duckdb_result r;
    duckdb_data_chunk held;          /* the chunk the output refers to */
} changes_data;

static void changes_data_free(void *p)
{
    changes_data *d = p;
    if (d->held != NULL)
        duckdb_destroy_data_chunk(&d->held);
    duckdb_destroy_result(&d->r);
    free(d);
}

/* A parameter as text; NULL for SQL NULL (or out of memory). */
static char *param_text(duckdb_bind_info info, idx_t i)
{
    duckdb_value v = duckdb_bind_get_parameter(info, i);
    char *s = duckdb_is_null_value(v) ? NULL : duckdb_get_varchar(v);
    duckdb_destroy_value(&v);
    return s;
}

/* The feed as one SELECT, ordered by commit (and key). */
static int feed_sql(query *q, const char *table, const char *from, const char *to, buf *s)
{
    catalog *c = q->cat;
    int rc = catalog_check_name(table, q->err);
    if (rc == UDR_OK && (rc = catalog_refresh(c)) == UDR_OK && catalog_table(c, table) == NULL)
        rc = err_set(q->err, UDR_ENOTFOUND, "there is no table %s (see 'udr tables')", table);
    if (rc)
        return rc;
    const char *branch = catalog_work_branch(c);
    uint64_t after, upto;
    if ((rc = feed_bound(c, table, branch, from, 1, &after)) != 0 ||
        (rc = feed_bound(c, table, branch, to, 0, &upto)) != 0)
        return rc;
    feed_walk w;
    const char *tables[1] = {table};
    if ((rc = feed_walk_begin(c, &w, branch, tables, 1, after, upto, 0)) != 0) {
        feed_walk_free(&w);
        return rc;
    }
    char **order = NULL;
    int ordered = 1, n = 0, got = 0;
    feed_step st;
    while ((rc = feed_walk_next(c, &w, &st, &got)) == UDR_OK && got) {
        char **key = NULL;
        buf_printf(s, "%sSELECT %llu::BIGINT AS _seq, %llu::BIGINT AS _version, "
                      "make_timestamp(%lld::BIGINT) AS _time, * FROM (",
                   n++ ? " UNION ALL BY NAME " : "", (unsigned long long)st.seq,
                   (unsigned long long)st.to_version, (long long)st.time_us);
        if ((rc = step_sql(q, table, &st, s, &key, NULL)) != 0)
            break;
        buf_adds(s, ")");
        /* One key throughout: rows of a commit in key order. */
        if (key == NULL || (order != NULL && !same_strings(order, key)))
            ordered = 0;
        if (order == NULL && key != NULL)
            order = key;
        else
            free_key(key);
    }
    feed_walk_free(&w);
    if (rc == UDR_OK && n == 0) {
        /* No change: no rows, with the columns of the table's last version. */
        const cat_table *t = catalog_table(c, table);
        const cat_version *v = NULL;
        for (size_t i = t->nv; v == NULL && i > 0; i--)
            if (!t->v[i - 1].dropped)
                v = &t->v[i - 1];
        cat_tablever tv = {0};
        if (v != NULL && (rc = catalog_read_tablever(c, &v->hash, &tv)) == UDR_OK) {
            buf_adds(s, "SELECT NULL::BIGINT AS _seq, NULL::BIGINT AS _version, "
                        "NULL::TIMESTAMP AS _time, NULL::VARCHAR AS _op");
            if (!catv_is_raw(&tv)) {           /* a raw version has no columns */
                buf_adds(s, ", * FROM (");
                qi_add_scan(s, q, &tv, 0);
                buf_adds(s, ")");
            }
            buf_adds(s, " LIMIT 0");
        }
        catv_free(&tv);
        ordered = 0;
    } else if (rc == UDR_OK) {
        buf tail;
        buf_init(&tail);
        buf_adds(&tail, "SELECT * FROM (");
        buf_add(&tail, s->data, s->len);
        buf_adds(&tail, ") ORDER BY _seq");
        if (ordered && order != NULL) {
            buf_adds(&tail, ", ");
            qi_add_key_list(&tail, (const char *const *)order);
            buf_adds(&tail, ", _op = 'update_after'");
        }
        buf_free(s);
        *s = tail;
    }
    free_key(order);
    return rc;
}

static void changes_bind(duckdb_bind_info info)
{
    query *q = duckdb_bind_get_extra_info(info);
    char *table = param_text(info, 0), *from = param_text(info, 1), *to = param_text(info, 2);
    changes_data *d = calloc(1, sizeof *d);
    buf s;
    buf_init(&s);
    int rc = UDR_OK;
    if (d == NULL)
        rc = err_set(q->err, UDR_ENOMEM, "out of memory");
    else if (table == NULL)
        rc = err_set(q->err, UDR_EINVAL, "udr_changes(table, from, to): table is NULL");
    if (rc == UDR_OK && !q->con2_open) {
        if (duckdb_connect(q->db, &q->con2) != DuckDBSuccess)
            rc = err_set(q->err, UDR_ERROR, "cannot open a second DuckDB connection");
        else
            q->con2_open = 1;
    }
    if (rc == UDR_OK) {
        /* The feed's own queries run on the second connection. */
        duckdb_connection main = q->con;
        q->con = q->con2;
        rc = feed_sql(q, table, from, to, &s);
        char *sql = rc == UDR_OK ? buf_take(&s, NULL) : NULL;
        if (rc == UDR_OK && sql == NULL)
            rc = err_set(q->err, UDR_ENOMEM, "out of memory");
        if (rc == UDR_OK)
            rc = qi_exec(q, sql, &d->r, "cannot compute the changes");
        free(sql);
        q->con = main;
    }
    buf_free(&s);
    duckdb_free(table);
    duckdb_free(from);
    duckdb_free(to);
    if (rc) {
        char msg[ERR_MSG_BYTES + 32];
        qi_function_error(q, msg, sizeof msg);
        duckdb_bind_set_error(info, msg);
        free(d);
        return;
    }
    idx_t ncols = duckdb_column_count(&d->r);
    for (idx_t i = 0; i < ncols; i++) {
        duckdb_logical_type t = duckdb_column_logical_type(&d->r, i);
        duckdb_bind_add_result_column(info, duckdb_column_name(&d->r, i), t);
        duckdb_destroy_logical_type(&t);
    }
    duckdb_bind_set_bind_data(info, d, changes_data_free);
}

static void changes_init(duckdb_init_info info)
{
    (void)info;
}

static void changes_scan(duckdb_function_info info, duckdb_data_chunk out)
{
    changes_data *d = duckdb_function_get_bind_data(info);
    if (d->held != NULL)
        duckdb_destroy_data_chunk(&d->held);
    d->held = duckdb_fetch_chunk(d->r);
    if (d->held == NULL) {
        duckdb_data_chunk_set_size(out, 0);
        return;
    }
    idx_t ncols = duckdb_data_chunk_get_column_count(out);
    for (idx_t k = 0; k < ncols; k++)
        duckdb_vector_reference_vector(duckdb_data_chunk_get_vector(out, k),
                                       duckdb_data_chunk_get_vector(d->held, k));
    duckdb_data_chunk_set_size(out, duckdb_data_chunk_get_size(d->held));
}

/* ---- CALL udr_ack('name', seq) ------------------------------------------------ */

typedef struct ack_data {
    char *name;
    int64_t seq;
    int done;
} ack_data;

static void ack_data_free(void *p)
{
    ack_data *a = p;
    duckdb_free(a->name);
    free(a);
}

static void ack_bind(duckdb_bind_info info)
{
    ack_data *a = calloc(1, sizeof *a);
    if (a == NULL) {
        duckdb_bind_set_error(info, "out of memory");
        return;
    }
    a->name = param_text(info, 0);
    duckdb_value v = duckdb_bind_get_parameter(info, 1);
    int null = duckdb_is_null_value(v);
    a->seq = null ? -1 : duckdb_get_int64(v);
    duckdb_destroy_value(&v);
    if (a->name == NULL || a->seq < 0) {
        ack_data_free(a);
        duckdb_bind_set_error(info, "udr_ack(subscription, seq): give a subscription's name and "
                                    "the log position to acknowledge (a number >= 0)");
        return;
    }
    duckdb_logical_type t = duckdb_create_logical_type(DUCKDB_TYPE_BIGINT);
    duckdb_bind_add_result_column(info, "acknowledged", t);
    duckdb_destroy_logical_type(&t);
    duckdb_bind_set_bind_data(info, a, ack_data_free);
}

/* The acknowledgement happens when the statement runs (once), not when it
 * binds (DuckDB may bind a statement more than once). */
static void ack_scan(duckdb_function_info info, duckdb_data_chunk out)
{
    query *q = duckdb_function_get_extra_info(info);
    ack_data *a = duckdb_function_get_bind_data(info);
    if (a->done) {
        duckdb_data_chunk_set_size(out, 0);
        return;
    }
    a->done = 1;
    if (q->ack == NULL) {
        duckdb_function_set_error(info, "udr_ack is not available here");
        return;
    }
    if (q->ack(q->ack_ctx, a->name, (uint64_t)a->seq) != UDR_OK) {
        char msg[ERR_MSG_BYTES + 32];
        qi_function_error(q, msg, sizeof msg);
        duckdb_function_set_error(info, msg);
        return;
    }
    duckdb_vector v = duckdb_data_chunk_get_vector(out, 0);
    ((int64_t *)duckdb_vector_get_data(v))[0] = a->seq;
    duckdb_data_chunk_set_size(out, 1);
}

int qi_register_table_function(query *q, const char *name, const duckdb_type *params,
                               size_t n, duckdb_table_function_bind_t bind,
                               duckdb_table_function_init_t init, duckdb_table_function_t scan)
{
    duckdb_table_function f = duckdb_create_table_function();
    duckdb_table_function_set_name(f, name);
    for (size_t i = 0; i < n; i++) {
        duckdb_logical_type t = duckdb_create_logical_type(params[i]);
        duckdb_table_function_add_parameter(f, t);
        duckdb_destroy_logical_type(&t);
    }
    duckdb_table_function_set_extra_info(f, q, NULL);
    duckdb_table_function_set_bind(f, bind);
    duckdb_table_function_set_init(f, init);
    duckdb_table_function_set_function(f, scan);
    int ok = duckdb_register_table_function(q->con, f) == DuckDBSuccess;
    duckdb_destroy_table_function(&f);
    return ok ? UDR_OK : err_set(q->err, UDR_ERROR, "cannot register the SQL function %s", name);
}

int changes_register(query *q)
{
    static const duckdb_type changes_params[] = {DUCKDB_TYPE_VARCHAR, DUCKDB_TYPE_ANY,
                                                 DUCKDB_TYPE_ANY};
    static const duckdb_type ack_params[] = {DUCKDB_TYPE_VARCHAR, DUCKDB_TYPE_BIGINT};
    int rc = qi_register_table_function(q, "udr_changes", changes_params, 3, changes_bind,
                                        changes_init, changes_scan);
    return rc ? rc
              : qi_register_table_function(q, "udr_ack", ack_params, 2, ack_bind, changes_init,
                                           ack_scan);
}
