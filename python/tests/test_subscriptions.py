"""The change feed and subscriptions (docs/changelog.md)."""
import threading
import time

import pandas as pd
import pytest

import udr
from conftest import run_cli, subprocess_env

EXPECTED_FEED = [
    (1, "insert", 1, "a"), (1, "insert", 2, "b"), (1, "insert", 3, "c"),
    (2, "update_before", 2, "b"), (2, "update_after", 2, "B"),
    (3, "delete", 3, "c"),
    (4, "insert", 4, "d"),
]


@pytest.fixture
def feed(engine):
    """t (keyed): v1 insert 1..3, v2 update 2, v3 delete 3, v4 insert 4."""
    engine.write_table("t", pd.DataFrame({"id": [1, 2, 3], "v": ["a", "b", "c"]}),
                       key_columns=["id"])
    engine.query("UPDATE t SET v = 'B' WHERE id = 2")
    engine.query("DELETE FROM t WHERE id = 3")
    engine.query("INSERT INTO t VALUES (4, 'd')")
    return engine


def feed_rows(df):
    return [(int(ver), op, int(i), v)
            for ver, op, i, v in zip(df["_version"], df["_op"], df["id"], df["v"])]


def sub_info(engine, name):
    found = [s for s in engine.subscriptions() if s["name"] == name]
    assert len(found) == 1, engine.subscriptions()
    return found[0]


# ---- changes() ----------------------------------------------------------------

def test_changes_columns(feed):
    df = feed.changes("t")
    assert isinstance(df, pd.DataFrame)
    assert list(df.columns) == ["_seq", "_version", "_time", "_op", "id", "v"]


def test_changes_rows(feed):
    df = feed.changes("t")
    assert feed_rows(df) == EXPECTED_FEED
    seqs = df["_seq"].tolist()
    assert seqs == sorted(seqs)
    assert len(set(seqs)) == 4


def test_changes_range(feed):
    assert feed_rows(feed.changes("t", from_=2, to=3)) == EXPECTED_FEED[3:6]
    assert feed_rows(feed.changes("t", from_="4")) == EXPECTED_FEED[6:]
    assert feed_rows(feed.changes("t", to="1")) == EXPECTED_FEED[:3]


def test_changes_of_unkeyed_update(engine):
    engine.write_table("u", pd.DataFrame({"x": [1, 2]}))
    engine.query("UPDATE u SET x = 20 WHERE x = 2")
    df = engine.changes("u", from_=2)
    assert sorted(zip(df["_op"], df["x"])) == [("delete", 2), ("insert", 20)]


def test_changes_of_drop(feed):
    feed.drop_table("t")
    df = feed.changes("t", from_=5)
    assert sorted(df["_op"]) == ["delete"] * 3
    assert sorted(df["id"]) == [1, 2, 4]


def test_changes_unknown_table(engine):
    with pytest.raises(udr.NotFoundError) as e:
        engine.changes("nosuch")
    assert "nosuch" in str(e.value)


def test_changes_in_sql(feed):
    r = feed.query("SELECT count(*) FROM udr_changes('t', 2, NULL) WHERE _op LIKE 'update%'")
    assert r.fetchall() == [(2,)]


# ---- subscriptions ---------------------------------------------------------------

def test_subscribe_from_beginning_replays_history(feed):
    sub = feed.subscribe("s", ["t"])
    batches = sub.poll()
    assert len(batches) == 4
    assert [b.table for b in batches] == ["t"] * 4
    assert [(b.from_version, b.version) for b in batches] == [(0, 1), (1, 2), (2, 3), (3, 4)]
    seqs = [b.seq for b in batches]
    assert seqs == sorted(seqs) and len(set(seqs)) == 4
    for b in batches:
        assert isinstance(b.rows, pd.DataFrame)
        assert list(b.rows.columns) == ["_op", "id", "v"]
        assert isinstance(b.commit, str) and len(b.commit) == 64
        assert b.time is not None
    assert batches[1].rows["_op"].tolist() == ["update_before", "update_after"]
    assert batches[1].rows["v"].tolist() == ["b", "B"]
    assert batches[2].rows.values.tolist() == [["delete", 3, "c"]]
    assert sub.position >= seqs[-1]
    # The same rows as the batch feed.
    assert seqs == sorted(set(feed.changes("t")["_seq"]))


