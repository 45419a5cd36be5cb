"""The Python examples of the original README, each run unchanged.

Each test body is the README's code block, copied verbatim, after only the
setup it needs (the README's Time Travel example uses an engine and df_v1
that it does not define). Each runs in a directory of its own, so the
README's ./data paths make a fresh repository, and checks what the README
says the example prints.
"""
import math
import os

from conftest import b3sum


def test_basic_usage(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)

    # ---- README: Basic Usage (Python), verbatim ----
    import udr
    from udr_query import TableWriter, TableReader, QueryEngine
    import pandas as pd

    # Initialize storage
    store = udr.PyChunkStore("./data/chunks")
    catalog = udr.PyCatalog("./data/catalog")

    # Write data using the query layer
    engine = QueryEngine(store, catalog)

    df = pd.DataFrame({
        "id": [1, 2, 3],
        "name": ["Alice", "Bob", "Charlie"],
        "score": [85.5, 92.0, 78.5]
    })

    engine.write_table("users", df)

    # SQL queries with DuckDB
    result = engine.query("SELECT * FROM users WHERE score > 80")
    print(result.to_pandas())
    # ---- end of the README's code ----

    out = capsys.readouterr().out
    assert "Alice" in out and "Bob" in out
    assert "Charlie" not in out
    for col in ("id", "name", "score"):
        assert col in out
    frame = result.to_pandas()
    assert list(frame.columns) == ["id", "name", "score"]
    assert sorted(frame["name"]) == ["Alice", "Bob"]
    # One repository, ./data, behind both of the README's paths.
    assert (tmp_path / "data" / "FORMAT").is_file()
    assert not (tmp_path / "data" / "chunks").exists()
    assert not (tmp_path / "data" / "catalog").exists()


