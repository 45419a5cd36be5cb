"""udr.PyChunkStore: the content-addressed object store."""
import os
import pathlib
import stat

import pytest

import udr
from conftest import b3sum, object_file

EMPTY_HASH = "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
UNKNOWN = "0" * 63 + "1"


def all_objects(repo):
    return sorted(p for p in (pathlib.Path(repo) / "objects").rglob("*") if p.is_file())


def test_put_returns_blake3_hex(store):
    h = store.put(b"some bytes")
    assert isinstance(h, str)
    assert len(h) == 64 and h == h.lower()
    assert h == b3sum(b"some bytes")


def test_get_returns_the_bytes(store):
    data = bytes(range(256)) * 3
    h = store.put(data)
    got = store.get(h)
    assert isinstance(got, bytes)
    assert got == data
    assert store.get_verified(h) == data


def test_object_lies_where_the_format_says(store, repo):
    h = store.put(b"layout")
    f = object_file(repo, h)
    assert f.is_file()
    assert f.read_bytes() == b"layout"
    assert stat.S_IMODE(f.stat().st_mode) == 0o444


def test_equal_bytes_are_stored_once(store, repo):
    before = len(all_objects(repo))
    h1 = store.put(b"dedup me")
    h2 = store.put(b"dedup me")
    assert h1 == h2
    assert len(all_objects(repo)) == before + 1
    h3 = store.put(b"dedup me!")
    assert h3 != h1
    assert len(all_objects(repo)) == before + 2


def test_exists(store):
    h = store.put(b"present")
    assert store.exists(h) is True
    assert store.exists(UNKNOWN) is False


def test_size(store):
    h = store.put(b"x" * 1234)
    assert store.size(h) == 1234
    assert isinstance(store.size(h), int)


def test_empty_bytes(store):
    h = store.put(b"")
    assert h == EMPTY_HASH == b3sum(b"")
    assert store.get(h) == b""
    assert store.get_verified(h) == b""
    assert store.size(h) == 0
    assert store.exists(h)


def test_large_bytes(store):
    data = os.urandom(9 * 1024 * 1024 + 17)   # several BLAKE3 subtrees, odd tail
    h = store.put(data)
    assert h == b3sum(data)
    assert store.size(h) == len(data)
    assert store.get_verified(h) == data


BAD_HASHES = [
    "",
    "abc",
    "0" * 63,
    "0" * 65,
    "A" * 64,
    EMPTY_HASH.upper(),
    "g" * 64,
    "../../etc/passwd",
    "../" * 21 + "a",
    " " + EMPTY_HASH[1:],
]


@pytest.mark.parametrize("method", ["get", "get_verified", "size", "exists"])
@pytest.mark.parametrize("bad", BAD_HASHES, ids=repr)
def test_bad_hash_is_invalid_input(store, method, bad):
    with pytest.raises(udr.InvalidInputError):
        getattr(store, method)(bad)


def test_bad_hash_is_a_value_error(store):
    with pytest.raises(ValueError):
        store.get("../../etc/passwd")


@pytest.mark.parametrize("method", ["get", "get_verified", "size"])
def test_unknown_hash_is_not_found(store, method):
    with pytest.raises(udr.NotFoundError) as e:
        getattr(store, method)(UNKNOWN)
    assert isinstance(e.value, LookupError)
    assert UNKNOWN[:12] in str(e.value)


def _writable(f):
    os.chmod(f, 0o644)


def test_flipped_byte_is_corruption(store, repo):
    data = b"precious bytes, do not touch" * 10
    h = store.put(data)
    f = object_file(repo, h)
    _writable(f)
    raw = bytearray(f.read_bytes())
    raw[5] ^= 0x01
    f.write_bytes(bytes(raw))
    with pytest.raises(udr.CorruptionError) as e:
        store.get_verified(h)
    assert h[:12] in str(e.value)
    assert e.value.code_name == "UDR_ECORRUPT"
    # Plain get does not re-hash; whatever it does, it never hands back the
    # original bytes as if nothing happened through get_verified.
    assert store.exists(h)


def test_truncated_object_is_corruption(store, repo):
    h = store.put(b"0123456789" * 100)
    f = object_file(repo, h)
    _writable(f)
    f.write_bytes((b"0123456789" * 100)[:500])
    with pytest.raises(udr.CorruptionError):
        store.get_verified(h)


def test_object_truncated_to_nothing_is_reported_empty(store, repo):
    h = store.put(b"will vanish")
    f = object_file(repo, h)
    _writable(f)
    f.write_bytes(b"")
    with pytest.raises(udr.CorruptionError) as e:
        store.get_verified(h)
    assert "empty" in str(e.value)


def test_put_repairs_an_object_of_the_wrong_size(store, repo):
    data = b"repair me" * 50
    h = store.put(data)
    f = object_file(repo, h)
    _writable(f)
    f.write_bytes(data[:10])
    with pytest.raises(udr.CorruptionError):
        store.get_verified(h)
    assert store.put(data) == h
    assert store.get_verified(h) == data


def test_deleted_object_is_not_found(store, repo):
    h = store.put(b"gone soon")
    object_file(repo, h).unlink()
    assert store.exists(h) is False
    with pytest.raises(udr.NotFoundError):
        store.get(h)


@pytest.mark.parametrize("value", ["a str", None, 42, ["list"]], ids=repr)
def test_put_needs_bytes(store, value):
    with pytest.raises(TypeError):
        store.put(value)


@pytest.mark.parametrize("method", ["get", "get_verified", "size", "exists"])
def test_hash_must_be_a_str(store, method):
    h = store.put(b"typed")
    with pytest.raises(TypeError):
        getattr(store, method)(h.encode())


def test_path_is_the_repository(store, repo):
    assert os.path.realpath(store.path) == os.path.realpath(repo)
    assert os.path.isfile(os.path.join(repo, "FORMAT"))


def test_two_stores_of_one_repository_see_each_other(repo):
    a = udr.PyChunkStore(repo)
    b = udr.PyChunkStore(repo)
    h = a.put(b"shared")
    assert b.exists(h)
    assert b.get(h) == b"shared"


def test_cli_verifies_what_python_stored(store, repo):
    from conftest import run_cli
    h = store.put(b"checked by the tool")
    p = run_cli(repo, "fsck")
    assert p.returncode == 0
    p = run_cli(repo, "object", "get", h)
    assert p.stdout == "checked by the tool"
