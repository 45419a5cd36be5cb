/*
 * pyudr — what the files of the Python extension _udr share.
 *
 *   _udr.c      the module: errors, Repo (a udr_repo handle), Tx
 *   pyresult.c  Result (a udr_result) and its columns as NumPy arrays;
 *               frames: NumPy arrays in as udr_frame('name') tables
 *
 * Locking: a handle is used by one thread at a time (udr.h), but Python
 * threads release the GIL while UDR works, so each Repo and Tx carries a
 * lock of its own, taken with the GIL released (never the other way
 * round, so the two cannot deadlock). Messages are copied out of the handle
 * while the lock is held: another thread's failure cannot replace them.
 */
#ifndef PYUDR_H
#define PYUDR_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <pythread.h>

#include "udr.h"

enum { PYUDR_MSG = 1100 };

typedef struct {
    PyObject_HEAD
    udr_repo *h;
    PyThread_type_lock lock;
    uint64_t frames;          /* frame names handed out: __py_frame_N */
    PyObject *path;
    PyObject *weakrefs;       /* the udr package keeps handles by weak reference */
    PyObject *spare;          /* a handle a finished transaction left for the next */
} RepoObject;

typedef struct {
    PyObject_HEAD
    udr_result *r;
    PyObject *owner;          /* what keeps the result's handle alive */
} ResultObject;

extern PyTypeObject Result_Type;

/* Runs EXPR with the GIL released and L (a PyThread lock) held; on a
 * failure (RC < 0) copies the handle H's message into MSG. */
#define PYUDR_LOCKED(L, H, RC, EXPR, MSG)                                      \
    do {                                                                       \
        Py_BEGIN_ALLOW_THREADS                                                 \
        PyThread_acquire_lock((L), WAIT_LOCK);                                 \
        (RC) = (EXPR);                                                         \
        if ((RC) < 0)                                                          \
            snprintf((MSG), PYUDR_MSG, "%s", udr_errmsg(H));                   \
        PyThread_release_lock(L);                                              \
        Py_END_ALLOW_THREADS                                                   \
    } while (0)

/* Raises the udr.Error subclass for rc with msg; returns NULL. */
PyObject *pyudr_raise(int rc, const char *msg);
/* The same, and returns the exception instance (to add attributes). */
PyObject *pyudr_error(int rc, const char *msg);

/* A new Result owning r (NULL r: None). */
PyObject *pyudr_result_new(udr_result *r, PyObject *owner);
/* (names, types, arrays) of a result, the arrays as NumPy ones. */
PyObject *pyudr_result_arrays(const udr_result *r);

/* A frame built from [(name, kind, values, nulls), ...]. */
typedef struct pyframe {
    udr_column *cols;
    size_t ncols;
    uint64_t nrows;
    Py_buffer *bufs;          /* values and nulls held as buffers */
    size_t nbufs;
    PyObject **keep;          /* sequences of str/bytes held */
    size_t nkeep;
    udr_bytes **texts;        /* udr_bytes arrays made for them */
    size_t ntexts;
} pyframe;
int pyudr_frame_build(PyObject *spec, pyframe *f);
void pyudr_frame_release(pyframe *f);
/* NumPy's C API, imported once by the module. */
int pyudr_numpy_init(void);

#endif
