"""Two-sample drift statistics over sorted numpy arrays and aligned counts, and Evidently's defaults.

Each function takes what one column's sort or value counts gives (no pandas, no loop per row):
numeric columns are compared as two sorted finite arrays, categorical ones (and the binned tests
of numeric ones) as counts over the same cells. Formulas follow Evidently's ``legacy`` stattests
(0.7.x) so that the same data gets the same verdicts; docs/monitoring.md says where each rule
comes from.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

# name -> (default threshold, what the score is): Evidently's StatTest(default_threshold=...)
METHODS: dict[str, tuple[float, str]] = {
    "psi": (0.1, "distance"),
    "ks": (0.05, "p_value"),
    "wasserstein": (0.1, "distance"),
    "chisquare": (0.05, "p_value"),
    "jensenshannon": (0.1, "distance"),
    "z": (0.05, "p_value"),
}
NUMERIC_ONLY = frozenset({"ks", "wasserstein"})
CATEGORICAL_ONLY = frozenset({"chisquare", "z"})
SMALL_SAMPLE = 1000  # reference rows (non-missing) at or below which p-value tests are the default
FEW_VALUES = 5  # a numeric column with at most this many distinct values is tested as categories
KS_EXACT_MAX = 10_000  # scipy's ks_2samp computes the exact p-value up to this many rows a side
BINNED_NUNIQUE = 20  # Evidently bins a numeric column by Sturges' rule above this many values
KS_ASYMPTOTIC = (
    10_000  # above this effective size Kolmogorov's limit replaces scipy's kstwo (slow there)
)

Array = np.ndarray[Any, Any]


def default_method(kind: str, n_reference: int, n_values: int) -> str:
    """Evidently's ``_get_default_stattest``: the test by column kind, reference size and distinct values."""
    if n_reference <= SMALL_SAMPLE:
        if kind == "numeric" and n_values > FEW_VALUES:
            return "ks"
        return "chisquare" if n_values > 2 else "z"
    if kind == "numeric" and n_values > FEW_VALUES:
        return "wasserstein"
    return "jensenshannon"


def is_drifted(method: str, score: float | None, threshold: float) -> bool:
    """The verdict as Evidently draws it (KS: p <= t; chi-square and z: p < t; distances: d >= t)."""
    if score is None or math.isnan(score):
        return False
    if method == "ks":
        return score <= threshold
    if METHODS[method][1] == "p_value":
        return score < threshold
    return score >= threshold


def finite_sorted(values: Array, *, owned: bool = False) -> Array:
    """The finite values sorted (NaN sorts last and +-inf to the ends, so one sort and a slice).

    ``owned``: the array is a scratch copy that may be sorted in place.
    """
    ordered = values if owned and values.flags.writeable else values.copy()
    ordered.sort()
    low = int(np.searchsorted(ordered, -np.inf, side="right"))
    high = int(np.searchsorted(ordered, np.inf, side="left"))
    return ordered[low:high]


def count_distinct(ordered: Array) -> int:
    """Distinct values of a sorted array."""
    if len(ordered) == 0:
        return 0
    return int(np.count_nonzero(ordered[1:] != ordered[:-1])) + 1


