/*
 * _udr — the CPython extension under the Python module udr: a thin,
 * complete binding of libudr (include/udr.h). The Python packages udr and
 * udr_query (python/udr, python/udr_query) build the original README's API
 * on it; this file only converts arguments and results and maps errors.
 *
 *   Repo(path, create=True)   one udr_repo handle, its own lock
 *   Tx                        a transaction, on a handle of its own, so
 *                             that it runs beside other work of the Repo
 *   Result                    a materialised result (pyresult.c)
 *
 * Every call into libudr releases the GIL (PYUDR_LOCKED): a long query, a
 * write, a commit, a merge or a wait lets other Python threads run.
 */
#include "pyudr.h"

#include <dirent.h>
#include <string.h>

/* ---- errors ----------------------------------------------------------------- */

static PyObject *Error, *ConflictError, *CorruptionError, *NotFoundError, *InvalidInputError,
    *AlreadyExistsError, *StorageError;

static PyObject *error_class(int rc)
{
    switch (rc) {
    case UDR_ECONFLICT: return ConflictError;
    case UDR_ECORRUPT: return CorruptionError;
    case UDR_ENOTFOUND: return NotFoundError;
    case UDR_EINVAL: return InvalidInputError;
    case UDR_EEXIST: return AlreadyExistsError;
    case UDR_EIO: case UDR_EFULL: case UDR_EPERM: case UDR_ENOMEM: case UDR_EFORMAT:
        return StorageError;
    default: return Error;
    }
}

PyObject *pyudr_error(int rc, const char *msg)
{
    PyObject *cls = error_class(rc);
    PyObject *e = PyObject_CallFunction(cls, "s", msg && msg[0] ? msg : udr_strerror(rc));
    if (e == NULL)
        return NULL;
    PyObject *code = PyLong_FromLong(rc), *name = PyUnicode_FromString(udr_strerror(rc));
    if (code == NULL || name == NULL || PyObject_SetAttrString(e, "code", code) < 0 ||
        PyObject_SetAttrString(e, "code_name", name) < 0) {
        Py_XDECREF(code);
        Py_XDECREF(name);
        Py_DECREF(e);
        return NULL;
    }
    Py_DECREF(code);
    Py_DECREF(name);
    return e;
}

PyObject *pyudr_raise(int rc, const char *msg)
{
    PyObject *e = pyudr_error(rc, msg);
    if (e != NULL) {
        PyErr_SetObject((PyObject *)Py_TYPE(e), e);
        Py_DECREF(e);
    }
    return NULL;
}

static int parse_hash(PyObject *o, udr_hash *h)
{
    const char *s = PyUnicode_Check(o) ? PyUnicode_AsUTF8(o) : NULL;
    if (s == NULL) {
        if (!PyErr_Occurred())
            PyErr_Format(PyExc_TypeError, "a hash is a str of 64 hex digits, not %.80s",
                         Py_TYPE(o)->tp_name);
        return -1;
    }
    if (udr_hash_from_hex(s, h) != UDR_OK) {
        char msg[200];
        snprintf(msg, sizeof msg, "not a hash: '%.80s' (64 hex digits expected)", s);
        pyudr_raise(UDR_EINVAL, msg);
        return -1;
    }
    return 0;
}

static PyObject *hex_of(const udr_hash *h)
{
    char hex[UDR_HASH_HEX + 1];
    udr_hash_to_hex(h, hex);
    return PyUnicode_FromString(hex);
}

/* ---- Repo ------------------------------------------------------------------- */

static PyTypeObject Repo_Type, Tx_Type;

#define REPO_OPEN(self)                                                        \
    do {                                                                       \
        if ((self)->h == NULL) {                                               \
            pyudr_raise(UDR_EINVAL, "the repository handle is closed");       \
            return NULL;                                                       \
        }                                                                      \
    } while (0)

/* A call on the Repo's handle, the GIL released; raises on failure. */
#define RCALL(self, EXPR)                                                      \
    int rc;                                                                    \
    char msg[PYUDR_MSG];                                                       \
    PYUDR_LOCKED((self)->lock, (self)->h, rc, (EXPR), msg);                    \
    if (rc < 0)                                                                \
        return pyudr_raise(rc, msg)

/* An existing empty directory becomes a repository, as with udr init. */
static int dir_is_empty(const char *path)
{
    DIR *d = opendir(path);
    if (d == NULL)
        return 0;
    struct dirent *e;
    int empty = 1;
    while (empty && (e = readdir(d)) != NULL)
        empty = strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0;
    closedir(d);
    return empty;
}

static int repo_init(RepoObject *self, PyObject *args, PyObject *kw)
{
    static char *names[] = {"path", "create", NULL};
    PyObject *path;
    int create = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O&|p", names, PyUnicode_FSConverter, &path,
                                     &create))
        return -1;
    const char *p = PyBytes_AS_STRING(path);
    udr_repo *h = NULL;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = udr_open(p, &h);
    if ((rc == UDR_ENOTFOUND || (rc == UDR_EFORMAT && dir_is_empty(p))) && create) {
        udr_close(h);
        h = NULL;
        rc = udr_init(p, &h);
    }
    Py_END_ALLOW_THREADS
    if (rc < 0) {
        char msg[PYUDR_MSG];
        snprintf(msg, sizeof msg, "%s", h ? udr_errmsg(h) : udr_strerror(rc));
        udr_close(h);
        Py_DECREF(path);
        pyudr_raise(rc, msg);
        return -1;
    }
    if (self->lock == NULL && (self->lock = PyThread_allocate_lock()) == NULL) {
        udr_close(h);
        Py_DECREF(path);
        PyErr_NoMemory();
        return -1;
    }
    udr_close(self->h);
    self->h = h;
    Py_XSETREF(self->path, PyUnicode_DecodeFSDefault(p));
    Py_DECREF(path);
    return self->path ? 0 : -1;
}

