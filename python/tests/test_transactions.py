"""Transactions: engine.transaction() and udr.PyTransactionManager."""
import pandas as pd
import pytest

import udr
from conftest import rows, scalar


class Boom(Exception):
    pass


def test_commit_on_exit(engine, branches):
    with engine.transaction() as tx:
        tx.write_table("a", pd.DataFrame({"x": [1, 2]}))
        tx.write_table("b", pd.DataFrame({"y": ["p"]}))
    assert sorted(engine.list_tables()) == ["a", "b"]
    assert isinstance(tx.commit_hash, str) and len(tx.commit_hash) == 64
    head = branches.log(max_count=1)[0]
    assert head["commit"] == tx.commit_hash
    assert "a" in str(head["changes"]) and "b" in str(head["changes"])
    # One commit for both tables.
    assert engine.table_versions("a")[0]["commit"] == engine.table_versions("b")[0]["commit"]


def test_rollback_on_exception(keyed, branches):
    head = branches.log(max_count=1)[0]["commit"]
    with pytest.raises(Boom):
        with keyed.transaction() as tx:
            tx.write_table("t", pd.DataFrame({"id": [9], "v": ["z"]}))
            tx.write_table("new_table", pd.DataFrame({"x": [1]}))
            raise Boom("stop")
    assert keyed.list_tables() == ["t"]
    assert rows(keyed, "SELECT id FROM t ORDER BY id") == [(1,), (2,), (3,)]
    assert [v["version"] for v in keyed.table_versions("t")] == [1]
    assert branches.log(max_count=1)[0]["commit"] == head


def test_read_your_writes_invisible_outside(keyed):
    with keyed.transaction() as tx:
        tx.query("UPDATE t SET v = 'inside' WHERE id = 1")
        tx.write_table("fresh", pd.DataFrame({"x": [1, 2, 3]}))
        assert tx.query("SELECT v FROM t WHERE id = 1").fetchall() == [("inside",)]
        assert scalar(tx.query("SELECT count(*) FROM fresh")) == 3
        # Not visible outside before the commit.
        assert rows(keyed, "SELECT v FROM t WHERE id = 1") == [("a",)]
        assert "fresh" not in keyed.list_tables()
    assert rows(keyed, "SELECT v FROM t WHERE id = 1") == [("inside",)]
    assert "fresh" in keyed.list_tables()


def test_snapshot_isolation(keyed):
    with keyed.transaction() as tx:
        assert scalar(tx.query("SELECT count(*) FROM t")) == 3
        keyed.write_table("t", pd.DataFrame({"id": [1, 2, 3, 4], "v": list("abcd")}))
        keyed.write_table("late", pd.DataFrame({"x": [1]}))
        assert scalar(keyed.query("SELECT count(*) FROM t")) == 4
        # The transaction still reads its snapshot.
        assert scalar(tx.query("SELECT count(*) FROM t")) == 3
        assert tx.query("SELECT max(id) FROM t").fetchall() == [(3,)]
    # A transaction that wrote nothing commits without conflict.
    assert scalar(keyed.query("SELECT count(*) FROM t")) == 4


def test_first_committer_wins_unkeyed(engine):
    engine.write_table("t", pd.DataFrame({"x": [0]}))
    with pytest.raises(udr.ConflictError) as e:
        with engine.transaction() as t1:
            t1.write_table("t", pd.DataFrame({"x": [1]}))
            with engine.transaction() as t2:
                t2.write_table("t", pd.DataFrame({"x": [2]}))
    assert "t" in str(e.value)
    assert e.value.code == -11
    assert rows(engine, "SELECT x FROM t") == [(2,)]
    assert [v["version"] for v in engine.table_versions("t")] == [2, 1]


def test_keyed_writers_of_different_rows_both_commit(keyed, txm):
    t1 = txm.begin()
    t2 = txm.begin()
    t1.query("UPDATE t SET v = 'one' WHERE id = 1")
    t2.query("UPDATE t SET v = 'two' WHERE id = 2")
    assert len(t1.commit()) == 64
    assert len(t2.commit()) == 64
    assert rows(keyed, "SELECT id, v FROM t ORDER BY id") == [(1, "one"), (2, "two"), (3, "c")]


def test_keyed_writers_of_one_row_conflict(keyed, txm):
    t1 = txm.begin()
    t2 = txm.begin()
    t1.query("UPDATE t SET v = 'one' WHERE id = 2")
    t2.query("UPDATE t SET v = 'two' WHERE id = 2")
    t2.write_table("side", pd.DataFrame({"x": [1]}))
    t1.commit()
    with pytest.raises(udr.ConflictError):
        t2.commit()
    assert rows(keyed, "SELECT v FROM t WHERE id = 2") == [("one",)]
    # Nothing of the failed transaction is there.
    assert "side" not in keyed.list_tables()


