"""Every row of docs/python.md's Types table, both ways."""
import datetime

import numpy as np
import pandas as pd
import pytest

import udr
from conftest import scalar

NUMERIC = [
    ("int8", "TINYINT"), ("int16", "SMALLINT"), ("int32", "INTEGER"), ("int64", "BIGINT"),
    ("uint8", "UTINYINT"), ("uint16", "USMALLINT"), ("uint32", "UINTEGER"),
    ("uint64", "UBIGINT"), ("float32", "FLOAT"), ("float64", "DOUBLE"),
]


def _extremes(dtype):
    dt = np.dtype(dtype)
    if dt.kind in "iu":
        info = np.iinfo(dt)
        return np.array([info.min, 0, 1, info.max], dtype=dt)
    info = np.finfo(dt)
    return np.array([info.min, -0.5, 0.1, info.max, np.inf], dtype=dt)


def _write_read(engine, df, name="t", order="k"):
    engine.write_table(name, df)
    return engine.query(f"SELECT * FROM {name} ORDER BY {order}")


@pytest.mark.parametrize("dtype,sqltype", NUMERIC)
def test_numeric_round_trip(engine, dtype, sqltype):
    values = _extremes(dtype)
    df = pd.DataFrame({"k": np.arange(len(values)), "x": values})
    r = _write_read(engine, df)
    assert list(r.types) == ["BIGINT", sqltype]
    got = r.to_pandas()
    assert got["x"].dtype == np.dtype(dtype)
    np.testing.assert_array_equal(got["x"].to_numpy(), values)


def test_uint64_above_int64(engine):
    big = np.array([2**63 + 5, 2**64 - 1], dtype=np.uint64)
    engine.write_table("u", pd.DataFrame({"k": [0, 1], "x": big}))
    assert engine.query("SELECT x FROM u ORDER BY k").fetchall() == [(2**63 + 5,), (2**64 - 1,)]


def test_bool_round_trip(engine):
    df = pd.DataFrame({"k": [0, 1, 2], "b": np.array([True, False, True])})
    r = _write_read(engine, df)
    assert list(r.types) == ["BIGINT", "BOOLEAN"]
    got = r.to_pandas()
    assert got["b"].dtype == np.dtype(bool)
    assert got["b"].tolist() == [True, False, True]
    assert scalar(engine.query("SELECT count(*) FROM t WHERE b")) == 2


def test_integers_with_nulls_come_back_as_float_nan(engine):
    df = engine.query("SELECT * FROM (VALUES (1, 10), (2, NULL), (3, 30)) v(k, x) ORDER BY k")
    got = df.to_pandas()
    assert got["x"].dtype == np.float64
    assert got["x"].iloc[0] == 10.0 and np.isnan(got["x"].iloc[1]) and got["x"].iloc[2] == 30.0
    assert got["k"].dtype == np.int32


def test_nan_is_null(engine):
    df = pd.DataFrame({"k": [0, 1, 2], "f": [1.0, np.nan, 3.0],
                       "g": np.array([np.nan, 2.5, np.nan], dtype=np.float32)})
    engine.write_table("t", df)
    assert scalar(engine.query("SELECT count(*) FROM t WHERE f IS NULL")) == 1
    assert scalar(engine.query("SELECT count(*) FROM t WHERE g IS NULL")) == 2
    assert scalar(engine.query("SELECT avg(f) FROM t")) == 2.0
    got = engine.query("SELECT * FROM t ORDER BY k").to_pandas()
    assert got["f"].dtype == np.float64 and got["g"].dtype == np.float32
    assert np.isnan(got["f"].iloc[1]) and np.isnan(got["g"].iloc[0])
    assert engine.query("SELECT f FROM t ORDER BY k").fetchall()[1] == (None,)


def test_bool_with_nulls_comes_back_as_object(engine):
    df = pd.DataFrame({"k": [0, 1, 2], "b": pd.array([True, None, False], dtype="boolean")})
    engine.write_table("t", df)
    assert scalar(engine.query("SELECT count(*) FROM t WHERE b IS NULL")) == 1
    r = engine.query("SELECT b FROM t ORDER BY k")
    assert list(r.types) == ["BOOLEAN"]
    got = r.to_pandas()["b"]
    assert got.dtype == object
    assert got.tolist() == [True, None, False]


