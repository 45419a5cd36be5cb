"""Shared fixtures of the Python module's suite.

The suite runs against build/python/ (PYTHONPATH=build/python, as `make
test` sets it); if `udr` is not importable it adds that directory itself.
Every test gets a fresh repository under its own tmp_path. Helpers used by
several files (run_cli, run_python, b3sum ...) are imported from here.
"""
import gc
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BUILD_PY = ROOT / "build" / "python"
# tests/python.sh sets UDR_BIN to the tool of the build under test.
UDR_CLI = pathlib.Path(os.environ.get("UDR_BIN") or ROOT / "build" / "udr")

try:
    import udr  # noqa: F401
except ImportError:
    sys.path.insert(0, str(BUILD_PY))
    import udr  # noqa: F401,E402

import pandas as pd  # noqa: E402
from udr_query import QueryEngine  # noqa: E402


def module_dir():
    """The directory holding the udr package (for subprocesses' PYTHONPATH)."""
    return str(pathlib.Path(udr.__file__).resolve().parent.parent)


def subprocess_env():
    env = dict(os.environ)
    env["PYTHONPATH"] = module_dir() + os.pathsep + env.get("PYTHONPATH", "")
    return env


def run_python(code, cwd=None, timeout=60):
    """Runs code in a fresh /usr/bin/python3 (the one running the suite)."""
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=subprocess_env(),
                          capture_output=True, text=True, timeout=timeout)


def run_cli(repo, *args, check=True):
    """Runs the udr tool on a repository; its CompletedProcess."""
    if not UDR_CLI.exists():
        pytest.fail(f"the udr tool is not built ({UDR_CLI}): run make")
    p = subprocess.run([str(UDR_CLI), "--repo", str(repo), *args], capture_output=True,
                       text=True, timeout=60)
    if check and p.returncode != 0:
        raise AssertionError(f"udr {' '.join(args)} failed ({p.returncode}): {p.stderr}")
    return p


def b3sum(data: bytes) -> str:
    """BLAKE3 of data by Debian's b3sum, independent of the module."""
    p = subprocess.run(["b3sum", "--no-names"], input=data, capture_output=True, check=True)
    return p.stdout.decode().strip()


def object_file(repo, h):
    """Where docs/format.md says an object lies: objects/ab/cd/<hex>."""
    return pathlib.Path(repo) / "objects" / h[0:2] / h[2:4] / h


def make_engine(path):
    path = str(path)
    store = udr.PyChunkStore(path)
    catalog = udr.PyCatalog(path)
    branches = udr.PyBranchManager(path)
    txm = udr.PyTransactionManager(path, path, path)
    return QueryEngine(store, catalog, branch_manager=branches, transaction_manager=txm)


@pytest.fixture
def repo(tmp_path):
    """A fresh repository path (created on first use by the module)."""
    return str(tmp_path / "repo")


@pytest.fixture
def store(repo):
    return udr.PyChunkStore(repo)


@pytest.fixture
def catalog(repo):
    return udr.PyCatalog(repo)


@pytest.fixture
def branches(repo):
    return udr.PyBranchManager(repo)


@pytest.fixture
def txm(repo):
    return udr.PyTransactionManager(repo, repo, repo)


@pytest.fixture
def engine(store, catalog, branches, txm):
    """A QueryEngine with every manager, on the fresh repository."""
    e = QueryEngine(store, catalog, branch_manager=branches, transaction_manager=txm)
    yield e
    del e
    gc.collect()


@pytest.fixture
def users_df():
    return pd.DataFrame({"id": [1, 2, 3], "name": ["Alice", "Bob", "Charlie"],
                         "score": [85.5, 92.0, 78.5]})


@pytest.fixture
def keyed(engine):
    """An engine with a keyed table t (id 1..3, v 'a'..'c')."""
    engine.write_table("t", pd.DataFrame({"id": [1, 2, 3], "v": ["a", "b", "c"]}),
                       key_columns=["id"])
    return engine


def rows(engine, sql, **kw):
    """Every row of a query, as tuples."""
    return engine.query(sql, **kw).fetchall()


def scalar(result):
    """The first value of a Result's first row."""
    row = result.fetchone()
    assert row is not None, "the query returned no row"
    return row[0]
