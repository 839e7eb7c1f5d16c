"""Drift of current data against a reference table or profile, on data the tests make with numpy."""

from __future__ import annotations

import json
import math
import warnings
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st_h
from scipy import stats
from scipy.spatial import distance

from modelyard.datasets.profile import profile
from modelyard.errors import InvalidInput
from modelyard.monitoring import stattests as st
from modelyard.monitoring.data_drift import compare, compare_to_profile, figures, report_json

CATEGORIES = np.array(["red", "green", "blue", "black", "white", "grey"])
EVEN = np.full(6, 1 / 6)
SKEWED = np.array([0.35, 0.25, 0.15, 0.1, 0.1, 0.05])


def table(rng: np.random.Generator, rows: int, *, shift: frozenset[str] = frozenset()) -> pa.Table:
    """Six numeric and four categorical columns; the named ones drift (mean + 1 sd, or new frequencies)."""
    cols: dict[str, Any] = {}
    for i in range(6):
        name = f"num{i}"
        values = rng.normal(10 * i, 1 + i, size=rows)
        cols[name] = values + (1 + i) * (1.0 if name in shift else 0.0)
    for i in range(4):
        name = f"cat{i}"
        p = SKEWED if name in shift else EVEN
        cols[name] = CATEGORIES[rng.choice(6, size=rows, p=p)]
    return pa.table(cols)


SHIFTED = frozenset({"num1", "num4", "cat2"})


# At the 5 % level a p-value test flags about one column in twenty that did not move, and more for
# chi-square, which (as Evidently's) takes the reference's shares as exact; seed 5's small sample
# has no such column, and the distances of the large one have none.
@pytest.mark.parametrize(
    ("n_ref", "n_cur", "numeric", "categorical"),
    [(800, 600, "ks", "chisquare"), (20_000, 50_000, "wasserstein", "jensenshannon")],
)
def test_exactly_the_shifted_columns_drift(
    n_ref: int, n_cur: int, numeric: str, categorical: str
) -> None:
    rng = np.random.default_rng(5)
    reference, current = table(rng, n_ref), table(rng, n_cur, shift=SHIFTED)
    report = compare(reference, current)
    assert sorted(report.drifted_columns) == sorted(SHIFTED)
    assert {c.column: c.method for c in report.columns} == {
        **{f"num{i}": numeric for i in range(6)},
        **{f"cat{i}": categorical for i in range(4)},
    }
    assert report.drifted_share == pytest.approx(0.3)
    assert report.dataset_drift is False
    assert (report.n_reference, report.n_current) == (n_ref, n_cur)
    assert report.schema == ()
    assert compare(reference, current, drift_share=0.3).dataset_drift


def test_drift_against_a_profile_flags_the_same_columns() -> None:
    rng = np.random.default_rng(11)
    reference = table(rng, 20_000)
    current = table(rng, 50_000, shift=SHIFTED)
    report = compare_to_profile(profile(reference), current)
    assert report.reference == "profile"
    assert sorted(report.drifted_columns) == sorted(SHIFTED)
    by_name = {c.column: c for c in report.columns}
    assert by_name["num0"].method == "wasserstein"
    assert by_name["cat0"].method == "jensenshannon"
    # binned statistics stay close to the exact ones
    exact = {c.column: c for c in compare(reference, current).columns}
    for name in ("num1", "num2"):
        assert by_name[name].statistics["wasserstein"] == pytest.approx(
            exact[name].statistics["wasserstein"], abs=0.03
        )
        binned_ks, exact_ks = (
            by_name[name].statistics["ks_statistic"],
            exact[name].statistics["ks_statistic"],
        )
        assert binned_ks is not None
        assert exact_ks is not None
        assert binned_ks <= exact_ks + 1e-9  # the edges are some of the points KS looks at


def test_small_profile_uses_p_value_tests() -> None:
    rng = np.random.default_rng(6)  # a seed without chance findings (see above)
    report = compare_to_profile(profile(table(rng, 900)), table(rng, 700, shift=SHIFTED))
    assert sorted(report.drifted_columns) == sorted(SHIFTED)
    assert {c.method for c in report.columns} == {"ks", "chisquare"}


