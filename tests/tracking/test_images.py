"""``my.log_image``: arrays and PIL images become PNG artifacts under images/<key>/step_<n>.png."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

import modelyard as my
from modelyard.errors import InvalidInput
from modelyard.tracking.images import image_key, png_bytes


@pytest.fixture(params=["server", "embedded"])
def uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "server":
        return str(request.getfixturevalue("server_url"))
    return f"sqlite:///{tmp_path / 'embedded.db'}"


def decoded(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as img:
        img.load()
        return np.asarray(img)


def stored(uri: str, run_id: str, path: str, tmp_path: Path) -> np.ndarray:
    client = my.Client(uri)
    try:
        return decoded(client.download_artifact(run_id, path, tmp_path / "got.png").read_bytes())
    finally:
        client.close()


def test_arrays_and_pil_images_are_stored_as_pngs_by_step(uri: str, tmp_path: Path) -> None:
    my.set_tracking_uri(uri)
    rgb = np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3)
    grey = np.linspace(0, 1, 6 * 2).reshape(6, 2)
    with my.start_run("imgs", experiment="images") as run:
        assert my.log_image("samples", rgb) == "images/samples/step_0.png"
        assert my.log_image("samples", grey) == "images/samples/step_1.png"  # next step
        assert my.log_image("val/pred", Image.new("RGB", (3, 2), (0, 128, 255)), step=40) == (
            "images/val/pred/step_40.png"
        )
    client = my.Client(uri)
    listed = sorted(a["path"] for a in client.list_artifacts(run.id, "images/samples"))
    client.close()
    assert listed == ["step_0.png", "step_1.png"]
    assert (stored(uri, run.id, "images/samples/step_0.png", tmp_path) == rgb).all()
    got = stored(uri, run.id, "images/samples/step_1.png", tmp_path)
    assert got.shape == (6, 2)
    assert (got == np.rint(grey * 255)).all()
    pil = stored(uri, run.id, "images/val/pred/step_40.png", tmp_path)
    assert pil.shape == (2, 3, 3)
    assert pil[0, 0].tolist() == [0, 128, 255]


def test_a_resumed_run_goes_on_after_the_steps_it_has(uri: str) -> None:
    my.set_tracking_uri(uri)
    with my.start_run("resumed", experiment="images") as run:
        my.log_image("frames", np.zeros((2, 2), dtype=np.uint8), step=7)
    # another process resumes the run: its next image is step 8, not 0 over an older one
    script = (
        "import sys, numpy as np, modelyard as my\n"
        "my.set_tracking_uri(sys.argv[1])\n"
        "with my.start_run(run_id=sys.argv[2]):\n"
        "    print(my.log_image('frames', np.ones((2, 2), dtype=np.uint8)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, uri, run.id], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "images/frames/step_8.png"
    client = my.Client(uri)
    listed = sorted(a["path"] for a in client.list_artifacts(run.id, "images/frames"))
    client.close()
    assert listed == ["step_7.png", "step_8.png"]


def test_rgba_and_single_channel_arrays_keep_their_pixels() -> None:
    rgba = np.random.default_rng(1).integers(0, 256, (7, 3, 4), dtype=np.uint8)
    assert (decoded(png_bytes(rgba)) == rgba).all()
    one = np.full((2, 2, 1), 0.5)
    assert decoded(png_bytes(one)).tolist() == [[128, 128], [128, 128]]
    assert decoded(png_bytes(Image.new("CMYK", (2, 2)))).shape == (2, 2, 3)  # made RGB


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (np.zeros((2, 2, 2), np.uint8), "HxW, HxWx3 or HxWx4"),
        (np.zeros((2,), np.uint8), "HxW, HxWx3 or HxWx4"),
        (np.zeros((0, 3), np.uint8), "must not be empty"),
        (np.full((2, 2), 1.5), "within 0..1"),
        (np.full((2, 2), -0.1), "within 0..1"),
        (np.full((2, 2), np.nan), "within 0..1"),
        (np.zeros((2, 2), np.int64), "uint8 .0..255. or float"),
        ([[0, 1], [1, 0]], "numpy array or a PIL image, got list"),
        ("cat.png", "numpy array or a PIL image, got str"),
    ],
)
def test_refuses_what_is_not_an_image(image: object, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        png_bytes(image)


@pytest.mark.parametrize(
    "key",
    [
        "../escape",
        "a/../../b",
        "/abs",
        "trailing/",
        "a//b",
        ".",
        "a/./b",
        "a\\b",
        "50%",
        "q?x",
        "#",
    ],
)
def test_refuses_keys_that_leave_their_folder(key: str) -> None:
    with pytest.raises(InvalidInput, match="image key"):
        image_key(key)


@pytest.mark.parametrize("step", [-1, 1.5, True, "3", 2**63])
def test_refuses_a_step_that_is_not_a_whole_number(uri: str, step: object) -> None:
    my.set_tracking_uri(uri)
    with (
        my.start_run("bad-step", experiment="images") as run,
        pytest.raises(InvalidInput, match="image step"),
    ):
        my.log_image("k", np.zeros((2, 2), np.uint8), step=step)  # type: ignore[arg-type]
    client = my.Client(uri)
    assert client.list_artifacts(run.id, "images") == []  # nothing written
    client.close()


@given(st.text(min_size=1, max_size=40))
def test_a_valid_key_always_stays_under_images(key: str) -> None:
    try:
        clean = image_key(key)
    except InvalidInput:
        return
    parts = f"images/{clean}/step_0.png".split("/")
    assert parts[0] == "images"
    assert not {"", ".", ".."} & set(parts)
    assert not any(c in clean for c in "\\%?#")
