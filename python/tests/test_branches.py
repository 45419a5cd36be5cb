"""Branches, tags, history and merges (docs/branches.md)."""
import pandas as pd
import pytest

import udr
from conftest import rows, scalar


def test_main_is_current_at_first(engine, branches):
    assert engine.current_branch == "main"
    assert branches.current_branch == "main"


def test_create_and_list(keyed, branches):
    keyed.create_branch("feature/x", description="an experiment")
    listed = {b["name"]: b for b in keyed.list_branches()}
    assert set(listed) == {"main", "feature/x"}
    for b in listed.values():
        assert {"name", "commit", "current"} <= set(b)
    assert listed["main"]["current"] and not listed["feature/x"]["current"]
    # Zero-copy: the new branch points at main's head.
    assert listed["feature/x"]["commit"] == listed["main"]["commit"]
    assert len(listed["main"]["commit"]) == 64
    assert {b["name"] for b in branches.list_branches()} == {"main", "feature/x"}


def test_checkout(keyed, branches):
    keyed.create_branch("dev")
    keyed.checkout("dev")
    assert keyed.current_branch == "dev"
    assert branches.current_branch == "dev"          # one repository, one handle
    assert [b["name"] for b in keyed.list_branches() if b["current"]] == ["dev"]
    branches.checkout("main")
    assert keyed.current_branch == "main"


def test_checkout_is_seen_by_another_process(keyed, repo):
    from conftest import run_cli
    keyed.create_branch("dev")
    keyed.checkout("dev")
    out = run_cli(repo, "branch", "--format", "csv").stdout
    assert "*,dev," in out
    assert "*,main," not in out


def test_writes_go_to_the_current_branch(keyed):
    keyed.create_branch("dev")
    keyed.checkout("dev")
    keyed.query("UPDATE t SET v = 'z' WHERE id = 1")
    keyed.write_table("only_dev", pd.DataFrame({"x": [1]}))
    assert rows(keyed, "SELECT v FROM t WHERE id = 1") == [("z",)]
    assert rows(keyed, "SELECT v FROM t WHERE id = 1", branch="main") == [("a",)]
    assert "only_dev" in keyed.list_tables()
    keyed.checkout("main")
    assert "only_dev" not in keyed.list_tables()
    assert rows(keyed, "SELECT v FROM t WHERE id = 1") == [("a",)]
    assert rows(keyed, 'SELECT v FROM "t@dev" WHERE id = 1') == [("z",)]


def test_query_on_branch_does_not_checkout(keyed):
    keyed.create_branch("dev")
    keyed.query("SELECT * FROM t", branch="dev")
    assert keyed.current_branch == "main"


def test_query_on_unknown_branch(keyed):
    with pytest.raises(udr.NotFoundError) as e:
        keyed.query("SELECT * FROM t", branch="nosuch")
    assert "nosuch" in str(e.value)


def test_create_existing_branch(keyed):
    keyed.create_branch("dev")
    with pytest.raises(udr.AlreadyExistsError):
        keyed.create_branch("dev")
    with pytest.raises(udr.AlreadyExistsError):
        keyed.create_branch("main")


@pytest.mark.parametrize("name", ["", "bad..name", "-dash", ".dot", "a//b", "trail/",
                                  "x.lock", "123", "has space", "2026-11-24T10:00:00Z",
                                  "a" * 201])
def test_bad_branch_names(keyed, name):
    with pytest.raises(udr.InvalidInputError):
        keyed.create_branch(name)
    assert {b["name"] for b in keyed.list_branches()} == {"main"}


def test_checkout_unknown_branch(keyed):
    with pytest.raises(udr.NotFoundError) as e:
        keyed.checkout("nosuch")
    assert "nosuch" in str(e.value)
    assert keyed.current_branch == "main"


def test_create_branch_from_a_ref(keyed):
    keyed.query("UPDATE t SET v = 'later' WHERE id = 3")
    old = keyed.table_versions("t")[1]["commit"]
    keyed.create_branch("old", from_branch=old)
    assert rows(keyed, "SELECT v FROM t WHERE id = 3", branch="old") == [("c",)]
    keyed.create_branch("prev", from_branch="main~1")
    assert rows(keyed, "SELECT v FROM t WHERE id = 3", branch="prev") == [("c",)]


def test_delete_branch(keyed):
    keyed.create_branch("dev")
    keyed.delete_branch("dev")
    assert {b["name"] for b in keyed.list_branches()} == {"main"}
    with pytest.raises(udr.NotFoundError):
        keyed.delete_branch("dev")