@pytest.mark.parametrize("seed", range(6))
def test_statistics_match_scipy_and_evidentlys_formulas(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(30, 3000)), int(rng.integers(30, 3000))
    if seed % 2:  # ties: few distinct integers
        ref, cur = rng.integers(0, 40, n).astype(float), rng.integers(3, 45, m).astype(float)
    else:
        ref, cur = rng.normal(0, 2, n), rng.normal(0.2, 2.5, m)
    report = compare(pa.table({"x": ref}), pa.table({"x": cur}))
    got = report.columns[0].statistics
    assert got["ks_statistic"] == pytest.approx(stats.ks_2samp(ref, cur).statistic, abs=1e-12)
    assert got["ks_p_value"] == pytest.approx(stats.ks_2samp(ref, cur).pvalue, rel=1e-9)
    wasserstein = stats.wasserstein_distance(ref, cur) / max(float(np.std(ref)), 0.001)
    assert got["wasserstein"] == pytest.approx(wasserstein, rel=1e-9)
    edges = np.histogram_bin_edges(np.concatenate([ref, cur]), bins="sturges")
    ref_p = np.histogram(ref, edges)[0] / n
    cur_p = np.histogram(cur, edges)[0] / m
    assert got["jensen_shannon"] == pytest.approx(distance.jensenshannon(ref_p, cur_p), rel=1e-9)


def test_categorical_statistics_match_scipy() -> None:
    rng = np.random.default_rng(5)
    ref = CATEGORIES[rng.choice(6, size=500, p=EVEN)]
    cur = CATEGORIES[rng.choice(6, size=400, p=SKEWED)]
    column = compare(pa.table({"c": ref}), pa.table({"c": cur})).columns[0]
    keys = sorted(set(ref) | set(cur))
    ref_n = np.array([np.sum(ref == k) for k in keys], dtype=float)
    cur_n = np.array([np.sum(cur == k) for k in keys], dtype=float)
    p_value = stats.chisquare(cur_n, ref_n * (cur_n.sum() / ref_n.sum())).pvalue
    assert column.p_value == pytest.approx(p_value, rel=1e-9)
    assert column.statistics["jensen_shannon"] == pytest.approx(
        distance.jensenshannon(ref_n / 500, cur_n / 400), rel=1e-9
    )
    assert column.statistics["ks_statistic"] is None
    assert column.drifted


def test_default_methods_follow_evidentlys_rule() -> None:
    assert st.default_method("numeric", 1000, 6) == "ks"
    assert st.default_method("numeric", 1000, 5) == "chisquare"
    assert st.default_method("numeric", 1000, 2) == "z"
    assert st.default_method("categorical", 1000, 3) == "chisquare"
    assert st.default_method("categorical", 1000, 2) == "z"
    assert st.default_method("numeric", 1001, 6) == "wasserstein"
    assert st.default_method("numeric", 1001, 5) == "jensenshannon"
    assert st.default_method("categorical", 1001, 2) == "jensenshannon"


def test_binary_and_few_valued_columns() -> None:
    rng = np.random.default_rng(9)
    reference = pa.table(
        {
            "flag": rng.random(500) < 0.3,
            "level": rng.integers(0, 4, 500),  # integers with <= 10 values are categorical
            "grade": rng.integers(0, 4, 500).astype(float),  # floats with 4 values: chi-square
        }
    )
    current = pa.table(
        {
            "flag": rng.random(400) < 0.6,
            "level": rng.integers(0, 4, 400),
            "grade": rng.integers(0, 4, 400).astype(float),
        }
    )
    by_name = {c.column: c for c in compare(reference, current).columns}
    assert (by_name["flag"].kind, by_name["flag"].method) == ("categorical", "z")
    assert by_name["flag"].drifted
    assert by_name["flag"].p_value == by_name["flag"].statistics["z_p_value"]
    assert (by_name["level"].kind, by_name["level"].method) == ("categorical", "chisquare")
    assert (by_name["grade"].kind, by_name["grade"].method) == ("numeric", "chisquare")
    assert not by_name["level"].drifted
    assert not by_name["grade"].drifted


def test_missing_values_and_out_of_range() -> None:
    ref = pa.table({"x": np.linspace(0, 1, 2000), "c": ["a", "b"] * 1000})
    values = np.linspace(0, 1, 2000)
    values[:100] = np.nan
    values[100:150] = np.inf
    values[150:200] = -np.inf
    values[200:400] = 2.0  # out of the reference's [0, 1]
    current = pa.table(
        {
            "x": pa.array(values).to_pylist()[:-100] + [None] * 100,
            "c": ["a", None, "b", "zz"] * 500,
        }
    )
    by_name = {c.column: c for c in compare(ref, current).columns}
    x = by_name["x"]
    assert x.missing_reference == 0
    assert x.missing_current == pytest.approx(300 / 2000)
    assert x.n_current == 1700
    assert x.out_of_range == pytest.approx(200 / 1700)
    assert x.drifted
    c = by_name["c"]
    assert c.missing_current == pytest.approx(0.25)
    assert c.out_of_range == pytest.approx(1 / 3)
    assert "zz" in c.distribution.categories
    assert c.drifted


def test_empty_current_is_a_clear_error() -> None:
    reference = pa.table({"x": [1.0, 2.0]})
    with pytest.raises(InvalidInput, match="current data has no rows") as caught:
        compare(reference, reference.slice(0, 0))
    assert caught.value.details == {"field": "current"}
    with pytest.raises(InvalidInput, match="current data has no rows"):
        compare_to_profile(profile(reference), reference.slice(0, 0))


