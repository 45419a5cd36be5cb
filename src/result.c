/*
 * result — udr_result: a query's rows, materialised, as the public API
 * hands them out (udr_result_* in udr.h).
 *
 * DuckDB's C API reads a materialised result in one of two ways, never
 * both on one result: value by value (duckdb_value_*, duckdb_column_data,
 * which first copy the whole result into C arrays, a malloc per string), or
 * chunk by chunk (duckdb_result_get_chunk: the vectors as they are). A
 * udr_result takes whichever way its first read asks for:
 *
 *   - a value read (udr_result_text, _int64, _is_null ...) first: values,
 *     DuckDB's own text for every type (the CLI's way);
 *   - a column read (udr_result_copy) first: chunks, a memcpy per vector
 *     and strings in place (the Python module's way: a DataFrame of a
 *     million rows without a second copy of the result).
 *
 * Value reads on a result read by chunks take their values from the
 * vectors, and their text from DuckDB (duckdb_get_varchar of a value made
 * from the vector's), so both ways give the same answers.
 */
#include "repo.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"

enum { MODE_NONE, MODE_VALUES, MODE_CHUNKS };

struct udr_result {
    duckdb_result r;
    size_t ncols;
    uint64_t nrows;
    char **types;
    int mode;
    duckdb_data_chunk *chunks;        /* MODE_CHUNKS: every chunk of the result */
    uint64_t *first;                  /* the row number of each chunk's first row */
    idx_t nchunks;
};

udr_result *repo_wrap_result(duckdb_result *r)
{
    udr_result *res = calloc(1, sizeof *res);
    if (res == NULL) {
        duckdb_destroy_result(r);
        return NULL;
    }
    res->r = *r;
    res->ncols = (size_t)duckdb_column_count(&res->r);
    res->nrows = (uint64_t)duckdb_row_count(&res->r);
    res->types = calloc(res->ncols ? res->ncols : 1, sizeof *res->types);
    for (size_t i = 0; res->types && i < res->ncols; i++) {
        duckdb_logical_type t = duckdb_column_logical_type(&res->r, i);
        buf b;
        buf_init(&b);
        query_type_name(t, &b);
        duckdb_destroy_logical_type(&t);
        res->types[i] = buf_take(&b, NULL);
    }
    return res;
}

udr_result *repo_wrap_shown(duckdb_result *r, query *q)
{
    size_t n = 0;
    char **shown = query_take_shown(q, &n);
    udr_result *res = repo_wrap_result(r);
    if (res != NULL && res->types != NULL && n == res->ncols)
        for (size_t i = 0; i < n; i++)
            if (shown[i] != NULL) {        /* shown as text: name what it was */
                free(res->types[i]);
                res->types[i] = shown[i];
                shown[i] = NULL;
            }
    query_free_shown(shown, n);
    return res;
}

void udr_result_free(udr_result *r)
{
    if (r == NULL)
        return;
    for (idx_t i = 0; i < r->nchunks; i++)
        duckdb_destroy_data_chunk(&r->chunks[i]);
    free(r->chunks);
    free(r->first);
    duckdb_destroy_result(&r->r);
    for (size_t i = 0; r->types && i < r->ncols; i++)
        free(r->types[i]);
    free(r->types);
    free(r);
}

/* ---- choosing the way -------------------------------------------------------- */

/* Reads by chunks if no value has been read yet; 1 if the result is read by
   chunks (now or already). */
static int by_chunks(const udr_result *cr)
{
    udr_result *r = (udr_result *)cr;    /* the way is chosen once, on first read */
    if (r->mode != MODE_NONE)
        return r->mode == MODE_CHUNKS;
    idx_t n = duckdb_result_chunk_count(r->r);
    r->chunks = calloc(n ? n : 1, sizeof *r->chunks);
    r->first = calloc(n ? n : 1, sizeof *r->first);
    if (r->chunks == NULL || r->first == NULL) {
        free(r->chunks);
        free(r->first);
        r->chunks = NULL, r->first = NULL;
        r->mode = MODE_VALUES;
        return 0;
    }
    uint64_t row = 0;
    for (idx_t i = 0; i < n; i++) {
        duckdb_data_chunk c = duckdb_result_get_chunk(r->r, i);
        if (c == NULL)
            break;
        r->chunks[r->nchunks++] = c;
        r->first[i] = row;
        row += duckdb_data_chunk_get_size(c);
    }
    if (row != r->nrows) {   /* read by values below us already: stay with values */
        for (idx_t i = 0; i < r->nchunks; i++)
            duckdb_destroy_data_chunk(&r->chunks[i]);
        free(r->chunks);
        free(r->first);
        r->chunks = NULL, r->first = NULL, r->nchunks = 0;
        r->mode = MODE_VALUES;
        return 0;
    }
    r->mode = MODE_CHUNKS;
    return 1;
}