def test_delete_main_or_current_is_refused(keyed):
    with pytest.raises(udr.Error):
        keyed.delete_branch("main")
    keyed.create_branch("dev")
    keyed.checkout("dev")
    with pytest.raises(udr.Error):
        keyed.delete_branch("dev")
    assert {b["name"] for b in keyed.list_branches()} == {"main", "dev"}


def test_delete_unmerged_branch_needs_force(keyed):
    keyed.create_branch("dev")
    keyed.checkout("dev")
    keyed.query("DELETE FROM t WHERE id = 1")
    keyed.checkout("main")
    with pytest.raises(udr.ConflictError):
        keyed.delete_branch("dev")
    assert "dev" in {b["name"] for b in keyed.list_branches()}
    keyed.delete_branch("dev", force=True)
    assert "dev" not in {b["name"] for b in keyed.list_branches()}


def test_diff_branches(keyed):
    keyed.write_table("old", pd.DataFrame({"x": [1]}))
    keyed.create_branch("dev")
    keyed.checkout("dev")
    keyed.query("UPDATE t SET v = 'B' WHERE id = 2")
    keyed.write_table("newt", pd.DataFrame({"x": [1]}))
    keyed.drop_table("old")
    d = keyed.diff_branches("dev", "main")
    assert [tuple(x) for x in d["added"]] == [("newt", 1)]
    assert [tuple(x) for x in d["removed"]] == [("old", 1)]
    assert [tuple(x) for x in d["modified"]] == [("t", 2, 1)]
    # The other way round.
    d = keyed.diff_branches("main", "dev")
    assert [tuple(x) for x in d["added"]] == [("old", 1)]
    assert [tuple(x) for x in d["removed"]] == [("newt", 1)]
    assert [tuple(x) for x in d["modified"]] == [("t", 1, 2)]


def test_diff_of_equal_branches(keyed, branches):
    keyed.create_branch("dev")
    d = keyed.diff_branches("dev", "main")
    assert (list(d["added"]), list(d["removed"]), list(d["modified"])) == ([], [], [])
    assert branches.diff("dev", "main") == d


def test_merge_fast_forward(keyed):
    keyed.create_branch("dev")
    keyed.checkout("dev")
    keyed.query("UPDATE t SET v = 'B' WHERE id = 2")
    dev_head = keyed.table_versions("t")[0]["commit"]
    keyed.checkout("main")
    res = keyed.merge_branch("dev", into="main")
    assert res["fast_forward"]
    assert not res["up_to_date"]
    assert res["commit"] == dev_head
    assert rows(keyed, "SELECT v FROM t WHERE id = 2") == [("B",)]
    again = keyed.merge_branch("dev", into="main")
    assert again["up_to_date"]


def test_three_way_merge_by_rows(keyed, branches):
    keyed.create_branch("dev")
    keyed.checkout("dev")
    keyed.query("UPDATE t SET v = 'B' WHERE id = 2")
    keyed.query("INSERT INTO t VALUES (4, 'd')")
    keyed.checkout("main")
    keyed.query("UPDATE t SET v = 'A' WHERE id = 1")
    keyed.query("DELETE FROM t WHERE id = 3")
    res = keyed.merge_branch("dev")                       # into the current branch
    assert not res["fast_forward"] and not res["up_to_date"]
    assert len(res["commit"]) == 64
    assert rows(keyed, "SELECT id, v FROM t ORDER BY id") == [(1, "A"), (2, "B"), (4, "d")]
    head = branches.log(max_count=1)[0]
    assert head["commit"] == res["commit"]
    assert len(head["parents"]) == 2
    # The source branch is unchanged.
    assert rows(keyed, "SELECT id, v FROM t ORDER BY id", branch="dev") == [
        (1, "a"), (2, "B"), (3, "c"), (4, "d")]


def test_merge_takes_tables_changed_only_by_source(keyed):
    keyed.write_table("other", pd.DataFrame({"x": [1]}))
    keyed.create_branch("dev")
    keyed.checkout("dev")
    keyed.write_table("other", pd.DataFrame({"x": [2]}))
    keyed.checkout("main")
    keyed.query("UPDATE t SET v = 'A' WHERE id = 1")
    keyed.merge_branch("dev", into="main")
    assert rows(keyed, "SELECT x FROM other") == [(2,)]
    assert rows(keyed, "SELECT v FROM t WHERE id = 1") == [("A",)]