def test_nullable_int64_without_missing(engine):
    df = pd.DataFrame({"k": [0, 1, 2], "x": pd.array([5, -6, 7], dtype="Int64")})
    r = _write_read(engine, df)
    assert list(r.types) == ["BIGINT", "BIGINT"]
    got = r.to_pandas()["x"]
    assert got.dtype == np.int64
    assert got.tolist() == [5, -6, 7]


def test_nullable_int64_with_missing(engine):
    df = pd.DataFrame({"k": [0, 1, 2], "x": pd.array([5, None, 7], dtype="Int64")})
    engine.write_table("t", df)
    assert scalar(engine.query("SELECT count(*) FROM t WHERE x IS NULL")) == 1
    assert scalar(engine.query("SELECT CAST(sum(x) AS BIGINT) FROM t")) == 12
    got = engine.query("SELECT x FROM t ORDER BY k").to_pandas()["x"]
    assert got.dtype == np.float64
    assert got.iloc[0] == 5.0 and np.isnan(got.iloc[1]) and got.iloc[2] == 7.0


@pytest.mark.parametrize("dtype,sqltype", [("Int8", "TINYINT"), ("Int32", "INTEGER"),
                                           ("UInt16", "USMALLINT"), ("Float32", "FLOAT"),
                                           ("Float64", "DOUBLE")])
def test_masked_dtypes_map_to_their_sql_type(engine, dtype, sqltype):
    df = pd.DataFrame({"k": [0, 1], "x": pd.array([1, None], dtype=dtype)})
    engine.write_table("t", df)
    r = engine.query("SELECT x FROM t ORDER BY k")
    assert list(r.types) == [sqltype]
    assert r.fetchall() == [(1,), (None,)]


def test_timestamp_microseconds_with_nat(engine):
    ts = pd.to_datetime(["2024-01-02 03:04:05.123456", None, "1969-07-20 20:17:40"])
    df = pd.DataFrame({"k": [0, 1, 2], "ts": ts})
    r = _write_read(engine, df)
    assert list(r.types)[1] == "TIMESTAMP"
    got = r.to_pandas()["ts"]
    assert got.dtype == np.dtype("datetime64[ns]")
    pd.testing.assert_series_equal(got, df["ts"])
    assert scalar(engine.query("SELECT count(*) FROM t WHERE ts IS NULL")) == 1
    assert scalar(engine.query("SELECT epoch_us(ts) FROM t WHERE k = 0")) == 1704164645123456


def test_timestamp_nanoseconds_are_kept_exactly(engine):
    ts = pd.to_datetime(["2024-01-02 03:04:05.123456789", None, "2024-01-02"])
    df = pd.DataFrame({"k": [0, 1, 2], "ts": ts})
    engine.write_table("t", df)
    assert scalar(engine.query("SELECT typeof(ts) FROM t LIMIT 1")) == "TIMESTAMP_NS"
    assert scalar(engine.query("SELECT epoch_ns(ts) FROM t WHERE k = 0")) == \
        1704164645123456789
    assert scalar(engine.query("SELECT count(*) FROM t WHERE ts IS NULL")) == 1
    got = engine.query("SELECT ts FROM t ORDER BY k").to_pandas()["ts"]
    assert got.dtype == np.dtype("datetime64[ns]")
    pd.testing.assert_series_equal(got, df["ts"])
    assert got.iloc[0].value == 1704164645123456789


def test_timestamp_tz_comes_back_utc(engine):
    ts = pd.to_datetime(["2024-06-01 12:00:00.123456", None, "2000-01-01 00:00:00"]) \
        .tz_localize("Europe/Paris")
    df = pd.DataFrame({"k": [0, 1, 2], "ts": ts})
    engine.write_table("t", df)
    got = engine.query("SELECT ts FROM t ORDER BY k").to_pandas()["ts"]
    assert str(got.dtype) == "datetime64[ns, UTC]"
    expected = df["ts"].dt.tz_convert("UTC")
    pd.testing.assert_series_equal(got, expected)
    # The instant is kept: 12:00 in Paris (summer) is 10:00 UTC.
    us = engine.query("SELECT epoch_us(ts) FROM t WHERE k = 0").fetchone()[0]
    assert us == 1717236000123456