static void repo_dealloc(RepoObject *self)
{
    if (self->weakrefs != NULL)
        PyObject_ClearWeakRefs((PyObject *)self);
    if (self->h != NULL) {
        Py_BEGIN_ALLOW_THREADS
        udr_close(self->h);
        Py_END_ALLOW_THREADS
    }
    if (self->lock)
        PyThread_free_lock(self->lock);
    Py_XDECREF(self->spare);
    Py_XDECREF(self->path);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *repo_close(RepoObject *self, PyObject *noargs)
{
    (void)noargs;
    if (self->h != NULL) {
        udr_repo *h = self->h;
        Py_BEGIN_ALLOW_THREADS
        PyThread_acquire_lock(self->lock, WAIT_LOCK);
        udr_close(h);
        PyThread_release_lock(self->lock);
        Py_END_ALLOW_THREADS
        self->h = NULL;
    }
    Py_RETURN_NONE;
}

/* objects */

static PyObject *repo_put(RepoObject *self, PyObject *arg)
{
    REPO_OPEN(self);
    Py_buffer b;
    if (PyObject_GetBuffer(arg, &b, PyBUF_SIMPLE) < 0) {
        PyErr_Format(PyExc_TypeError, "put() takes bytes, not %.80s", Py_TYPE(arg)->tp_name);
        return NULL;
    }
    if (PyUnicode_Check(arg)) {
        PyBuffer_Release(&b);
        PyErr_SetString(PyExc_TypeError, "put() takes bytes, not str (encode it first)");
        return NULL;
    }
    udr_hash h;
    int rc;
    char msg[PYUDR_MSG];
    PYUDR_LOCKED(self->lock, self->h, rc, udr_object_put(self->h, b.buf, (size_t)b.len, &h), msg);
    PyBuffer_Release(&b);
    if (rc < 0)
        return pyudr_raise(rc, msg);
    return hex_of(&h);
}

static PyObject *get_common(RepoObject *self, PyObject *arg, int verified)
{
    REPO_OPEN(self);
    udr_hash h;
    if (parse_hash(arg, &h) < 0)
        return NULL;
    void *data = NULL;
    size_t len = 0;
    RCALL(self, verified ? udr_object_get_verified(self->h, &h, &data, &len)
                         : udr_object_get(self->h, &h, &data, &len));
    PyObject *out = PyBytes_FromStringAndSize(data, (Py_ssize_t)len);
    udr_free(data);
    return out;
}

static PyObject *repo_get(RepoObject *self, PyObject *arg)
{
    return get_common(self, arg, 0);
}

static PyObject *repo_get_verified(RepoObject *self, PyObject *arg)
{
    return get_common(self, arg, 1);
}

static PyObject *repo_exists(RepoObject *self, PyObject *arg)
{
    REPO_OPEN(self);
    udr_hash h;
    if (parse_hash(arg, &h) < 0)
        return NULL;
    RCALL(self, udr_object_exists(self->h, &h));
    return PyBool_FromLong(rc);
}

static PyObject *repo_size(RepoObject *self, PyObject *arg)
{
    REPO_OPEN(self);
    udr_hash h;
    if (parse_hash(arg, &h) < 0)
        return NULL;
    uint64_t size = 0;
    RCALL(self, udr_object_size(self->h, &h, &size));
    return PyLong_FromUnsignedLongLong(size);
}

/* tables */

static PyObject *write_info(const udr_write_info *w)
{
    return Py_BuildValue("{s:K,s:K,s:K,s:K,s:K,s:K}", "version", (unsigned long long)w->version,
                         "rows", (unsigned long long)w->rows, "chunks",
                         (unsigned long long)w->chunks, "bytes", (unsigned long long)w->bytes,
                         "new_chunks", (unsigned long long)w->new_chunks, "new_bytes",
                         (unsigned long long)w->new_bytes);
}

static const char *no_key[] = {NULL};

/* key: None or a sequence of str -> a NULL-ended array (free with key_free). */
static const char **key_list(PyObject *key)
{
    if (key == NULL || key == Py_None)
        return no_key;
    PyObject *seq = PySequence_Fast(key, "key_columns must be a list of column names");
    if (seq == NULL)
        return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    const char **k = PyMem_Calloc((size_t)n + 1, sizeof *k);
    for (Py_ssize_t i = 0; k != NULL && i < n; i++) {
        PyObject *x = PySequence_Fast_GET_ITEM(seq, i);
        if (!PyUnicode_Check(x) || (k[i] = PyUnicode_AsUTF8(x)) == NULL) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_TypeError, "key_columns must be a list of str");
            PyMem_Free(k);
            k = NULL;
        }
    }
    if (k == NULL && !PyErr_Occurred())
        PyErr_NoMemory();
    Py_DECREF(seq);   /* the names live in key's own str objects */
    return k;
}

static void key_free(const char **k)
{
    if (k != NULL && k != no_key)
        PyMem_Free((void *)k);
}

/* What a write does, for repo and tx alike: src is SQL (str) or a frame. */
typedef struct write_req {
    udr_repo *h;
    udr_tx *tx;
    const char *table, *sql;
    pyframe frame;
    int has_frame, append;
    char frame_name[64];
    udr_write_opts opts;
    udr_write_info info;
    char msg[PYUDR_MSG];      /* a failed write's message */
} write_req;

static int write_run(write_req *w)
{
    char sqlbuf[128];
    const char *sql = w->sql;
    int rc;
    if (w->has_frame) {
        rc = udr_frame_register(w->h, w->frame_name, w->frame.cols, w->frame.ncols,
                                w->frame.nrows);
        if (rc < 0)
            return rc;
        snprintf(sqlbuf, sizeof sqlbuf, "SELECT * FROM udr_frame('%s')", w->frame_name);
        sql = sqlbuf;
    }
    if (w->tx != NULL)
        rc = w->append ? udr_tx_append(w->tx, w->table, sql, &w->opts, &w->info)
                       : udr_tx_write(w->tx, w->table, sql, &w->opts, &w->info);
    else
        rc = w->append ? udr_table_append(w->h, w->table, sql, &w->opts, &w->info)
                       : udr_table_write(w->h, w->table, sql, &w->opts, &w->info);
    if (w->has_frame) {
        /* unregistering clears the handle's message: keep the write's */
        if (rc < 0)
            snprintf(w->msg, sizeof w->msg, "%s", udr_errmsg(w->h));
        udr_frame_unregister(w->h, w->frame_name);
    }
    return rc;
}

/* Parses write(table, source, key=None, message=None, append=False). */
static int write_parse(PyObject *args, PyObject *kw, write_req *w, uint64_t *frames,
                       const char ***key)
{
    static char *names[] = {"table", "source", "key", "message", "append", NULL};
    PyObject *src, *keyo = Py_None;
    const char *message = NULL;
    memset(w, 0, sizeof *w);
    if (!PyArg_ParseTupleAndKeywords(args, kw, "sO|Ozp", names, &w->table, &src, &keyo,
                                     &message, &w->append))
        return -1;
    if ((*key = key_list(keyo)) == NULL)
        return -1;
    w->opts.key = (*key)[0] ? *key : NULL;
    w->opts.message = message;
    if (PyUnicode_Check(src))
        return (w->sql = PyUnicode_AsUTF8(src)) != NULL ? 0 : -1;
    if (pyudr_frame_build(src, &w->frame) < 0) {
        pyudr_frame_release(&w->frame);
        return -1;
    }
    w->has_frame = 1;
    snprintf(w->frame_name, sizeof w->frame_name, "__py_frame_%llu",
             (unsigned long long)++*frames);
    return 0;
}

static PyObject *write_finish(write_req *w, const char **key, int rc, const char *msg)
{
    if (w->has_frame)
        pyudr_frame_release(&w->frame);
    key_free(key);
    if (rc < 0)
        return pyudr_raise(rc, w->msg[0] ? w->msg : msg);
    return write_info(&w->info);
}

static PyObject *repo_write(RepoObject *self, PyObject *args, PyObject *kw)
{
    REPO_OPEN(self);
    write_req w;
    const char **key = NULL;
    if (write_parse(args, kw, &w, &self->frames, &key) < 0) {
        key_free(key);
        return NULL;
    }
    w.h = self->h;
    int rc;
    char msg[PYUDR_MSG];
    PYUDR_LOCKED(self->lock, self->h, rc, write_run(&w), msg);
    return write_finish(&w, key, rc, msg);
}

static PyObject *repo_import(RepoObject *self, PyObject *args, PyObject *kw)
{
    REPO_OPEN(self);
    static char *names[] = {"table", "path", "format", "append", NULL};
    const char *table, *path, *format = NULL;
    int append = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "ss|zp", names, &table, &path, &format, &append))
        return NULL;
    udr_write_info info;
    memset(&info, 0, sizeof info);
    RCALL(self, udr_table_import(self->h, table, path, format, append, NULL, &info));
    return write_info(&info);
}