def test_poll_max_commits(feed):
    sub = feed.subscribe("s", ["t"])
    first = sub.poll(max_commits=2)
    assert [b.version for b in first] == [1, 2]
    assert sub.position == first[-1].seq


def test_poll_without_ack_redelivers(feed):
    sub = feed.subscribe("s", ["t"])
    a = [b.seq for b in sub.poll()]
    b = [b.seq for b in sub.poll()]
    assert a == b and len(a) == 4
    assert sub_info(feed, "s")["pending"] == 4


def test_ack_then_poll(feed):
    sub = feed.subscribe("s", ["t"])
    sub.poll()
    pos = sub.position
    sub.ack()
    info = sub_info(feed, "s")
    assert info["pending"] == 0
    assert info["cursor"] == pos
    assert sub.poll() == []
    feed.query("UPDATE t SET v = 'x' WHERE id = 1")
    batches = sub.poll()
    assert len(batches) == 1
    assert batches[0].rows["_op"].tolist() == ["update_before", "update_after"]
    assert sub_info(feed, "s")["pending"] == 1


def test_ack_part_way(feed):
    sub = feed.subscribe("s", ["t"])
    batches = sub.poll()
    sub.ack(batches[1].seq)
    rest = sub.poll()
    assert [b.version for b in rest] == [3, 4]
    assert sub_info(feed, "s")["cursor"] == batches[1].seq


def test_ack_backwards_is_refused(feed):
    sub = feed.subscribe("s", ["t"])
    batches = sub.poll()
    sub.ack(batches[2].seq)
    with pytest.raises(udr.InvalidInputError):
        sub.ack(batches[0].seq)
    assert sub_info(feed, "s")["cursor"] == batches[2].seq


def test_ack_past_delivery_is_refused(feed):
    sub = feed.subscribe("s", ["t"])
    batches = sub.poll(max_commits=1)
    with pytest.raises(udr.InvalidInputError):
        sub.ack(batches[0].seq + 1000)
    assert sub_info(feed, "s")["cursor"] < batches[0].seq + 1000


def test_subscribe_from_now(feed):
    sub = feed.subscribe("live", ["t"], from_="now")
    assert sub.poll() == []
    feed.query("INSERT INTO t VALUES (9, 'z')")
    batches = sub.poll()
    assert len(batches) == 1
    assert batches[0].rows.values.tolist() == [["insert", 9, "z"]]
    assert batches[0].from_version == 4 and batches[0].version == 5


def test_commits_to_other_tables_are_skipped(feed):
    sub = feed.subscribe("s", ["t"], from_="now")
    feed.write_table("other", pd.DataFrame({"x": [1]}))
    assert sub.poll() == []
    assert sub_info(feed, "s")["pending"] == 0


def test_subscription_over_two_tables(feed):
    feed.write_table("u", pd.DataFrame({"x": [1]}))
    sub = feed.subscribe("both", ["u", "t"], from_="now")
    with feed.transaction() as tx:
        tx.query("DELETE FROM t WHERE id = 1")
        tx.append_table("u", pd.DataFrame({"x": [2]}))
    batches = sub.poll()
    assert sorted(b.table for b in batches) == ["t", "u"]
    assert len({b.seq for b in batches}) == 1          # one commit
    info = sub_info(feed, "both")
    assert sorted(info["tables"]) == ["t", "u"]
    assert info["branch"] == "main"
    assert info["pending"] == 1