static int by_values(const udr_result *r)
{
    if (r->mode == MODE_NONE)
        ((udr_result *)r)->mode = MODE_VALUES;
    return r->mode == MODE_VALUES;
}

/* The chunk holding a row, and the row's index in it. */
static duckdb_data_chunk chunk_of(const udr_result *r, uint64_t row, idx_t *at)
{
    idx_t lo = 0, hi = r->nchunks;
    while (hi - lo > 1) {
        idx_t mid = lo + (hi - lo) / 2;
        if (r->first[mid] <= row)
            lo = mid;
        else
            hi = mid;
    }
    *at = (idx_t)(row - r->first[lo]);
    return r->chunks[lo];
}

/* ---- the C forms of types ------------------------------------------------------ */

static udr_ctype ctype_of(duckdb_type id)
{
    switch (id) {
    case DUCKDB_TYPE_BOOLEAN: return UDR_CTYPE_BOOL;
    case DUCKDB_TYPE_TINYINT: return UDR_CTYPE_INT8;
    case DUCKDB_TYPE_SMALLINT: return UDR_CTYPE_INT16;
    case DUCKDB_TYPE_INTEGER: return UDR_CTYPE_INT32;
    case DUCKDB_TYPE_BIGINT: return UDR_CTYPE_INT64;
    case DUCKDB_TYPE_UTINYINT: return UDR_CTYPE_UINT8;
    case DUCKDB_TYPE_USMALLINT: return UDR_CTYPE_UINT16;
    case DUCKDB_TYPE_UINTEGER: return UDR_CTYPE_UINT32;
    case DUCKDB_TYPE_UBIGINT: return UDR_CTYPE_UINT64;
    case DUCKDB_TYPE_FLOAT: return UDR_CTYPE_FLOAT;
    case DUCKDB_TYPE_DOUBLE: return UDR_CTYPE_DOUBLE;
    case DUCKDB_TYPE_DECIMAL: return UDR_CTYPE_DOUBLE;
    case DUCKDB_TYPE_DATE: return UDR_CTYPE_DATE;
    case DUCKDB_TYPE_TIMESTAMP: return UDR_CTYPE_TIMESTAMP;
    case DUCKDB_TYPE_TIMESTAMP_NS: return UDR_CTYPE_TIMESTAMP_NS;
    case DUCKDB_TYPE_TIMESTAMP_TZ: return UDR_CTYPE_TIMESTAMP_TZ;
    case DUCKDB_TYPE_VARCHAR: return UDR_CTYPE_TEXT;
    case DUCKDB_TYPE_BLOB: return UDR_CTYPE_BLOB;
    default: return UDR_CTYPE_OTHER;
    }
}

size_t udr_ctype_width(udr_ctype t)
{
    switch (t) {
    case UDR_CTYPE_BOOL: case UDR_CTYPE_INT8: case UDR_CTYPE_UINT8: return 1;
    case UDR_CTYPE_INT16: case UDR_CTYPE_UINT16: return 2;
    case UDR_CTYPE_INT32: case UDR_CTYPE_UINT32: case UDR_CTYPE_FLOAT:
    case UDR_CTYPE_DATE: return 4;
    case UDR_CTYPE_INT64: case UDR_CTYPE_UINT64: case UDR_CTYPE_DOUBLE:
    case UDR_CTYPE_TIMESTAMP: case UDR_CTYPE_TIMESTAMP_NS:
    case UDR_CTYPE_TIMESTAMP_TZ: return 8;
    case UDR_CTYPE_TEXT: case UDR_CTYPE_BLOB: return sizeof(udr_bytes);
    default: return 0;
    }
}

