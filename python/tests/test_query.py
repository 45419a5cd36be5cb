"""QueryEngine: writing tables, SQL, results, TableWriter and TableReader."""
import math

import pandas as pd
import pytest

import udr
from udr_query import QueryEngine, TableReader, TableWriter
from conftest import scalar


def test_write_table_returns_versions(engine, users_df):
    assert engine.write_table("users", users_df) == 1
    assert engine.write_table("users", users_df) == 2
    assert engine.write_table("other", users_df) == 1


def test_query_to_pandas_round_trip(engine, users_df):
    engine.write_table("users", users_df)
    got = engine.query("SELECT * FROM users ORDER BY id").to_pandas()
    assert isinstance(got, pd.DataFrame)
    pd.testing.assert_frame_equal(got, users_df)


def test_fetchall_fetchone(engine, users_df):
    engine.write_table("users", users_df)
    r = engine.query("SELECT id, name FROM users ORDER BY id")
    assert r.fetchall() == [(1, "Alice"), (2, "Bob"), (3, "Charlie")]
    r = engine.query("SELECT id, name FROM users ORDER BY id DESC")
    assert r.fetchone() == (3, "Charlie")
    assert engine.query("SELECT * FROM users WHERE id > 100").fetchone() is None


def test_fetchall_value_types(engine, users_df):
    engine.write_table("users", users_df)
    row = engine.query("SELECT id, name, score FROM users WHERE id = 2").fetchone()
    assert isinstance(row, tuple)
    assert isinstance(row[0], int) and isinstance(row[1], str) and isinstance(row[2], float)


def test_columns_types_len(engine, users_df):
    engine.write_table("users", users_df)
    r = engine.query("SELECT * FROM users")
    assert list(r.columns) == ["id", "name", "score"]
    assert list(r.types) == ["BIGINT", "VARCHAR", "DOUBLE"]
    assert len(r) == 3
    assert len(engine.query("SELECT * FROM users WHERE false")) == 0


def test_empty_result_keeps_columns(engine, users_df):
    engine.write_table("users", users_df)
    df = engine.query("SELECT id, name FROM users WHERE id < 0").to_pandas()
    assert list(df.columns) == ["id", "name"]
    assert len(df) == 0


def test_query_without_tables(engine):
    r = engine.query("SELECT 40 + 2 AS answer, 'x' AS s")
    assert r.fetchall() == [(42, "x")]
    assert list(r.columns) == ["answer", "s"]


def test_join_and_aggregate(engine):
    engine.write_table("customers", pd.DataFrame({"cid": [1, 2, 3],
                                                  "region": ["eu", "us", "eu"]}))
    engine.write_table("orders", pd.DataFrame({"oid": range(6), "cid": [1, 1, 2, 3, 3, 3],
                                               "amount": [10.0, 5.0, 7.0, 1.0, 2.0, 3.0]}))
    r = engine.query("""
        SELECT c.region, count(*) AS n, sum(o.amount) AS total
        FROM orders o JOIN customers c USING (cid)
        GROUP BY c.region ORDER BY c.region""")
    assert r.fetchall() == [("eu", 5, 21.0), ("us", 1, 7.0)]


def test_multiple_statements_give_the_last_result(engine, users_df):
    engine.write_table("users", users_df)
    r = engine.query("SELECT 1; SELECT count(*) AS n FROM users")
    assert r.fetchall() == [(3,)]


def test_insert_through_query(engine, users_df):
    engine.write_table("users", users_df, key_columns=["id"])
    r = engine.query("INSERT INTO users VALUES (4, 'Dana', 60.0), (5, 'Eve', 99.0)")
    assert r.fetchall() == [(2,)]
    assert scalar(engine.query("SELECT count(*) FROM users")) == 5
    assert [v["version"] for v in engine.table_versions("users")][0] == 2


def test_update_through_query(engine, users_df):
    engine.write_table("users", users_df, key_columns=["id"])
    r = engine.query("UPDATE users SET score = score + 1 WHERE id >= 2")
    assert r.fetchall() == [(2,)]
    got = engine.query("SELECT id, score FROM users ORDER BY id").fetchall()
    assert got == [(1, 85.5), (2, 93.0), (3, 79.5)]
    # The old version is still there.
    assert scalar(engine.query('SELECT score FROM "users@1" WHERE id = 2')) == 92.0