def test_time_travel(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    # Setup the README leaves out: an engine and df_v1.
    import udr
    from udr_query import QueryEngine
    import pandas as pd
    store = udr.PyChunkStore("./data/chunks")
    catalog = udr.PyCatalog("./data/catalog")
    engine = QueryEngine(store, catalog)
    df_v1 = pd.DataFrame({"id": [1, 2, 3], "name": ["Alice", "Bob", "Charlie"],
                          "score": [85.5, 92.0, 78.5]})

    # ---- README: Time Travel, verbatim ----
    # Write version 1
    engine.write_table("users", df_v1)

    # Write version 2 with updated data
    df_v2 = df_v1.copy()
    df_v2["score"] = df_v2["score"] + 10
    engine.write_table("users", df_v2)

    # Query any historical version
    result_v1 = engine.query(
        "SELECT AVG(score) FROM users",
        versions={"users": 1}  # Time travel!
    )

    result_v2 = engine.query(
        "SELECT AVG(score) FROM users",
        versions={"users": 2}
    )

    # Compare versions
    diff = engine.diff_versions("users", 1, 2, key_columns=["id"])
    print(f"Rows added: {diff['rows_added']}")
    print(f"Rows removed: {diff['rows_removed']}")
    # ---- end of the README's code ----

    out = capsys.readouterr().out
    assert "Rows added: 0\n" in out
    assert "Rows removed: 0\n" in out
    # score + 10 modifies all three keys.
    assert diff["rows_modified"] == 3
    assert diff["from_version"] == 1 and diff["to_version"] == 2
    avg1 = result_v1.fetchone()[0]
    avg2 = result_v2.fetchone()[0]
    assert math.isclose(avg1, (85.5 + 92.0 + 78.5) / 3)
    assert math.isclose(avg2 - avg1, 10.0)
    # Unpinned, users is version 2.
    assert math.isclose(engine.query("SELECT AVG(score) FROM users").fetchone()[0], avg2)


def test_branching(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)

    # ---- README: Branching (Phase 4), verbatim ----
    import udr
    from udr_query import QueryEngine
    import pandas as pd

    # Initialize with branch support
    store = udr.PyChunkStore("./data/chunks")
    catalog = udr.PyCatalog("./data/catalog")
    branches = udr.PyBranchManager("./data/branches")
    engine = QueryEngine(store, catalog, branch_manager=branches)

    # Write initial data to main branch
    df = pd.DataFrame({"id": [1, 2], "score": [80, 90]})
    engine.write_table("scores", df)  # Automatically updates main branch head

    # Create a feature branch (zero-copy - instant!)
    engine.create_branch("feature/new-scoring", description="Testing new algorithm")

    # Switch to feature branch
    engine.checkout("feature/new-scoring")
    print(f"Current branch: {engine.current_branch}")

    # Modify data on feature branch
    df_updated = pd.DataFrame({"id": [1, 2], "score": [85, 95]})
    engine.write_table("scores", df_updated)

    # Query both branches - see different results!
    main_avg = engine.query("SELECT AVG(score) as avg FROM scores", branch="main")
    feat_avg = engine.query("SELECT AVG(score) as avg FROM scores", branch="feature/new-scoring")
    print(f"Main avg: {main_avg.to_pandas()['avg'].iloc[0]}")      # 85.0
    print(f"Feature avg: {feat_avg.to_pandas()['avg'].iloc[0]}")   # 90.0

    # Compare branches
    diff = engine.diff_branches("feature/new-scoring", "main")
    print(f"Modified tables: {diff['modified']}")  # [("scores", 2, 1)]

    # Merge when ready
    engine.checkout("main")
    engine.merge_branch("feature/new-scoring", into="main")
    # ---- end of the README's code ----

    lines = capsys.readouterr().out.splitlines()
    assert "Current branch: feature/new-scoring" in lines
    assert "Main avg: 85.0" in lines
    assert "Feature avg: 90.0" in lines
    assert "Modified tables: [('scores', 2, 1)]" in lines
    # After the merge main has the feature's scores, and is current again.
    assert engine.current_branch == "main"
    merged = engine.query("SELECT AVG(score) AS avg FROM scores", branch="main")
    assert merged.to_pandas()["avg"].iloc[0] == 90.0
    assert engine.query("SELECT AVG(score) FROM scores").fetchone()[0] == 90.0


def test_transactions(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)

    # ---- README: Transactions (Phase 5), verbatim ----
    import udr
    from udr_query import QueryEngine
    import pandas as pd

    # Initialize with transaction support
    store = udr.PyChunkStore("./data/chunks")
    catalog = udr.PyCatalog("./data/catalog")
    branches = udr.PyBranchManager("./data/branches")
    tx_manager = udr.PyTransactionManager("./data/transactions", "./data/catalog", "./data/branches")

    engine = QueryEngine(
        store, catalog,
        branch_manager=branches,
        transaction_manager=tx_manager
    )

    # Write initial data
    engine.write_table("users", pd.DataFrame({"id": [1, 2], "name": ["Alice", "Bob"]}))

    # Cross-table ACID transaction
    with engine.transaction() as tx:
        # Read current data (snapshot isolation)
        users = tx.query("SELECT * FROM users")

        # Buffer multiple writes (not visible until commit)
        tx.write_table("users", pd.DataFrame({"id": [1, 2, 3], "name": ["Alice", "Bob", "Charlie"]}))
        tx.write_table("audit_log", pd.DataFrame({"action": ["added_user"], "user_id": [3]}))

        # Read-your-writes: see buffered data within transaction
        count = tx.query("SELECT COUNT(*) as cnt FROM users")
        print(f"Users in transaction: {count.to_pandas()['cnt'].iloc[0]}")  # 3

        # Auto-commits on exit, rolls back on exception
    # Both tables updated atomically!

    # Verify commit
    result = engine.query("SELECT COUNT(*) as cnt FROM users")
    print(f"Committed users: {result.to_pandas()['cnt'].iloc[0]}")  # 3
    # ---- end of the README's code ----

    lines = capsys.readouterr().out.splitlines()
    assert "Users in transaction: 3" in lines
    assert "Committed users: 3" in lines
    # The snapshot read before the writes saw the two original users.
    assert len(users) == 2
    audit = engine.query("SELECT action, user_id FROM audit_log").fetchall()
    assert audit == [("added_user", 3)]
    # Both tables came in one commit.
    log = branches.log()
    assert "users" in str(log[0]["changes"]) and "audit_log" in str(log[0]["changes"])
    assert tx.commit_hash == log[0]["commit"]
    assert os.path.isfile(tmp_path / "data" / "FORMAT")
    assert not (tmp_path / "data" / "transactions").exists()


def test_low_level_api(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)

    # ---- README: Low-Level API (Rust Core), verbatim ----
    import udr

    # Content-addressable storage
    store = udr.PyChunkStore("./data/chunks")

    # Store data - returns BLAKE3 hash
    hash_str = store.put(b"Hello, World!")
    print(f"Stored with hash: {hash_str}")

    # Retrieve with integrity verification
    data = store.get_verified(hash_str)  # Raises if corrupted

    # Versioned catalog
    catalog = udr.PyCatalog("./data/catalog")

    version = udr.PyTableVersion("users", 1, [hash_str])
    catalog.commit(version)

    # Time travel to any version
    v1 = catalog.get_version("users", 1)
    latest = catalog.get_version("users")  # Gets latest
    # ---- end of the README's code ----

    expected = b3sum(b"Hello, World!")
    assert expected == "288a86a79f20a3d6dccdca7713beaed178798296bdfa7913fa2a62d9727bf8f8"
    assert f"Stored with hash: {expected}\n" in capsys.readouterr().out
    assert hash_str == expected
    assert data == b"Hello, World!"
    assert v1.table_name == "users"
    assert v1.version == 1
    assert v1.chunk_hashes == [hash_str]
    assert latest.version == 1
    assert latest.chunk_hashes == [hash_str]