static duckdb_type type_id(const udr_result *r, size_t col)
{
    return duckdb_column_type((duckdb_result *)&r->r, col);
}

udr_ctype udr_result_column_ctype(const udr_result *r, size_t col)
{
    return col < r->ncols ? ctype_of(type_id(r, col)) : UDR_CTYPE_OTHER;
}

/* ---- reading from chunks ---------------------------------------------------------- */

/* A 128-bit integer as a double, negative ones by their magnitude (adding
   the two halves of a small negative number would cancel to noise). */
static double huge_to_double(duckdb_hugeint h)
{
    if (h.upper >= 0)
        return (double)h.upper * 18446744073709551616.0 + (double)h.lower;
    uint64_t lo = ~h.lower + 1;
    uint64_t hi = ~(uint64_t)h.upper + (lo == 0);
    return -((double)hi * 18446744073709551616.0 + (double)lo);
}

/* A DECIMAL's internal integer at index i of a vector's data, as a double. */
static double decimal_at(const udr_result *r, size_t col, const void *data, idx_t i)
{
    duckdb_logical_type t = duckdb_column_logical_type((duckdb_result *)&r->r, col);
    duckdb_type in = duckdb_decimal_internal_type(t);
    double scale = pow(10.0, duckdb_decimal_scale(t));
    duckdb_destroy_logical_type(&t);
    switch (in) {
    case DUCKDB_TYPE_SMALLINT: return ((const int16_t *)data)[i] / scale;
    case DUCKDB_TYPE_INTEGER: return ((const int32_t *)data)[i] / scale;
    case DUCKDB_TYPE_BIGINT: return (double)((const int64_t *)data)[i] / scale;
    default:
        return huge_to_double(((const duckdb_hugeint *)data)[i]) / scale;
    }
}

/* A value of a vector as a duckdb_value, to have DuckDB spell it; NULL
   for a type made only of vectors (shown as text before it gets here). */