def test_delete_through_query(engine, users_df):
    engine.write_table("users", users_df, key_columns=["id"])
    r = engine.query("DELETE FROM users WHERE name = 'Bob'")
    assert r.fetchall() == [(1,)]
    assert engine.query("SELECT id FROM users ORDER BY id").fetchall() == [(1,), (3,)]


def test_sql_writes_on_unkeyed_table(engine, users_df):
    engine.write_table("users", users_df)
    engine.query("INSERT INTO users (id, name) VALUES (9, 'Zed')")
    row = engine.query("SELECT name, score FROM users WHERE id = 9").fetchone()
    assert row[0] == "Zed" and row[1] is None
    engine.query("DELETE FROM users WHERE score IS NULL")
    assert scalar(engine.query("SELECT count(*) FROM users")) == 3


def test_create_table_as_makes_a_udr_table(engine):
    engine.query("CREATE TABLE squares AS SELECT range AS n, range * range AS sq FROM range(10)")
    assert "squares" in engine.list_tables()
    assert scalar(engine.query("SELECT CAST(sum(sq) AS BIGINT) FROM squares")) == 285


def test_insert_duplicate_key_is_refused(engine, users_df):
    engine.write_table("users", users_df, key_columns=["id"])
    with pytest.raises(udr.InvalidInputError) as e:
        engine.query("INSERT INTO users VALUES (2, 'Bobby', 1.0)")
    assert "users" in str(e.value)
    assert scalar(engine.query("SELECT count(*) FROM users")) == 3


def test_append_table(engine, users_df):
    engine.write_table("users", users_df)
    v = engine.append_table("users", pd.DataFrame({"id": [4], "name": ["Dana"],
                                                   "score": [70.0]}))
    assert v == 2
    assert engine.query("SELECT name FROM users ORDER BY id").fetchall() == [
        ("Alice",), ("Bob",), ("Charlie",), ("Dana",)]
    assert scalar(engine.query('SELECT count(*) FROM "users@1"')) == 3


def test_append_creates_a_table(engine, users_df):
    assert engine.append_table("fresh", users_df) == 1
    assert scalar(engine.query("SELECT count(*) FROM fresh")) == 3


def test_append_existing_key_is_refused(engine, users_df):
    engine.write_table("users", users_df, key_columns=["id"])
    with pytest.raises(udr.InvalidInputError) as e:
        engine.append_table("users", pd.DataFrame({"id": [3], "name": ["C2"],
                                                   "score": [1.0]}))
    assert "id=3" in str(e.value)
    assert [v["version"] for v in engine.table_versions("users")] == [1]


def test_append_takes_table_columns(engine, users_df):
    engine.write_table("users", users_df)
    with pytest.raises(udr.Error):
        engine.append_table("users", pd.DataFrame({"other": [1]}))
    assert scalar(engine.query("SELECT count(*) FROM users")) == 3


def test_drop_table(engine, users_df):
    engine.write_table("users", users_df)
    engine.write_table("keep", users_df)
    engine.drop_table("users")
    assert engine.list_tables() == ["keep"]
    with pytest.raises(udr.Error) as e:
        engine.query("SELECT * FROM users")
    assert "users" in str(e.value)
    # Its versions stay readable.
    assert scalar(engine.query('SELECT count(*) FROM "users@1"')) == 3
    versions = engine.table_versions("users")
    assert versions[0]["dropped"]
    assert not versions[-1]["dropped"]


def test_drop_unknown_table(engine):
    with pytest.raises(udr.NotFoundError) as e:
        engine.drop_table("nosuch")
    assert "nosuch" in str(e.value)


def test_list_tables(engine, users_df):
    assert engine.list_tables() == []
    engine.write_table("b", users_df)
    engine.write_table("a", users_df)
    assert sorted(engine.list_tables()) == ["a", "b"]


def test_key_columns_sort_and_stick(engine):
    df = pd.DataFrame({"id": [3, 1, 2], "v": ["c", "a", "b"]})
    engine.write_table("k", df, key_columns=["id"])
    assert engine.query("SELECT id FROM k").fetchall() == [(1,), (2,), (3,)]
    # A later write without key_columns keeps the key: a duplicate is refused.
    with pytest.raises(udr.InvalidInputError):
        engine.write_table("k", pd.DataFrame({"id": [1, 1], "v": ["x", "y"]}))
    assert [v["version"] for v in engine.table_versions("k")] == [1]


