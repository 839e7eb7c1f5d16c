"""Aliases: names that point at a version, moved, deleted, rolled back and read back in time."""

from __future__ import annotations

from sqlalchemy import Connection

from modelyard.registry.checks import clean_alias, clean_reason
from modelyard.registry.entities import ModelVersion
from modelyard.registry.part import RegistryPart
from modelyard.store.metadata import registry_repo


class Aliases(RegistryPart):
    def set_alias(self, name: str, alias: str, version: int, user: str, reason: str = "") -> None:
        clean, why = clean_alias(alias), clean_reason(reason)
        self.db.write(lambda c: registry_repo.set_alias(c, name, clean, version, user, why))

    def delete_alias(self, name: str, alias: str, user: str, reason: str = "") -> None:
        why = clean_reason(reason)
        self.db.write(lambda c: registry_repo.delete_alias(c, name, alias, user, why))

    def version_by_alias(self, name: str, alias: str) -> ModelVersion:
        """A named alias, or the reserved ``v<number>`` and ``latest``."""
        with self.db.read() as conn:
            return registry_repo.version_by_alias(conn, name, alias)

    def alias_at(self, name: str, alias: str, at: int) -> int | None:
        """Which version ``alias`` named at time ``at`` (ms since the epoch), from the history."""
        with self.db.read() as conn:
            return registry_repo.alias_at(conn, name, alias, at)

    def rollback_alias(self, name: str, alias: str, user: str, reason: str = "") -> ModelVersion:
        """Point ``alias`` back at the version it named before its last move, in one transaction."""
        why = clean_reason(reason)

        def job(conn: Connection) -> ModelVersion:
            registry_repo.rollback_alias(conn, name, alias, user, why)
            return registry_repo.version_by_alias(conn, name, alias)

        return self.db.write(job)