static PyObject *repo_commit_chunks(RepoObject *self, PyObject *args)
{
    REPO_OPEN(self);
    const char *table, *message = NULL;
    unsigned long long version;
    PyObject *hashes;
    if (!PyArg_ParseTuple(args, "sKO|z", &table, &version, &hashes, &message))
        return NULL;
    if (PyUnicode_Check(hashes)) {
        PyErr_SetString(PyExc_TypeError, "chunk hashes must be a list of str, not a str");
        return NULL;
    }
    PyObject *seq = PySequence_Fast(hashes, "chunk hashes must be a list of str");
    if (seq == NULL)
        return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    udr_hash *h = PyMem_Calloc(n > 0 ? (size_t)n : 1, sizeof *h);
    if (h == NULL) {
        Py_DECREF(seq);
        return PyErr_NoMemory();
    }
    for (Py_ssize_t i = 0; i < n; i++)
        if (parse_hash(PySequence_Fast_GET_ITEM(seq, i), &h[i]) < 0) {
            PyMem_Free(h);
            Py_DECREF(seq);
            return NULL;
        }
    Py_DECREF(seq);
    udr_write_opts opts = {NULL, message, NULL};
    udr_write_info info;
    memset(&info, 0, sizeof info);
    int rc;
    char msg[PYUDR_MSG];
    PYUDR_LOCKED(self->lock, self->h, rc,
                 udr_table_commit_chunks(self->h, table, version, h, (size_t)n, &opts, &info),
                 msg);
    PyMem_Free(h);
    if (rc < 0)
        return pyudr_raise(rc, msg);
    return write_info(&info);
}

static PyObject *repo_drop(RepoObject *self, PyObject *args)
{
    REPO_OPEN(self);
    const char *table, *message = NULL;
    if (!PyArg_ParseTuple(args, "s|z", &table, &message))
        return NULL;
    RCALL(self, udr_table_drop(self->h, table, message));
    Py_RETURN_NONE;
}

static PyObject *repo_compact(RepoObject *self, PyObject *args)
{
    REPO_OPEN(self);
    const char *table;
    if (!PyArg_ParseTuple(args, "s", &table))
        return NULL;
    udr_write_info info;
    memset(&info, 0, sizeof info);
    RCALL(self, udr_table_compact(self->h, table, &info));
    return write_info(&info);
}

static PyObject *version_dict(const udr_version_info *v)
{
    return Py_BuildValue("{s:s,s:K,s:O,s:L,s:K,s:K,s:K,s:K,s:s,s:s,s:s,s:s}", "table", v->table,
                         "version", (unsigned long long)v->version, "dropped",
                         v->dropped ? Py_True : Py_False, "time_us", (long long)v->time_us,
                         "rows", (unsigned long long)v->rows, "chunks",
                         (unsigned long long)v->chunks, "bytes", (unsigned long long)v->bytes,
                         "new_bytes", (unsigned long long)v->new_bytes, "message",
                         v->message ? v->message : "", "author", v->author ? v->author : "",
                         "commit", v->commit, "content", v->content);
}

static PyObject *version_list(udr_version_info *v, size_t n)
{
    PyObject *l = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; l != NULL && i < n; i++) {
        PyObject *d = version_dict(&v[i]);
        if (d == NULL) {
            Py_CLEAR(l);
            break;
        }
        PyList_SET_ITEM(l, (Py_ssize_t)i, d);
    }
    udr_version_info_free(v, n);
    return l;
}

static PyObject *repo_tables(RepoObject *self, PyObject *noargs)
{
    (void)noargs;
    REPO_OPEN(self);
    udr_version_info *v = NULL;
    size_t n = 0;
    RCALL(self, udr_table_list(self->h, &v, &n));
    return version_list(v, n);
}

static PyObject *repo_table_log(RepoObject *self, PyObject *args)
{
    REPO_OPEN(self);
    const char *table;
    if (!PyArg_ParseTuple(args, "s", &table))
        return NULL;
    udr_version_info *v = NULL;
    size_t n = 0;
    RCALL(self, udr_table_log(self->h, table, &v, &n));
    return version_list(v, n);
}

static PyObject *str_list(char **s, size_t n)
{
    PyObject *l = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; l != NULL && i < n; i++) {
        PyObject *x = PyUnicode_FromString(s[i]);
        if (x == NULL) {
            Py_CLEAR(l);
            break;
        }
        PyList_SET_ITEM(l, (Py_ssize_t)i, x);
    }
    return l;
}

static PyObject *detail_dict(const udr_table_detail *d)
{
    PyObject *out = version_dict(&d->info);
    PyObject *cols = PyList_New((Py_ssize_t)d->ncols), *key = str_list(d->key, d->nkey);
    PyObject *chunks = PyList_New((Py_ssize_t)d->nchunks);
    PyObject *dels = PyList_New((Py_ssize_t)d->ndeletes);
    PyObject *patches = PyList_New((Py_ssize_t)d->npatches);
    if (out == NULL || cols == NULL || key == NULL || chunks == NULL || dels == NULL ||
        patches == NULL)
        goto fail;
    for (size_t i = 0; i < d->ncols; i++) {
        PyObject *c = Py_BuildValue("(ss)", d->col_names[i], d->col_types[i]);
        if (c == NULL)
            goto fail;
        PyList_SET_ITEM(cols, (Py_ssize_t)i, c);
    }
    for (size_t i = 0; i < d->nchunks; i++) {
        PyObject *c = Py_BuildValue("(sKK)", d->chunk_hash[i], (unsigned long long)d->chunk_rows[i],
                                    (unsigned long long)d->chunk_bytes[i]);
        if (c == NULL)
            goto fail;
        PyList_SET_ITEM(chunks, (Py_ssize_t)i, c);
    }
    for (size_t i = 0; i < d->ndeletes; i++) {
        PyObject *c = Py_BuildValue("(sK)", d->delete_hash[i], (unsigned long long)d->delete_rows[i]);
        if (c == NULL)
            goto fail;
        PyList_SET_ITEM(dels, (Py_ssize_t)i, c);
    }
    /* (hash, rows, [the columns it holds]) */
    for (size_t i = 0; i < d->npatches; i++) {
        PyObject *names = PyList_New(0);
        if (names == NULL)
            goto fail;
        for (size_t k = 0; k < d->ncols && k < 64; k++) {
            if (!(d->patch_cols[i] >> k & 1))
                continue;
            PyObject *n = PyUnicode_FromString(d->col_names[k]);
            if (n == NULL || PyList_Append(names, n) < 0) {
                Py_XDECREF(n);
                Py_DECREF(names);
                goto fail;
            }
            Py_DECREF(n);
        }
        PyObject *c = Py_BuildValue("(sKN)", d->patch_hash[i], (unsigned long long)d->patch_rows[i],
                                    names);
        if (c == NULL)
            goto fail;
        PyList_SET_ITEM(patches, (Py_ssize_t)i, c);
    }
    if (PyDict_SetItemString(out, "columns", cols) < 0 || PyDict_SetItemString(out, "key", key) < 0 ||
        PyDict_SetItemString(out, "chunks", chunks) < 0 ||
        PyDict_SetItemString(out, "deletes", dels) < 0 ||
        PyDict_SetItemString(out, "patches", patches) < 0)
        goto fail;
    Py_DECREF(cols);
    Py_DECREF(key);
    Py_DECREF(chunks);
    Py_DECREF(dels);
    Py_DECREF(patches);
    return out;
fail:
    Py_XDECREF(out);
    Py_XDECREF(cols);
    Py_XDECREF(key);
    Py_XDECREF(chunks);
    Py_XDECREF(dels);
    Py_XDECREF(patches);
    return NULL;
}