def ecdf_compare(reference: Array, current: Array) -> tuple[float, float]:
    """KS statistic and Wasserstein-1 distance (not normed) of two sorted finite samples, exactly.

    Only the smaller sample is searched in the larger one, which is read once more for its prefix
    sums (the integral of its CDF at any point). Between two consecutive values of the smaller
    sample its CDF is a constant L, so |F_small - F_big| integrates in closed form on either side
    of the point where F_big reaches L.
    """
    small, big = (reference, current) if len(reference) <= len(current) else (current, reference)
    n, m = len(small), len(big)
    shift = float(small[n // 2])  # centred prefix sums: no cancellation on large offsets
    prefix = np.empty(m + 1)  # one 8 MB array a million values, filled in place
    prefix[0] = 0.0
    np.subtract(big, shift, out=prefix[1:])
    np.cumsum(prefix[1:], out=prefix[1:])
    centred = small - shift
    # F_big at each small value, left and right limits (ties need both)
    below = np.searchsorted(big, small, side="left")
    upto = below
    tied = np.flatnonzero(big[np.minimum(below, m - 1)] == small)
    if len(tied):
        upto = below.copy()
        upto[tied] = np.searchsorted(big, small[tied], side="right")
    # F_small's own limits: the first and last index of each run of equal values
    run_starts = np.flatnonzero(np.concatenate(([True], small[1:] != small[:-1])))
    if len(run_starts) == n:
        first, last = np.arange(n), np.arange(1, n + 1)
    else:
        lengths = np.diff(np.append(run_starts, n))
        first = np.repeat(run_starts, lengths)
        last = np.repeat(run_starts + lengths, lengths)
    # in units of 1 / (n m), in integers: |F_small - F_big| after and just before each small value
    gap_after = last * m
    gap_after -= upto * n
    gap_before = below * n
    gap_before -= first * m
    ks = max(int(np.abs(gap_after).max()), int(np.abs(gap_before).max())) / (n * m)
    # m * the integral of F_big up to each small value (k = #big <= x: k * x - prefix[k])
    g = upto * centred
    g -= prefix[upto]
    k = int(upto[-1])
    total = float(g[0])  # F_small = 0 before its first value
    total += float((prefix[m] - prefix[k]) - (m - k) * centred[-1])  # and 1 after its last
    # on [a, b) between consecutive small values F_small = L = steps / n; F_big reaches L at
    # big[reach - 1] (x, clipped to [a, b)): the area is L(x - a) - (G(x) - G(a)) + (G(b) - G(x)) - L(b - x)
    reach = np.arange(1, n, dtype=np.int64) * m
    reach += n - 1
    reach //= n
    cross = big[reach - 1] - shift
    a, b = centred[:-1], centred[1:]
    kx = np.where(cross < a, upto[:-1], np.where(cross > b, upto[1:], reach))
    x = np.clip(cross, a, b)
    gx = kx * x
    gx -= prefix[kx]
    x *= 2
    x -= a
    x -= b
    x *= np.arange(1.0, n)  # not np.dot: BLAS threads spin on a busy machine
    total += float(x.sum()) * (m / n)
    total += 2 * float(g.sum()) - float(g[0]) - float(g[-1]) - 2 * float(gx.sum())
    return ks, total / m


def ks_p_value(
    statistic: float,
    reference: Array,
    current: Array,
    n_reference: int | None = None,
) -> float:
    """Two-sided KS p-value as scipy's ks_2samp gives it (exact for small samples, else Smirnov's).

    ``n_reference`` replaces ``len(reference)`` when the reference is a histogram (no sample).
    """
    n = len(reference) if n_reference is None else n_reference
    m = len(current)
    from scipy.special import kolmogorov

    if n_reference is None and max(n, m) <= KS_EXACT_MAX:
        from scipy import stats

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # its fallback to asymp is said so
            return float(stats.ks_2samp(reference, current).pvalue)
    big, small = max(n, m), min(n, m)
    effective = round(big * small / (big + small))
    if effective <= KS_ASYMPTOTIC:
        from scipy import stats

        return float(np.clip(stats.kstwo.sf(statistic, effective), 0.0, 1.0))
    # Kolmogorov's limit: within 0.5 % of kstwo there, and microseconds instead of 0.3 s
    return float(np.clip(kolmogorov(statistic * math.sqrt(effective)), 0.0, 1.0))


def sturges_edges(low: float, high: float, size: int) -> Array:
    """``np.histogram_bin_edges(data, "sturges")`` from the data's range and size alone."""
    if low == high:
        low, high = low - 0.5, high + 0.5
    span = high - low
    width = span / (math.log2(size) + 1.0)
    bins = max(math.ceil(span / width), 1)
    return np.linspace(low, high, bins + 1, endpoint=True)


def histogram_counts(ordered: Array, edges: Array) -> Array:
    """``np.histogram(values, edges)[0]`` of a sorted array: half-open bins, the last one closed."""
    cuts = np.searchsorted(ordered, edges, side="left")
    cuts[-1] = np.searchsorted(ordered, edges[-1], side="right")
    return np.diff(cuts)


def value_counts_sorted(
    ordered: Array,
) -> tuple[Array, Array]:
    """Distinct values and their counts of a sorted array."""
    if len(ordered) == 0:
        return ordered[:0], np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))
    counts = np.diff(np.append(starts, len(ordered)))
    return ordered[starts], counts