def test_a_column_without_values_on_one_side_is_not_tested() -> None:
    reference = pa.table({"x": np.arange(2000.0), "y": np.arange(2000.0)})
    current = pa.table({"x": pa.nulls(100, pa.float64()), "y": np.arange(100.0)})
    report = compare(reference, current)
    x = report.columns[0]
    assert (x.score, x.drifted, x.missing_current) == (None, False, 1.0)
    assert "no values in the current" in x.note
    assert report.drifted_share == 1.0  # y alone is tested (its values are far from the reference)


def test_constant_columns() -> None:
    same = compare(pa.table({"k": np.full(3000, 5.0)}), pa.table({"k": np.full(3000, 5.0)}))
    assert same.columns[0].score == 0
    assert not same.columns[0].drifted
    moved = compare(pa.table({"k": np.full(3000, 5.0)}), pa.table({"k": np.full(3000, 6.0)}))
    assert moved.columns[0].drifted
    assert moved.columns[0].out_of_range == 1.0
    small = compare(pa.table({"k": np.full(50, 5.0)}), pa.table({"k": np.full(40, 5.0)}))
    assert (small.columns[0].method, small.columns[0].p_value, small.columns[0].drifted) == (
        "z",
        1.0,
        False,
    )
    const_cat = compare(pa.table({"c": ["x"] * 50}), pa.table({"c": ["x"] * 40}))
    assert not const_cat.columns[0].drifted


@pytest.mark.parametrize(
    "name",
    ["<script>alert(1)</script>", "naïve 名前 🚀", "a.b[0]", "", "prediction", "' OR 1=1 --"],
)
def test_any_column_name(name: str) -> None:
    rng = np.random.default_rng(1)
    reference = pa.table({name: rng.normal(size=3000), "other": rng.normal(size=3000)})
    current = pa.table({name: rng.normal(1, 1, size=3000), "other": rng.normal(size=3000)})
    report = compare(reference, current, methods={name: "psi"}, thresholds={name: 0.2})
    assert report.drifted_columns == [name]
    assert report.columns[0].method == "psi"
    assert report.columns[0].threshold == 0.2
    body = report_json(report)
    assert json.loads(json.dumps(body, allow_nan=False))["drifted_columns"] == [name]
    assert figures(report)[f"drift_score:{name}"] == report.columns[0].score


def test_schema_changes_are_findings_not_drift() -> None:
    reference = pa.table({"kept": [1.0, 2.0, 3.0], "gone": [1, 2, 3], "retyped": [1.5, 2.5, 3.5]})
    current = pa.table(
        {"kept": [1.0, 2.0, 3.0], "retyped": ["a", "b", "c"], "new": [True, False, True]}
    )
    report = compare(reference, current)
    assert [c.column for c in report.columns] == ["kept"]
    assert {(f.column, f.change) for f in report.schema} == {
        ("gone", "removed"),
        ("new", "added"),
        ("retyped", "type_changed"),
    }
    assert "retyped" in report.skipped
    assert report.drifted_columns == []


def test_json_is_safe_and_complete() -> None:
    rng = np.random.default_rng(2)
    reference = pa.table({"x": rng.normal(size=5000), "c": CATEGORIES[rng.choice(6, 5000)]})
    current = pa.table({"x": np.full(10, np.nan), "c": CATEGORIES[rng.choice(6, 10)]})
    body = report_json(compare(reference, current))
    text = json.dumps(body, allow_nan=False)  # raises on NaN or infinity
    assert json.loads(text)["columns"][0]["score"] is None
    column = body["columns"][1]
    assert set(column["statistics"]) == {
        "psi",
        "ks_statistic",
        "ks_p_value",
        "wasserstein",
        "chisquare_p_value",
        "jensen_shannon",
        "z_p_value",
    }
    assert set(column["distribution"]) == {"edges", "categories", "reference", "current", "other"}
    assert body["n_reference"] == 5000
    assert body["n_current"] == 10


def test_distributions_share_cells() -> None:
    rng = np.random.default_rng(4)
    reference = pa.table({"x": rng.normal(size=5000)})
    current = pa.table({"x": rng.normal(3, 1, size=5000)})
    dist = compare(reference, current).columns[0].distribution
    assert (
        len(dist.edges) == 22
    )  # the reference's 20 bins and one above for current values beyond it
    assert len(dist.reference) == len(dist.current) == 21
    assert math.fsum(dist.reference) == pytest.approx(1)
    assert math.fsum(dist.current) == pytest.approx(1)
    assert dist.reference[-1] == 0
    assert dist.current[-1] > 0.3


