"""Properties over generated inputs: artifact path normalisation."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from modelyard.errors import PathNotAllowed
from modelyard.store.artifacts.paths import clean_relative, resolve_under

# paths built from the pieces that make traversal: dots, slashes, backslashes, escapes
pieces = st.sampled_from(["a", "b", ".", "..", "/", "\\", "%2e", "%2f", "%25", "%5c", "é", "\x00"])
paths = st.one_of(st.lists(pieces, max_size=12).map("".join), st.text(max_size=40))


@given(paths)
@example("..%2F..%2Fetc%2Fpasswd")
@example("%252e%252e/secret")
def test_a_clean_path_never_escapes(raw: str) -> None:
    try:
        clean = clean_relative(raw, allow_empty=True)
    except PathNotAllowed:
        return
    assert not clean.startswith("/")
    assert "\\" not in clean
    assert "\x00" not in clean
    assert ".." not in clean.split("/")
    assert "" not in clean.split("/") or clean == ""
    root = Path("/srv/artifacts")
    assert root / clean == root or root in (root / clean).parents


@given(paths)
def test_cleaning_twice_changes_nothing(raw: str) -> None:
    try:
        clean = clean_relative(raw, allow_empty=True)
    except PathNotAllowed:
        return
    assume("%" not in clean)  # the case below
    assert clean_relative(clean, allow_empty=True) == clean


def test_a_key_still_holding_an_escape_after_three_decodings_is_refused() -> None:
    assert clean_relative("a%252541") == "aA"  # three decodings
    with pytest.raises(PathNotAllowed, match="too many times"):
        clean_relative("a%25252541")  # three decodings leave 'a%41', which would clean to 'aA'


@given(st.lists(pieces, max_size=8).map("".join))
def test_resolve_under_stays_under_the_root(
    tmp_path_factory: pytest.TempPathFactory, raw: str
) -> None:
    root = tmp_path_factory.getbasetemp() / "root"
    root.mkdir(exist_ok=True)
    try:
        target = resolve_under(root, raw)
    except PathNotAllowed:
        return
    real = root.resolve()
    assert target == real or real in target.parents
