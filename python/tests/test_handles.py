"""One repository behind the README's directories; handles; the udr tool."""
import gc
import os
import shutil

import pandas as pd
import pytest

import udr
from udr_query import QueryEngine
from conftest import make_engine, run_cli, scalar


@pytest.mark.parametrize("sub", ["chunks", "catalog", "branches", "transactions"])
def test_readme_paths_name_their_parent(tmp_path, monkeypatch, sub):
    monkeypatch.chdir(tmp_path)
    store = udr.PyChunkStore(f"./data/{sub}")
    assert os.path.realpath(store.path) == os.path.realpath(tmp_path / "data")
    assert (tmp_path / "data" / "FORMAT").is_file()
    assert not (tmp_path / "data" / sub).exists()


def test_readme_objects_share_one_repository(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    store = udr.PyChunkStore("./data/chunks")
    catalog = udr.PyCatalog("./data/catalog")
    branches = udr.PyBranchManager("./data/branches")
    txm = udr.PyTransactionManager("./data/transactions", "./data/catalog", "./data/branches")
    engine = QueryEngine(store, catalog, branch_manager=branches, transaction_manager=txm)
    engine.write_table("users", pd.DataFrame({"id": [1, 2]}))
    # Every object sees the write at once.
    assert catalog.list_tables() == ["users"]
    for h in catalog.get_version("users").chunk_hashes:
        assert store.exists(h)
    assert branches.log(max_count=1)[0]["commit"] == catalog.get_version("users").commit
    tx = txm.begin()
    assert tx.query("SELECT count(*) FROM users").fetchone() == (2,)
    tx.rollback()
    assert sorted(os.listdir(tmp_path / "data")) == ["FORMAT", "log", "objects", "tmp"]


def test_other_paths_are_the_repository_itself(tmp_path):
    store = udr.PyChunkStore(str(tmp_path / "myrepo"))
    assert (tmp_path / "myrepo" / "FORMAT").is_file()
    assert os.path.realpath(store.path) == os.path.realpath(tmp_path / "myrepo")
    store2 = udr.PyChunkStore(str(tmp_path / "x" / "data"))
    assert (tmp_path / "x" / "data" / "FORMAT").is_file()
    assert os.path.realpath(store2.path) != os.path.realpath(store.path)


def test_repository_created_with_missing_parents(tmp_path):
    udr.PyCatalog(str(tmp_path / "a" / "b" / "c"))
    assert (tmp_path / "a" / "b" / "c" / "FORMAT").is_file()


def test_relative_and_absolute_paths_share(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rel = udr.PyCatalog("./data/catalog")
    absolute = udr.PyChunkStore(str(tmp_path / "data"))
    engine = QueryEngine(absolute, rel)
    engine.write_table("t", pd.DataFrame({"x": [1]}))
    assert rel.list_tables() == ["t"]


def test_existing_repository_is_opened(repo):
    e1 = make_engine(repo)
    e1.write_table("t", pd.DataFrame({"x": [1, 2, 3]}))
    del e1
    gc.collect()
    e2 = make_engine(repo)
    assert scalar(e2.query("SELECT CAST(sum(x) AS BIGINT) FROM t")) == 6


def test_handle_closed_when_last_object_goes(tmp_path):
    path = str(tmp_path / "r")
    e = make_engine(path)
    e.write_table("t", pd.DataFrame({"x": [1]}))
    del e
    gc.collect()
    shutil.rmtree(path)
    # A handle kept open would still show the old table (or fail on the
    # vanished directory); a fresh one makes a fresh repository.
    e = make_engine(path)
    assert e.list_tables() == []
    e.write_table("u", pd.DataFrame({"x": [2]}))
    assert e.list_tables() == ["u"]
    assert (tmp_path / "r" / "FORMAT").is_file()


def test_cli_sees_python_tables(engine, repo, users_df):
    engine.write_table("users", users_df, key_columns=["id"])
    engine.write_table("users", users_df.head(2))
    engine.write_table("other", pd.DataFrame({"x": [1]}))
    out = run_cli(repo, "tables", "--format", "csv").stdout
    lines = out.splitlines()
    assert lines[0].startswith("table,version,rows")
    assert any(l.startswith("users,2,2,") for l in lines), out
    assert any(l.startswith("other,1,1,") for l in lines), out


def test_cli_reads_python_values(engine, repo, users_df):
    engine.write_table("users", users_df)
    out = run_cli(repo, "sql", "SELECT name, score FROM users WHERE score > 80 ORDER BY id",
                  "--format", "csv").stdout
    assert out.splitlines() == ["name,score", "Alice,85.5", "Bob,92.0"]


def test_cli_shows_python_key(engine, repo, users_df):
    engine.write_table("users", users_df, key_columns=["id"])
    out = run_cli(repo, "show", "users").stdout
    key_lines = [l.split() for l in out.splitlines() if l.startswith("key")]
    assert key_lines == [["key", "id"]], out


def test_python_sees_cli_writes(engine, repo):
    engine.write_table("t", pd.DataFrame({"x": [1]}))
    run_cli(repo, "sql", "INSERT INTO t VALUES (2)")
    run_cli(repo, "sql", "CREATE TABLE from_cli AS SELECT 42 AS answer")
    # The same (already open) handle sees another process's commits.
    assert scalar(engine.query("SELECT CAST(sum(x) AS BIGINT) FROM t")) == 3
    assert scalar(engine.query("SELECT answer FROM from_cli")) == 42
    assert "from_cli" in engine.list_tables()


def test_cli_branch_visible_to_python(engine, repo):
    engine.write_table("t", pd.DataFrame({"x": [1]}))
    run_cli(repo, "branch", "create", "from-cli")
    assert "from-cli" in {b["name"] for b in engine.list_branches()}


def test_fsck_clean_after_python_work(engine, repo, users_df):
    engine.write_table("users", users_df, key_columns=["id"])
    engine.query("UPDATE users SET score = 0 WHERE id = 1")
    engine.create_branch("dev")
    with engine.transaction() as tx:
        tx.write_table("a", pd.DataFrame({"x": [1]}))
    p = run_cli(repo, "fsck")
    assert p.returncode == 0, p.stdout + p.stderr


def test_empty_existing_directory_becomes_a_repository(tmp_path):
    # As `udr init DIR` does for an empty directory ("created on first use").
    d = tmp_path / "empty"
    d.mkdir()
    udr.PyChunkStore(str(d))
    assert (d / "FORMAT").is_file()
    p = run_cli(d, "tables")
    assert p.returncode == 0


def test_existing_readme_part_directory(tmp_path, monkeypatch):
    # ./data/chunks names ./data even when ./data does not exist yet, and
    # a later object of another part finds the same repository.
    monkeypatch.chdir(tmp_path)
    h = udr.PyChunkStore("./data/chunks").put(b"x")
    assert udr.PyCatalog("./data/catalog").list_tables() == []
    assert udr.PyChunkStore("./data").exists(h)
    assert udr.PyChunkStore(str(tmp_path / "data" / "transactions")).get(h) == b"x"
