"""Promotion rules on metrics: ``accuracy >= champion.accuracy``, ``rmse < 0.3``.

Grammar: ``<metric> <op> <number | reference.metric>`` with op one of >= > <= < == !=; a
reference is an alias (champion) or a stage (production, staging) of the same model.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from modelyard.errors import InvalidInput

_RULE = re.compile(
    r"^\s*(?P<metric>[\w.\-/]+)\s*(?P<op>>=|<=|==|!=|>|<)\s*"
    r"(?P<rhs>[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?|(?P<ref>[\w\-]+)\.(?P<ref_metric>[\w.\-/]+))\s*$"
)
OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "==": operator.eq,
    "!=": operator.ne,
}


@dataclass(frozen=True, slots=True)
class Rule:
    text: str
    metric: str
    op: str
    value: float | None  # a constant, or None when compared with a reference
    ref: str | None
    ref_metric: str | None


@dataclass(frozen=True, slots=True)
class Outcome:
    rule: str
    passed: bool
    left: float | None
    right: float | None
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def parse(text: str) -> Rule:
    m = _RULE.match(text) if isinstance(text, str) else None
    if m is None:
        raise InvalidInput(
            f"rule {text!r} is not '<metric> <op> <number|alias.metric>' (op: >= > <= < == !=)",
            field="rules",
        )
    ref = m["ref"]
    return Rule(
        text=text.strip(),
        metric=m["metric"],
        op=m["op"],
        value=None if ref else float(m["rhs"]),
        ref=ref,
        ref_metric=m["ref_metric"],
    )


def evaluate(
    rule: Rule,
    metrics: dict[str, float],
    reference: Callable[[str], tuple[int, dict[str, float]] | None],
) -> Outcome:
    """One rule on the candidate's metrics; ``reference(name)`` gives (version, metrics) of an
    alias or stage holder, or None when nothing holds it (then the rule passes: nothing to beat)."""
    left = metrics.get(rule.metric)
    if left is None:
        return Outcome(rule.text, False, None, None, f"the version has no metric {rule.metric!r}")
    if rule.ref is None:
        assert rule.value is not None
        return Outcome(rule.text, OPS[rule.op](left, rule.value), left, rule.value)
    held = reference(rule.ref)
    if held is None:
        return Outcome(rule.text, True, left, None, f"no version is {rule.ref}: nothing to beat")
    version, ref_metrics = held
    assert rule.ref_metric is not None
    right = ref_metrics.get(rule.ref_metric)
    if right is None:
        return Outcome(
            rule.text, True, left, None, f"{rule.ref} (v{version}) has no {rule.ref_metric!r}"
        )
    return Outcome(rule.text, OPS[rule.op](left, right), left, right, f"{rule.ref} is v{version}")
