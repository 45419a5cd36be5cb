"""The type stubs (udr/__init__.pyi, udr_query/__init__.pyi) name only what exists."""
import ast
import pathlib

import udr
import udr_query


def stub_names(module):
    path = pathlib.Path(module.__file__).with_name("__init__.pyi")
    tree = ast.parse(path.read_text())
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            members = [n.name for n in node.body if isinstance(n, ast.FunctionDef)]
            members += [n.target.id for n in node.body if isinstance(n, ast.AnnAssign)]
            yield node.name, members
        elif isinstance(node, ast.FunctionDef):
            yield node.name, []


def test_udr_stubs_match_the_module():
    names = list(stub_names(udr))
    assert len(names) > 15
    for cls, members in names:
        assert hasattr(udr, cls), cls
        for m in members:
            if m in ("code", "code_name", "conflicts", "path", "row_count", "columns", "commit",
                     "timestamp", "message", "table_name", "version", "chunk_hashes",
                     "commit_hash", "types"):
                continue                      # instance attributes
            assert hasattr(getattr(udr, cls), m), f"{cls}.{m}"


def test_udr_query_stubs_match_the_module():
    names = list(stub_names(udr_query))
    for cls, members in names:
        assert hasattr(udr_query, cls), cls
        for m in members:
            if m in ("seq", "time", "commit", "table", "from_version", "version", "rows",
                     "name", "position"):
                continue                      # instance attributes
            assert hasattr(getattr(udr_query, cls), m), f"{cls}.{m}"
