"""Errors: the exception classes, codes, messages, and what survives a failure."""
import os
import pathlib

import pandas as pd
import pytest

import udr
from conftest import run_cli, scalar

SUBCLASSES = ["ConflictError", "CorruptionError", "NotFoundError", "InvalidInputError",
              "AlreadyExistsError", "StorageError"]


@pytest.mark.parametrize("name", SUBCLASSES)
def test_every_class_is_a_udr_error(name):
    cls = getattr(udr, name)
    assert isinstance(cls, type)
    assert issubclass(cls, udr.Error)
    assert cls is not udr.Error


def test_error_is_an_exception():
    assert issubclass(udr.Error, Exception)


@pytest.mark.parametrize("name,builtin", [("NotFoundError", LookupError),
                                          ("InvalidInputError", ValueError),
                                          ("StorageError", OSError)])
def test_builtin_bases(name, builtin):
    assert issubclass(getattr(udr, name), builtin)


def test_classes_are_distinct():
    assert len({getattr(udr, n) for n in SUBCLASSES}) == len(SUBCLASSES)
    assert not issubclass(udr.NotFoundError, ValueError)
    assert not issubclass(udr.InvalidInputError, LookupError)


def _raise(fn):
    with pytest.raises(udr.Error) as e:
        fn()
    return e.value


def test_not_found_code(engine):
    err = _raise(lambda: engine.table_versions("nosuch"))
    assert isinstance(err, udr.NotFoundError)
    assert err.code == -3
    assert err.code_name == "UDR_ENOTFOUND"
    assert "nosuch" in str(err)


def test_invalid_input_code(engine):
    err = _raise(lambda: engine.query("SELEC 1"))
    assert isinstance(err, udr.InvalidInputError)
    assert err.code == -2
    assert err.code_name == "UDR_EINVAL"
    assert "SELEC" in str(err)


def test_already_exists_code(engine):
    engine.create_branch("dev")
    err = _raise(lambda: engine.create_branch("dev"))
    assert isinstance(err, udr.AlreadyExistsError)
    assert err.code == -10
    assert err.code_name == "UDR_EEXIST"
    assert "dev" in str(err)


def test_corruption_code(store, repo):
    from conftest import object_file
    h = store.put(b"to be damaged")
    f = object_file(repo, h)
    os.chmod(f, 0o644)
    f.write_bytes(b"to be DAMAGED")
    err = _raise(lambda: store.get_verified(h))
    assert isinstance(err, udr.CorruptionError)
    assert err.code == -4
    assert h in str(err)


def test_conflict_code(engine, txm):
    engine.write_table("t", pd.DataFrame({"x": [1]}))
    a, b = txm.begin(), txm.begin()
    a.write_table("t", pd.DataFrame({"x": [2]}))
    b.write_table("t", pd.DataFrame({"x": [3]}))
    a.commit()
    err = _raise(b.commit)
    assert isinstance(err, udr.ConflictError)
    assert (err.code, err.code_name) == (-11, "UDR_ECONFLICT")


def test_message_names_table_and_version(engine, users_df):
    engine.write_table("users", users_df)
    err = _raise(lambda: engine.query('SELECT * FROM "users@5"'))
    assert "users" in str(err) and "5" in str(err)


def test_unknown_table_in_sql(engine):
    err = _raise(lambda: engine.query("SELECT * FROM nowhere_table"))
    assert "nowhere_table" in str(err)


@pytest.mark.parametrize("sql", ["SELEC 1", "SELECT * FROM", "SELECT (1", "DROP TABEL x"])
def test_bad_sql_is_invalid_input(engine, sql):
    with pytest.raises(udr.InvalidInputError):
        engine.query(sql)


HOSTILE = ["../../etc", "../x", "a/b", "/abs", "", "1starts_with_digit", "x;drop", "a b",
           "naïve", "t@1", "a" * 129]


@pytest.mark.parametrize("name", HOSTILE, ids=repr)
def test_hostile_table_names_are_refused(engine, repo, tmp_path, name):
    with pytest.raises(udr.InvalidInputError):
        engine.write_table(name, pd.DataFrame({"x": [1]}))
    assert engine.list_tables() == []
    # Nothing escaped the repository.
    assert not (tmp_path / "etc").exists()
    assert sorted(os.listdir(tmp_path)) == ["repo"]