static duckdb_value value_at(const udr_result *r, size_t col, duckdb_vector v, idx_t i)
{
    const void *d = duckdb_vector_get_data(v);
    switch (type_id(r, col)) {
    case DUCKDB_TYPE_BOOLEAN: return duckdb_create_bool(((const bool *)d)[i]);
    case DUCKDB_TYPE_TINYINT: return duckdb_create_int8(((const int8_t *)d)[i]);
    case DUCKDB_TYPE_SMALLINT: return duckdb_create_int16(((const int16_t *)d)[i]);
    case DUCKDB_TYPE_INTEGER: return duckdb_create_int32(((const int32_t *)d)[i]);
    case DUCKDB_TYPE_BIGINT: return duckdb_create_int64(((const int64_t *)d)[i]);
    case DUCKDB_TYPE_UTINYINT: return duckdb_create_uint8(((const uint8_t *)d)[i]);
    case DUCKDB_TYPE_USMALLINT: return duckdb_create_uint16(((const uint16_t *)d)[i]);
    case DUCKDB_TYPE_UINTEGER: return duckdb_create_uint32(((const uint32_t *)d)[i]);
    case DUCKDB_TYPE_UBIGINT: return duckdb_create_uint64(((const uint64_t *)d)[i]);
    case DUCKDB_TYPE_HUGEINT: return duckdb_create_hugeint(((const duckdb_hugeint *)d)[i]);
    case DUCKDB_TYPE_UHUGEINT: return duckdb_create_uhugeint(((const duckdb_uhugeint *)d)[i]);
    case DUCKDB_TYPE_FLOAT: return duckdb_create_float(((const float *)d)[i]);
    case DUCKDB_TYPE_DOUBLE: return duckdb_create_double(((const double *)d)[i]);
    case DUCKDB_TYPE_DATE: return duckdb_create_date(((const duckdb_date *)d)[i]);
    case DUCKDB_TYPE_TIME: return duckdb_create_time(((const duckdb_time *)d)[i]);
    case DUCKDB_TYPE_TIMESTAMP: return duckdb_create_timestamp(((const duckdb_timestamp *)d)[i]);
    case DUCKDB_TYPE_TIMESTAMP_TZ:
        return duckdb_create_timestamp_tz(((const duckdb_timestamp *)d)[i]);
    case DUCKDB_TYPE_TIMESTAMP_S:
        return duckdb_create_timestamp_s(((const duckdb_timestamp_s *)d)[i]);
    case DUCKDB_TYPE_TIMESTAMP_MS:
        return duckdb_create_timestamp_ms(((const duckdb_timestamp_ms *)d)[i]);
    case DUCKDB_TYPE_TIMESTAMP_NS:
        return duckdb_create_timestamp_ns(((const duckdb_timestamp_ns *)d)[i]);
    case DUCKDB_TYPE_INTERVAL: return duckdb_create_interval(((const duckdb_interval *)d)[i]);
    case DUCKDB_TYPE_VARCHAR: case DUCKDB_TYPE_BLOB: {
        duckdb_string_t *s = (duckdb_string_t *)d + i;
        const char *p = duckdb_string_t_data(s);
        idx_t len = duckdb_string_t_length(*s);
        return type_id(r, col) == DUCKDB_TYPE_BLOB
                   ? duckdb_create_blob((const uint8_t *)p, len)
                   : duckdb_create_varchar_length(p, len);
    }
    case DUCKDB_TYPE_DECIMAL: {
        duckdb_logical_type t = duckdb_column_logical_type((duckdb_result *)&r->r, col);
        duckdb_decimal dec = {duckdb_decimal_width(t), duckdb_decimal_scale(t), {0, 0}};
        duckdb_type in = duckdb_decimal_internal_type(t);
        duckdb_destroy_logical_type(&t);
        int64_t small = in == DUCKDB_TYPE_SMALLINT ? ((const int16_t *)d)[i]
                        : in == DUCKDB_TYPE_INTEGER ? ((const int32_t *)d)[i]
                        : in == DUCKDB_TYPE_BIGINT ? ((const int64_t *)d)[i] : 0;
        if (in == DUCKDB_TYPE_HUGEINT)
            dec.value = ((const duckdb_hugeint *)d)[i];
        else
            dec.value.lower = (uint64_t)small, dec.value.upper = small < 0 ? -1 : 0;
        return duckdb_create_decimal(dec);
    }
    default:
        return NULL;
    }
}

static int chunk_is_null(const udr_result *r, uint64_t row, size_t col)
{
    idx_t i;
    duckdb_vector v = duckdb_data_chunk_get_vector(chunk_of(r, row, &i), col);
    uint64_t *valid = duckdb_vector_get_validity(v);
    return valid != NULL && !duckdb_validity_row_is_valid(valid, i);
}

static char *chunk_text(const udr_result *r, uint64_t row, size_t col)
{
    idx_t i;
    duckdb_vector v = duckdb_data_chunk_get_vector(chunk_of(r, row, &i), col);
    duckdb_value val = value_at(r, col, v, i);
    if (val == NULL)
        return strdup("");
    char *s = duckdb_get_varchar(val);
    char *copy = strdup(s ? s : "");
    duckdb_free(s);
    duckdb_destroy_value(&val);
    return copy;
}

/* ---- reading values ------------------------------------------------------------------ */

size_t udr_result_columns(const udr_result *r)
{
    return r->ncols;
}

uint64_t udr_result_rows(const udr_result *r)
{
    return r->nrows;
}

const char *udr_result_column_name(const udr_result *r, size_t col)
{
    return col < r->ncols ? duckdb_column_name((duckdb_result *)&r->r, col) : NULL;
}

const char *udr_result_column_type(const udr_result *r, size_t col)
{
    return col < r->ncols && r->types && r->types[col] ? r->types[col] : "UNKNOWN";
}

int udr_result_is_null(const udr_result *r, uint64_t row, size_t col)
{
    if (col >= r->ncols || row >= r->nrows)
        return 1;
    if (by_values(r))
        return duckdb_value_is_null((duckdb_result *)&r->r, col, row);
    return chunk_is_null(r, row, col);
}