def test_strings_unicode_empty_and_missing(engine):
    values = ["héllo", "日本語", "😀 emoji", "", None, np.nan, "tab\tnl\n'\"", "x" * 10000]
    df = pd.DataFrame({"k": range(len(values)), "s": values})
    r = _write_read(engine, df)
    assert list(r.types)[1] == "VARCHAR"
    got = r.to_pandas()["s"]
    assert got.dtype == object
    assert got.tolist() == ["héllo", "日本語", "😀 emoji", "", None, None, "tab\tnl\n'\"",
                            "x" * 10000]
    assert scalar(engine.query("SELECT count(*) FROM t WHERE s IS NULL")) == 2
    assert scalar(engine.query("SELECT count(*) FROM t WHERE s = ''")) == 1
    assert scalar(engine.query("SELECT length(s) FROM t WHERE k = 2")) == 7
    assert scalar(engine.query("SELECT k FROM t WHERE s = '日本語'")) == 1


def test_bytes_round_trip(engine):
    values = [b"\x00\x01\xff", b"", None, bytes(range(256))]
    df = pd.DataFrame({"k": range(4), "blob": values})
    r = _write_read(engine, df)
    assert list(r.types)[1] == "BLOB"
    got = r.to_pandas()["blob"]
    assert got.dtype == object
    assert got.tolist() == values
    assert scalar(engine.query("SELECT octet_length(blob) FROM t WHERE k = 3")) == 256


def test_dates_come_back_as_datetime64(engine):
    df = pd.DataFrame({"k": [0, 1, 2], "d": [datetime.date(2024, 2, 29), None,
                                             datetime.date(1900, 1, 1)]})
    r = _write_read(engine, df)
    assert list(r.types)[1] == "DATE"
    got = r.to_pandas()["d"]
    assert got.dtype == np.dtype("datetime64[ns]")
    assert got.iloc[0] == pd.Timestamp("2024-02-29")
    assert pd.isna(got.iloc[1])
    assert got.iloc[2] == pd.Timestamp("1900-01-01")
    assert scalar(engine.query("SELECT count(*) FROM t WHERE d = DATE '2024-02-29'")) == 1


def test_category_of_strings(engine):
    df = pd.DataFrame({"k": range(4), "c": pd.Categorical(["a", "b", "a", None])})
    r = _write_read(engine, df)
    assert list(r.types)[1] == "VARCHAR"
    got = r.to_pandas()["c"]
    assert got.dtype == object
    assert got.tolist() == ["a", "b", "a", None]


def test_category_of_integers(engine):
    df = pd.DataFrame({"k": range(3), "c": pd.Categorical([10, 20, 10])})
    r = _write_read(engine, df)
    got = r.to_pandas()["c"]
    assert got.dtype == np.int64
    assert got.tolist() == [10, 20, 10]
    assert scalar(engine.query("SELECT CAST(sum(c) AS BIGINT) FROM t")) == 40


def test_zero_row_frame(engine):
    df = pd.DataFrame({"a": np.array([], dtype=np.int64), "b": np.array([], dtype=np.float64),
                       "ts": np.array([], dtype="datetime64[ns]")})
    assert engine.write_table("empty", df) == 1
    r = engine.query("SELECT * FROM empty")
    assert len(r) == 0
    assert list(r.columns) == ["a", "b", "ts"]
    assert list(r.types) == ["BIGINT", "DOUBLE", "TIMESTAMP"]
    got = r.to_pandas()
    assert len(got) == 0
    assert list(got.dtypes) == [np.dtype(np.int64), np.dtype(np.float64),
                                np.dtype("datetime64[ns]")]


def test_odd_column_names(engine):
    df = pd.DataFrame({"with space": [1], "naïve": ["x"], "CamelCase": [2.0]})
    engine.write_table("t", df)
    got = engine.query("SELECT * FROM t").to_pandas()
    assert list(got.columns) == ["with space", "naïve", "CamelCase"]
    assert scalar(engine.query('SELECT "with space" FROM t')) == 1


@pytest.mark.parametrize("column", [
    np.array([1 + 2j, 3j], dtype=np.complex128),
    [{"a": 1}, {"b": 2}],
    ["text", 5],
    [object(), object()],
], ids=["complex", "dicts", "str-and-int", "objects"])
def test_unsupported_dtype_is_a_type_error_naming_the_column(engine, column):
    df = pd.DataFrame({"ok": [1, 2], "weird_col": column})
    with pytest.raises(TypeError) as e:
        engine.write_table("t", df)
    assert "weird_col" in str(e.value)
    assert engine.list_tables() == []


def test_sql_decimal_is_float64(engine):
    r = engine.query("SELECT CAST(1.25 AS DECIMAL(10,2)) AS d, CAST(-3.5 AS DECIMAL(38,5)) AS e")
    assert list(r.types) == ["DECIMAL(10,2)", "DECIMAL(38,5)"]
    got = r.to_pandas()
    assert got["d"].dtype == np.float64 and got["d"].iloc[0] == 1.25
    assert got["e"].dtype == np.float64 and got["e"].iloc[0] == -3.5


