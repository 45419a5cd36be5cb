"""udr.PyTableVersion and udr.PyCatalog: the low-level catalog."""
import datetime

import pandas as pd
import pytest

import udr


def test_table_version_attributes():
    v = udr.PyTableVersion("events", 3, ["a" * 64, "b" * 64])
    assert v.table_name == "events"
    assert v.version == 3
    assert v.chunk_hashes == ["a" * 64, "b" * 64]
    assert isinstance(v.chunk_hashes, list)


def test_commit_raw_version_and_read_it_back(store, catalog):
    h = store.put(b"raw object")
    catalog.commit(udr.PyTableVersion("raw", 1, [h]))
    v = catalog.get_version("raw", 1)
    assert v.table_name == "raw"
    assert v.version == 1
    assert v.chunk_hashes == [h]


def test_versions_are_sequential(store, catalog):
    h1 = store.put(b"one")
    h2 = store.put(b"two")
    h3 = store.put(b"three")
    catalog.commit(udr.PyTableVersion("seq", 1, [h1]))
    catalog.commit(udr.PyTableVersion("seq", 2, [h2, h3]))
    assert catalog.list_versions("seq") == [1, 2]
    assert catalog.latest_version("seq") == 2
    latest = catalog.get_version("seq")
    assert latest.version == 2
    assert latest.chunk_hashes == [h2, h3]        # in the order given
    assert catalog.get_version("seq", 1).chunk_hashes == [h1]


@pytest.mark.parametrize("wrong", [0, 1, 3, 7])
def test_wrong_version_number_is_refused(store, catalog, wrong):
    h = store.put(b"payload")
    catalog.commit(udr.PyTableVersion("t", 1, [h]))
    with pytest.raises(udr.InvalidInputError):
        catalog.commit(udr.PyTableVersion("t", wrong, [h]))
    assert catalog.list_versions("t") == [1]


def test_new_table_must_start_at_one(store, catalog):
    h = store.put(b"payload")
    with pytest.raises(udr.InvalidInputError):
        catalog.commit(udr.PyTableVersion("fresh", 2, [h]))
    assert "fresh" not in catalog.list_tables()


def test_commit_of_missing_object_is_refused(catalog):
    missing = "1" * 64
    with pytest.raises(udr.Error) as e:
        catalog.commit(udr.PyTableVersion("ghost", 1, [missing]))
    assert missing[:12] in str(e.value)
    assert "ghost" not in catalog.list_tables()


def test_get_version_unknown_table(catalog):
    with pytest.raises(udr.NotFoundError) as e:
        catalog.get_version("nosuch")
    assert "nosuch" in str(e.value)
    with pytest.raises(udr.NotFoundError):
        catalog.list_versions("nosuch")
    with pytest.raises(udr.NotFoundError):
        catalog.latest_version("nosuch")


def test_get_version_unknown_version(store, catalog):
    catalog.commit(udr.PyTableVersion("t", 1, [store.put(b"x")]))
    with pytest.raises(udr.NotFoundError) as e:
        catalog.get_version("t", 9)
    assert "9" in str(e.value)


def test_list_tables(store, catalog):
    assert catalog.list_tables() == []
    catalog.commit(udr.PyTableVersion("b_table", 1, [store.put(b"1")]))
    catalog.commit(udr.PyTableVersion("a_table", 1, [store.put(b"2")]))
    assert sorted(catalog.list_tables()) == ["a_table", "b_table"]


def test_read_back_metadata(engine, catalog, users_df):
    before = datetime.datetime.now(datetime.timezone.utc)
    engine.write_table("users", users_df, message="first load")
    v = catalog.get_version("users")
    assert v.version == 1
    assert v.row_count == 3
    assert [tuple(c) for c in v.columns] == [("id", "BIGINT"), ("name", "VARCHAR"),
                                             ("score", "DOUBLE")]
    assert isinstance(v.commit, str) and len(v.commit) == 64
    assert v.message == "first load"
    assert isinstance(v.timestamp, datetime.datetime)
    assert v.timestamp.utcoffset() == datetime.timedelta(0)
    after = datetime.datetime.now(datetime.timezone.utc)
    slack = datetime.timedelta(seconds=2)
    assert before - slack <= v.timestamp <= after + slack
    assert len(v.chunk_hashes) >= 1


def test_engine_versions_appear_in_catalog(engine, catalog, users_df):
    engine.write_table("users", users_df)
    engine.write_table("users", users_df.assign(score=users_df["score"] * 2))
    assert "users" in catalog.list_tables()
    assert catalog.list_versions("users") == [1, 2]
    assert catalog.get_version("users", 1).commit != catalog.get_version("users", 2).commit


def test_committing_engine_chunks_makes_a_queryable_table(engine, store, catalog, users_df):
    engine.write_table("users", users_df)
    chunks = catalog.get_version("users").chunk_hashes
    for h in chunks:
        assert store.exists(h)
    catalog.commit(udr.PyTableVersion("copy", 1, chunks))
    v = catalog.get_version("copy")
    assert v.row_count == 3
    assert [tuple(c)[0] for c in v.columns] == ["id", "name", "score"]
    got = engine.query("SELECT id, name, score FROM copy ORDER BY id").to_pandas()
    pd.testing.assert_frame_equal(got, users_df)
    assert "copy" in engine.list_tables()


def test_raw_version_is_not_queryable(engine, store, catalog):
    h = store.put(b"Hello, World!")
    catalog.commit(udr.PyTableVersion("blob", 1, [h]))
    assert catalog.get_version("blob").chunk_hashes == [h]
    with pytest.raises(udr.Error):
        engine.query("SELECT * FROM blob").fetchall()


def test_raw_then_parquet_versions(engine, store, catalog, users_df):
    # A raw version and a table version may follow each other.
    engine.write_table("src", users_df)
    chunks = catalog.get_version("src").chunk_hashes
    catalog.commit(udr.PyTableVersion("mix", 1, [store.put(b"not parquet")]))
    catalog.commit(udr.PyTableVersion("mix", 2, chunks))
    assert engine.query("SELECT count(*) FROM mix").fetchone()[0] == 3
    assert catalog.list_versions("mix") == [1, 2]


def test_two_catalogs_of_one_repository(repo, store):
    a = udr.PyCatalog(repo)
    b = udr.PyCatalog(repo)
    a.commit(udr.PyTableVersion("shared", 1, [store.put(b"s")]))
    assert b.list_tables() == ["shared"]
    assert b.latest_version("shared") == 1


def test_table_version_with_bad_name(store, catalog):
    with pytest.raises(udr.InvalidInputError):
        catalog.commit(udr.PyTableVersion("../../etc", 1, [store.put(b"x")]))


def test_table_version_with_bad_hash(catalog):
    with pytest.raises(udr.InvalidInputError):
        catalog.commit(udr.PyTableVersion("t", 1, ["not-a-hash"]))


def test_table_show_lists_patches(engine, catalog):
    """An UPDATE of a BIGINT non-key column stores a patch, which the
    version's detail lists as (hash, rows, [columns]) beside its deletes."""
    df = pd.DataFrame({"id": range(1000), "v": [i * 2 for i in range(1000)],
                       "name": [f"x{i}" for i in range(1000)]})
    engine.write_table("t", df, key_columns=["id"])
    engine.query("UPDATE t SET v = v + 1 WHERE id % 100 = 0")
    d = catalog._repo.table_show("t", None)
    assert d["deletes"] == []
    [(h, rows, cols)] = d["patches"]
    assert len(h) == 64 and rows == 10 and cols == ["v"]
    assert catalog._repo.table_show("t", "1")["patches"] == []