def test_cross_table_atomicity_on_conflict(engine):
    engine.write_table("contested", pd.DataFrame({"x": [0]}))
    with pytest.raises(udr.ConflictError):
        with engine.transaction() as t1:
            t1.write_table("brand_new", pd.DataFrame({"x": [1]}))
            t1.write_table("contested", pd.DataFrame({"x": [1]}))
            engine.write_table("contested", pd.DataFrame({"x": [2]}))  # outside, first
    assert "brand_new" not in engine.list_tables()
    assert rows(engine, "SELECT x FROM contested") == [(2,)]


def test_transaction_manager_direct(engine, txm, branches):
    tx = txm.begin()
    tx.write_table("m", pd.DataFrame({"id": [1, 2], "v": [1.5, 2.5]}), key_columns=["id"])
    tx.append_table("m", pd.DataFrame({"id": [3], "v": [3.5]}))
    assert scalar(tx.query("SELECT sum(v) FROM m")) == 7.5
    h = tx.commit(message="direct commit")
    assert isinstance(h, str) and len(h) == 64
    head = branches.log(max_count=1)[0]
    assert head["commit"] == h
    assert head["message"] == "direct commit"
    assert scalar(engine.query("SELECT sum(v) FROM m")) == 7.5
    # The key given in the transaction holds.
    with pytest.raises(udr.InvalidInputError):
        engine.append_table("m", pd.DataFrame({"id": [1], "v": [0.0]}))


def test_transaction_manager_rollback(engine, txm):
    engine.write_table("r", pd.DataFrame({"x": [1]}))
    tx = txm.begin()
    tx.drop_table("r")
    tx.write_table("s", pd.DataFrame({"x": [1]}))
    assert tx.query("SELECT count(*) FROM s").fetchone() == (1,)
    tx.rollback()
    assert engine.list_tables() == ["r"]
    assert [v["version"] for v in engine.table_versions("r")] == [1]


def test_drop_and_append_in_transaction(keyed):
    keyed.write_table("gone", pd.DataFrame({"x": [1]}))
    with keyed.transaction() as tx:
        tx.drop_table("gone")
        tx.append_table("t", pd.DataFrame({"id": [4], "v": ["d"]}))
        assert scalar(tx.query("SELECT count(*) FROM t")) == 4
    assert "gone" not in keyed.list_tables()
    assert scalar(keyed.query("SELECT count(*) FROM t")) == 4


def test_sql_writes_in_transaction(keyed):
    with keyed.transaction() as tx:
        assert tx.query("INSERT INTO t VALUES (4, 'd'), (5, 'e')").fetchall() == [(2,)]
        assert tx.query("UPDATE t SET v = upper(v) WHERE id <= 2").fetchall() == [(2,)]
        assert tx.query("DELETE FROM t WHERE id = 3").fetchall() == [(1,)]
        tx.query("CREATE TABLE audit AS SELECT 'bulk' AS action")
    assert rows(keyed, "SELECT id, v FROM t ORDER BY id") == [
        (1, "A"), (2, "B"), (4, "d"), (5, "e")]
    assert rows(keyed, "SELECT action FROM audit") == [("bulk",)]
    # One commit: one new version of t.
    assert [v["version"] for v in keyed.table_versions("t")] == [2, 1]


@pytest.mark.parametrize("isolation,fails", [("snapshot", False), ("serializable", True)])
def test_write_skew(engine, txm, isolation, fails):
    engine.write_table("a", pd.DataFrame({"x": [1]}))
    engine.write_table("b", pd.DataFrame({"x": [1]}))
    t1 = txm.begin(isolation=isolation)
    t2 = txm.begin(isolation=isolation)
    assert scalar(t1.query("SELECT CAST(sum(x) AS BIGINT) FROM a")) == 1
    t1.write_table("b", pd.DataFrame({"x": [0]}))
    assert scalar(t2.query("SELECT CAST(sum(x) AS BIGINT) FROM b")) == 1
    t2.write_table("a", pd.DataFrame({"x": [0]}))
    t1.commit()
    if fails:
        with pytest.raises(udr.ConflictError):
            t2.commit()
        assert scalar(engine.query("SELECT CAST(sum(x) AS BIGINT) FROM a")) == 1
    else:
        t2.commit()
        assert scalar(engine.query("SELECT CAST(sum(x) AS BIGINT) FROM a")) == 0
    assert scalar(engine.query("SELECT CAST(sum(x) AS BIGINT) FROM b")) == 0


