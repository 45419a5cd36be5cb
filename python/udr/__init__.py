"""UDR, the Unified Data Runtime, from Python.

The low-level API of the original README over libudr (the C extension
_udr): the content-addressed store (PyChunkStore), the versioned catalog
(PyCatalog, PyTableVersion), branches (PyBranchManager) and transactions
(PyTransactionManager). The query layer is the package udr_query.

The original kept these in directories of their own (./data/chunks,
./data/catalog, ./data/branches, ./data/transactions); UDR keeps them in one
repository, the parent of such a path (see repository_path). Objects on one
repository share one handle. See docs/python.md.
"""
import datetime
import os
import threading
import weakref

import _udr
from _udr import (Error, ConflictError, CorruptionError, NotFoundError, InvalidInputError,
                  AlreadyExistsError, StorageError, Result, blake3)

from ._frames import frame_of, dataframe_of
from ._result import QueryResult

__all__ = [
    "Error", "ConflictError", "CorruptionError", "NotFoundError", "InvalidInputError",
    "AlreadyExistsError", "StorageError", "PyChunkStore", "PyCatalog", "PyTableVersion",
    "PyBranchManager", "PyTransactionManager", "PyTransaction", "open_repository",
    "repository_path", "blake3", "version", "QueryResult",
]

version = _udr.version

# The original's directory names, each a part of one UDR repository.
_PARTS = ("chunks", "catalog", "branches", "transactions")

_handles = weakref.WeakValueDictionary()
_handles_lock = threading.Lock()


def repository_path(path):
    """The UDR repository a path names: the parent of .../chunks, .../catalog,
    .../branches or .../transactions, else the path itself (absolute)."""
    p = os.path.abspath(os.fspath(path))
    if os.path.basename(p) in _PARTS and not os.path.exists(os.path.join(p, "FORMAT")):
        p = os.path.dirname(p)
    return p


def open_repository(path):
    """The shared handle (_udr.Repo) of the repository at path, created if need be."""
    root = repository_path(path)
    with _handles_lock:
        repo = _handles.get(root)
        if repo is None or repo.closed:
            os.makedirs(os.path.dirname(root) or ".", exist_ok=True)
            repo = _udr.Repo(root)
            _handles[root] = repo
        return repo


def _time(us):
    return datetime.datetime.fromtimestamp(us / 1e6, tz=datetime.timezone.utc)


def _repo_of(x):
    if isinstance(x, _udr.Repo):
        return x
    if hasattr(x, "_repo"):
        return x._repo
    return open_repository(x)


class PyChunkStore:
    """Content-addressed storage: bytes named by their BLAKE3-256 hash (hex)."""

    def __init__(self, path):
        self._repo = open_repository(path)
        self.path = self._repo.path

    def put(self, data):
        """Stores bytes (once) and returns their hash."""
        return self._repo.put(data)

    def get(self, hash):
        """The bytes of an object (NotFoundError if absent)."""
        return self._repo.get(hash)

    def get_verified(self, hash):
        """The bytes, checked against the hash (CorruptionError if they differ)."""
        return self._repo.get_verified(hash)

    def exists(self, hash):
        return self._repo.exists(hash)

    def size(self, hash):
        return self._repo.size(hash)

    def __repr__(self):
        return f"PyChunkStore({self.path!r})"


class PyTableVersion:
    """A table version: its name, number and objects, in order."""

    def __init__(self, table_name, version, chunk_hashes, *, row_count=None, columns=None,
                 commit=None, timestamp=None, message=None):
        if not isinstance(table_name, str):
            raise TypeError("table_name must be a str")
        if isinstance(version, bool) or not isinstance(version, int):
            raise TypeError("version must be an int")
        if isinstance(chunk_hashes, str):
            raise TypeError("chunk_hashes must be a list of hashes, not a str")
        self.table_name = table_name
        self.version = version
        self.chunk_hashes = list(chunk_hashes)
        self.row_count = row_count
        self.columns = columns
        self.commit = commit
        self.timestamp = timestamp
        self.message = message

    def __eq__(self, other):
        return (isinstance(other, PyTableVersion) and self.table_name == other.table_name
                and self.version == other.version and self.chunk_hashes == other.chunk_hashes)

    def __repr__(self):
        return (f"PyTableVersion({self.table_name!r}, {self.version}, "
                f"{len(self.chunk_hashes)} chunks)")