def test_subscriptions_list_and_unsubscribe(feed):
    feed.subscribe("a", ["t"])
    feed.subscribe("b", ["t"], from_="now")
    listed = {s["name"]: s for s in feed.subscriptions()}
    assert set(listed) == {"a", "b"}
    for s in listed.values():
        assert {"name", "branch", "tables", "cursor", "pending"} <= set(s)
    assert listed["a"]["pending"] == 4 and listed["b"]["pending"] == 0
    feed.unsubscribe("a")
    assert [s["name"] for s in feed.subscriptions()] == ["b"]
    with pytest.raises(udr.NotFoundError):
        feed.subscription("a")
    with pytest.raises(udr.NotFoundError):
        feed.unsubscribe("a")


def test_subscription_by_name(feed):
    feed.subscribe("s", ["t"])
    sub = feed.subscription("s")
    assert len(sub.poll()) == 4


def test_subscribe_errors(feed):
    feed.subscribe("s", ["t"])
    with pytest.raises(udr.AlreadyExistsError):
        feed.subscribe("s", ["t"])
    with pytest.raises(udr.NotFoundError) as e:
        feed.subscribe("s2", ["nosuch"])
    assert "nosuch" in str(e.value)
    with pytest.raises(udr.InvalidInputError):
        feed.subscribe("bad..name", ["t"])
    assert [s["name"] for s in feed.subscriptions()] == ["s"]


def test_subscription_on_a_branch(feed):
    feed.create_branch("dev")
    sub = feed.subscribe("devsub", ["t"], from_="now", branch="dev")
    feed.query("INSERT INTO t VALUES (10, 'main only')")
    assert sub.poll() == []
    with feed.transaction(branch="dev") as tx:
        tx.query("INSERT INTO t VALUES (11, 'dev only')")
    batches = sub.poll()
    assert [b.rows["id"].tolist() for b in batches] == [[11]]
    assert sub_info(feed, "devsub")["branch"] == "dev"


def test_subscription_is_durable(feed, repo):
    sub = feed.subscribe("durable", ["t"])
    sub.poll()
    sub.ack()
    out = run_cli(repo, "subscribe", "list", "--format", "csv").stdout
    line = [l for l in out.splitlines() if l.startswith("durable,")]
    assert len(line) == 1
    assert line[0].split(",")[3] == str(sub.position)


# ---- exactly once ------------------------------------------------------------------

def test_tx_ack_commits_cursor_with_writes(feed):
    sub = feed.subscribe("agg", ["t"])
    batches = sub.poll()
    n = sum(len(b.rows) for b in batches)
    with feed.transaction() as tx:
        tx.write_table("results", pd.DataFrame({"rows_seen": [n]}))
        tx.ack("agg", sub.position)
    assert feed.query("SELECT rows_seen FROM results").fetchall() == [(7,)]
    info = sub_info(feed, "agg")
    assert info["cursor"] == sub.position and info["pending"] == 0
    assert sub.poll() == []


def test_tx_ack_rolled_back_with_writes(feed):
    sub = feed.subscribe("agg", ["t"])
    sub.poll()
    cursor = sub_info(feed, "agg")["cursor"]
    with pytest.raises(RuntimeError):
        with feed.transaction() as tx:
            tx.write_table("results", pd.DataFrame({"x": [1]}))
            tx.ack("agg", sub.position)
            raise RuntimeError("consumer died")
    assert sub_info(feed, "agg")["cursor"] == cursor
    assert "results" not in feed.list_tables()
    assert len(sub.poll()) == 4                      # delivered again


def test_tx_ack_conflicts_when_cursor_moved(feed):
    sub = feed.subscribe("agg", ["t"])
    sub.poll()
    pos = sub.position
    with pytest.raises(udr.ConflictError):
        with feed.transaction() as tx:
            tx.write_table("results", pd.DataFrame({"x": [1]}))
            tx.ack("agg", pos)
            feed.subscription("agg").ack(pos)        # another consumer got there first
    assert "results" not in feed.list_tables()
    assert sub_info(feed, "agg")["cursor"] == pos


