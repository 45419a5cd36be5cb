/*
 * pyresult — query results out as NumPy arrays, DataFrame columns in as
 * frames: the two places where the Python module moves whole columns.
 *
 * Out: udr_result_copy() copies a numeric, boolean or time column into a
 * NumPy array's memory in one call; NULLs follow pandas (NaN for numbers,
 * NaT for times, None in object columns). Text makes one str per value:
 * pandas keeps strings as objects.
 *
 * In: the Python layer hands [(name, kind, values, nulls), ...] where values
 * is a C-contiguous array (NumPy) of the kind's width, or for "text" and
 * "blob" a sequence of str/bytes/None; UDR reads them in place through
 * udr_frame_register.
 */
#include "pyudr.h"

#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#define PY_ARRAY_UNIQUE_SYMBOL pyudr_ARRAY_API
#include <numpy/arrayobject.h>

#include <datetime.h>
#include <math.h>
#include <string.h>

static PyArray_Descr *dt64ns;      /* datetime64[ns] */

int pyudr_numpy_init(void)
{
    import_array1(-1);
    PyDateTime_IMPORT;
    if (PyDateTimeAPI == NULL)
        return -1;
    PyObject *s = PyUnicode_FromString("M8[ns]");
    int ok = s != NULL && PyArray_DescrConverter(s, &dt64ns) == NPY_SUCCEED;
    Py_XDECREF(s);
    return ok ? 0 : -1;
}

/* ---- Result ----------------------------------------------------------------- */

PyObject *pyudr_result_new(udr_result *r, PyObject *owner)
{
    if (r == NULL)
        Py_RETURN_NONE;
    ResultObject *o = PyObject_New(ResultObject, &Result_Type);
    if (o == NULL) {
        udr_result_free(r);
        return NULL;
    }
    o->r = r;
    o->owner = owner;
    Py_XINCREF(owner);
    return (PyObject *)o;
}

static void result_dealloc(ResultObject *o)
{
    udr_result_free(o->r);
    Py_XDECREF(o->owner);
    PyObject_Free(o);
}

static int npy_type_of(udr_ctype t)
{
    switch (t) {
    case UDR_CTYPE_BOOL: return NPY_BOOL;
    case UDR_CTYPE_INT8: return NPY_INT8;
    case UDR_CTYPE_INT16: return NPY_INT16;
    case UDR_CTYPE_INT32: return NPY_INT32;
    case UDR_CTYPE_INT64: return NPY_INT64;
    case UDR_CTYPE_UINT8: return NPY_UINT8;
    case UDR_CTYPE_UINT16: return NPY_UINT16;
    case UDR_CTYPE_UINT32: return NPY_UINT32;
    case UDR_CTYPE_UINT64: return NPY_UINT64;
    case UDR_CTYPE_FLOAT: return NPY_FLOAT32;
    case UDR_CTYPE_DOUBLE: return NPY_FLOAT64;
    default: return -1;
    }
}

static PyObject *new_array(npy_intp n, int type)
{
    return PyArray_SimpleNew(1, &n, type);
}

static PyObject *new_datetime_array(npy_intp n)
{
    Py_INCREF(dt64ns);
    return PyArray_NewFromDescr(&PyArray_Type, dt64ns, 1, &n, NULL, NULL, 0, NULL);
}

/* An integer column with NULLs: float64 with NaN, as pandas does. */
static PyObject *ints_as_floats(PyObject *ints, const uint8_t *nulls, npy_intp n)
{
    PyObject *f = PyArray_Cast((PyArrayObject *)ints, NPY_FLOAT64);
    if (f == NULL)
        return NULL;
    double *d = PyArray_DATA((PyArrayObject *)f);
    for (npy_intp i = 0; i < n; i++)
        if (nulls[i])
            d[i] = NAN;
    return f;
}