class PyCatalog:
    """The versioned catalog: tables, each a sequence of versions 1, 2, 3 ..."""

    def __init__(self, path):
        self._repo = open_repository(path)
        self.path = self._repo.path

    def commit(self, version):
        """Makes version.version of version.table_name from stored objects."""
        if not isinstance(version, PyTableVersion):
            raise TypeError("commit() takes a PyTableVersion")
        self._repo.commit_chunks(version.table_name, version.version, version.chunk_hashes)

    def get_version(self, table, version=None):
        """A version of a table (the latest when version is None)."""
        ref = None if version is None else str(int(version))
        d = self._repo.table_show(table, ref)
        return PyTableVersion(d["table"], d["version"], [c[0] for c in d["chunks"]],
                              row_count=d["rows"], columns=d["columns"], commit=d["commit"],
                              timestamp=_time(d["time_us"]), message=d["message"])

    def list_tables(self):
        return sorted(v["table"] for v in self._repo.tables())

    def list_versions(self, table):
        return sorted(v["version"] for v in self._repo.table_log(table) if not v["dropped"])

    def latest_version(self, table):
        return self._repo.table_show(table, None)["version"]

    def __repr__(self):
        return f"PyCatalog({self.path!r})"


class PyBranchManager:
    """Branches and tags of the repository: names for commits; no data copied."""

    def __init__(self, path):
        self._repo = open_repository(path)
        self.path = self._repo.path

    def create_branch(self, name, from_ref=None, description=None):
        self._repo.branch_create(name, from_ref, description)

    def delete_branch(self, name, force=False):
        self._repo.branch_delete(name, force)

    def list_branches(self):
        return self._repo.branches()

    @property
    def current_branch(self):
        return self._repo.current_branch()

    def checkout(self, name):
        self._repo.checkout(name)

    def create_tag(self, name, ref=None, message=None):
        self._repo.tag_create(name, ref, message)

    def delete_tag(self, name):
        self._repo.tag_delete(name)

    def list_tags(self):
        return self._repo.tags()

    def diff(self, a, b):
        return diff_refs(self._repo, a, b)

    def merge(self, source, into=None, strategy="fail"):
        return merge(self._repo, source, into, strategy)

    def log(self, ref=None, max_count=0):
        out = []
        for c in self._repo.log(ref, max_count):
            c = dict(c)
            c["time"] = _time(c.pop("time_us"))
            out.append(c)
        return out


def diff_refs(repo, a, b):
    """The tables that differ between two refs: added, removed, modified."""
    d = {"added": [], "removed": [], "modified": []}
    for table, va, vb in repo.diff_refs(a, b):
        if vb == 0:
            d["added"].append((table, va))
        elif va == 0:
            d["removed"].append((table, vb))
        else:
            d["modified"].append((table, va, vb))
    return d


def merge(repo, source, into=None, strategy="fail"):
    """Merges source into a branch; ConflictError.conflicts lists conflicts."""
    try:
        info = repo.merge(source, into=into, strategy=strategy)
    except ConflictError as e:
        res = getattr(e, "conflicts", None)
        e.conflicts = dataframe_of(*res.arrays()) if res is not None else None
        raise
    res = info.pop("conflict_rows")
    info["conflict_rows"] = dataframe_of(*res.arrays()) if res is not None else None
    return info


class PyTransaction:
    """A transaction: a snapshot, buffered writes, one atomic commit."""

    def __init__(self, tx):
        self._tx = tx
        self.commit_hash = None

    @property
    def active(self):
        return self._tx.active

    def query(self, sql):
        """SQL over the snapshot plus this transaction's own writes."""
        return QueryResult(self._tx.query(sql))

    def write_table(self, name, df, key_columns=None):
        return self._tx.write(name, frame_of(df), key=key_columns)["version"]

    def append_table(self, name, df):
        return self._tx.write(name, frame_of(df), append=True)["version"]

    def drop_table(self, name):
        self._tx.drop(name)

    def ack(self, subscription, seq):
        self._tx.ack(subscription, int(seq))

    def commit(self, message=None):
        self.commit_hash = self._tx.commit(message)
        return self.commit_hash

    def rollback(self):
        self._tx.rollback()


class PyTransactionManager:
    """Begins transactions on the repository (each on a handle of its own)."""

    def __init__(self, transactions_path, catalog_path=None, branches_path=None):
        self._repo = open_repository(transactions_path)
        for p in (catalog_path, branches_path):
            if p is not None and repository_path(p) != self._repo.path:
                raise InvalidInputError(
                    f"{p} is not part of the repository {self._repo.path}: the transaction "
                    "manager, catalog and branches must share one repository")
        self.path = self._repo.path

    def begin(self, branch=None, isolation="snapshot"):
        if isolation not in ("snapshot", "serializable"):
            raise InvalidInputError("isolation must be 'snapshot' or 'serializable'")
        return PyTransaction(self._repo.tx_begin(branch, isolation == "serializable"))
