"""The registry domain as one object: logged models, registered models, versions, aliases,
packages and provenance, each a part in its own module (see docs/design.md)."""

from __future__ import annotations

from modelyard.registry.aliases import Aliases
from modelyard.registry.checks import clean_alias, parse_stage
from modelyard.registry.edits import Edits
from modelyard.registry.logged_models import LoggedModels
from modelyard.registry.models import Models
from modelyard.registry.packages import Packages
from modelyard.registry.provenance import Provenance
from modelyard.registry.run_models import RunModels
from modelyard.registry.versions import Versions

__all__ = ["RegistryService", "clean_alias", "parse_stage"]


class RegistryService(
    LoggedModels, Models, RunModels, Edits, Versions, Aliases, Packages, Provenance
):
    """One object per store; safe to share between threads."""