/* A boolean column with NULLs: objects True, False, None. */
static PyObject *bools_as_objects(const npy_bool *v, const uint8_t *nulls, npy_intp n)
{
    PyObject *a = new_array(n, NPY_OBJECT);
    if (a == NULL)
        return NULL;
    PyObject **o = PyArray_DATA((PyArrayObject *)a);
    for (npy_intp i = 0; i < n; i++) {
        PyObject *x = nulls[i] ? Py_None : v[i] ? Py_True : Py_False;
        Py_INCREF(x);
        Py_XSETREF(o[i], x);
    }
    return a;
}

/* int64 values of unit µs (scale 1000), days (86400e9) or ns (1) as
 * datetime64[ns]; NULLs are NaT. *overflow if a value is out of range. */
static PyObject *times_as_ns(const int64_t *v, const uint8_t *nulls, npy_intp n, int64_t scale,
                             int *overflow)
{
    PyObject *a = new_datetime_array(n);
    if (a == NULL)
        return NULL;
    int64_t *d = PyArray_DATA((PyArrayObject *)a);
    int64_t lim = INT64_MAX / scale;
    *overflow = 0;
    for (npy_intp i = 0; i < n; i++) {
        if (nulls[i])
            d[i] = NPY_DATETIME_NAT;
        else if (v[i] > lim || v[i] < -lim)
            *overflow = 1;
        else
            d[i] = v[i] * scale;
    }
    return a;
}

/* Text, blobs and any other type: one object per value. */
static PyObject *objects_of(const udr_result *r, size_t col, udr_ctype t)
{
    npy_intp n = (npy_intp)udr_result_rows(r);
    PyObject *a = new_array(n, NPY_OBJECT);
    if (a == NULL)
        return NULL;
    PyObject **o = PyArray_DATA((PyArrayObject *)a);
    udr_bytes *v = NULL;
    if (t == UDR_CTYPE_TEXT || t == UDR_CTYPE_BLOB) {    /* the pointers, in one pass */
        if ((v = PyMem_Malloc((n > 0 ? (size_t)n : 1) * sizeof *v)) == NULL ||
            (n > 0 && udr_result_copy(r, col, v, NULL) != UDR_OK)) {
            PyMem_Free(v);
            Py_DECREF(a);
            return PyErr_NoMemory();
        }
    }
    for (npy_intp i = 0; i < n; i++) {
        PyObject *x;
        if (v != NULL) {
            const char *s = v[i].data;
            Py_ssize_t len = (Py_ssize_t)v[i].len;
            x = s == NULL ? (Py_INCREF(Py_None), Py_None)
                : t == UDR_CTYPE_TEXT ? PyUnicode_DecodeUTF8(s, len, "replace")
                                      : PyBytes_FromStringAndSize(s, len);
        } else {
            char *s = udr_result_text(r, (uint64_t)i, col);
            x = s == NULL ? (Py_INCREF(Py_None), Py_None) : PyUnicode_FromString(s);
            udr_free(s);
        }
        if (x == NULL) {
            PyMem_Free(v);
            Py_DECREF(a);
            return NULL;
        }
        Py_XSETREF(o[i], x);
    }
    PyMem_Free(v);
    return a;
}

static int is_huge(const udr_result *r, size_t col)
{
    const char *t = udr_result_column_type(r, col);
    return strcmp(t, "HUGEINT") == 0 || strcmp(t, "UHUGEINT") == 0;
}

/* HUGEINT (what sum() of integers gives): int64 when every value fits,
 * else float64; NULLs make it float64 with NaN. */
static PyObject *huge_array(const udr_result *r, size_t col)
{
    npy_intp n = (npy_intp)udr_result_rows(r);
    int fits = 1;
    for (npy_intp i = 0; i < n && fits; i++) {
        double d = udr_result_double(r, (uint64_t)i, col);
        fits = !udr_result_is_null(r, (uint64_t)i, col) && d > -9.2e18 && d < 9.2e18;
    }
    PyObject *a = new_array(n, fits ? NPY_INT64 : NPY_FLOAT64);
    if (a == NULL)
        return NULL;
    void *v = PyArray_DATA((PyArrayObject *)a);
    for (npy_intp i = 0; i < n; i++) {
        if (fits)
            ((int64_t *)v)[i] = udr_result_int64(r, (uint64_t)i, col);
        else
            ((double *)v)[i] = udr_result_is_null(r, (uint64_t)i, col)
                                   ? NAN : udr_result_double(r, (uint64_t)i, col);
    }
    return a;
}

