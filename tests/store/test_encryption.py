"""Local artifacts encrypted at rest: sealed on disk, read back whole, refused when touched,
rotated to a new key; the artifact store's contract holds on a sealed store."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from modelyard.cli.app import app
from modelyard.errors import ArtifactUnreadable, InvalidInput
from modelyard.store.artifacts.area import ArtifactArea
from modelyard.store.artifacts.blobs import blob_key
from modelyard.store.artifacts.encrypted import (
    CHUNK,
    MAGIC,
    TAG,
    Keyring,
    new_key,
    parse_keys,
)
from modelyard.store.artifacts.local import LocalObjectStore
from modelyard.store.artifacts.registry import open_object_store
from modelyard.store.stores import Stores, open_stores
from tests.store import test_artifacts as contract

KEY_A = new_key("a")
KEY_B = new_key("b")
SIZES = [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 5]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def keys(*entries: str) -> Keyring:
    ring = parse_keys(",".join(entries))
    assert ring is not None
    return ring


def data_of(size: int, seed: int = 0) -> bytes:
    """Bytes no chunk of which repeats (a sealed copy could not hide a repeated pattern)."""
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(f"{seed}:{counter}".encode()).digest()
        counter += 1
    return bytes(out[:size])


def on_disk(store: LocalObjectStore, digest: str) -> Path:
    return store.root / blob_key(digest)


def put(store: LocalObjectStore, data: bytes) -> str:
    from modelyard.store.artifacts.blobs import ContentStore

    return ContentStore(store).put(io.BytesIO(data)).digest


def read(store: LocalObjectStore, digest: str) -> bytes:
    with store.open(blob_key(digest)) as handle:
        return handle.read()


@pytest.fixture
def sealed_stores(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stores]:
    monkeypatch.setenv("MODELYARD_ARTIFACTS_KEYS", KEY_A)
    s = open_stores(f"sqlite:///{tmp_path / 'store.db'}", str(tmp_path / "artifacts"))
    yield s
    s.close()


# -- the artifact store's contract, on a sealed store


@pytest.mark.parametrize(
    "case",
    [
        contract.test_same_bytes_are_stored_once_and_go_after_the_last_name,
        contract.test_a_wrong_digest_keeps_nothing,
        contract.test_large_files_stream_in_constant_memory,
        contract.test_multipart_upload_resumes_and_checks_the_whole,
    ],
    ids=lambda f: f.__name__.removeprefix("test_"),
)
def test_the_artifact_contract_holds_sealed(
    sealed_stores: Stores, case: Callable[[Stores], None]
) -> None:
    case(sealed_stores)
    objects = sealed_stores.artifacts.objects
    assert isinstance(objects, LocalObjectStore)
    for info in objects.scan(""):  # everything the contract left is sealed
        assert (objects.root / info.key).read_bytes().startswith(MAGIC)


# -- round trips


@pytest.mark.parametrize("size", SIZES)
def test_round_trip_through_the_repository(sealed_stores: Stores, size: int) -> None:
    data = data_of(size)
    area = ArtifactArea(sealed_stores.artifacts, "runs/" + "a" * 32)
    blob = area.put("model/weights.bin", io.BytesIO(data))
    assert (blob.digest, blob.size) == (sha(data), size)  # the digest is of the plaintext
    with area.open("model/weights.bin") as handle:
        assert handle.read() == data
    [row] = area.files()
    assert row.size == size
    objects = sealed_stores.artifacts.objects
    assert isinstance(objects, LocalObjectStore)
    info = objects.stat(blob_key(blob.digest))
    assert info is not None
    assert info.size == size  # stat reports the plaintext size
    raw = on_disk(objects, blob.digest).read_bytes()
    chunks = max(1, -(-size // CHUNK))
    assert len(raw) == len(MAGIC) + 2 + 1 + 16 + size + chunks * TAG
    assert raw.startswith(MAGIC)
    window = 32
    assert all(data[i : i + window] not in raw for i in range(0, max(0, size - window), 4096))


def test_identical_uploads_are_stored_once(sealed_stores: Stores) -> None:
    repo = sealed_stores.artifacts
    data = data_of(CHUNK + 7)
    first = ArtifactArea(repo, "runs/" + "a" * 32).put("x.bin", io.BytesIO(data))
    second = ArtifactArea(repo, "runs/" + "b" * 32).put("y.bin", io.BytesIO(data))
    assert first.digest == second.digest == sha(data)
    assert [d for d, _ in repo.content.scan()] == [sha(data)]
    assert repo.content.missing([sha(data), sha(b"other")]) == [sha(b"other")]


@settings(max_examples=60, deadline=None)
@given(
    size=st.integers(0, 3 * CHUNK + 100),
    reads=st.lists(
        st.tuples(
            st.integers(0, 3 * CHUNK + 200), st.sampled_from([0, 1, 2]), st.integers(-1, CHUNK + 50)
        ),
        max_size=6,
    ),
)
def test_seek_and_read_match_the_plaintext(
    tmp_path_factory: pytest.TempPathFactory, size: int, reads: list[tuple[int, int, int]]
) -> None:
    store = LocalObjectStore(str(tmp_path_factory.mktemp("seek")), keys(KEY_A))
    data = data_of(size, seed=size)
    digest = put(store, data)
    plain = io.BytesIO(data)
    with store.open(blob_key(digest)) as handle:
        assert handle.seekable()
        for offset, whence, count in reads:
            target = offset if whence != 2 else -min(offset, size)
            if whence == 1:
                target = offset - plain.tell()
            assert handle.seek(target, whence) == plain.seek(target, whence)
            assert handle.read(count) == plain.read(count)
            assert handle.tell() == plain.tell()


def test_a_parquet_preview_reads_a_sealed_file(sealed_stores: Stores) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from modelyard.tracking.previews import preview_table

    buf = io.BytesIO()
    pq.write_table(pa.table({"x": list(range(100_000)), "y": ["v"] * 100_000}), buf)
    area = ArtifactArea(sealed_stores.artifacts, "runs/" + "a" * 32)
    area.put("t.parquet", io.BytesIO(buf.getvalue()))
    with area.open("t.parquet") as handle:  # a footer-first format: seeks
        preview = preview_table(handle, "t.parquet", 3)
    assert preview.total_rows == 100_000
    assert preview.rows[:3] == [[0, "v"], [1, "v"], [2, "v"]]


def test_a_key_reads_under_any_spelling(tmp_path: Path) -> None:
    store = LocalObjectStore(str(tmp_path / "root"), keys(KEY_A))
    staged = tmp_path / "file"
    staged.write_bytes(b"spelled")
    store.put_file("runs/x/./model//m.bin", staged)
    with store.open("runs/x/model/m.bin") as handle:
        assert handle.read() == b"spelled"
    info = store.stat("runs//x/model/m.bin")
    assert info is not None
    assert info.size == len(b"spelled")
    assert not store.rekey("runs/x/model/./m.bin")  # already under the first key


def test_no_plaintext_is_left_in_staging(tmp_path: Path) -> None:
    store = LocalObjectStore(str(tmp_path), keys(KEY_A))
    put(store, data_of(3 * CHUNK))
    assert list(store.staging.iterdir()) == []


# -- without the key


def test_a_sealed_object_is_unreadable_without_its_key(tmp_path: Path) -> None:
    data = data_of(2 * CHUNK)
    digest = put(LocalObjectStore(str(tmp_path), keys(KEY_A)), data)
    key = blob_key(digest)
    with pytest.raises(ArtifactUnreadable, match=r"encrypted \(key 'a'\), but MODELYARD_ARTIFACTS"):
        LocalObjectStore(str(tmp_path)).open(key)
    with pytest.raises(
        ArtifactUnreadable, match="sealed with key 'a', which MODELYARD_ARTIFACTS_KEYS"
    ):
        LocalObjectStore(str(tmp_path), keys(KEY_B)).open(key)
    other_a = "a:" + base64.b64encode(os.urandom(32)).decode()  # the same id, another key
    with pytest.raises(ArtifactUnreadable, match="cannot be decrypted"):
        LocalObjectStore(str(tmp_path), keys(other_a)).open(key)
    assert read(LocalObjectStore(str(tmp_path), keys(KEY_B, KEY_A)), digest) == data


def test_plaintext_objects_from_before_keys_still_read(tmp_path: Path) -> None:
    data = data_of(CHUNK + 3)
    digest = put(LocalObjectStore(str(tmp_path)), data)
    assert on_disk(LocalObjectStore(str(tmp_path)), digest).read_bytes() == data
    sealed = LocalObjectStore(str(tmp_path), keys(KEY_A))
    assert read(sealed, digest) == data
    info = sealed.stat(blob_key(digest))
    assert info is not None
    assert info.size == len(data)


def test_an_unmarked_root_keeps_any_bytes_as_they_are(tmp_path: Path) -> None:
    sealed_root, plain_root = tmp_path / "sealed", tmp_path / "plain"
    store = LocalObjectStore(str(sealed_root), keys(KEY_A))
    digest = put(store, b"inner")
    looks_sealed = on_disk(store, digest).read_bytes()  # e.g. a backup logged as an artifact
    plain = LocalObjectStore(str(plain_root))
    assert read(plain, put(plain, looks_sealed)) == looks_sealed
    assert not (plain_root / ".encrypted").exists()
    assert (sealed_root / ".encrypted").exists()
    assert ".encrypted" not in [i.key for i in store.scan("")]


def test_parts_of_an_upload_wait_sealed(sealed_stores: Stores) -> None:
    from modelyard.store.artifacts.uploads import Uploads

    uploads = Uploads(sealed_stores.artifacts)
    parts = [data_of(CHUNK + 10, seed=1), data_of(999, seed=2)]
    upload_id = uploads.create()
    for number, part in enumerate(parts, 1):
        uploads.put_part(upload_id, number, io.BytesIO(part))
    objects = sealed_stores.artifacts.objects
    assert isinstance(objects, LocalObjectStore)
    staged = sorted(p for p in objects.staging.rglob("*") if p.is_file())
    assert [p.name for p in staged] == ["00001", "00002"]
    for path, part in zip(staged, parts, strict=True):
        raw = path.read_bytes()
        assert raw.startswith(MAGIC)
        assert part[:64] not in raw
    blob = uploads.complete(upload_id)
    assert blob.digest == sha(b"".join(parts))
    with sealed_stores.artifacts.content.open(blob.digest) as handle:
        assert handle.read() == b"".join(parts)
    assert [p for p in objects.staging.rglob("*") if p.is_file()] == []


# -- tampering


def sealed_file(tmp_path: Path, size: int = 3 * CHUNK + 100) -> tuple[LocalObjectStore, str, bytes]:
    store = LocalObjectStore(str(tmp_path), keys(KEY_A))
    data = data_of(size)
    return store, put(store, data), data


def header_length(raw: bytes) -> int:
    return len(MAGIC) + 2 + raw[len(MAGIC) + 1] + 16


def chunk_span(raw: bytes, index: int) -> slice:
    start = header_length(raw) + index * (CHUNK + TAG)
    return slice(start, start + CHUNK + TAG)


def flip(raw: bytes, at: int) -> bytes:
    return raw[:at] + bytes([raw[at] ^ 1]) + raw[at + 1 :]


def swap_chunks(raw: bytes) -> bytes:
    one, two = raw[chunk_span(raw, 0)], raw[chunk_span(raw, 1)]
    return raw[: chunk_span(raw, 0).start] + two + one + raw[chunk_span(raw, 2).start :]


TAMPERS: dict[str, Callable[[bytes], bytes]] = {
    "salt": lambda raw: flip(raw, header_length(raw) - 1),
    "key id": lambda raw: raw.replace(b"\x01a", b"\x01b", 1),
    "first chunk": lambda raw: flip(raw, header_length(raw) + 5),
    "a tag": lambda raw: flip(raw, chunk_span(raw, 0).stop - 1),
    "swapped chunks": swap_chunks,
    "cut at a chunk boundary": lambda raw: raw[: chunk_span(raw, 2).start],
    "cut inside a chunk": lambda raw: raw[:-5],
    "a chunk appended": lambda raw: raw + raw[chunk_span(raw, 0)],
    "bytes appended": lambda raw: raw + b"\x00" * 7,
    "header only": lambda raw: raw[: header_length(raw)],
}


@pytest.mark.parametrize("how", list(TAMPERS))
def test_a_changed_file_is_refused(tmp_path: Path, how: str) -> None:
    store, digest, _ = sealed_file(tmp_path)
    path = on_disk(store, digest)
    path.write_bytes(TAMPERS[how](path.read_bytes()))
    with pytest.raises(ArtifactUnreadable, match=r"cannot be decrypted|damaged|does not hold"):
        read(store, digest)


def test_a_late_chunk_changed_fails_before_its_bytes_are_read(tmp_path: Path) -> None:
    store, digest, data = sealed_file(tmp_path)
    path = on_disk(store, digest)
    raw = path.read_bytes()
    path.write_bytes(flip(raw, chunk_span(raw, 2).start + 3))
    with store.open(blob_key(digest)) as handle:
        assert handle.read(2 * CHUNK) == data[: 2 * CHUNK]  # the intact chunks are authentic
        with pytest.raises(ArtifactUnreadable, match="cannot be decrypted"):
            handle.read(1)


def test_an_object_moved_to_another_key_is_refused(tmp_path: Path) -> None:
    store = LocalObjectStore(str(tmp_path), keys(KEY_A))
    one, two = put(store, b"first object"), put(store, b"second object")
    os.replace(on_disk(store, one), on_disk(store, two))  # the blob of `two` now holds `one`
    with pytest.raises(ArtifactUnreadable, match="moved from another object"):
        read(store, two)


def test_a_file_no_intact_object_could_be_is_no_object(tmp_path: Path) -> None:
    store, digest, data = sealed_file(tmp_path)
    path = on_disk(store, digest)
    raw = path.read_bytes()
    path.write_bytes(raw[: chunk_span(raw, 3).start + TAG - 1])  # a last chunk shorter than a tag
    assert [i.key for i in store.scan("")] == [blob_key(digest)]  # listed: gc and rekey see it
    assert store.stat(blob_key(digest)) is None  # so an upload of the same bytes replaces it
    assert put(store, data) == digest
    assert read(store, digest) == data


# -- keys


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("no-colon-here", "entry 1 is not id:base64key"),
        (f"{KEY_A},bad id:{KEY_A[2:]}", "entry 2 is not id:base64key"),
        ("a:" + base64.b64encode(b"short").decode(), "key 'a' is not 32 bytes"),
        ("a:not base64!!", "key 'a' is not 32 bytes"),
        (f"{KEY_A},{KEY_A}", "key id 'a' appears twice"),
    ],
    ids=["no-colon", "bad-id", "short", "not-base64", "twice"],  # keys are random: fixed ids
)
def test_bad_keys_are_refused_without_echoing_them(setting: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=re.escape(message)) as caught:
        parse_keys(setting)
    secret = setting.split(":", 1)[-1]
    assert secret[4:20] not in str(caught.value)


def test_keys_never_show_in_a_repr() -> None:
    ring = keys(KEY_A, KEY_B)
    assert ring.current == "a"
    for entry in (KEY_A, KEY_B):
        raw = base64.b64decode(entry.split(":", 1)[1])
        assert entry.split(":", 1)[1] not in repr(ring)
        assert repr(raw) not in repr(ring)
    assert parse_keys("") is None
    assert parse_keys(" , ") is None


def test_keys_with_a_non_local_store_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELYARD_ARTIFACTS_KEYS", KEY_A)
    with pytest.raises(InvalidInput, match="encrypts local artifact folders only"):
        open_object_store("s3://bucket/prefix")


# -- rotation


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def test_keygen_prints_a_usable_key() -> None:
    code, out = cli("artifacts", "keygen", "--id", "k2")
    assert code == 0
    ring = keys(out.strip())
    assert ring.current == "k2"
    code, out = cli("artifacts", "keygen")
    assert code == 0
    assert re.fullmatch(r"k\d{8}:[A-Za-z0-9+/]{43}=\n", out)
    assert cli("artifacts", "keygen", "--id", "a b")[0] == 2


def test_rotation_from_key_a_to_key_b(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "artifacts"
    plain = data_of(10, seed=1)
    plain_digest = put(LocalObjectStore(str(root)), plain)  # before keys were set
    under_a = {put(LocalObjectStore(str(root), keys(KEY_A)), data_of(n, seed=n)): n for n in SIZES}
    before = {d: on_disk(LocalObjectStore(str(root)), d).stat().st_mtime_ns for d in under_a}

    monkeypatch.setenv("MODELYARD_ARTIFACTS_KEYS", f"{KEY_B},{KEY_A}")
    both = LocalObjectStore(str(root), keys(KEY_B, KEY_A))
    new = put(both, b"written after the new key came first")
    code, out = cli("artifacts", "rekey", "--artifacts", str(root), "--dry-run")
    assert (code, out.split("\n")[-2]) == (
        0,
        f"{len(SIZES) + 2} object(s): {len(SIZES) + 1} would be rewritten under key 'b', "
        "1 already under it, 0 unreadable (dry run)",
    )
    code, out = cli("artifacts", "rekey", "--artifacts", str(root))
    assert code == 0, out
    assert f"{len(SIZES) + 1} rewritten under key 'b', 1 already under it, 0 unreadable" in out
    code, out = cli("artifacts", "rekey", "--artifacts", str(root))  # safe to repeat
    assert f"0 rewritten under key 'b', {len(SIZES) + 2} already under it" in out

    only_b = LocalObjectStore(str(root), keys(KEY_B))
    for digest, n in under_a.items():
        assert read(only_b, digest) == data_of(n, seed=n)
        assert on_disk(only_b, digest).stat().st_mtime_ns == before[digest]  # gc's grace kept
    assert read(only_b, plain_digest) == plain
    assert on_disk(only_b, plain_digest).read_bytes().startswith(MAGIC)
    assert read(only_b, new) == b"written after the new key came first"
    with pytest.raises(ArtifactUnreadable, match="sealed with key 'b'"):
        read(LocalObjectStore(str(root), keys(KEY_A)), plain_digest)


def test_rekey_lists_unreadable_objects_and_leaves_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, digest, _ = sealed_file(tmp_path / "artifacts", size=100)
    good = put(store, b"fine")
    path = on_disk(store, digest)
    damaged = flip(path.read_bytes(), len(path.read_bytes()) - 1)
    path.write_bytes(damaged)
    monkeypatch.setenv("MODELYARD_ARTIFACTS_KEYS", f"{KEY_B},{KEY_A}")
    code, out = cli("artifacts", "rekey", "--artifacts", str(tmp_path / "artifacts"))
    assert code == 1
    assert "1 rewritten under key 'b', 0 already under it, 1 unreadable" in out
    assert f"unreadable {blob_key(digest)}" in out.replace("\n", " ")
    assert path.read_bytes() == damaged
    assert read(LocalObjectStore(str(tmp_path / "artifacts"), keys(KEY_B)), good) == b"fine"
    assert list(store.staging.iterdir()) == []


def test_rekey_needs_keys_and_a_local_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MODELYARD_ARTIFACTS_KEYS", raising=False)
    code, out = cli("artifacts", "rekey", "--artifacts", str(tmp_path))
    assert code == 2
    assert "MODELYARD_ARTIFACTS_KEYS is not set" in out
    monkeypatch.setenv("MODELYARD_ARTIFACTS_KEYS", "x:short")
    code, out = cli("artifacts", "rekey", "--artifacts", str(tmp_path))
    assert (code, "key 'x' is not 32 bytes" in out) == (2, True)