char *udr_result_text(const udr_result *r, uint64_t row, size_t col)
{
    if (col >= r->ncols || row >= r->nrows || udr_result_is_null(r, row, col))
        return NULL;
    if (!by_values(r))
        return chunk_text(r, row, col);
    duckdb_type t = type_id(r, col);
    if (t == DUCKDB_TYPE_TIMESTAMP_TZ || t == DUCKDB_TYPE_TIMESTAMP_S ||
        t == DUCKDB_TYPE_TIMESTAMP_MS) {
        /* duckdb_value_varchar spells these "" (DuckDB 1.4.4): spell the
         * value. A materialised result holds all three in microseconds. */
        int64_t raw = ((const int64_t *)duckdb_column_data((duckdb_result *)&r->r, col))[row];
        duckdb_value val = t == DUCKDB_TYPE_TIMESTAMP_TZ
                               ? duckdb_create_timestamp_tz((duckdb_timestamp){raw})
                               : duckdb_create_timestamp((duckdb_timestamp){raw});
        char *s = duckdb_get_varchar(val);
        char *copy = strdup(s ? s : "");
        duckdb_free(s);
        duckdb_destroy_value(&val);
        return copy;
    }
    char *v = duckdb_value_varchar((duckdb_result *)&r->r, col, row);
    char *copy = strdup(v ? v : "");
    duckdb_free(v);
    return copy;
}

int64_t udr_result_int64(const udr_result *r, uint64_t row, size_t col)
{
    if (col >= r->ncols || row >= r->nrows)
        return 0;
    if (by_values(r))
        return duckdb_value_int64((duckdb_result *)&r->r, col, row);
    if (chunk_is_null(r, row, col))
        return 0;
    idx_t i;
    const void *d = duckdb_vector_get_data(duckdb_data_chunk_get_vector(chunk_of(r, row, &i), col));
    switch (type_id(r, col)) {
    case DUCKDB_TYPE_BOOLEAN: return ((const bool *)d)[i];
    case DUCKDB_TYPE_TINYINT: return ((const int8_t *)d)[i];
    case DUCKDB_TYPE_SMALLINT: return ((const int16_t *)d)[i];
    case DUCKDB_TYPE_INTEGER: return ((const int32_t *)d)[i];
    case DUCKDB_TYPE_BIGINT: return ((const int64_t *)d)[i];
    case DUCKDB_TYPE_UTINYINT: return ((const uint8_t *)d)[i];
    case DUCKDB_TYPE_USMALLINT: return ((const uint16_t *)d)[i];
    case DUCKDB_TYPE_UINTEGER: return ((const uint32_t *)d)[i];
    case DUCKDB_TYPE_UBIGINT: return (int64_t)((const uint64_t *)d)[i];
    default: {
        char *s = chunk_text(r, row, col);     /* as DuckDB would cast it */
        int64_t v = s ? strtoll(s, NULL, 10) : 0;
        free(s);
        return v;
    }
    }
}

double udr_result_double(const udr_result *r, uint64_t row, size_t col)
{
    if (col >= r->ncols || row >= r->nrows)
        return 0;
    if (by_values(r))
        return duckdb_value_double((duckdb_result *)&r->r, col, row);
    if (chunk_is_null(r, row, col))
        return 0;
    idx_t i;
    const void *d = duckdb_vector_get_data(duckdb_data_chunk_get_vector(chunk_of(r, row, &i), col));
    switch (type_id(r, col)) {
    case DUCKDB_TYPE_FLOAT: return ((const float *)d)[i];
    case DUCKDB_TYPE_DOUBLE: return ((const double *)d)[i];
    case DUCKDB_TYPE_DECIMAL: return decimal_at(r, col, d, i);
    case DUCKDB_TYPE_UBIGINT: return (double)((const uint64_t *)d)[i];
    default:
        break;
    }
    char *s = chunk_text(r, row, col);
    double v = s ? strtod(s, NULL) : 0;
    free(s);
    return v;
}