def test_name_with_nul_is_refused(engine):
    # Never cut at the NUL (that would write a table "x").
    with pytest.raises(ValueError):
        engine.write_table("x\x00y", pd.DataFrame({"x": [1]}))
    assert engine.list_tables() == []


def test_hostile_name_message(engine):
    err = _raise(lambda: engine.write_table("../../etc", pd.DataFrame({"x": [1]})))
    assert "../../etc" in str(err)


def test_longest_name_is_accepted(engine):
    name = "a" * 128
    engine.write_table(name, pd.DataFrame({"x": [1]}))
    assert engine.list_tables() == [name]


def test_hostile_names_elsewhere(engine, store, catalog):
    with pytest.raises(udr.InvalidInputError):
        engine.append_table("../evil", pd.DataFrame({"x": [1]}))
    with pytest.raises(udr.InvalidInputError):
        engine.drop_table("../evil")
    with pytest.raises((udr.InvalidInputError, udr.NotFoundError)):
        catalog.get_version("../evil")
    with pytest.raises(udr.InvalidInputError):
        engine.create_branch("../evil")


def test_nothing_committed_is_lost_after_errors(engine, users_df, repo):
    engine.write_table("users", users_df, key_columns=["id"])
    engine.write_table("users", users_df.assign(score=1.0))
    failures = [
        lambda: engine.query("SELEC"),
        lambda: engine.write_table("users", pd.DataFrame({"id": [1, 1], "name": ["a", "b"],
                                                          "score": [1.0, 2.0]})),
        lambda: engine.write_table("../x", users_df),
        lambda: engine.query('SELECT * FROM "users@99"'),
        lambda: engine.append_table("users", users_df),
        lambda: engine.drop_table("nosuch"),
        lambda: engine.checkout("nosuch"),
    ]
    for f in failures:
        with pytest.raises(udr.Error):
            f()
    assert [v["version"] for v in engine.table_versions("users")] == [2, 1]
    assert scalar(engine.query("SELECT sum(score) FROM users")) == 3.0
    assert scalar(engine.query('SELECT sum(score) FROM "users@1"')) == 256.0
    # Another process sees the same, and the repository checks clean.
    out = run_cli(repo, "tables", "--format", "csv").stdout
    assert "users,2,3," in out
    assert run_cli(repo, "fsck").returncode == 0


def test_handle_still_works_after_an_error(engine):
    for _ in range(3):
        with pytest.raises(udr.InvalidInputError):
            engine.query("SELEC")
    assert engine.query("SELECT 1").fetchall() == [(1,)]


def test_not_a_repository(tmp_path):
    d = tmp_path / "occupied"
    d.mkdir()
    (d / "somefile.txt").write_text("not a repository")
    with pytest.raises(udr.Error) as e:
        udr.PyChunkStore(str(d))
    assert "occupied" in str(e.value)
    assert (d / "somefile.txt").read_text() == "not a repository"


def test_newer_format_is_a_storage_error(tmp_path):
    d = tmp_path / "future"
    for sub in ("objects", "log", "tmp"):
        (d / sub).mkdir(parents=True)
    (d / "FORMAT").write_text("udr repository\nformat 99\n")
    with pytest.raises(udr.StorageError) as e:
        udr.PyCatalog(str(d))
    assert "99" in str(e.value)
    assert e.value.code_name == "UDR_EFORMAT"


def test_repository_path_is_a_file(tmp_path):
    f = tmp_path / "plainfile"
    f.write_text("x")
    with pytest.raises(udr.Error):
        udr.PyChunkStore(str(f))
    assert f.read_text() == "x"


def test_wrong_argument_types(engine, store, catalog):
    with pytest.raises(TypeError):
        engine.write_table(123, pd.DataFrame({"x": [1]}))
    with pytest.raises(TypeError):
        engine.query("SELECT 1", versions=["users", 1])
    with pytest.raises(TypeError):
        catalog.commit("not a version")
    with pytest.raises(TypeError):
        udr.PyTableVersion("t", "one", [])
    with pytest.raises(TypeError):
        udr.PyChunkStore(None)