static PyObject *repo_table_show(RepoObject *self, PyObject *args)
{
    REPO_OPEN(self);
    const char *table, *ref = NULL;
    if (!PyArg_ParseTuple(args, "s|z", &table, &ref))
        return NULL;
    udr_table_detail *d = NULL;
    RCALL(self, udr_table_show(self->h, table, ref, &d));
    PyObject *out = detail_dict(d);
    udr_table_detail_free(d);
    return out;
}

/* queries */

/* pins: None or {table: version} -> an array (PyMem_Free it). */
static int pins_of(PyObject *o, udr_pin **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (o == NULL || o == Py_None)
        return 0;
    if (!PyDict_Check(o)) {
        PyErr_SetString(PyExc_TypeError, "versions must be a dict of table name -> version");
        return -1;
    }
    Py_ssize_t pos = 0, i = 0;
    PyObject *k, *v;
    udr_pin *p = PyMem_Calloc((size_t)PyDict_Size(o) + 1, sizeof *p);
    if (p == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    while (PyDict_Next(o, &pos, &k, &v)) {
        long long ver = PyLong_Check(v) ? PyLong_AsLongLong(v) : -1;
        if (!PyUnicode_Check(k) || (p[i].table = PyUnicode_AsUTF8(k)) == NULL || ver < 1) {
            PyMem_Free(p);
            if (!PyErr_Occurred() || PyErr_ExceptionMatches(PyExc_OverflowError)) {
                PyErr_Clear();
                pyudr_raise(UDR_EINVAL,
                            "versions maps table names (str) to version numbers (int >= 1)");
            }
            return -1;
        }
        p[i++].version = (uint64_t)ver;
    }
    *out = p;
    *n = (size_t)i;
    return 0;
}

static PyObject *repo_query(RepoObject *self, PyObject *args, PyObject *kw)
{
    REPO_OPEN(self);
    static char *names[] = {"sql", "versions", NULL};
    const char *sql;
    PyObject *pinso = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "s|O", names, &sql, &pinso))
        return NULL;
    udr_pin *pins;
    size_t npins;
    if (pins_of(pinso, &pins, &npins) < 0)
        return NULL;
    udr_result *r = NULL;
    int rc;
    char msg[PYUDR_MSG];
    PYUDR_LOCKED(self->lock, self->h, rc, udr_query(self->h, sql, pins, npins, &r), msg);
    PyMem_Free(pins);
    if (rc < 0)
        return pyudr_raise(rc, msg);
    return pyudr_result_new(r, (PyObject *)self);
}

static PyObject *repo_diff(RepoObject *self, PyObject *args, PyObject *kw)
{
    REPO_OPEN(self);
    static char *names[] = {"table", "from_ref", "to_ref", "key", "rows", NULL};
    const char *table, *from = NULL, *to = NULL;
    PyObject *keyo = Py_None;
    int rows = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "s|zzOp", names, &table, &from, &to, &keyo, &rows))
        return NULL;
    const char **key = key_list(keyo);
    if (key == NULL)
        return NULL;
    udr_diff d;
    memset(&d, 0, sizeof d);
    udr_result *r = NULL;
    int rc;
    char msg[PYUDR_MSG];
    PYUDR_LOCKED(self->lock, self->h, rc,
                 udr_table_diff(self->h, table, from, to, key[0] ? key : NULL, &d,
                                rows ? &r : NULL), msg);
    key_free(key);
    if (rc < 0)
        return pyudr_raise(rc, msg);
    PyObject *res = pyudr_result_new(r, (PyObject *)self);
    if (res == NULL)
        return NULL;
    return Py_BuildValue("{s:K,s:K,s:K,s:K,s:K,s:N}", "from_version",
                         (unsigned long long)d.from_version, "to_version",
                         (unsigned long long)d.to_version, "rows_added",
                         (unsigned long long)d.rows_added, "rows_removed",
                         (unsigned long long)d.rows_removed, "rows_modified",
                         (unsigned long long)d.rows_modified, "rows", res);
}

/* branches and tags */

static PyObject *repo_branch_create(RepoObject *self, PyObject *args)
{
    REPO_OPEN(self);
    const char *name, *from = NULL, *desc = NULL;
    if (!PyArg_ParseTuple(args, "s|zz", &name, &from, &desc))
        return NULL;
    RCALL(self, udr_branch_create(self->h, name, from, desc));
    Py_RETURN_NONE;
}

static PyObject *repo_branch_delete(RepoObject *self, PyObject *args)
{
    REPO_OPEN(self);
    const char *name;
    int force = 0;
    if (!PyArg_ParseTuple(args, "s|p", &name, &force))
        return NULL;
    RCALL(self, udr_branch_delete(self->h, name, force));
    Py_RETURN_NONE;
}

static PyObject *repo_branches(RepoObject *self, PyObject *noargs)
{
    (void)noargs;
    REPO_OPEN(self);
    udr_branch_info *v = NULL;
    size_t n = 0;
    RCALL(self, udr_branch_list(self->h, &v, &n));
    PyObject *l = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; l != NULL && i < n; i++) {
        PyObject *d = Py_BuildValue(
            "{s:s,s:s,s:L,s:s,s:O,s:O,s:n,s:z}", "name", v[i].name, "description",
            v[i].description ? v[i].description : "", "created_us", (long long)v[i].created_us,
            "commit", v[i].has_head ? v[i].head : "", "current",
            v[i].current ? Py_True : Py_False, "working", v[i].working ? Py_True : Py_False,
            "tables", (Py_ssize_t)v[i].tables, "broken", v[i].broken);
        if (d == NULL) {
            Py_CLEAR(l);
            break;
        }
        PyList_SET_ITEM(l, (Py_ssize_t)i, d);
    }
    udr_branch_info_free(v, n);
    return l;
}

static PyObject *repo_checkout(RepoObject *self, PyObject *args)
{
    REPO_OPEN(self);
    const char *name;
    if (!PyArg_ParseTuple(args, "s", &name))
        return NULL;
    RCALL(self, udr_checkout(self->h, name));
    Py_RETURN_NONE;
}

static PyObject *repo_use_branch(RepoObject *self, PyObject *args)
{
    REPO_OPEN(self);
    const char *name = NULL;
    if (!PyArg_ParseTuple(args, "z", &name))
        return NULL;
    RCALL(self, udr_use_branch(self->h, name));
    Py_RETURN_NONE;
}

static PyObject *repo_current_branch(RepoObject *self, PyObject *noargs)
{
    (void)noargs;
    REPO_OPEN(self);
    char name[512];
    Py_BEGIN_ALLOW_THREADS
    PyThread_acquire_lock(self->lock, WAIT_LOCK);
    const char *b = udr_branch_current(self->h);
    snprintf(name, sizeof name, "%s", b ? b : "main");
    PyThread_release_lock(self->lock);
    Py_END_ALLOW_THREADS
    return PyUnicode_FromString(name);
}