const char *udr_result_bytes(const udr_result *r, uint64_t row, size_t col, size_t *len)
{
    *len = 0;
    if (col >= r->ncols || row >= r->nrows)
        return NULL;
    duckdb_type id = type_id(r, col);
    if (id != DUCKDB_TYPE_VARCHAR && id != DUCKDB_TYPE_BLOB)
        return NULL;
    duckdb_result *dr = (duckdb_result *)&r->r;
    if (by_values(r)) {
        const bool *mask = duckdb_nullmask_data(dr, col);
        if (mask == NULL || mask[row])
            return NULL;
        if (id == DUCKDB_TYPE_BLOB) {
            const duckdb_blob *b = (const duckdb_blob *)duckdb_column_data(dr, col) + row;
            *len = (size_t)b->size;
            return b->data != NULL ? b->data : "";
        }
        const char *s = ((char *const *)duckdb_column_data(dr, col))[row];
        *len = s != NULL ? strlen(s) : 0;
        return s;
    }
    if (chunk_is_null(r, row, col))
        return NULL;
    idx_t i;
    duckdb_string_t *s = (duckdb_string_t *)duckdb_vector_get_data(
                             duckdb_data_chunk_get_vector(chunk_of(r, row, &i), col)) + i;
    *len = duckdb_string_t_length(*s);
    return duckdb_string_t_data(s);
}

/* ---- reading columns ---------------------------------------------------------------- */

/* One chunk's rows of a column into values + at (width bytes each). */
static void copy_chunk(const udr_result *r, size_t col, udr_ctype t, duckdb_data_chunk c,
                       char *values, uint8_t *nulls)
{
    idx_t n = duckdb_data_chunk_get_size(c);
    duckdb_vector v = duckdb_data_chunk_get_vector(c, col);
    void *d = duckdb_vector_get_data(v);
    uint64_t *valid = duckdb_vector_get_validity(v);
    size_t width = udr_ctype_width(t);
    if (t == UDR_CTYPE_TEXT || t == UDR_CTYPE_BLOB) {
        udr_bytes *out = (udr_bytes *)values;
        for (idx_t i = 0; i < n; i++) {
            duckdb_string_t *s = (duckdb_string_t *)d + i;
            int null = valid != NULL && !duckdb_validity_row_is_valid(valid, i);
            out[i].data = null ? NULL : duckdb_string_t_data(s);
            out[i].len = null ? 0 : duckdb_string_t_length(*s);
        }
    } else if (type_id(r, col) == DUCKDB_TYPE_DECIMAL) {
        for (idx_t i = 0; i < n; i++)
            ((double *)values)[i] = decimal_at(r, col, d, i);
    } else {
        memcpy(values, d, n * width);
    }
    for (idx_t i = 0; nulls != NULL && i < n; i++)
        nulls[i] = valid != NULL && !duckdb_validity_row_is_valid(valid, i);
}

int udr_result_copy(const udr_result *r, size_t col, void *values, uint8_t *nulls)
{
    udr_ctype t = udr_result_column_ctype(r, col);
    size_t width = udr_ctype_width(t);
    if (col >= r->ncols || width == 0)
        return UDR_EINVAL;
    if (r->nrows == 0)
        return UDR_OK;
    if (by_chunks(r)) {
        for (idx_t k = 0; k < r->nchunks; k++)
            copy_chunk(r, col, t, r->chunks[k], (char *)values + r->first[k] * width,
                       nulls != NULL ? nulls + r->first[k] : NULL);
        return UDR_OK;
    }
    /* read by values already: DuckDB's C arrays of the whole result */
    duckdb_result *dr = (duckdb_result *)&r->r;
    if (t == UDR_CTYPE_TEXT || t == UDR_CTYPE_BLOB) {
        udr_bytes *v = values;
        for (uint64_t i = 0; i < r->nrows; i++) {
            size_t len = 0;
            v[i].data = udr_result_bytes(r, i, col, &len);
            v[i].len = len;
        }
    } else if (type_id(r, col) == DUCKDB_TYPE_DECIMAL) {
        for (uint64_t i = 0; i < r->nrows; i++)
            ((double *)values)[i] = duckdb_value_double(dr, col, i);
    } else {
        const void *data = duckdb_column_data(dr, col);
        if (data == NULL)
            return UDR_ENOMEM;
        memcpy(values, data, (size_t)r->nrows * width);
    }
    const bool *mask = duckdb_nullmask_data(dr, col);
    for (uint64_t i = 0; nulls != NULL && i < r->nrows; i++)
        nulls[i] = mask != NULL && mask[i];
    return UDR_OK;
}
