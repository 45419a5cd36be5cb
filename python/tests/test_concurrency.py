"""The GIL is released while UDR works; threads and processes writing at once."""
import subprocess
import sys
import threading
import time

import pandas as pd
import pytest

import udr
from conftest import make_engine, scalar, subprocess_env

LONG_QUERY = ("SELECT count(*) FROM big a CROSS JOIN range(40) b "
              "WHERE (a.x * 31 + b.range) % 97 = 0")


def expected_long_query():
    """LONG_QUERY's answer: for each b, the x with 31x + b = 0 (mod 97)."""
    import numpy as np
    per_residue = np.bincount(np.arange(3_000_000) % 97, minlength=97)
    inv31 = pow(31, -1, 97)
    return int(sum(per_residue[(-b * inv31) % 97] for b in range(40)))


def test_gil_released_during_long_query(engine):
    engine.query("CREATE TABLE big AS SELECT range AS x FROM range(3000000)")
    assert scalar(engine.query("SELECT count(*) FROM big")) == 3_000_000

    result = {}

    def run():
        t0 = time.monotonic()
        result["value"] = scalar(engine.query(LONG_QUERY))
        result["seconds"] = time.monotonic() - t0

    th = threading.Thread(target=run)
    ticks = 0
    max_gap = 0.0
    th.start()
    last = time.monotonic()
    while th.is_alive():
        ticks += 1
        now = time.monotonic()
        max_gap = max(max_gap, now - last)
        last = now
        time.sleep(0.001)
    th.join()
    assert "value" in result, "the query failed"
    assert result["value"] == expected_long_query()
    assert result["seconds"] > 0.3, "the query was too quick to tell"
    # This thread kept running while the other was inside UDR: no pause
    # anywhere near the query's length.
    assert max_gap < 0.25 * result["seconds"], (max_gap, result["seconds"])
    assert ticks > 50


def test_gil_released_during_large_write(engine):
    import numpy as np
    n = 8_000_000                       # long enough to tell (0.26 s seen for 3M)
    df = pd.DataFrame({"id": np.arange(n, dtype=np.int64),
                       "v": np.random.default_rng(1).standard_normal(n)})
    done = threading.Event()
    gaps = []

    def ticker():
        last = time.monotonic()
        while not done.is_set():
            now = time.monotonic()
            gaps.append(now - last)
            last = now
            time.sleep(0.001)

    th = threading.Thread(target=ticker)
    th.start()
    t0 = time.monotonic()
    try:
        engine.write_table("wide", df, key_columns=["id"])
    finally:
        elapsed = time.monotonic() - t0
        done.set()
        th.join()
    assert scalar(engine.query("SELECT count(*) FROM wide")) == n
    assert elapsed > 0.3, f"the write took only {elapsed:.2f}s: too quick to tell"
    assert max(gaps) < 0.5 * elapsed, (max(gaps), elapsed)


def test_threads_writing_tables_of_one_handle(engine, repo):
    errors = []

    def writer(i):
        try:
            e = make_engine(repo)       # same path: the same handle
            for j in range(5):
                e.write_table(f"t{i}", pd.DataFrame({"x": [i * 100 + j]}))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    assert sorted(engine.list_tables()) == ["t0", "t1", "t2", "t3"]
    for i in range(4):
        assert [v["version"] for v in engine.table_versions(f"t{i}")] == [5, 4, 3, 2, 1]
        assert scalar(engine.query(f"SELECT x FROM t{i}")) == i * 100 + 4


def test_threads_inserting_into_one_table(engine):
    engine.write_table("shared", pd.DataFrame({"id": [0], "who": [-1]}), key_columns=["id"])
    errors = []

    def inserter(i):
        try:
            for j in range(5):
                engine.query(f"INSERT INTO shared VALUES ({i * 10 + j + 1}, {i})")
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=inserter, args=(i,)) for i in range(3)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    assert scalar(engine.query("SELECT count(*) FROM shared")) == 16


CHILD = """
import sys, udr, pandas as pd
from udr_query import QueryEngine
repo, who = sys.argv[1], int(sys.argv[2])
e = QueryEngine(udr.PyChunkStore(repo), udr.PyCatalog(repo),
                transaction_manager=udr.PyTransactionManager(repo, repo, repo))
for j in range(10):
    e.query(f"INSERT INTO events VALUES ({who * 1000 + j}, {who})")
for j in range(3):
    with e.transaction() as tx:
        tx.append_table("tx_events", pd.DataFrame({"id": [who * 1000 + j], "who": [who]}))
print("ok")
"""


def test_two_processes_writing(engine, repo):
    engine.write_table("events", pd.DataFrame({"id": [0], "who": [0]}), key_columns=["id"])
    engine.write_table("tx_events", pd.DataFrame({"id": [0], "who": [0]}), key_columns=["id"])
    procs = [subprocess.Popen([sys.executable, "-c", CHILD, repo, str(w)], env=subprocess_env(),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for w in (1, 2)]
    outs = [p.communicate(timeout=120) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err[-3000:]
        assert out.strip() == "ok"
    assert engine.query("SELECT who, count(*) FROM events GROUP BY who ORDER BY who").fetchall() \
        == [(0, 1), (1, 10), (2, 10)]
    assert engine.query("SELECT who, count(*) FROM tx_events GROUP BY who ORDER BY who") \
        .fetchall() == [(0, 1), (1, 3), (2, 3)]


def test_process_reads_while_another_writes(engine, repo):
    engine.write_table("t", pd.DataFrame({"x": [1]}))
    reader = """
import sys, udr
from udr_query import QueryEngine
e = QueryEngine(udr.PyChunkStore(sys.argv[1]), udr.PyCatalog(sys.argv[1]))
seen = set()
for _ in range(60):
    n, lo, hi = e.query("SELECT count(*), min(x), max(x) FROM t").fetchone()
    assert n == lo == hi, (n, lo, hi)
    seen.add(n)
print(len(seen))
"""
    p = subprocess.Popen([sys.executable, "-c", reader, repo], env=subprocess_env(),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for n in range(2, 10):
        engine.write_table("t", pd.DataFrame({"x": [n] * n}))
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0, err[-3000:]
    assert int(out.strip()) >= 1


def test_reads_in_threads_see_whole_versions(engine):
    # Version n of t holds n rows, each of value n: a read that mixed two
    # versions would show count != min or min != max.
    engine.write_table("t", pd.DataFrame({"x": [1]}))
    bad, errors, reads = [], [], [0]
    done = threading.Event()

    def reader():
        try:
            while not done.is_set():
                n, lo, hi = engine.query("SELECT count(*), min(x), max(x) FROM t").fetchone()
                reads[0] += 1
                if not (n == lo == hi):
                    bad.append((n, lo, hi))
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for th in threads:
        th.start()
    try:
        for n in range(2, 15):
            engine.write_table("t", pd.DataFrame({"x": [n] * n}))
    finally:
        done.set()
        for th in threads:
            th.join()
    assert errors == [] and bad == []
    assert reads[0] > 0