def test_engine_transaction_isolation_argument(engine):
    engine.write_table("a", pd.DataFrame({"x": [1]}))
    engine.write_table("b", pd.DataFrame({"x": [1]}))
    with pytest.raises(udr.ConflictError):
        with engine.transaction(isolation="serializable") as tx:
            tx.query("SELECT * FROM a")
            tx.write_table("b", pd.DataFrame({"x": [0]}))
            engine.write_table("a", pd.DataFrame({"x": [5]}))


def test_bad_isolation(engine, txm):
    with pytest.raises(ValueError):
        txm.begin(isolation="read uncommitted-ish")
    with pytest.raises(ValueError):
        with engine.transaction(isolation="bogus"):
            pass


def test_failed_call_aborts_the_transaction(engine, txm):
    tx = txm.begin()
    tx.write_table("w", pd.DataFrame({"x": [1]}))
    with pytest.raises(udr.InvalidInputError):
        tx.query("SELEC 1")
    with pytest.raises(udr.Error) as e:
        tx.query("SELECT 1")
    assert "earlier" in str(e.value)
    with pytest.raises(udr.Error):
        tx.commit()
    tx.rollback()
    assert "w" not in engine.list_tables()


def test_transaction_on_a_branch(keyed):
    keyed.create_branch("dev")
    with keyed.transaction(branch="dev") as tx:
        tx.query("UPDATE t SET v = 'dev' WHERE id = 1")
    assert keyed.current_branch == "main"
    assert rows(keyed, "SELECT v FROM t WHERE id = 1") == [("a",)]
    assert rows(keyed, "SELECT v FROM t WHERE id = 1", branch="dev") == [("dev",)]


def test_transaction_manager_on_a_branch(keyed, txm):
    keyed.create_branch("dev")
    tx = txm.begin(branch="dev")
    tx.write_table("dev_only", pd.DataFrame({"x": [1]}))
    tx.commit()
    assert "dev_only" not in keyed.list_tables()
    assert rows(keyed, "SELECT x FROM dev_only", branch="dev") == [(1,)]


def test_transaction_on_unknown_branch(keyed, txm):
    with pytest.raises(udr.NotFoundError):
        txm.begin(branch="nosuch")


def test_ended_transaction_refuses_calls(engine, txm):
    tx = txm.begin()
    tx.write_table("a", pd.DataFrame({"x": [1]}))
    tx.commit()
    # Every failure is a udr.Error (docs/python.md), never a crash.
    with pytest.raises(udr.Error):
        tx.query("SELECT 1")
    with pytest.raises(udr.Error):
        tx.write_table("b", pd.DataFrame({"x": [1]}))
    with pytest.raises(udr.Error):
        tx.commit()
    assert engine.list_tables() == ["a"]


def test_rolled_back_transaction_refuses_calls(engine, txm):
    tx = txm.begin()
    tx.write_table("a", pd.DataFrame({"x": [1]}))
    tx.rollback()
    with pytest.raises(udr.Error):
        tx.query("SELECT 1")
    with pytest.raises(udr.Error):
        tx.commit()
    assert engine.list_tables() == []


def test_transaction_outlives_its_objects():
    # Run in a child: a use-after-free must fail this test, not the suite.
    from conftest import run_python
    p = run_python("""
import gc, tempfile, pandas as pd, udr
d = tempfile.mkdtemp() + "/repo"
tx = udr.PyTransactionManager(d, d, d).begin()
gc.collect()
tx.write_table("a", pd.DataFrame({"x": [1, 2]}))
print(tx.query("SELECT count(*) FROM a").fetchall())
print(len(tx.commit()))
""")
    assert p.returncode == 0, p.stderr[-2000:]
    assert p.stdout.split() == ["[(2,)]", "64"]


def test_sequential_transactions_reuse_a_handle_and_see_each_other(keyed):
    # A finished transaction's handle serves the next one: each must still
    # begin from the latest commit, including commits made outside.
    for i in range(30):
        with keyed.transaction() as tx:
            tx.query("UPDATE t SET id = id WHERE id = 1")          # reads and writes t
            tx.query("UPDATE t SET v = v || 'x' WHERE id = 1")
        if i % 10 == 0:
            keyed.query("UPDATE t SET v = v || 'o' WHERE id = 2")
    assert rows(keyed, "SELECT v FROM t WHERE id = 1") == [("a" + "x" * 30,)]
    assert rows(keyed, "SELECT v FROM t WHERE id = 2") == [("b" + "o" * 3,)]
    # and two at once still each have a handle of their own
    with keyed.transaction() as a, keyed.transaction() as b:
        a.query("UPDATE t SET v = 'A' WHERE id = 1")
        b.query("UPDATE t SET v = 'C' WHERE id = 3")
    assert rows(keyed, "SELECT v FROM t ORDER BY id") == [("A",), ("booo",), ("C",)]