static PyObject *repo_tag_create(RepoObject *self, PyObject *args)
{
    REPO_OPEN(self);
    const char *name, *ref = NULL, *message = NULL;
    if (!PyArg_ParseTuple(args, "s|zz", &name, &ref, &message))
        return NULL;
    RCALL(self, udr_tag_create(self->h, name, ref, message));
    Py_RETURN_NONE;
}

static PyObject *repo_tag_delete(RepoObject *self, PyObject *args)
{
    REPO_OPEN(self);
    const char *name;
    if (!PyArg_ParseTuple(args, "s", &name))
        return NULL;
    RCALL(self, udr_tag_delete(self->h, name));
    Py_RETURN_NONE;
}

static PyObject *repo_tags(RepoObject *self, PyObject *noargs)
{
    (void)noargs;
    REPO_OPEN(self);
    udr_tag_info *v = NULL;
    size_t n = 0;
    RCALL(self, udr_tag_list(self->h, &v, &n));
    PyObject *l = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; l != NULL && i < n; i++) {
        PyObject *d = Py_BuildValue("{s:s,s:s,s:L,s:s}", "name", v[i].name, "commit",
                                    v[i].commit, "time_us", (long long)v[i].time_us, "message",
                                    v[i].message ? v[i].message : "");
        if (d == NULL) {
            Py_CLEAR(l);
            break;
        }
        PyList_SET_ITEM(l, (Py_ssize_t)i, d);
    }
    udr_tag_info_free(v, n);
    return l;
}

static PyObject *changes_list(const udr_table_change *c, size_t n)
{
    PyObject *l = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; l != NULL && i < n; i++) {
        PyObject *t = Py_BuildValue("(sKK)", c[i].table, (unsigned long long)c[i].version_a,
                                    (unsigned long long)c[i].version_b);
        if (t == NULL) {
            Py_CLEAR(l);
            break;
        }
        PyList_SET_ITEM(l, (Py_ssize_t)i, t);
    }
    return l;
}

static PyObject *repo_log(RepoObject *self, PyObject *args)
{
    REPO_OPEN(self);
    const char *ref = NULL;
    Py_ssize_t max = 0;
    if (!PyArg_ParseTuple(args, "|zn", &ref, &max))
        return NULL;
    udr_commit_info *v = NULL;
    size_t n = 0;
    RCALL(self, udr_log(self->h, ref, max > 0 ? (size_t)max : 0, &v, &n));
    PyObject *l = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; l != NULL && i < n; i++) {
        PyObject *parents = PyList_New(0);
        for (int p = 0; parents != NULL && p < v[i].nparents; p++) {
            PyObject *s = PyUnicode_FromString(v[i].parents[p]);
            if (s == NULL || PyList_Append(parents, s) < 0)
                Py_CLEAR(parents);
            Py_XDECREF(s);
        }
        PyObject *d = parents == NULL ? NULL
            : Py_BuildValue("{s:s,s:N,s:L,s:s,s:s,s:N}", "commit", v[i].hash, "parents", parents,
                            "time_us", (long long)v[i].time_us, "author",
                            v[i].author ? v[i].author : "", "message",
                            v[i].message ? v[i].message : "", "changes",
                            changes_list(v[i].changes, v[i].nchanges));
        if (d == NULL) {
            Py_CLEAR(l);
            break;
        }
        PyList_SET_ITEM(l, (Py_ssize_t)i, d);
    }
    udr_commit_info_free(v, n);
    return l;
}

static PyObject *repo_diff_refs(RepoObject *self, PyObject *args)
{
    REPO_OPEN(self);
    const char *a, *b;
    if (!PyArg_ParseTuple(args, "ss", &a, &b))
        return NULL;
    udr_table_change *c = NULL;
    size_t n = 0;
    RCALL(self, udr_diff_refs(self->h, a, b, &c, &n));
    PyObject *l = changes_list(c, n);
    udr_table_change_free(c, n);
    return l;
}

static PyObject *repo_merge(RepoObject *self, PyObject *args, PyObject *kw)
{
    REPO_OPEN(self);
    static char *names[] = {"source", "into", "strategy", "message", NULL};
    const char *source, *strategy = "fail";
    udr_merge_opts o;
    memset(&o, 0, sizeof o);
    if (!PyArg_ParseTupleAndKeywords(args, kw, "s|zsz", names, &source, &o.into, &strategy,
                                     &o.message))
        return NULL;
    if (strcmp(strategy, "fail") == 0)
        o.strategy = UDR_MERGE_FAIL;
    else if (strcmp(strategy, "ours") == 0)
        o.strategy = UDR_MERGE_OURS;
    else if (strcmp(strategy, "theirs") == 0)
        o.strategy = UDR_MERGE_THEIRS;
    else
        return pyudr_raise(UDR_EINVAL, "strategy must be 'fail', 'ours' or 'theirs'");
    udr_merge_info info;
    memset(&info, 0, sizeof info);
    int rc;
    char msg[PYUDR_MSG];
    PYUDR_LOCKED(self->lock, self->h, rc, udr_merge(self->h, source, &o, &info), msg);
    PyObject *conflicts = pyudr_result_new(info.conflict_rows, (PyObject *)self);
    info.conflict_rows = NULL;   /* the Result owns it now */
    if (conflicts == NULL)
        return NULL;
    if (rc < 0) {
        PyObject *e = pyudr_error(rc, msg);
        if (e != NULL) {
            if (PyObject_SetAttrString(e, "conflicts", conflicts) == 0)
                PyErr_SetObject((PyObject *)Py_TYPE(e), e);
            Py_DECREF(e);
        }
        Py_DECREF(conflicts);
        return NULL;
    }
    PyObject *out = Py_BuildValue("{s:O,s:O,s:s,s:s,s:n,s:n,s:K,s:N}", "up_to_date",
                         info.up_to_date ? Py_True : Py_False, "fast_forward",
                         info.fast_forward ? Py_True : Py_False, "commit", info.commit, "base",
                         info.base, "tables_taken", (Py_ssize_t)info.tables_taken,
                         "tables_merged", (Py_ssize_t)info.tables_merged, "conflicts",
                         (unsigned long long)info.conflicts, "conflict_rows", conflicts);
    udr_merge_info_clear(&info);
    return out;
}

/* the change feed and subscriptions */

/* Every batch of an iterator as dicts, the rows as (names, types, arrays). */
static PyObject *batches_of(RepoObject *self, udr_changes *it, uint64_t *position)
{
    PyObject *l = PyList_New(0);
    while (l != NULL) {
        const udr_change_batch *b = NULL;
        int rc;
        char msg[PYUDR_MSG];
        PYUDR_LOCKED(self->lock, self->h, rc, udr_changes_next(it, &b), msg);
        if (rc < 0) {
            Py_CLEAR(l);
            pyudr_raise(rc, msg);
            break;
        }
        if (b == NULL)
            break;
        PyObject *rows = pyudr_result_arrays(b->rows);
        PyObject *d = rows == NULL ? NULL
            : Py_BuildValue("{s:K,s:L,s:s,s:s,s:K,s:K,s:N}", "seq", (unsigned long long)b->seq,
                            "time_us", (long long)b->time_us, "commit", b->commit, "table",
                            b->table, "from_version", (unsigned long long)b->from_version,
                            "version", (unsigned long long)b->version, "rows", rows);
        if (d == NULL || PyList_Append(l, d) < 0)
            Py_CLEAR(l);
        Py_XDECREF(d);
    }
    *position = udr_changes_position(it);
    Py_BEGIN_ALLOW_THREADS
    PyThread_acquire_lock(self->lock, WAIT_LOCK);
    udr_changes_close(it);
    PyThread_release_lock(self->lock);
    Py_END_ALLOW_THREADS
    return l;
}