def test_duplicate_key_is_refused(engine):
    df = pd.DataFrame({"id": [1, 2, 2], "v": ["a", "b", "c"]})
    with pytest.raises(udr.InvalidInputError) as e:
        engine.write_table("dup", df, key_columns=["id"])
    msg = str(e.value)
    assert "dup" in msg and "id=2" in msg
    assert "dup" not in engine.list_tables()


def test_null_key_is_refused(engine):
    df = pd.DataFrame({"id": pd.array([1, None], dtype="Int64"), "v": ["a", "b"]})
    with pytest.raises(udr.InvalidInputError) as e:
        engine.write_table("nk", df, key_columns=["id"])
    assert "NULL" in str(e.value)
    assert "nk" not in engine.list_tables()


def test_unknown_key_column(engine, users_df):
    with pytest.raises(udr.InvalidInputError) as e:
        engine.write_table("users", users_df, key_columns=["nope"])
    assert "nope" in str(e.value)
    assert engine.list_tables() == []


def test_composite_key(engine):
    df = pd.DataFrame({"a": [2, 1, 1], "b": ["x", "y", "x"], "v": [1.0, 2.0, 3.0]})
    engine.write_table("ck", df, key_columns=["a", "b"])
    assert engine.query("SELECT a, b FROM ck").fetchall() == [(1, "x"), (1, "y"), (2, "x")]
    with pytest.raises(udr.InvalidInputError):
        engine.append_table("ck", pd.DataFrame({"a": [1], "b": ["y"], "v": [0.0]}))


def test_message_and_table_versions(engine, users_df):
    engine.write_table("users", users_df, message="load one")
    engine.write_table("users", users_df.head(2), message="load two")
    vs = engine.table_versions("users")
    assert [v["version"] for v in vs] == [2, 1]              # newest first
    assert [v["rows"] for v in vs] == [2, 3]
    assert [v["message"] for v in vs] == ["load two", "load one"]
    for v in vs:
        assert len(v["commit"]) == 64
        assert not v["dropped"]
        assert v["time"] is not None
    assert vs[0]["time"] >= vs[1]["time"]


def test_table_versions_unknown_table(engine):
    with pytest.raises(udr.NotFoundError):
        engine.table_versions("nosuch")


def test_identical_rewrite_stores_nothing_new(engine, users_df, repo):
    import pathlib
    engine.write_table("users", users_df, key_columns=["id"])
    objects = pathlib.Path(repo) / "objects"
    before = {p for p in objects.rglob("*") if p.is_file()}
    engine.write_table("users", users_df, key_columns=["id"])
    after = {p for p in objects.rglob("*") if p.is_file()}
    # At most a new table-version and commit object; no new chunk.
    new = after - before
    assert len(new) <= 2
    assert scalar(engine.query("SELECT count(*) FROM users")) == 3


def test_writer_and_reader(store, catalog, users_df):
    w = TableWriter(store, catalog)
    r = TableReader(store, catalog)
    assert w.write("people", users_df, key_columns=["id"]) == 1
    assert w.append("people", pd.DataFrame({"id": [4], "name": ["Dana"], "score": [1.5]})) == 2
    df = r.read("people")
    assert len(df) == 4
    assert list(df.columns) == ["id", "name", "score"]
    df1 = r.read("people", version=1).sort_values("id").reset_index(drop=True)
    pd.testing.assert_frame_equal(df1, users_df)
    assert len(r.versions("people")) == 2


def test_reader_unknown_table(store, catalog):
    with pytest.raises(udr.Error) as e:
        TableReader(store, catalog).read("nosuch")
    assert "nosuch" in str(e.value)


def test_engine_without_managers(repo, users_df):
    e = QueryEngine(udr.PyChunkStore(repo), udr.PyCatalog(repo))
    e.write_table("users", users_df)
    assert math.isclose(scalar(e.query("SELECT avg(score) FROM users")), 85.33333333333333)


@pytest.mark.parametrize("bad", [None, 42, [1, 2, 3], b"bytes"], ids=repr)
def test_write_table_needs_a_dataframe(engine, bad):
    with pytest.raises(TypeError):
        engine.write_table("t", bad)
    assert engine.list_tables() == []


