"""DataFrames to UDR frames and results back to DataFrames.

A frame is what the C extension reads in place: a list of
(name, kind, values, nulls) where values is a contiguous NumPy array of the
kind's C type (or, for "text" and "blob", a sequence of str/bytes/None) and
nulls is a uint8 array (1 = NULL) or None. Numeric, boolean and time columns
are passed as arrays without a Python object per value.
"""
import datetime

import numpy as np
import pandas as pd

from _udr import InvalidInputError

_KINDS = {
    np.dtype(np.bool_): "bool",
    np.dtype(np.int8): "int8", np.dtype(np.int16): "int16",
    np.dtype(np.int32): "int32", np.dtype(np.int64): "int64",
    np.dtype(np.uint8): "uint8", np.dtype(np.uint16): "uint16",
    np.dtype(np.uint32): "uint32", np.dtype(np.uint64): "uint64",
    np.dtype(np.float32): "float32", np.dtype(np.float64): "float64",
}

_EPOCH = datetime.date(1970, 1, 1)


def _mask(m):
    """A NULL mask as uint8, or None when nothing is NULL."""
    m = np.ascontiguousarray(m, dtype=np.bool_)
    return m.view(np.uint8) if m.any() else None


def _object_column(name, values):
    """An object column: text, bytes, booleans or dates (of one kind, with NULLs)."""
    inferred = pd.api.types.infer_dtype(values, skipna=True)    # in C, no Python loop
    if inferred in ("string", "empty"):
        return name, "text", values, None
    if inferred == "bytes":
        return name, "blob", values, None
    if inferred == "boolean":
        nulls = pd.isna(values)
        return name, "bool", np.where(nulls, False, values).astype(np.bool_), _mask(nulls)
    return _object_column_slow(name, values)


def _object_column_slow(name, values):
    """The same, value by value: mixed columns, or to name what is wrong."""
    kind = None
    for v in values:
        if v is None or (isinstance(v, float) and v != v) or v is pd.NaT:
            continue
        if isinstance(v, str):
            k = "text"
        elif isinstance(v, (bytes, bytearray, memoryview)):
            k = "blob"
        elif isinstance(v, datetime.datetime):
            k = "datetime"
        elif isinstance(v, datetime.date):
            k = "date"
        else:
            raise TypeError(f"column {name!r}: values of type {type(v).__name__} are not "
                            "supported (str, bytes, datetime.date, or a NumPy dtype)")
        if kind is None:
            kind = k
        elif kind != k:
            raise TypeError(f"column {name!r} mixes {kind} and {k} values")
    if kind in (None, "text"):
        return name, "text", values, None
    if kind == "blob":
        return name, "blob", [bytes(v) if isinstance(v, (bytearray, memoryview)) else v
                              for v in values], None
    if kind == "datetime":
        return _column(name, pd.to_datetime(pd.Series(values, dtype=object)))
    nulls = np.array([not isinstance(v, datetime.date) for v in values], dtype=np.bool_)
    days = np.array([(v - _EPOCH).days if isinstance(v, datetime.date) else 0
                     for v in values], dtype=np.int32)
    return name, "date", days, _mask(nulls)


def _column(name, s):
    """One pandas Series as a frame column."""
    dtype = s.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        s = s.astype(dtype.categories.dtype if len(dtype.categories) else object)
        dtype = s.dtype
    if isinstance(dtype, pd.DatetimeTZDtype):
        ns = s.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy("datetime64[ns]")
        ints = ns.view(np.int64)
        nat = np.isnat(ns)
        return name, "timestamp_tz", np.ascontiguousarray(ints // 1000), _mask(nat)
    if pd.api.types.is_extension_array_dtype(dtype):
        arr = s.array
        if isinstance(dtype, pd.StringDtype):
            return name, "text", [None if v is pd.NA else v for v in arr], None
        if hasattr(arr, "_data") and hasattr(arr, "_mask"):       # Int64, boolean, Float64
            data = np.ascontiguousarray(arr._data)
            kind = _KINDS.get(data.dtype)
            if kind is None:
                raise TypeError(f"column {name!r}: dtype {dtype} is not supported")
            return name, kind, data, _mask(arr._mask)
        raise TypeError(f"column {name!r}: dtype {dtype} is not supported")
    values = s.to_numpy()
    if dtype.kind == "M":
        # TIMESTAMP (microseconds) unless a value has a finer part: that is
        # the type SQL and Parquet readers know best, and it reads back as
        # an array; finer values keep their nanoseconds as TIMESTAMP_NS.
        ns = np.ascontiguousarray(values.astype("datetime64[ns]").view(np.int64))
        nat = ns == np.iinfo(np.int64).min
        if ((ns % 1000 != 0) & ~nat).any():
            return name, "timestamp_ns", ns, _mask(nat)
        return name, "timestamp", np.where(nat, 0, ns // 1000), _mask(nat)
    if dtype.kind == "m":
        raise TypeError(f"column {name!r}: timedelta columns are not supported; "
                        "store them as integers (e.g. .dt.total_seconds())")
    if dtype == object:
        return _object_column(name, values)
    kind = _KINDS.get(dtype)
    if kind is None:
        raise TypeError(f"column {name!r}: dtype {dtype} is not supported")
    values = np.ascontiguousarray(values)
    nulls = _mask(np.isnan(values)) if dtype.kind == "f" else None
    return name, kind, values, nulls


def frame_of(df):
    """A DataFrame (or a dict of columns) as a frame for the C extension."""
    if isinstance(df, dict):
        df = pd.DataFrame(df)
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"expected a pandas DataFrame, not {type(df).__name__}")
    if len(df.columns) == 0:
        raise InvalidInputError("the DataFrame has no columns")
    names = [str(c) for c in df.columns]
    if len(set(names)) != len(names):
        raise InvalidInputError(f"the DataFrame has a column name twice: {names}")
    return [_column(n, df.iloc[:, i]) for i, n in enumerate(names)]


def dataframe_of(names, types, arrays):
    """A DataFrame from a result's (names, types, arrays)."""
    cols = {}
    for i, (t, a) in enumerate(zip(types, arrays)):
        if t == "TIMESTAMP WITH TIME ZONE" and a.dtype.kind == "M":
            a = pd.DatetimeIndex(a).tz_localize("UTC")
        elif t == "TIMESTAMP_NS" and a.dtype == object:
            # DuckDB's C API gives nanosecond timestamps only as text:
            # parse it back, every digit kept
            a = pd.to_datetime(pd.Series(a, dtype=object), format="%Y-%m-%d %H:%M:%S.%f",
                               errors="coerce").to_numpy("datetime64[ns]") \
                if len(a) else np.array([], dtype="datetime64[ns]")
        cols[i] = a
    df = pd.DataFrame(cols, copy=False)
    df.columns = list(names)
    return df
