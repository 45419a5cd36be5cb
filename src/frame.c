/*
 * frame — the caller's column arrays as an SQL table function,
 * udr_frame('name'), so that a binding's DataFrame becomes a table's rows
 * (SELECT * FROM udr_frame('df') in any write or query) with no call and no
 * object per value.
 *
 * A frame is registered on a handle by name and read in place: the scan
 * copies 2,048 rows at a time (DuckDB's vector size) from the arrays into
 * DuckDB's vectors, a memcpy per fixed-width column and a string assignment
 * per text value. The caller keeps the arrays alive and unchanged until it
 * unregisters the frame; the registry copies only names and the column list.
 * The scan runs on one thread (a table function of the C API does unless it
 * says otherwise), and a handle is used by one thread at a time, so the
 * registry needs no lock.
 */
#include "frame.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "query_int.h"

struct query_frame {
    char *name;
    udr_column *cols;                 /* names owned here; arrays the caller's */
    size_t ncols;
    uint64_t nrows;
};

typedef struct frame_cursor {
    const query_frame *f;
    uint64_t next;                    /* the first row not yet produced */
} frame_cursor;

static void frame_free(query_frame *f)
{
    if (f == NULL)
        return;
    for (size_t i = 0; i < f->ncols; i++)
        free((char *)f->cols[i].name);
    free(f->cols);
    free(f->name);
    free(f);
}

static query_frame *frame_find(const query *q, const char *name, size_t *at)
{
    for (size_t i = 0; i < q->nframes; i++)
        if (strcmp(q->frames[i]->name, name) == 0) {
            if (at != NULL)
                *at = i;
            return q->frames[i];
        }
    return NULL;
}