static PyObject *repo_changes(RepoObject *self, PyObject *args)
{
    REPO_OPEN(self);
    const char *table, *from = NULL, *to = NULL;
    if (!PyArg_ParseTuple(args, "s|zz", &table, &from, &to))
        return NULL;
    udr_changes *it = NULL;
    RCALL(self, udr_changes_open(self->h, table, from, to, &it));
    uint64_t pos = 0;
    PyObject *l = batches_of(self, it, &pos);
    return l ? Py_BuildValue("(NK)", l, (unsigned long long)pos) : NULL;
}

static PyObject *repo_sub_create(RepoObject *self, PyObject *args, PyObject *kw)
{
    REPO_OPEN(self);
    static char *names[] = {"name", "tables", "branch", "start", NULL};
    const char *name, *branch = NULL, *from = NULL;
    PyObject *tables;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "sO|zz", names, &name, &tables, &branch, &from))
        return NULL;
    if (PyUnicode_Check(tables)) {
        PyErr_SetString(PyExc_TypeError, "tables must be a list of table names, not a str");
        return NULL;
    }
    const char **t = key_list(tables);
    if (t == NULL)
        return NULL;
    size_t n = 0;
    while (t[n] != NULL)
        n++;
    int rc;
    char msg[PYUDR_MSG];
    PYUDR_LOCKED(self->lock, self->h, rc, udr_sub_create(self->h, name, t, n, branch, from), msg);
    key_free(t);
    if (rc < 0)
        return pyudr_raise(rc, msg);
    Py_RETURN_NONE;
}

static PyObject *repo_sub_drop(RepoObject *self, PyObject *args)
{
    REPO_OPEN(self);
    const char *name;
    if (!PyArg_ParseTuple(args, "s", &name))
        return NULL;
    RCALL(self, udr_sub_drop(self->h, name));
    Py_RETURN_NONE;
}

static PyObject *repo_subs(RepoObject *self, PyObject *noargs)
{
    (void)noargs;
    REPO_OPEN(self);
    udr_sub_info *v = NULL;
    size_t n = 0;
    RCALL(self, udr_sub_list(self->h, &v, &n));
    PyObject *l = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; l != NULL && i < n; i++) {
        PyObject *d = Py_BuildValue("{s:s,s:s,s:N,s:K,s:L,s:K}", "name", v[i].name, "branch",
                                    v[i].branch, "tables", str_list(v[i].tables, v[i].ntables),
                                    "cursor", (unsigned long long)v[i].cursor, "created_us",
                                    (long long)v[i].created_us, "pending",
                                    (unsigned long long)v[i].pending);
        if (d == NULL) {
            Py_CLEAR(l);
            break;
        }
        PyList_SET_ITEM(l, (Py_ssize_t)i, d);
    }
    udr_sub_info_free(v, n);
    return l;
}

static PyObject *repo_sub_poll(RepoObject *self, PyObject *args, PyObject *kw)
{
    REPO_OPEN(self);
    static char *names[] = {"name", "max_commits", "after", NULL};
    const char *name;
    Py_ssize_t max = 0;
    PyObject *after = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "s|nO", names, &name, &max, &after))
        return NULL;
    unsigned long long a = after == Py_None ? 0 : PyLong_AsUnsignedLongLong(after);
    if (PyErr_Occurred())
        return NULL;
    udr_changes *it = NULL;
    size_t m = max > 0 ? (size_t)max : 0;
    RCALL(self, after == Py_None ? udr_sub_poll(self->h, name, m, &it)
                                 : udr_sub_poll_after(self->h, name, a, m, &it));
    uint64_t pos = 0;
    PyObject *l = batches_of(self, it, &pos);
    return l ? Py_BuildValue("(NK)", l, (unsigned long long)pos) : NULL;
}

static PyObject *repo_sub_ack(RepoObject *self, PyObject *args)
{
    REPO_OPEN(self);
    const char *name;
    unsigned long long seq;
    if (!PyArg_ParseTuple(args, "sK", &name, &seq))
        return NULL;
    RCALL(self, udr_sub_ack(self->h, name, seq));
    Py_RETURN_NONE;
}

static PyObject *repo_log_position(RepoObject *self, PyObject *noargs)
{
    (void)noargs;
    REPO_OPEN(self);
    uint64_t pos;
    Py_BEGIN_ALLOW_THREADS
    PyThread_acquire_lock(self->lock, WAIT_LOCK);
    pos = udr_log_position(self->h);
    PyThread_release_lock(self->lock);
    Py_END_ALLOW_THREADS
    return PyLong_FromUnsignedLongLong(pos);
}

/* Waits in slices of 100 ms, so the handle's lock is free between them
   and Ctrl-C (a Python signal handler) is heard. */
static PyObject *repo_wait(RepoObject *self, PyObject *args)
{
    REPO_OPEN(self);
    unsigned long long seq;
    double timeout = -1;
    if (!PyArg_ParseTuple(args, "K|d", &seq, &timeout))
        return NULL;
    double left_ms = timeout < 0 ? -1 : timeout * 1000.0;
    for (;;) {
        int slice = left_ms < 0 || left_ms > 100 ? 100 : (int)left_ms;
        int rc;
        char msg[PYUDR_MSG];
        PYUDR_LOCKED(self->lock, self->h, rc, udr_wait(self->h, seq, slice), msg);
        if (rc < 0)
            return pyudr_raise(rc, msg);
        if (rc == 1)
            Py_RETURN_TRUE;
        if (PyErr_CheckSignals() < 0)
            return NULL;
        if (left_ms >= 0 && (left_ms -= slice) <= 0)
            Py_RETURN_FALSE;
    }
}

static PyObject *repo_tx_begin(RepoObject *self, PyObject *args, PyObject *kw);

static PyObject *repo_get_path(RepoObject *self, void *closure)
{
    (void)closure;
    return Py_NewRef(self->path ? self->path : Py_None);
}

static PyObject *repo_get_closed(RepoObject *self, void *closure)
{
    (void)closure;
    return PyBool_FromLong(self->h == NULL);
}