def test_query_needs_a_str(engine):
    with pytest.raises(TypeError):
        engine.query(b"SELECT 1")


def test_strided_columns(engine):
    import numpy as np
    # A frame over a 2-D array: each column is a strided view.
    df = pd.DataFrame(np.arange(12).reshape(4, 3), columns=["a", "b", "c"])
    engine.write_table("s", df)
    assert engine.query("SELECT a, b, c FROM s ORDER BY a").fetchall() == [
        (0, 1, 2), (3, 4, 5), (6, 7, 8), (9, 10, 11)]
    every_third = pd.DataFrame({"x": np.arange(10), "y": np.arange(10) * 1.5}).iloc[::3]
    engine.write_table("s2", every_third)
    assert engine.query("SELECT x, y FROM s2 ORDER BY x").fetchall() == [
        (0, 0.0), (3, 4.5), (6, 9.0), (9, 13.5)]


def test_index_is_not_written(engine):
    df = pd.DataFrame({"x": [10, 20, 30]}, index=[7, 8, 9])
    engine.write_table("t", df)
    r = engine.query("SELECT * FROM t ORDER BY x")
    assert list(r.columns) == ["x"]
    assert r.fetchall() == [(10,), (20,), (30,)]


def test_frame_changed_after_write(engine):
    df = pd.DataFrame({"x": [1, 2, 3]})
    engine.write_table("t", df)
    df.loc[0, "x"] = 100
    assert engine.query("SELECT x FROM t ORDER BY x").fetchall() == [(1,), (2,), (3,)]


def test_duplicate_column_names_are_refused(engine):
    with pytest.raises(udr.Error) as e:
        engine.write_table("t", pd.DataFrame([[1, 2]], columns=["a", "a"]))
    assert "a" in str(e.value)
    assert engine.list_tables() == []


def test_frame_without_columns_is_refused(engine):
    with pytest.raises(udr.Error):
        engine.write_table("t", pd.DataFrame())
    assert engine.list_tables() == []


def test_text_key(engine):
    df = pd.DataFrame({"code": ["b", "a", "c"], "n": [2, 1, 3]})
    engine.write_table("codes", df, key_columns=["code"])
    assert engine.query("SELECT code FROM codes").fetchall() == [("a",), ("b",), ("c",)]
    with pytest.raises(udr.InvalidInputError) as e:
        engine.append_table("codes", pd.DataFrame({"code": ["a"], "n": [9]}))
    assert "code=a" in str(e.value)


def test_result_outlives_engine():
    from conftest import run_python
    p = run_python("""
import gc, tempfile, pandas as pd, udr
from udr_query import QueryEngine
d = tempfile.mkdtemp() + "/repo"
e = QueryEngine(udr.PyChunkStore(d), udr.PyCatalog(d))
e.write_table("t", pd.DataFrame({"x": [1, 2, 3], "s": ["a", "b", "c"]}))
r = e.query("SELECT * FROM t ORDER BY x")
del e
gc.collect()
print(r.fetchall())
print(r.to_pandas()["s"].tolist())
""")
    assert p.returncode == 0, p.stderr[-2000:]
    assert p.stdout.splitlines() == ["[(1, 'a'), (2, 'b'), (3, 'c')]", "['a', 'b', 'c']"]


def test_result_read_twice(engine, users_df):
    engine.write_table("users", users_df)
    r = engine.query("SELECT * FROM users ORDER BY id")
    a = r.to_pandas()
    b = r.to_pandas()
    pd.testing.assert_frame_equal(a, b)
    engine.write_table("users", users_df.head(1))
    # A result is what the query saw, not a live view.
    assert len(r) == 3


def test_versions_with_branch(engine, users_df):
    engine.write_table("users", users_df)
    engine.create_branch("dev")
    engine.checkout("dev")
    engine.write_table("users", users_df.head(1))
    engine.checkout("main")
    assert scalar(engine.query("SELECT count(*) FROM users", branch="dev")) == 1
    assert scalar(engine.query("SELECT count(*) FROM users", branch="dev",
                               versions={"users": 1})) == 3


def test_commit_prefix_in_sql(engine, users_df):
    engine.write_table("users", users_df)
    first = engine.table_versions("users")[0]["commit"]
    engine.write_table("users", users_df.head(1))
    assert scalar(engine.query(f'SELECT count(*) FROM "users@{first[:10]}"')) == 3