/* One column as a NumPy array, by the rules of docs/python.md. */
static PyObject *column_array(const udr_result *r, size_t col)
{
    udr_ctype t = udr_result_column_ctype(r, col);
    npy_intp n = (npy_intp)udr_result_rows(r);
    if (t == UDR_CTYPE_OTHER && is_huge(r, col))
        return huge_array(r, col);
    if (t == UDR_CTYPE_OTHER || t == UDR_CTYPE_TEXT || t == UDR_CTYPE_BLOB)
        return objects_of(r, col, t);
    uint8_t *nulls = PyMem_Malloc(n > 0 ? (size_t)n : 1);
    if (nulls == NULL)
        return PyErr_NoMemory();
    PyObject *a = NULL, *out = NULL;
    int npy = npy_type_of(t);
    if (npy >= 0) {
        if ((a = new_array(n, npy)) == NULL)
            goto done;
        udr_result_copy(r, col, PyArray_DATA((PyArrayObject *)a), nulls);
        int any = 0;
        for (npy_intp i = 0; i < n && !any; i++)
            any = nulls[i];
        if (!any)
            out = (Py_INCREF(a), a);
        else if (t == UDR_CTYPE_BOOL)
            out = bools_as_objects(PyArray_DATA((PyArrayObject *)a), nulls, n);
        else if (t == UDR_CTYPE_FLOAT || t == UDR_CTYPE_DOUBLE) {
            for (npy_intp i = 0; i < n; i++)
                if (nulls[i] && t == UDR_CTYPE_DOUBLE)
                    ((double *)PyArray_DATA((PyArrayObject *)a))[i] = NAN;
                else if (nulls[i])
                    ((float *)PyArray_DATA((PyArrayObject *)a))[i] = NAN;
            out = (Py_INCREF(a), a);
        } else
            out = ints_as_floats(a, nulls, n);
        goto done;
    }
    /* times: DATE (int32 days), TIMESTAMP and _TZ (µs), TIMESTAMP_NS */
    int64_t *v = PyMem_Malloc((n > 0 ? (size_t)n : 1) * sizeof *v);
    if (v == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    int64_t scale = t == UDR_CTYPE_TIMESTAMP_NS ? 1 : t == UDR_CTYPE_DATE ? 86400000000000LL : 1000;
    if (t == UDR_CTYPE_DATE) {
        int32_t *days = (int32_t *)v;
        udr_result_copy(r, col, days, nulls);
        for (npy_intp i = n - 1; i >= 0; i--)     /* widen in place, from the end */
            v[i] = days[i];
    } else {
        udr_result_copy(r, col, v, nulls);
    }
    int overflow = 0;
    out = times_as_ns(v, nulls, n, scale, &overflow);
    PyMem_Free(v);
    if (out != NULL && overflow) {     /* beyond pandas' years 1677..2262: text */
        Py_DECREF(out);
        out = objects_of(r, col, UDR_CTYPE_OTHER);
    }
done:
    Py_XDECREF(a);
    PyMem_Free(nulls);
    return out;
}

PyObject *pyudr_result_arrays(const udr_result *r)
{
    size_t nc = udr_result_columns(r);
    PyObject *names = PyList_New((Py_ssize_t)nc), *types = PyList_New((Py_ssize_t)nc);
    PyObject *arrays = PyList_New((Py_ssize_t)nc);
    if (names == NULL || types == NULL || arrays == NULL)
        goto fail;
    for (size_t c = 0; c < nc; c++) {
        PyObject *nm = PyUnicode_FromString(udr_result_column_name(r, c));
        PyObject *ty = PyUnicode_FromString(udr_result_column_type(r, c));
        PyObject *ar = column_array(r, c);
        if (nm == NULL || ty == NULL || ar == NULL) {
            Py_XDECREF(nm);
            Py_XDECREF(ty);
            Py_XDECREF(ar);
            goto fail;
        }
        PyList_SET_ITEM(names, (Py_ssize_t)c, nm);
        PyList_SET_ITEM(types, (Py_ssize_t)c, ty);
        PyList_SET_ITEM(arrays, (Py_ssize_t)c, ar);
    }
    return Py_BuildValue("(NNN)", names, types, arrays);
fail:
    Py_XDECREF(names);
    Py_XDECREF(types);
    Py_XDECREF(arrays);
    return NULL;
}

/* days since 1970 -> a civil date (Howard Hinnant's days_from_civil, inverted). */
static PyObject *date_of(int64_t days)
{
    int64_t z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400, doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153, d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2;
    if (y < 1 || y > 9999)
        return NULL;
    return PyDate_FromDate((int)y, (int)m, (int)d);
}

static PyObject *datetime_of(int64_t us, int utc)
{
    int64_t days = us >= 0 ? us / 86400000000LL : -((-us + 86399999999LL) / 86400000000LL);
    int64_t rest = us - days * 86400000000LL;
    PyObject *d = date_of(days);
    if (d == NULL)
        return NULL;
    int y = PyDateTime_GET_YEAR(d), mo = PyDateTime_GET_MONTH(d), da = PyDateTime_GET_DAY(d);
    Py_DECREF(d);
    int h = (int)(rest / 3600000000LL), mi = (int)(rest / 60000000LL % 60);
    int s = (int)(rest / 1000000 % 60), u = (int)(rest % 1000000);
    return PyDateTimeAPI->DateTime_FromDateAndTime(y, mo, da, h, mi, s, u,
                                                   utc ? PyDateTime_TimeZone_UTC : Py_None,
                                                   PyDateTimeAPI->DateTimeType);
}

/* One value as a Python object (fetchall). */
static PyObject *value_of(const udr_result *r, uint64_t row, size_t col, udr_ctype t)
{
    if (udr_result_is_null(r, row, col))
        Py_RETURN_NONE;
    switch (t) {
    case UDR_CTYPE_BOOL:
        return PyBool_FromLong((long)udr_result_int64(r, row, col));
    case UDR_CTYPE_INT8: case UDR_CTYPE_INT16: case UDR_CTYPE_INT32: case UDR_CTYPE_INT64:
    case UDR_CTYPE_UINT8: case UDR_CTYPE_UINT16: case UDR_CTYPE_UINT32:
        return PyLong_FromLongLong(udr_result_int64(r, row, col));
    case UDR_CTYPE_FLOAT: case UDR_CTYPE_DOUBLE:
        return PyFloat_FromDouble(udr_result_double(r, row, col));
    case UDR_CTYPE_TEXT: case UDR_CTYPE_BLOB: {
        size_t len = 0;
        const char *s = udr_result_bytes(r, row, col, &len);
        return t == UDR_CTYPE_TEXT ? PyUnicode_DecodeUTF8(s, (Py_ssize_t)len, "replace")
                                   : PyBytes_FromStringAndSize(s, (Py_ssize_t)len);
    }
    default:
        break;
    }
    PyObject *x;
    char *s = udr_result_text(r, row, col);
    if (s != NULL && (t == UDR_CTYPE_UINT64 || is_huge(r, col)))
        x = PyLong_FromString(s, NULL, 10);
    else
        x = s != NULL ? PyUnicode_FromString(s) : (Py_INCREF(Py_None), Py_None);
    udr_free(s);
    return x;
}

/* The time columns of a result as int64 arrays (µs, days or ns), for
 * fetchall; NULL entries for other columns. */
static int64_t **time_columns(const udr_result *r, size_t nc)
{
    int64_t **tc = PyMem_Calloc(nc ? nc : 1, sizeof *tc);
    uint64_t n = udr_result_rows(r);
    for (size_t c = 0; tc != NULL && c < nc; c++) {
        udr_ctype t = udr_result_column_ctype(r, c);
        if (t != UDR_CTYPE_DATE && t != UDR_CTYPE_TIMESTAMP && t != UDR_CTYPE_TIMESTAMP_TZ &&
            t != UDR_CTYPE_TIMESTAMP_NS)
            continue;
        if ((tc[c] = PyMem_Malloc((n ? n : 1) * sizeof **tc)) == NULL)
            continue;
        if (t == UDR_CTYPE_DATE) {
            int32_t *d = (int32_t *)tc[c];
            udr_result_copy(r, c, d, NULL);
            for (uint64_t i = n; i-- > 0;)
                tc[c][i] = d[i];
        } else {
            udr_result_copy(r, c, tc[c], NULL);
        }
    }
    return tc;
}

/* A date, or a datetime (UTC-aware for TIMESTAMP_TZ); NULL out of range. */
static PyObject *time_value(int64_t v, udr_ctype t)
{
    if (t == UDR_CTYPE_DATE)
        return date_of(v);
    return datetime_of(t == UDR_CTYPE_TIMESTAMP_NS ? v / 1000 : v, t == UDR_CTYPE_TIMESTAMP_TZ);
}

static PyObject *result_fetchall(ResultObject *self, PyObject *noargs)
{
    (void)noargs;
    const udr_result *r = self->r;
    size_t nc = udr_result_columns(r);
    uint64_t n = udr_result_rows(r);
    udr_ctype *ct = PyMem_Calloc(nc ? nc : 1, sizeof *ct);
    int64_t **tc = time_columns(r, nc);
    PyObject *rows = PyList_New((Py_ssize_t)n);
    if (ct == NULL || tc == NULL || rows == NULL)
        goto fail;
    for (size_t c = 0; c < nc; c++)
        ct[c] = udr_result_column_ctype(r, c);
    for (uint64_t i = 0; i < n; i++) {
        PyObject *row = PyTuple_New((Py_ssize_t)nc);
        if (row == NULL)
            goto fail;
        PyList_SET_ITEM(rows, (Py_ssize_t)i, row);
        for (size_t c = 0; c < nc; c++) {
            PyObject *x = NULL;
            if (tc[c] != NULL && !udr_result_is_null(r, i, c))
                x = time_value(tc[c][i], ct[c]);
            if (x == NULL) {
                PyErr_Clear();
                x = value_of(r, i, c, tc[c] != NULL ? UDR_CTYPE_OTHER : ct[c]);
            }
            if (x == NULL)
                goto fail;
            PyTuple_SET_ITEM(row, (Py_ssize_t)c, x);
        }
    }
    goto done;
fail:
    Py_CLEAR(rows);
done:
    for (size_t c = 0; tc != NULL && c < nc; c++)
        PyMem_Free(tc[c]);
    PyMem_Free(tc);
    PyMem_Free(ct);
    return rows;
}

static PyObject *result_arrays(ResultObject *self, PyObject *noargs)
{
    (void)noargs;
    return pyudr_result_arrays(self->r);
}

static PyObject *result_columns(ResultObject *self, void *closure)
{
    (void)closure;
    size_t nc = udr_result_columns(self->r);
    PyObject *l = PyList_New((Py_ssize_t)nc);
    for (size_t c = 0; l != NULL && c < nc; c++) {
        PyObject *s = PyUnicode_FromString(udr_result_column_name(self->r, c));
        if (s == NULL) {
            Py_CLEAR(l);
            break;
        }
        PyList_SET_ITEM(l, (Py_ssize_t)c, s);
    }
    return l;
}

static PyObject *result_types(ResultObject *self, void *closure)
{
    (void)closure;
    size_t nc = udr_result_columns(self->r);
    PyObject *l = PyList_New((Py_ssize_t)nc);
    for (size_t c = 0; l != NULL && c < nc; c++) {
        PyObject *s = PyUnicode_FromString(udr_result_column_type(self->r, c));
        if (s == NULL) {
            Py_CLEAR(l);
            break;
        }
        PyList_SET_ITEM(l, (Py_ssize_t)c, s);
    }
    return l;
}

static Py_ssize_t result_len(ResultObject *self)
{
    return (Py_ssize_t)udr_result_rows(self->r);
}

static PyMethodDef result_methods[] = {
    {"fetchall", (PyCFunction)result_fetchall, METH_NOARGS,
     "fetchall() -> list of tuples: every row, as Python values."},
    {"arrays", (PyCFunction)result_arrays, METH_NOARGS,
     "arrays() -> (names, types, NumPy arrays), one array per column."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef result_getset[] = {
    {"columns", (getter)result_columns, NULL, "the column names", NULL},
    {"types", (getter)result_types, NULL, "the column types, as DuckDB names them", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PySequenceMethods result_seq = {.sq_length = (lenfunc)result_len};

PyTypeObject Result_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "_udr.Result",
    .tp_basicsize = sizeof(ResultObject),
    .tp_dealloc = (destructor)result_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A query's result, materialised: rows and columns.",
    .tp_methods = result_methods,
    .tp_getset = result_getset,
    .tp_as_sequence = &result_seq,
};

/* ---- frames ------------------------------------------------------------------ */

static const struct {
    const char *kind;
    udr_ctype t;
} kinds[] = {
    {"bool", UDR_CTYPE_BOOL},       {"int8", UDR_CTYPE_INT8},     {"int16", UDR_CTYPE_INT16},
    {"int32", UDR_CTYPE_INT32},     {"int64", UDR_CTYPE_INT64},   {"uint8", UDR_CTYPE_UINT8},
    {"uint16", UDR_CTYPE_UINT16},   {"uint32", UDR_CTYPE_UINT32}, {"uint64", UDR_CTYPE_UINT64},
    {"float32", UDR_CTYPE_FLOAT},   {"float64", UDR_CTYPE_DOUBLE}, {"date", UDR_CTYPE_DATE},
    {"timestamp", UDR_CTYPE_TIMESTAMP}, {"timestamp_ns", UDR_CTYPE_TIMESTAMP_NS},
    {"timestamp_tz", UDR_CTYPE_TIMESTAMP_TZ}, {"text", UDR_CTYPE_TEXT}, {"blob", UDR_CTYPE_BLOB},
};

static int kind_of(const char *k, udr_ctype *t)
{
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(kinds[i].kind, k) == 0) {
            *t = kinds[i].t;
            return 1;
        }
    return 0;
}

/* A buffer of exactly n values of width bytes, held in f. */
static const void *frame_buffer(pyframe *f, PyObject *o, size_t width, const char *col,
                                const char *what)
{
    Py_buffer *b = &f->bufs[f->nbufs];
    if (PyObject_GetBuffer(o, b, PyBUF_C_CONTIGUOUS) < 0) {
        PyErr_Format(PyExc_TypeError, "column %s: %s must be a contiguous array", col, what);
        return NULL;
    }
    f->nbufs++;
    if ((size_t)b->len != (size_t)f->nrows * width) {
        PyErr_Format(PyExc_ValueError,
                     "column %s: %s has %zd bytes, not %llu values of %zu bytes", col, what,
                     b->len, (unsigned long long)f->nrows, width);
        return NULL;
    }
    return b->buf;
}

/* Text or blob values from a sequence of str, bytes, None or NaN. */
static const udr_bytes *frame_texts(pyframe *f, PyObject *o, udr_ctype t, const char *col)
{
    /* A list of our own holds a reference to every value: another thread
       changing the caller's array while UDR reads (the GIL released) cannot
       free a string under it. */
    PyObject *seq = PyList_Check(o) ? PySequence_List(o)
                                    : PySequence_Fast(o, "values of a text column must be a sequence");
    if (seq == NULL)
        return NULL;
    PyObject **items = PySequence_Fast_ITEMS(seq);
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    f->keep[f->nkeep++] = seq;
    if ((uint64_t)n != f->nrows) {
        PyErr_Format(PyExc_ValueError, "column %s has %zd values, not %llu", col, n,
                     (unsigned long long)f->nrows);
        return NULL;
    }
    udr_bytes *v = PyMem_Calloc(n > 0 ? (size_t)n : 1, sizeof *v);
    if (v == NULL)
        return (const udr_bytes *)PyErr_NoMemory();
    f->texts[f->ntexts++] = v;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *x = items[i];
        Py_ssize_t len = 0;
        if (x == Py_None || (PyFloat_Check(x) && isnan(PyFloat_AS_DOUBLE(x))))
            continue;
        if (t == UDR_CTYPE_TEXT && PyUnicode_Check(x)) {
            if ((v[i].data = PyUnicode_AsUTF8AndSize(x, &len)) == NULL)
                return NULL;
        } else if (PyBytes_Check(x)) {
            v[i].data = PyBytes_AS_STRING(x);
            len = PyBytes_GET_SIZE(x);
        } else {
            PyErr_Format(PyExc_TypeError, "column %s, row %zd: expected %s, got %.80s", col, i,
                         t == UDR_CTYPE_TEXT ? "str or None" : "bytes or None",
                         Py_TYPE(x)->tp_name);
            return NULL;
        }
        v[i].len = (size_t)len;
    }
    return v;
}

int pyudr_frame_build(PyObject *spec, pyframe *f)
{
    memset(f, 0, sizeof *f);
    PyObject *cols = PySequence_Fast(spec, "a frame is a sequence of columns");
    if (cols == NULL)
        return -1;
    Py_ssize_t nc = PySequence_Fast_GET_SIZE(cols);
    f->cols = PyMem_Calloc(nc ? (size_t)nc : 1, sizeof *f->cols);
    f->bufs = PyMem_Calloc(2 * (nc ? (size_t)nc : 1), sizeof *f->bufs);
    f->keep = PyMem_Calloc((size_t)nc + 1, sizeof *f->keep);
    f->texts = PyMem_Calloc(nc ? (size_t)nc : 1, sizeof *f->texts);
    if (f->cols == NULL || f->bufs == NULL || f->keep == NULL || f->texts == NULL) {
        Py_DECREF(cols);
        PyErr_NoMemory();
        return -1;
    }
    f->keep[f->nkeep++] = cols;          /* holds the names, arrays and lists */
    for (Py_ssize_t c = 0; c < nc; c++) {
        PyObject *name, *kind, *values, *nulls;
        if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(cols, c), "UUOO;a column is (name, kind, values, nulls)",
                              &name, &kind, &values, &nulls))
            return -1;
        udr_column *col = &f->cols[f->ncols];
        const char *k = PyUnicode_AsUTF8(kind);
        if ((col->name = PyUnicode_AsUTF8(name)) == NULL || k == NULL)
            return -1;
        if (!kind_of(k, &col->type)) {
            PyErr_Format(PyExc_ValueError, "column %s: unknown kind %s", col->name, k);
            return -1;
        }
        if (c == 0)
            f->nrows = (uint64_t)PyObject_Length(values);
        if (PyErr_Occurred())
            return -1;
        f->ncols++;
        if (col->type == UDR_CTYPE_TEXT || col->type == UDR_CTYPE_BLOB)
            col->values = frame_texts(f, values, col->type, col->name);
        else
            col->values = frame_buffer(f, values, udr_ctype_width(col->type), col->name, "values");
        if (col->values == NULL)
            return -1;
        if (nulls != Py_None &&
            (col->nulls = frame_buffer(f, nulls, 1, col->name, "the NULL mask")) == NULL)
            return -1;
    }
    return 0;
}

void pyudr_frame_release(pyframe *f)
{
    for (size_t i = 0; i < f->nbufs; i++)
        PyBuffer_Release(&f->bufs[i]);
    for (size_t i = 0; i < f->nkeep; i++)
        Py_XDECREF(f->keep[i]);
    for (size_t i = 0; i < f->ntexts; i++)
        PyMem_Free(f->texts[i]);
    PyMem_Free(f->bufs);
    PyMem_Free(f->keep);
    PyMem_Free(f->texts);
    PyMem_Free(f->cols);
    memset(f, 0, sizeof *f);
}