def test_sql_timestamp_and_date_are_datetime64(engine):
    got = engine.query("SELECT TIMESTAMP '2024-01-02 03:04:05.678901' AS ts, "
                       "DATE '2024-02-29' AS d, CAST(NULL AS TIMESTAMP) AS n").to_pandas()
    for col in ("ts", "d", "n"):
        assert got[col].dtype == np.dtype("datetime64[ns]")
    assert got["ts"].iloc[0] == pd.Timestamp("2024-01-02 03:04:05.678901")
    assert got["d"].iloc[0] == pd.Timestamp("2024-02-29")
    assert pd.isna(got["n"].iloc[0])


def test_other_sql_types_are_strings(engine):
    got = engine.query("SELECT TIME '12:34:56' AS t, INTERVAL 3 DAY AS i, [1, 2, 3] AS l, "
                       "{'a': 1} AS s").to_pandas()
    for col in ("t", "i", "l", "s"):
        assert got[col].dtype == object
        assert isinstance(got[col].iloc[0], str), col
    assert got["t"].iloc[0] == "12:34:56"
    assert got["i"].iloc[0] == "3 days"
    assert got["l"].iloc[0] == "[1, 2, 3]"
    assert got["s"].iloc[0] == "{'a': 1}"


UUID = "4b4a1c8e-5f0e-4a0e-9c1a-1a2b3c4d5e6f"


def test_uuid_is_its_text(engine):
    # An "other SQL type": its text, not an empty string.
    got = engine.query(f"SELECT '{UUID}'::UUID AS u").to_pandas()
    assert got["u"].dtype == object
    assert got["u"].iloc[0] == UUID
    assert engine.query(f"SELECT '{UUID}'::UUID AS u").fetchone() == (UUID,)


def test_uuid_then_blob_does_not_crash(repo):
    # Run in a child: a crash must fail this test, not kill the suite.
    from conftest import run_python
    p = run_python(f"""
import udr
from udr_query import QueryEngine
e = QueryEngine(udr.PyChunkStore({repo!r}), udr.PyCatalog({repo!r}))
r = e.query("SELECT '{UUID}'::UUID AS u, 'x'::BLOB AS b")
print(r.fetchall())
print(r.to_pandas().shape)
""")
    assert p.returncode == 0, f"exit {p.returncode}: {p.stderr[-2000:]}"
    assert "(1, 2)" in p.stdout


def test_fetchall_gives_python_values(engine):
    row = engine.query("SELECT 1::TINYINT, 2.5::DOUBLE, 'x', true, NULL::INTEGER, "
                       "'\\x01'::BLOB").fetchone()
    assert row[:5] == (1, 2.5, "x", True, None)
    assert isinstance(row[3], bool)
    assert row[5] == b"\x01"


def test_200k_rows_round_trip(engine):
    n = 200_000
    rng = np.random.default_rng(7)
    df = pd.DataFrame({
        "id": np.arange(n, dtype=np.int64),
        "i32": rng.integers(-2**31, 2**31 - 1, n, dtype=np.int32),
        "u8": rng.integers(0, 255, n, dtype=np.uint8),
        "f": rng.standard_normal(n),
        "b": rng.integers(0, 2, n).astype(bool),
        "s": ["s" + str(v) for v in rng.integers(0, 1_000_000, n)],
        "ts": pd.to_datetime(rng.integers(0, 2**50, n), unit="us"),
        "ts_ns": pd.to_datetime(rng.integers(0, 2**60, n), unit="ns"),
    })
    assert engine.write_table("big", df, key_columns=["id"]) == 1
    got = engine.query("SELECT * FROM big ORDER BY id").to_pandas()
    pd.testing.assert_frame_equal(got, df)
    assert got.equals(df)
    assert scalar(engine.query("SELECT count(DISTINCT id) FROM big")) == n


def test_integer_sum_is_an_integer(engine):
    # sum() of an integer column is HUGEINT in DuckDB: an integer, not text.
    engine.write_table("t", pd.DataFrame({"x": [1, 2, 3]}))
    value = engine.query("SELECT sum(x) AS s FROM t").fetchone()[0]
    assert value == 6 and isinstance(value, int)
    got = engine.query("SELECT sum(x) AS s FROM t").to_pandas()["s"]
    assert got.iloc[0] == 6
