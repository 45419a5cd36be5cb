"""QueryEngine: DataFrames in, SQL out, over every version and branch."""
import contextlib
import datetime

import udr
from udr import frame_of, dataframe_of, diff_refs, merge, PyTransaction, QueryResult


class Transaction(PyTransaction):
    """A transaction of a QueryEngine (context manager: see transaction())."""


class ChangeBatch:
    """What one commit did to one table: rows with _op first."""

    __slots__ = ("seq", "time", "commit", "table", "from_version", "version", "rows")

    def __init__(self, d):
        self.seq = d["seq"]
        self.time = datetime.datetime.fromtimestamp(d["time_us"] / 1e6, tz=datetime.timezone.utc)
        self.commit = d["commit"]
        self.table = d["table"]
        self.from_version = d["from_version"]
        self.version = d["version"]
        self.rows = dataframe_of(*d["rows"])

    def __repr__(self):
        return (f"ChangeBatch(seq={self.seq}, table={self.table!r}, "
                f"{self.from_version}->{self.version}, {len(self.rows)} rows)")


class Subscription:
    """A durable, named cursor over the commits to some tables."""

    def __init__(self, repo, name):
        self._repo = repo
        self.name = name
        self.position = None

    def poll(self, max_commits=0):
        """The commits after the cursor (at most max_commits; 0: all)."""
        batches, self.position = self._repo.sub_poll(self.name, max_commits)
        return [ChangeBatch(b) for b in batches]

    def ack(self, seq=None):
        """Moves the cursor to seq (default: what the last poll read through)."""
        if seq is None:
            if self.position is None:
                raise udr.InvalidInputError(f"subscription {self.name}: nothing polled to ack")
            seq = self.position
        self._repo.sub_ack(self.name, int(seq))

    def info(self):
        for s in self._repo.subs():
            if s["name"] == self.name:
                return s
        raise udr.NotFoundError(f"there is no subscription {self.name}")

    def __repr__(self):
        return f"Subscription({self.name!r})"


class QueryEngine:
    """SQL (DuckDB) over UDR tables, with time travel, branches, transactions
    and the change feed. All parts must be of one repository."""

    def __init__(self, store, catalog, branch_manager=None, transaction_manager=None):
        self._repo = udr._repo_of(store)
        for part in (catalog, branch_manager, transaction_manager):
            if part is not None and udr._repo_of(part).path != self._repo.path:
                raise udr.InvalidInputError(
                    f"{part!r} is of another repository than {self._repo.path}")
        self.store, self.catalog = store, catalog
        self.branch_manager, self.transaction_manager = branch_manager, transaction_manager

    # ---- tables

    def write_table(self, name, df, key_columns=None, message=None):
        """A new version of table name holding df's rows; its number."""
        return self._repo.write(name, frame_of(df), key=key_columns, message=message)["version"]

    def append_table(self, name, df, message=None):
        return self._repo.write(name, frame_of(df), message=message, append=True)["version"]

    def drop_table(self, name, message=None):
        self._repo.drop(name, message)

    def list_tables(self):
        return sorted(v["table"] for v in self._repo.tables())

    def table_versions(self, name):
        out = []
        for v in self._repo.table_log(name):
            out.append({"version": v["version"], "rows": v["rows"], "commit": v["commit"],
                        "time": udr._time(v["time_us"]), "message": v["message"],
                        "dropped": v["dropped"]})
        return out

    # ---- queries

    def query(self, sql, versions=None, branch=None):
        """Runs SQL; versions={"t": n} pins tables, branch= reads another branch."""
        if branch is None:
            return QueryResult(self._repo.query(sql, versions))
        self._repo.use_branch(branch)
        try:
            return QueryResult(self._repo.query(sql, versions))
        finally:
            self._repo.use_branch(None)      # back to the repository's current branch

    def diff_versions(self, table, v1, v2, key_columns=None):
        """Rows added, removed and modified from version v1 to v2."""
        d = self._repo.diff(table, str(v1), str(v2), key=key_columns)
        res = d.pop("rows")
        d["rows"] = dataframe_of(*res.arrays()) if res is not None else None
        return d

    # ---- branches

    def create_branch(self, name, from_branch=None, description=None):
        self._repo.branch_create(name, from_branch, description)

    def delete_branch(self, name, force=False):
        self._repo.branch_delete(name, force)

    def list_branches(self):
        return self._repo.branches()

    def checkout(self, name):
        self._repo.checkout(name)

    @property
    def current_branch(self):
        return self._repo.current_branch()

    def diff_branches(self, a, b):
        return diff_refs(self._repo, a, b)

    def merge_branch(self, source, into=None, strategy="fail"):
        return merge(self._repo, source, into, strategy)

    # ---- transactions

    @contextlib.contextmanager
    def transaction(self, isolation="snapshot", branch=None):
        """with engine.transaction() as tx: ... commits on exit, rolls back
        on an exception (which propagates)."""
        if isolation not in ("snapshot", "serializable"):
            raise udr.InvalidInputError("isolation must be 'snapshot' or 'serializable'")
        tx = Transaction(self._repo.tx_begin(branch or self._repo.current_branch(),
                                             isolation == "serializable"))
        try:
            yield tx
        except BaseException:
            tx.rollback()
            raise
        if tx.active:
            tx.commit()

    # ---- the change feed

    def changes(self, table, from_=None, to=None):
        """Every change to a table between two points, as one DataFrame."""
        import pandas as pd
        batches, _ = self._repo.changes(table, _ref(from_), _ref(to))
        frames = []
        for b in batches:
            df = dataframe_of(*b["rows"])
            df.insert(0, "_time", pd.Timestamp(b["time_us"], unit="us", tz="UTC"))
            df.insert(0, "_version", b["version"])
            df.insert(0, "_seq", b["seq"])
            frames.append(df)
        if not frames:
            return pd.DataFrame(columns=["_seq", "_version", "_time", "_op"])
        return pd.concat(frames, ignore_index=True)

    def subscribe(self, name, tables, from_="beginning", branch=None):
        if isinstance(tables, str):
            tables = [tables]
        self._repo.sub_create(name, list(tables), branch, _ref(from_))
        return Subscription(self._repo, name)

    def subscription(self, name):
        s = Subscription(self._repo, name)
        s.info()
        return s

    def subscriptions(self):
        return self._repo.subs()

    def unsubscribe(self, name):
        self._repo.sub_drop(name)

    def wait(self, seq=None, timeout=None):
        """Blocks until a commit after seq (default: now); False on timeout."""
        if seq is None:
            seq = self._repo.log_position()
        return self._repo.wait(int(seq), -1.0 if timeout is None else float(timeout))


def _ref(x):
    if x is None:
        return None
    if isinstance(x, datetime.datetime):
        return x.isoformat()
    return str(x)
