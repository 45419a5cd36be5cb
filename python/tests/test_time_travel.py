"""Versions, time travel in SQL, and diffs between versions."""
import datetime
import time

import pandas as pd
import pytest

import udr
from conftest import scalar


@pytest.fixture
def three_versions(engine):
    """users: v1 three rows, v2 scores +10, v3 Bob gone and Dana added (keyed)."""
    v1 = pd.DataFrame({"id": [1, 2, 3], "name": ["Alice", "Bob", "Charlie"],
                       "score": [85.5, 92.0, 78.5]})
    v2 = v1.assign(score=v1["score"] + 10)
    v3 = pd.concat([v2[v2["id"] != 2],
                    pd.DataFrame({"id": [4], "name": ["Dana"], "score": [70.0]})],
                   ignore_index=True)
    assert engine.write_table("users", v1, key_columns=["id"]) == 1
    assert engine.write_table("users", v2) == 2
    assert engine.write_table("users", v3) == 3
    return engine


def test_versions_pin(three_versions):
    e = three_versions
    assert scalar(e.query("SELECT sum(score) FROM users", versions={"users": 1})) == 256.0
    assert scalar(e.query("SELECT sum(score) FROM users", versions={"users": 2})) == 286.0
    assert scalar(e.query("SELECT count(*) FROM users", versions={"users": 3})) == 3
    # Unpinned: the latest.
    assert scalar(e.query("SELECT count(*) FROM users WHERE name = 'Dana'")) == 1


def test_pin_applies_to_one_query_only(three_versions):
    e = three_versions
    e.query("SELECT * FROM users", versions={"users": 1})
    assert scalar(e.query("SELECT max(id) FROM users")) == 4


def test_pins_of_two_tables(three_versions):
    e = three_versions
    e.write_table("bonus", pd.DataFrame({"id": [1], "extra": [1.0]}))
    e.write_table("bonus", pd.DataFrame({"id": [1], "extra": [100.0]}))
    r = e.query("SELECT u.score + b.extra FROM users u JOIN bonus b USING (id)",
                versions={"users": 1, "bonus": 1})
    assert r.fetchall() == [(86.5,)]
    r = e.query("SELECT u.score + b.extra FROM users u JOIN bonus b USING (id)",
                versions={"users": 2})
    assert r.fetchall() == [(195.5,)]


def test_version_names_in_sql(three_versions):
    e = three_versions
    assert scalar(e.query('SELECT score FROM "users@1" WHERE id = 1')) == 85.5
    assert scalar(e.query('SELECT score FROM "users@2" WHERE id = 1')) == 95.5
    r = e.query('SELECT a.id, b.score - a.score AS delta FROM "users@1" a '
                'JOIN "users@3" b USING (id) ORDER BY a.id')
    assert r.fetchall() == [(1, 10.0), (3, 10.0)]


def test_branch_name_in_sql(three_versions):
    assert scalar(three_versions.query('SELECT count(*) FROM "users@main"')) == 3


def test_unknown_version_in_sql(three_versions):
    with pytest.raises(udr.Error) as e:
        three_versions.query('SELECT * FROM "users@9"')
    assert "users" in str(e.value) and "9" in str(e.value)


def test_unknown_pinned_version(three_versions):
    with pytest.raises(udr.Error) as e:
        three_versions.query("SELECT * FROM users", versions={"users": 42})
    assert "42" in str(e.value)


def test_pin_of_unknown_table(three_versions):
    with pytest.raises(udr.Error) as e:
        three_versions.query("SELECT * FROM nosuch", versions={"nosuch": 1})
    assert "nosuch" in str(e.value)


def _iso(t):
    return t.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_instant_in_sql(engine):
    engine.write_table("t", pd.DataFrame({"v": [1]}))
    time.sleep(1.05)
    between = datetime.datetime.now(datetime.timezone.utc)
    time.sleep(1.05)
    engine.write_table("t", pd.DataFrame({"v": [2]}))
    assert scalar(engine.query(f'SELECT v FROM "t@{_iso(between)}"')) == 1
    later = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=1)
    assert scalar(engine.query(f'SELECT v FROM "t@{_iso(later)}"')) == 2
    long_ago = datetime.datetime(2001, 1, 1, tzinfo=datetime.timezone.utc)
    with pytest.raises(udr.Error):
        engine.query(f'SELECT v FROM "t@{_iso(long_ago)}"')


def test_table_versions(three_versions):
    vs = three_versions.table_versions("users")
    assert [v["version"] for v in vs] == [3, 2, 1]
    assert [v["rows"] for v in vs] == [3, 3, 3]
    for key in ("version", "rows", "commit", "time", "message", "dropped"):
        assert key in vs[0]
    assert len({v["commit"] for v in vs}) == 3


def test_diff_with_key(engine, users_df):
    engine.write_table("users", users_df)
    engine.write_table("users", users_df.assign(score=users_df["score"] + 10))
    d = engine.diff_versions("users", 1, 2, key_columns=["id"])
    assert (d["rows_added"], d["rows_removed"], d["rows_modified"]) == (0, 0, 3)
    assert (d["from_version"], d["to_version"]) == (1, 2)
    rows = d["rows"]
    assert isinstance(rows, pd.DataFrame)
    assert list(rows.columns) == ["change", "id", "name", "score"]
    assert sorted(rows["change"]) == ["after"] * 3 + ["before"] * 3
    after = rows[rows["change"] == "after"].sort_values("id")
    assert after["score"].tolist() == [95.5, 102.0, 88.5]


def test_diff_without_key_compares_whole_rows(engine, users_df):
    engine.write_table("users", users_df)
    engine.write_table("users", users_df.assign(score=users_df["score"] + 10))
    d = engine.diff_versions("users", 1, 2)
    assert (d["rows_added"], d["rows_removed"], d["rows_modified"]) == (3, 3, 0)
    assert sorted(d["rows"]["change"]) == ["added"] * 3 + ["removed"] * 3


def test_diff_uses_the_tables_key(three_versions):
    d = three_versions.diff_versions("users", 2, 3)
    assert (d["rows_added"], d["rows_removed"], d["rows_modified"]) == (1, 1, 0)
    rows = d["rows"]
    assert rows[rows["change"] == "added"]["name"].tolist() == ["Dana"]
    assert rows[rows["change"] == "removed"]["name"].tolist() == ["Bob"]


def test_diff_of_equal_versions(engine, users_df):
    engine.write_table("users", users_df, key_columns=["id"])
    engine.write_table("users", users_df)
    d = engine.diff_versions("users", 1, 2)
    assert (d["rows_added"], d["rows_removed"], d["rows_modified"]) == (0, 0, 0)
    assert len(d["rows"]) == 0


def test_diff_backwards(three_versions):
    d = three_versions.diff_versions("users", 3, 1)
    assert (d["rows_added"], d["rows_removed"], d["rows_modified"]) == (1, 1, 2)
    assert (d["from_version"], d["to_version"]) == (3, 1)


def test_diff_unknown_version(three_versions):
    with pytest.raises(udr.NotFoundError):
        three_versions.diff_versions("users", 1, 7)
    with pytest.raises(udr.NotFoundError):
        three_versions.diff_versions("nosuch", 1, 2)


def test_dropped_table_history_stays(three_versions):
    e = three_versions
    e.drop_table("users")
    assert "users" not in e.list_tables()
    assert scalar(e.query('SELECT count(*) FROM "users@2"')) == 3
    assert e.table_versions("users")[0]["dropped"]
