"""The registry's own value rules: logged model ids, aliases, stages, reasons, descriptions."""

from __future__ import annotations

import re

from modelyard.errors import InvalidInput, NotFound
from modelyard.registry.entities import Stage
from modelyard.tracking import validation as v

MODEL_ID = re.compile(r"^m-[0-9a-f]{32}$")
RESERVED_ALIAS = re.compile(r"^(latest|v\d+)$", re.IGNORECASE)
MAX_ALIAS = 255
MAX_REASON = 1_000
MAX_DESCRIPTION = 100_000


def logged_model_id(value: str) -> str:
    """A logged model id as given; NotFound for anything that cannot be one."""
    if not isinstance(value, str) or not MODEL_ID.match(value):
        raise NotFound(f"logged model {value!r} does not exist", model_id=value)
    return value


def clean_alias(value: str) -> str:
    alias = v.clean_name(value, "alias", MAX_ALIAS)
    if RESERVED_ALIAS.match(alias):
        raise InvalidInput(f"alias {alias!r} is reserved (latest and v<number> name versions)")
    return alias


def parse_stage(value: str) -> Stage:
    """A stage name, case-insensitive; InvalidInput for anything else."""
    try:
        return Stage.parse(value)
    except ValueError as exc:
        raise InvalidInput(
            f"stage {value!r} is not one of None, Staging, Production, Archived", field="stage"
        ) from exc


def clean_reason(value: object) -> str:
    """The reason a change is recorded with (the history keeps it): at most 1,000 characters."""
    return v.clean_text(value, "reason", MAX_REASON).strip()


def clean_description(value: object) -> str:
    """A model's or version's description: at most 100,000 characters."""
    return v.clean_text(value, "description", MAX_DESCRIPTION)