#define M(name, fn, flags, doc) {name, (PyCFunction)(void (*)(void))fn, flags, doc}
static PyMethodDef repo_methods[] = {
    M("close", repo_close, METH_NOARGS, "close(): closes the handle."),
    M("put", repo_put, METH_O, "put(data) -> hash: stores bytes."),
    M("get", repo_get, METH_O, "get(hash) -> bytes."),
    M("get_verified", repo_get_verified, METH_O, "get_verified(hash) -> bytes, checked."),
    M("exists", repo_exists, METH_O, "exists(hash) -> bool."),
    M("size", repo_size, METH_O, "size(hash) -> int: bytes of an object."),
    M("write", repo_write, METH_VARARGS | METH_KEYWORDS,
      "write(table, source, key=None, message=None, append=False) -> dict: a new version "
      "from SQL (str) or a frame [(name, kind, values, nulls), ...]."),
    M("import_file", repo_import, METH_VARARGS | METH_KEYWORDS,
      "import_file(table, path, format=None, append=False) -> dict."),
    M("commit_chunks", repo_commit_chunks, METH_VARARGS,
      "commit_chunks(table, version, hashes, message=None) -> dict: a version of stored objects."),
    M("drop", repo_drop, METH_VARARGS, "drop(table, message=None)."),
    M("compact", repo_compact, METH_VARARGS, "compact(table) -> dict."),
    M("tables", repo_tables, METH_NOARGS, "tables() -> list of dict: the branch's tables."),
    M("table_log", repo_table_log, METH_VARARGS, "table_log(table) -> list of dict, newest first."),
    M("table_show", repo_table_show, METH_VARARGS, "table_show(table, ref=None) -> dict."),
    M("query", repo_query, METH_VARARGS | METH_KEYWORDS,
      "query(sql, versions=None) -> Result or None."),
    M("diff", repo_diff, METH_VARARGS | METH_KEYWORDS,
      "diff(table, from_ref, to_ref, key=None, rows=True) -> dict."),
    M("branch_create", repo_branch_create, METH_VARARGS,
      "branch_create(name, from_ref=None, description=None)."),
    M("branch_delete", repo_branch_delete, METH_VARARGS, "branch_delete(name, force=False)."),
    M("branches", repo_branches, METH_NOARGS, "branches() -> list of dict."),
    M("checkout", repo_checkout, METH_VARARGS, "checkout(name): the repository's current branch."),
    M("use_branch", repo_use_branch, METH_VARARGS, "use_branch(name or None): this handle's."),
    M("current_branch", repo_current_branch, METH_NOARGS, "current_branch() -> str."),
    M("tag_create", repo_tag_create, METH_VARARGS, "tag_create(name, ref=None, message=None)."),
    M("tag_delete", repo_tag_delete, METH_VARARGS, "tag_delete(name)."),
    M("tags", repo_tags, METH_NOARGS, "tags() -> list of dict."),
    M("log", repo_log, METH_VARARGS, "log(ref=None, max=0) -> list of dict."),
    M("diff_refs", repo_diff_refs, METH_VARARGS,
      "diff_refs(a, b) -> [(table, version_a, version_b)]."),
    M("merge", repo_merge, METH_VARARGS | METH_KEYWORDS,
      "merge(source, into=None, strategy='fail', message=None) -> dict."),
    M("changes", repo_changes, METH_VARARGS, "changes(table, from, to) -> (batches, position)."),
    M("sub_create", repo_sub_create, METH_VARARGS | METH_KEYWORDS,
      "sub_create(name, tables, branch=None, start=None)."),
    M("sub_drop", repo_sub_drop, METH_VARARGS, "sub_drop(name)."),
    M("subs", repo_subs, METH_NOARGS, "subs() -> list of dict."),
    M("sub_poll", repo_sub_poll, METH_VARARGS | METH_KEYWORDS,
      "sub_poll(name, max_commits=0, after=None) -> (batches, position)."),
    M("sub_ack", repo_sub_ack, METH_VARARGS, "sub_ack(name, seq)."),
    M("log_position", repo_log_position, METH_NOARGS, "log_position() -> int."),
    M("wait", repo_wait, METH_VARARGS, "wait(seq, timeout=-1) -> bool: a record after seq."),
    M("tx_begin", repo_tx_begin, METH_VARARGS | METH_KEYWORDS,
      "tx_begin(branch=None, serializable=False) -> Tx, on a handle of its own."),
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef repo_getset[] = {
    {"path", (getter)repo_get_path, NULL, "the repository directory", NULL},
    {"closed", (getter)repo_get_closed, NULL, "whether close() was called", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject Repo_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "_udr.Repo",
    .tp_basicsize = sizeof(RepoObject),
    .tp_weaklistoffset = offsetof(RepoObject, weakrefs),
    .tp_dealloc = (destructor)repo_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Repo(path, create=True): a handle on a UDR repository.",
    .tp_methods = repo_methods,
    .tp_getset = repo_getset,
    .tp_init = (initproc)repo_init,
    .tp_new = PyType_GenericNew,
};

/* ---- Tx ---------------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    RepoObject *own;          /* a Repo of its own: the transaction's handle */
    RepoObject *parent;       /* the Repo it began from (gets own back at the end) */
    udr_tx *tx;
} TxObject;

/* A handle of its own for a transaction: the one the last transaction of
   this Repo left, or a new one (opening a handle starts a DuckDB: ~20 ms). */
static PyObject *tx_handle(RepoObject *self)
{
    PyObject *own = self->spare;
    self->spare = NULL;
    if (own != NULL && ((RepoObject *)own)->h != NULL)
        return own;
    Py_XDECREF(own);
    return PyObject_CallFunction((PyObject *)&Repo_Type, "Oi", self->path, 0);
}

/* The transaction has ended: its handle waits for the next one. */
static void tx_release(TxObject *t)
{
    if (t->parent != NULL && t->parent->spare == NULL && t->own != NULL) {
        Py_INCREF(t->own);
        t->parent->spare = (PyObject *)t->own;
    }
}

static PyObject *repo_tx_begin(RepoObject *self, PyObject *args, PyObject *kw)
{
    REPO_OPEN(self);
    static char *names[] = {"branch", "serializable", NULL};
    const char *branch = NULL;
    int serializable = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|zp", names, &branch, &serializable))
        return NULL;
    PyObject *own = tx_handle(self);
    if (own == NULL)
        return NULL;
    RepoObject *o = (RepoObject *)own;
    udr_tx *tx = NULL;
    int rc;
    char msg[PYUDR_MSG];
    PYUDR_LOCKED(o->lock, o->h, rc,
                 udr_tx_begin(o->h, branch, serializable ? UDR_SERIALIZABLE : UDR_SNAPSHOT, &tx),
                 msg);
    if (rc < 0) {
        Py_DECREF(own);
        return pyudr_raise(rc, msg);
    }
    TxObject *t = PyObject_New(TxObject, &Tx_Type);
    if (t == NULL) {
        udr_tx_rollback(tx);
        Py_DECREF(own);
        return NULL;
    }
    t->own = o;
    t->parent = (RepoObject *)Py_NewRef(self);
    t->tx = tx;
    return (PyObject *)t;
}

static void tx_dealloc(TxObject *self)
{
    if (self->tx != NULL) {
        udr_tx *tx = self->tx;
        Py_BEGIN_ALLOW_THREADS
        udr_tx_rollback(tx);
        Py_END_ALLOW_THREADS
    }
    tx_release(self);
    Py_XDECREF(self->own);
    Py_XDECREF(self->parent);
    PyObject_Free(self);
}

#define TX_OPEN(self)                                                          \
    do {                                                                       \
        if ((self)->tx == NULL) {                                              \
            pyudr_raise(UDR_EINVAL, "the transaction has ended (committed or rolled back)"); \
            return NULL;                                                       \
        }                                                                      \
    } while (0)

static PyObject *tx_query(TxObject *self, PyObject *args)
{
    TX_OPEN(self);
    const char *sql;
    if (!PyArg_ParseTuple(args, "s", &sql))
        return NULL;
    udr_result *r = NULL;
    RCALL(self->own, udr_tx_query(self->tx, sql, &r));
    return pyudr_result_new(r, (PyObject *)self->own);
}

static PyObject *tx_write(TxObject *self, PyObject *args, PyObject *kw)
{
    TX_OPEN(self);
    write_req w;
    const char **key = NULL;
    if (write_parse(args, kw, &w, &self->own->frames, &key) < 0) {
        key_free(key);
        return NULL;
    }
    w.h = self->own->h;
    w.tx = self->tx;
    int rc;
    char msg[PYUDR_MSG];
    PYUDR_LOCKED(self->own->lock, self->own->h, rc, write_run(&w), msg);
    return write_finish(&w, key, rc, msg);
}

static PyObject *tx_drop(TxObject *self, PyObject *args)
{
    TX_OPEN(self);
    const char *table;
    if (!PyArg_ParseTuple(args, "s", &table))
        return NULL;
    RCALL(self->own, udr_tx_drop(self->tx, table));
    Py_RETURN_NONE;
}

static PyObject *tx_ack(TxObject *self, PyObject *args)
{
    TX_OPEN(self);
    const char *name;
    unsigned long long seq;
    if (!PyArg_ParseTuple(args, "sK", &name, &seq))
        return NULL;
    RCALL(self->own, udr_tx_ack(self->tx, name, seq));
    Py_RETURN_NONE;
}

static PyObject *tx_commit(TxObject *self, PyObject *args)
{
    TX_OPEN(self);
    const char *message = NULL;
    if (!PyArg_ParseTuple(args, "|z", &message))
        return NULL;
    char hex[UDR_HASH_HEX + 1] = "";
    udr_tx *tx = self->tx;
    self->tx = NULL;           /* ended, whatever the outcome */
    int rc;
    char msg[PYUDR_MSG];
    PYUDR_LOCKED(self->own->lock, self->own->h, rc, udr_tx_commit(tx, message, hex), msg);
    tx_release(self);
    if (rc < 0)
        return pyudr_raise(rc, msg);
    return PyUnicode_FromString(hex);
}

static PyObject *tx_rollback(TxObject *self, PyObject *noargs)
{
    (void)noargs;
    if (self->tx != NULL) {
        udr_tx *tx = self->tx;
        self->tx = NULL;
        Py_BEGIN_ALLOW_THREADS
        PyThread_acquire_lock(self->own->lock, WAIT_LOCK);
        udr_tx_rollback(tx);
        PyThread_release_lock(self->own->lock);
        Py_END_ALLOW_THREADS
        tx_release(self);
    }
    Py_RETURN_NONE;
}

static PyObject *tx_get_active(TxObject *self, void *closure)
{
    (void)closure;
    return PyBool_FromLong(self->tx != NULL);
}

static PyMethodDef tx_methods[] = {
    M("query", tx_query, METH_VARARGS, "query(sql) -> Result: the snapshot plus own writes."),
    M("write", tx_write, METH_VARARGS | METH_KEYWORDS,
      "write(table, source, key=None, message=None, append=False) -> dict."),
    M("drop", tx_drop, METH_VARARGS, "drop(table)."),
    M("ack", tx_ack, METH_VARARGS, "ack(subscription, seq): moves the cursor at commit."),
    M("commit", tx_commit, METH_VARARGS, "commit(message=None) -> commit hash ('' if none)."),
    M("rollback", tx_rollback, METH_NOARGS, "rollback()."),
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef tx_getset[] = {
    {"active", (getter)tx_get_active, NULL, "not yet committed or rolled back", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject Tx_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "_udr.Tx",
    .tp_basicsize = sizeof(TxObject),
    .tp_dealloc = (destructor)tx_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A transaction (Repo.tx_begin).",
    .tp_methods = tx_methods,
    .tp_getset = tx_getset,
};

/* ---- the module --------------------------------------------------------------- */

static PyObject *mod_blake3(PyObject *mod, PyObject *arg)
{
    (void)mod;
    Py_buffer b;
    if (PyObject_GetBuffer(arg, &b, PyBUF_SIMPLE) < 0)
        return NULL;
    udr_hash h;
    Py_BEGIN_ALLOW_THREADS
    udr_hash_buffer(b.buf, (size_t)b.len, &h);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&b);
    return hex_of(&h);
}

static PyMethodDef mod_methods[] = {
    M("blake3", mod_blake3, METH_O, "blake3(data) -> hex: the hash UDR names objects by."),
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_udr", "The C binding of libudr (use the udr package).", -1,
    mod_methods, NULL, NULL, NULL, NULL,
};

/* An exception class _udr.NAME(base[, also]). */
static PyObject *add_error(PyObject *m, const char *name, PyObject *base, PyObject *also,
                           const char *doc)
{
    char full[64];
    snprintf(full, sizeof full, "udr.%s", name);
    PyObject *bases = also ? PyTuple_Pack(2, base, also) : PyTuple_Pack(1, base);
    if (bases == NULL)
        return NULL;
    PyObject *cls = PyErr_NewExceptionWithDoc(full, doc, bases, NULL);
    Py_DECREF(bases);
    if (cls == NULL || PyModule_AddObjectRef(m, name, cls) < 0)
        return NULL;
    return cls;
}

PyMODINIT_FUNC PyInit__udr(void);
PyMODINIT_FUNC PyInit__udr(void)
{
    if (pyudr_numpy_init() < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    if (PyType_Ready(&Repo_Type) < 0 || PyType_Ready(&Tx_Type) < 0 ||
        PyType_Ready(&Result_Type) < 0 || PyModule_AddObjectRef(m, "Repo", (PyObject *)&Repo_Type) < 0 ||
        PyModule_AddObjectRef(m, "Tx", (PyObject *)&Tx_Type) < 0 ||
        PyModule_AddObjectRef(m, "Result", (PyObject *)&Result_Type) < 0)
        goto fail;
    if ((Error = add_error(m, "Error", PyExc_Exception, NULL,
                           "A UDR failure: .code, .code_name and the library's message.")) == NULL ||
        (ConflictError = add_error(m, "ConflictError", Error, NULL,
                                   "A concurrent change or a merge conflict.")) == NULL ||
        (CorruptionError = add_error(m, "CorruptionError", Error, NULL,
                                     "Stored bytes do not match their hash.")) == NULL ||
        (NotFoundError = add_error(m, "NotFoundError", Error, PyExc_LookupError,
                                   "No such object, table, version, branch ...")) == NULL ||
        (InvalidInputError = add_error(m, "InvalidInputError", Error, PyExc_ValueError,
                                       "A bad name, SQL or value.")) == NULL ||
        (AlreadyExistsError = add_error(m, "AlreadyExistsError", Error, NULL,
                                        "Something that must not exist already does.")) == NULL ||
        (StorageError = add_error(m, "StorageError", Error, PyExc_OSError,
                                  "The disk, memory or repository format failed.")) == NULL)
        goto fail;
    if (PyModule_AddStringConstant(m, "version", udr_version()) < 0 ||
        PyModule_AddStringConstant(m, "duckdb_version", udr_duckdb_version()) < 0)
        goto fail;
    return m;
fail:
    Py_DECREF(m);
    return NULL;
}