def test_many_categories_plot_top_ten_and_other() -> None:
    rng = np.random.default_rng(6)
    names = np.array([f"v{i}" for i in range(40)])
    reference = pa.table({"c": names[rng.integers(0, 40, 4000)]})
    current = pa.table({"c": pa.array(names[rng.integers(0, 40, 4000)]).dictionary_encode()})
    column = compare(reference, current).columns[0]
    assert len(column.distribution.categories) == 10
    assert column.distribution.other
    assert len(column.distribution.reference) == 11
    assert not column.drifted


def test_options_are_checked() -> None:
    t = pa.table({"x": [1.0, 2.0, 3.0], "c": ["a", "b", "c"]})
    with pytest.raises(InvalidInput, match="unknown drift method 'nope'"):
        compare(t, t, methods={"x": "nope"})
    with pytest.raises(InvalidInput, match="'ks' does not apply to categorical column 'c'"):
        compare(t, t, methods={"c": "ks"})
    with pytest.raises(InvalidInput, match="'chisquare' does not apply to numeric column 'x'"):
        compare(t, t, methods={"*": "chisquare"})
    with pytest.raises(InvalidInput, match="unknown column 'y'"):
        compare(t, t, thresholds={"y": 0.1})
    with pytest.raises(InvalidInput, match="unknown columns: 'y'"):
        compare(t, t, columns=["y"])
    with pytest.raises(InvalidInput, match="drift_share"):
        compare(t, t, drift_share=0)
    with pytest.raises(InvalidInput, match="reference has no rows"):
        compare(t.slice(0, 0), t)
    report = compare(t, t, methods={"*numeric": "psi", "*categorical": "psi"}, columns=["x"])
    assert [(c.column, c.method) for c in report.columns] == [("x", "psi")]


def test_threads_give_the_same_report() -> None:
    rng = np.random.default_rng(8)
    reference, current = table(rng, 5000), table(rng, 8000, shift=SHIFTED)
    assert report_json(compare(reference, current, workers=1)) == report_json(
        compare(reference, current, workers=4)
    )


def test_encodings_of_text_are_one_type() -> None:
    reference = pa.table({"c": pa.array(["a", "b"] * 600, pa.large_string())})
    current = pa.table({"c": pa.array(["a", "b"] * 600).dictionary_encode()})
    report = compare(reference, current)
    assert report.schema == ()
    assert report.columns[0].score == 0


def test_profile_categories_beyond_the_top_ten_and_booleans() -> None:
    rng = np.random.default_rng(10)
    names = np.array([f"v{i}" for i in range(30)])
    reference = pa.table(
        {
            "many": names[rng.integers(0, 30, 5000)],
            "few": CATEGORIES[rng.integers(0, 3, 5000)],  # three categories: the profile knows all
            "flag": rng.random(5000) < 0.5,
        }
    )
    current = pa.table(
        {
            "many": names[rng.integers(0, 30, 4000)],
            "few": CATEGORIES[rng.integers(0, 4, 4000)],  # a quarter in a new category
            "flag": rng.random(4000) < 0.8,
        }
    )
    by_name = {c.column: c for c in compare_to_profile(profile(reference), current).columns}
    many = by_name["many"]
    assert (many.drifted, many.out_of_range) == (False, None)  # the profile lists 10 of 30
    assert many.distribution.other
    assert many.distribution.reference[-1] == pytest.approx(2 / 3, abs=0.03)
    few = by_name["few"]
    assert few.drifted
    assert few.out_of_range == pytest.approx(0.25, abs=0.03)
    flag = by_name["flag"]
    assert (flag.kind, flag.method, flag.drifted) == ("categorical", "jensenshannon", True)
    assert set(flag.distribution.categories) == {"true", "false"}


@settings(max_examples=200, deadline=None)
@given(
    st_h.lists(st_h.floats(-1e6, 1e6, allow_subnormal=False), min_size=1, max_size=60),
    st_h.lists(st_h.floats(-1e6, 1e6, allow_subnormal=False), min_size=1, max_size=60),
    st_h.integers(0, 3),
)
def test_ks_and_wasserstein_equal_scipys(ref: list[float], cur: list[float], rounding: int) -> None:
    a, b = np.sort(np.round(ref, rounding)), np.sort(np.round(cur, rounding))  # ties too
    ks, wasserstein = st.ecdf_compare(a, b)
    with warnings.catch_warnings():  # scipy's p-value warns on tiny samples; the statistic is exact
        warnings.simplefilter("ignore", RuntimeWarning)
        expected_ks = stats.ks_2samp(a, b).statistic
    assert ks == pytest.approx(expected_ks, abs=1e-12)
    expected = stats.wasserstein_distance(a, b)
    assert wasserstein == pytest.approx(expected, rel=1e-7, abs=1e-9 * (1 + np.abs(a).max()))
