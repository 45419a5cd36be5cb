"""TableWriter: DataFrames into table versions (content-defined Parquet chunks)."""
import udr
from udr import frame_of


class TableWriter:
    """Writes DataFrames as new versions of tables."""

    def __init__(self, store, catalog):
        self._repo = udr._repo_of(store)
        if udr._repo_of(catalog).path != self._repo.path:
            raise udr.InvalidInputError("the store and the catalog must be one repository")

    def write(self, name, df, key_columns=None, message=None):
        """A new version of name with df's rows; returns its number."""
        return self._repo.write(name, frame_of(df), key=key_columns, message=message)["version"]

    def append(self, name, df, message=None):
        """A new version of name with df's rows added; returns its number."""
        return self._repo.write(name, frame_of(df), message=message, append=True)["version"]