def _conflicting(engine):
    engine.create_branch("dev")
    engine.checkout("dev")
    engine.query("UPDATE t SET v = 'theirs' WHERE id = 2")
    engine.checkout("main")
    engine.query("UPDATE t SET v = 'ours' WHERE id = 2")
    engine.query("UPDATE t SET v = 'A' WHERE id = 1")


def test_merge_conflict_raises_with_conflicts(keyed):
    _conflicting(keyed)
    before = keyed.table_versions("t")[0]["version"]
    with pytest.raises(udr.ConflictError) as e:
        keyed.merge_branch("dev", into="main")
    conflicts = e.value.conflicts
    assert isinstance(conflicts, pd.DataFrame)
    assert len(conflicts) == 1
    assert "t" in conflicts.to_string() and "2" in conflicts.to_string()
    assert e.value.code_name == "UDR_ECONFLICT"
    # Nothing was committed.
    assert keyed.table_versions("t")[0]["version"] == before
    assert rows(keyed, "SELECT v FROM t WHERE id = 2") == [("ours",)]


def test_merge_strategy_ours(keyed):
    _conflicting(keyed)
    keyed.merge_branch("dev", into="main", strategy="ours")
    assert rows(keyed, "SELECT id, v FROM t ORDER BY id") == [(1, "A"), (2, "ours"), (3, "c")]


def test_merge_strategy_theirs(keyed):
    _conflicting(keyed)
    res = keyed.merge_branch("dev", into="main", strategy="theirs")
    assert rows(keyed, "SELECT id, v FROM t ORDER BY id") == [(1, "A"), (2, "theirs"),
                                                              (3, "c")]
    assert len(res["commit"]) == 64


def test_merge_bad_strategy(keyed):
    _conflicting(keyed)
    with pytest.raises(ValueError):
        keyed.merge_branch("dev", into="main", strategy="whatever")


def test_merge_unknown_branch(keyed):
    with pytest.raises(udr.NotFoundError):
        keyed.merge_branch("nosuch")


def test_merge_into_another_branch(keyed):
    keyed.create_branch("a")
    keyed.create_branch("b")
    keyed.checkout("a")
    keyed.query("UPDATE t SET v = 'from a' WHERE id = 3")
    keyed.checkout("main")
    res = keyed.merge_branch("a", into="b")
    assert res["fast_forward"]
    assert rows(keyed, "SELECT v FROM t WHERE id = 3", branch="b") == [("from a",)]
    assert rows(keyed, "SELECT v FROM t WHERE id = 3") == [("c",)]


def test_branch_manager_merge(keyed, branches):
    _conflicting(keyed)
    with pytest.raises(udr.ConflictError):
        branches.merge("dev")
    res = branches.merge("dev", into="main", strategy="theirs")
    assert not res["fast_forward"]
    assert rows(keyed, "SELECT v FROM t WHERE id = 2") == [("theirs",)]


def test_tags(keyed, branches):
    branches.create_tag("v1.0", message="first release")
    keyed.query("UPDATE t SET v = 'new' WHERE id = 1")
    tags = branches.list_tags()
    assert [t["name"] for t in tags] == ["v1.0"]
    assert rows(keyed, 'SELECT v FROM "t@v1.0" WHERE id = 1') == [("a",)]
    assert rows(keyed, "SELECT v FROM t WHERE id = 1") == [("new",)]
    branches.create_tag("v2.0", ref="main")
    assert sorted(t["name"] for t in branches.list_tags()) == ["v1.0", "v2.0"]
    with pytest.raises(udr.AlreadyExistsError):
        branches.create_tag("v1.0")
    with pytest.raises(udr.InvalidInputError):
        branches.create_tag("bad..tag")


def test_log(keyed, branches):
    keyed.write_table("t", pd.DataFrame({"id": [1], "v": ["only"]}), message="shrink")
    keyed.write_table("u", pd.DataFrame({"x": [1]}), message="add u")
    log = branches.log()
    assert len(log) == 3
    assert [c["message"] for c in log[:2]] == ["add u", "shrink"]
    for c in log:
        assert {"commit", "parents", "time", "author", "message", "changes"} <= set(c)
    assert list(log[0]["parents"]) == [log[1]["commit"]]
    assert list(log[-1]["parents"]) == []
    assert "u" in str(log[0]["changes"])
    assert len(branches.log(max_count=2)) == 2
    assert branches.log(ref="main~2")[0]["commit"] == log[2]["commit"]


def test_log_of_unknown_ref(branches, keyed):
    with pytest.raises(udr.NotFoundError):
        branches.log(ref="nosuch")
