"""QueryResult: a query's rows as a DataFrame or as tuples."""
import pandas as pd

from ._frames import dataframe_of


class QueryResult:
    """A query's rows: to_pandas(), fetchall(), fetchone()."""

    def __init__(self, result):
        self._r = result
        self._next = 0
        self._all = None

    @property
    def columns(self):
        return [] if self._r is None else self._r.columns

    @property
    def types(self):
        return [] if self._r is None else self._r.types

    def __len__(self):
        return 0 if self._r is None else len(self._r)

    def to_pandas(self):
        if self._r is None:
            return pd.DataFrame()
        return dataframe_of(*self._r.arrays())

    def df(self):
        return self.to_pandas()

    def _rows(self):
        if self._all is None:
            self._all = [] if self._r is None else self._r.fetchall()
            ns = [i for i, t in enumerate(self.types) if t == "TIMESTAMP_NS"]
            if ns:      # nanoseconds: pandas.Timestamp (datetime has microseconds)
                def fix(row):
                    row = list(row)
                    for i in ns:
                        row[i] = None if row[i] is None else pd.Timestamp(row[i])
                    return tuple(row)
                self._all = [fix(r) for r in self._all]
        return self._all

    def fetchall(self):
        """The rows not fetched yet, as tuples of Python values."""
        rows = self._rows()
        out, self._next = rows[self._next:], len(rows)
        return out

    def fetchone(self):
        """The next row as a tuple, or None after the last."""
        rows = self._rows()
        if self._next >= len(rows):
            return None
        self._next += 1
        return rows[self._next - 1]

    def __repr__(self):
        return f"QueryResult({len(self)} rows, columns={self.columns})"
