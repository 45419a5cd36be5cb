"""The query layer of UDR: QueryEngine (SQL through DuckDB, time travel,
branches, transactions, the change feed), TableWriter and TableReader.
See docs/python.md."""
from .engine import QueryEngine, QueryResult, Transaction, Subscription, ChangeBatch
from .writer import TableWriter
from .reader import TableReader

__all__ = ["QueryEngine", "QueryResult", "Transaction", "Subscription", "ChangeBatch",
           "TableWriter", "TableReader"]