def test_tx_ack_with_transaction_manager(feed, txm):
    sub = feed.subscribe("agg", ["t"])
    sub.poll(max_commits=1)
    tx = txm.begin()
    tx.write_table("results", pd.DataFrame({"x": [3]}))
    tx.ack("agg", sub.position)
    tx.commit()
    assert sub_info(feed, "agg")["cursor"] == sub.position
    assert [b.version for b in sub.poll()] == [2, 3, 4]


# ---- waiting -------------------------------------------------------------------------

def test_wait_times_out(feed):
    t0 = time.monotonic()
    assert feed.wait(timeout=0.3) is False
    elapsed = time.monotonic() - t0
    assert 0.25 <= elapsed < 3


def test_wait_for_past_seq_returns_at_once(feed):
    seq = feed.changes("t")["_seq"].iloc[0]
    t0 = time.monotonic()
    assert feed.wait(seq=int(seq), timeout=5) is True
    assert time.monotonic() - t0 < 1


def test_wait_wakes_on_commit_from_another_thread(feed):
    def writer():
        time.sleep(0.4)
        feed.query("INSERT INTO t VALUES (20, 'thread')")
    th = threading.Thread(target=writer)
    th.start()
    t0 = time.monotonic()
    try:
        got = feed.wait(timeout=10)
    finally:
        th.join(timeout=30)
    elapsed = time.monotonic() - t0
    assert got is True
    assert elapsed < 5
    assert feed.query("SELECT v FROM t WHERE id = 20").fetchall() == [("thread",)]


def test_wait_wakes_on_commit_from_another_process(feed, repo):
    import subprocess
    import sys
    code = f"""
import time, pandas as pd, udr
from udr_query import QueryEngine
e = QueryEngine(udr.PyChunkStore({repo!r}), udr.PyCatalog({repo!r}))
time.sleep(0.5)
e.query("INSERT INTO t VALUES (30, 'process')")
"""
    child = subprocess.Popen([sys.executable, "-c", code], env=subprocess_env(),
                             stderr=subprocess.PIPE, text=True)
    try:
        t0 = time.monotonic()
        got = feed.wait(timeout=20)
        elapsed = time.monotonic() - t0
    finally:
        _, err = child.communicate(timeout=60)
    assert child.returncode == 0, err
    assert got is True
    assert elapsed < 15
    assert feed.query("SELECT v FROM t WHERE id = 30").fetchall() == [("process",)]


def test_changes_from_a_commit(feed):
    commit_v2 = feed.table_versions("t")[-2]["commit"]
    assert feed_rows(feed.changes("t", from_=commit_v2)) == EXPECTED_FEED[3:]


def test_change_rows_keep_types(feed):
    df = feed.changes("t")
    assert df["id"].dtype == "int64"
    assert df["_version"].dtype.kind in "iu"
    assert df["_time"].dtype.kind == "M"
    batch = feed.subscribe("s", ["t"]).poll()[0]
    assert batch.rows["id"].dtype == "int64"


def test_poll_after_unsubscribe(feed):
    sub = feed.subscribe("s", ["t"])
    feed.unsubscribe("s")
    with pytest.raises(udr.NotFoundError):
        sub.poll()


def test_tx_ack_unknown_subscription(feed):
    with pytest.raises(udr.Error):
        with feed.transaction() as tx:
            tx.ack("nosuch", 1)


def test_cli_subscription_seen_by_python(feed, repo):
    run_cli(repo, "subscribe", "create", "from_cli", "--tables", "t")
    info = sub_info(feed, "from_cli")
    assert info["tables"] == ["t"] and info["pending"] == 4
    assert len(feed.subscription("from_cli").poll()) == 4


def test_wait_zero_timeout(feed):
    t0 = time.monotonic()
    assert feed.wait(timeout=0) is False
    assert time.monotonic() - t0 < 1