def aligned_value_counts(reference: Array, current: Array) -> tuple[Array, Array, Array]:
    """Both sorted samples' counts over the union of their values (values, ref counts, cur counts)."""
    ref_values, ref_counts = value_counts_sorted(reference)
    cur_values, cur_counts = value_counts_sorted(current)
    keys = np.union1d(ref_values, cur_values)
    left = np.zeros(len(keys), dtype=np.int64)
    right = np.zeros(len(keys), dtype=np.int64)
    left[np.searchsorted(keys, ref_values)] = ref_counts
    right[np.searchsorted(keys, cur_values)] = cur_counts
    return keys, left, right


def _fill_zeroes(percents: Array) -> Array:
    """Evidently's ``feel_zeroes``: empty cells get a small share so PSI's log stays finite."""
    nonzero = percents[percents != 0]
    if len(nonzero) == 0:
        return percents
    smallest = float(nonzero.min())
    filler = smallest / 10**6 if smallest <= 0.0001 else 0.0001
    return np.where(percents == 0, filler, percents)


def psi(reference: Array, current: Array) -> float:
    """Population stability index over aligned counts (shares of each side's non-missing rows)."""
    ref = _fill_zeroes(reference / max(reference.sum(), 1))
    cur = _fill_zeroes(current / max(current.sum(), 1))
    return float(np.sum((ref - cur) * np.log(ref / cur)))


def jensen_shannon(reference: Array, current: Array) -> float:
    """Jensen-Shannon distance (natural log, as scipy.spatial.distance.jensenshannon) of two count vectors."""
    from scipy.special import rel_entr

    p = reference / reference.sum()
    q = current / current.sum()
    mid = (p + q) / 2.0
    divergence = float(np.sum(rel_entr(p, mid)) + np.sum(rel_entr(q, mid)))
    return math.sqrt(max(divergence, 0.0) / 2.0)


def chisquare_p_value(reference: Array, current: Array) -> float:
    """Pearson's chi-square of the current counts against the reference's scaled to the same size."""
    from scipy.special import chdtrc

    if len(reference) <= 1:
        return 1.0
    expected = reference * (current.sum() / reference.sum())
    if np.any((expected == 0) & (current > 0)):
        return 0.0  # a value the reference never had: infinite statistic
    used = expected > 0
    statistic = float(np.sum((current[used] - expected[used]) ** 2 / expected[used]))
    return float(chdtrc(len(reference) - 1, statistic))


def z_p_value(reference: Array, current: Array) -> float:
    """Two-proportion z-test: the first cell against the rest (cells in sorted value order)."""
    from scipy.special import ndtr

    n1, n2 = float(reference.sum()), float(current.sum())
    if len(reference) <= 1 or (
        np.count_nonzero(reference) == 1
        and np.count_nonzero(current) == 1
        and np.argmax(reference) == np.argmax(current)
    ):
        return 1.0
    p1 = (n1 - float(reference[0])) / n1
    p2 = (n2 - float(current[0])) / n2
    pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
    spread = pooled * (1 - pooled) * (1.0 / n1 + 1.0 / n2)
    if spread <= 0:
        return 1.0
    z = (p1 - p2) / math.sqrt(spread)
    return float(2 * ndtr(-abs(z)))


def quantile_wasserstein(
    edges: Array,
    counts: Array,
    current: Array,
    points: int = 4096,
) -> float:
    """Wasserstein-1 of a histogram (uniform within each bin) and a sorted sample, on a quantile grid."""
    levels = (np.arange(points) + 0.5) / points
    cumulative = np.concatenate(([0.0], np.cumsum(counts, dtype=np.float64)))
    cumulative /= cumulative[-1]
    ref_q = np.interp(levels, cumulative, edges)
    cur_q = current[np.minimum((levels * len(current)).astype(np.int64), len(current) - 1)]
    return float(np.mean(np.abs(ref_q - cur_q)))