/* DuckDB's type for a C type (its logical type: the caller destroys it). */
static duckdb_logical_type frame_type(udr_ctype t)
{
    static const struct {
        udr_ctype c;
        duckdb_type d;
    } map[] = {
        {UDR_CTYPE_BOOL, DUCKDB_TYPE_BOOLEAN},       {UDR_CTYPE_INT8, DUCKDB_TYPE_TINYINT},
        {UDR_CTYPE_INT16, DUCKDB_TYPE_SMALLINT},     {UDR_CTYPE_INT32, DUCKDB_TYPE_INTEGER},
        {UDR_CTYPE_INT64, DUCKDB_TYPE_BIGINT},       {UDR_CTYPE_UINT8, DUCKDB_TYPE_UTINYINT},
        {UDR_CTYPE_UINT16, DUCKDB_TYPE_USMALLINT},   {UDR_CTYPE_UINT32, DUCKDB_TYPE_UINTEGER},
        {UDR_CTYPE_UINT64, DUCKDB_TYPE_UBIGINT},     {UDR_CTYPE_FLOAT, DUCKDB_TYPE_FLOAT},
        {UDR_CTYPE_DOUBLE, DUCKDB_TYPE_DOUBLE},      {UDR_CTYPE_DATE, DUCKDB_TYPE_DATE},
        {UDR_CTYPE_TIMESTAMP, DUCKDB_TYPE_TIMESTAMP},
        {UDR_CTYPE_TIMESTAMP_NS, DUCKDB_TYPE_TIMESTAMP_NS},
        {UDR_CTYPE_TIMESTAMP_TZ, DUCKDB_TYPE_TIMESTAMP_TZ},
        {UDR_CTYPE_TEXT, DUCKDB_TYPE_VARCHAR},       {UDR_CTYPE_BLOB, DUCKDB_TYPE_BLOB},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (map[i].c == t)
            return duckdb_create_logical_type(map[i].d);
    return NULL;
}

static int frame_check(const query *q, const char *name, const udr_column *cols, size_t ncols)
{
    if (ncols == 0)
        return err_set(q->err, UDR_EINVAL, "frame %s has no columns", name);
    for (size_t i = 0; i < ncols; i++) {
        const udr_column *c = &cols[i];
        if (c->name == NULL || c->name[0] == '\0')
            return err_set(q->err, UDR_EINVAL, "frame %s: column %zu has no name", name, i + 1);
        if (udr_ctype_width(c->type) == 0)
            return err_set(q->err, UDR_EINVAL, "frame %s: column %s has no C type", name,
                           c->name);
        for (size_t j = 0; j < i; j++)
            if (strcmp(cols[j].name, c->name) == 0)
                return err_set(q->err, UDR_EINVAL, "frame %s: column %s is named twice", name,
                               c->name);
    }
    return UDR_OK;
}

int frame_add(query *q, const char *name, const udr_column *cols, size_t ncols, uint64_t nrows)
{
    int rc = catalog_check_name(name, q->err);
    if (rc)
        return rc;
    if (frame_find(q, name, NULL) != NULL)
        return err_set(q->err, UDR_EEXIST, "a frame named %s is registered already", name);
    if ((rc = frame_check(q, name, cols, ncols)) != UDR_OK)
        return rc;
    query_frame *f = calloc(1, sizeof *f);
    query_frame **grown = realloc(q->frames, (q->nframes + 1) * sizeof *grown);
    if (grown != NULL)
        q->frames = grown;
    if (f == NULL || grown == NULL || (f->name = strdup(name)) == NULL ||
        (f->cols = calloc(ncols, sizeof *f->cols)) == NULL)
        goto nomem;
    for (size_t i = 0; i < ncols; i++, f->ncols++) {
        f->cols[i] = cols[i];
        if ((f->cols[i].name = strdup(cols[i].name)) == NULL)
            goto nomem;
    }
    f->nrows = nrows;
    q->frames[q->nframes++] = f;
    return UDR_OK;
nomem:
    frame_free(f);
    return err_set(q->err, UDR_ENOMEM, "out of memory registering frame %s", name);
}

int frame_remove(query *q, const char *name)
{
    size_t at = 0;
    query_frame *f = frame_find(q, name, &at);
    if (f == NULL)
        return err_set(q->err, UDR_ENOTFOUND, "there is no frame named %s", name);
    frame_free(f);
    memmove(&q->frames[at], &q->frames[at + 1], (q->nframes - at - 1) * sizeof *q->frames);
    q->nframes--;
    return UDR_OK;
}

void frame_free_all(query *q)
{
    for (size_t i = 0; i < q->nframes; i++)
        frame_free(q->frames[i]);
    free(q->frames);
    q->frames = NULL;
    q->nframes = 0;
}

/* ---- the table function --------------------------------------------------- */

static void frame_bind(duckdb_bind_info info)
{
    query *q = duckdb_bind_get_extra_info(info);
    duckdb_value v = duckdb_bind_get_parameter(info, 0);
    char *name = duckdb_get_varchar(v);
    duckdb_destroy_value(&v);
    const query_frame *f = name != NULL ? frame_find(q, name, NULL) : NULL;
    if (f == NULL) {
        char msg[400];
        snprintf(msg, sizeof msg, "udr_frame: there is no frame named %.200s on this handle",
                 name ? name : "(NULL)");
        duckdb_free(name);
        duckdb_bind_set_error(info, msg);
        return;
    }
    duckdb_free(name);
    for (size_t i = 0; i < f->ncols; i++) {
        duckdb_logical_type t = frame_type(f->cols[i].type);
        duckdb_bind_add_result_column(info, f->cols[i].name, t);
        duckdb_destroy_logical_type(&t);
    }
    duckdb_bind_set_cardinality(info, f->nrows, true);
    duckdb_bind_set_bind_data(info, (void *)f, NULL);
}

static void frame_init(duckdb_init_info info)
{
    frame_cursor *c = calloc(1, sizeof *c);
    if (c == NULL) {
        duckdb_init_set_error(info, "out of memory");
        return;
    }
    c->f = duckdb_init_get_bind_data(info);
    duckdb_init_set_init_data(info, c, free);
}

/* Rows [from, from + n) of one column into a vector. */
static void frame_fill(duckdb_vector vec, const udr_column *c, uint64_t from, idx_t n)
{
    if (c->type == UDR_CTYPE_TEXT || c->type == UDR_CTYPE_BLOB) {
        const udr_bytes *v = (const udr_bytes *)c->values + from;
        for (idx_t i = 0; i < n; i++)
            if (v[i].data != NULL)
                duckdb_vector_assign_string_element_len(vec, i, v[i].data, v[i].len);
    } else {
        size_t width = udr_ctype_width(c->type);
        memcpy(duckdb_vector_get_data(vec), (const char *)c->values + from * width, n * width);
    }
    int any_null = 0;
    for (idx_t i = 0; c->nulls != NULL && i < n && !any_null; i++)
        any_null = c->nulls[from + i] != 0;
    for (idx_t i = 0; c->type == UDR_CTYPE_TEXT && i < n && !any_null; i++)
        any_null = ((const udr_bytes *)c->values)[from + i].data == NULL;
    for (idx_t i = 0; c->type == UDR_CTYPE_BLOB && i < n && !any_null; i++)
        any_null = ((const udr_bytes *)c->values)[from + i].data == NULL;
    if (!any_null)
        return;
    duckdb_vector_ensure_validity_writable(vec);
    uint64_t *valid = duckdb_vector_get_validity(vec);
    for (idx_t i = 0; i < n; i++) {
        int null = c->nulls != NULL && c->nulls[from + i];
        if (c->type == UDR_CTYPE_TEXT || c->type == UDR_CTYPE_BLOB)
            null |= ((const udr_bytes *)c->values)[from + i].data == NULL;
        if (null)
            duckdb_validity_set_row_invalid(valid, i);
    }
}

static void frame_scan(duckdb_function_info info, duckdb_data_chunk out)
{
    frame_cursor *c = duckdb_function_get_init_data(info);
    const query_frame *f = c->f;
    uint64_t left = f->nrows - c->next;
    idx_t n = left < duckdb_vector_size() ? (idx_t)left : duckdb_vector_size();
    for (size_t i = 0; i < f->ncols && n > 0; i++)
        frame_fill(duckdb_data_chunk_get_vector(out, i), &f->cols[i], c->next, n);
    c->next += n;
    duckdb_data_chunk_set_size(out, n);
}

int frame_register_function(query *q)
{
    static const duckdb_type params[] = {DUCKDB_TYPE_VARCHAR};
    return qi_register_table_function(q, "udr_frame", params, 1, frame_bind, frame_init,
                                      frame_scan);
}
