"""TableReader: table versions back as DataFrames."""
import udr
from udr import dataframe_of


def _quote(name):
    return '"' + name.replace('"', '""') + '"'


class TableReader:
    """Reads any version of a table."""

    def __init__(self, store, catalog):
        self._repo = udr._repo_of(store)
        if udr._repo_of(catalog).path != self._repo.path:
            raise udr.InvalidInputError("the store and the catalog must be one repository")

    def read(self, name, version=None):
        """The rows of a version (the current one when None) as a DataFrame;
        NotFoundError if there is no such table or version."""
        self._repo.table_show(name, None if version is None else str(int(version)))
        ref = name if version is None else f"{name}@{int(version)}"
        return dataframe_of(*self._repo.query(f"SELECT * FROM {_quote(ref)}").arrays())

    def versions(self, name):
        """The table's version numbers, ascending."""
        return sorted(v["version"] for v in self._repo.table_log(name) if not v["dropped"])
