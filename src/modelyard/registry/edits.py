"""Edits made by people (the web UI, the REST API): descriptions, tags and stages, each written
to the model's history with the reason given, in the same transaction as the change."""

from __future__ import annotations

from sqlalchemy import Connection

from modelyard.errors import NotFound
from modelyard.registry.checks import clean_description, clean_reason
from modelyard.registry.entities import ModelVersion, RegisteredModel, Stage
from modelyard.registry.part import RegistryPart
from modelyard.store.metadata import registry_repo
from modelyard.tracking import validation as v


class Edits(RegistryPart):
    def edit_model(
        self,
        name: str,
        *,
        user: str,
        description: str | None = None,
        tags: dict[str, str] | None = None,
        deleted_tag: str | None = None,
        reason: str = "",
    ) -> RegisteredModel:
        """Change a model's description or tags; each change is a history event with ``reason``."""
        why = clean_reason(reason)
        text = None if description is None else clean_description(description)
        clean_tags = v.clean_pairs(tags, "tag")
        gone = None if deleted_tag is None else v.clean_key(deleted_tag, "tag key")

        def job(conn: Connection) -> RegisteredModel:
            before = registry_repo.get_model(conn, name)
            if gone is not None and gone not in before.tags:
                raise NotFound(f"model {name!r} has no tag {gone!r}", name=name, key=gone)
            found = registry_repo.update_model(
                conn, name, user, description=text, tags=clean_tags, deleted_tag=gone
            )
            _record_changes(conn, name, None, user, why, before.description, text, clean_tags)
            if gone is not None:
                registry_repo.record(conn, name, "tag_deleted", user, key=gone, reason=why)
            return found

        return self.db.write(job)

    def edit_version(
        self,
        name: str,
        version: int,
        *,
        user: str,
        description: str | None = None,
        stage: Stage | None = None,
        archive_others: bool = False,
        tags: dict[str, str] | None = None,
        deleted_tag: str | None = None,
        reason: str = "",
    ) -> ModelVersion:
        """Change a version's description, stage or tags in one transaction; each change is a
        history event with ``reason`` (a stage records its own)."""
        why = clean_reason(reason)
        text = None if description is None else clean_description(description)
        clean_tags = v.clean_pairs(tags, "tag")
        gone = None if deleted_tag is None else v.clean_key(deleted_tag, "tag key")

        def job(conn: Connection) -> ModelVersion:
            before = registry_repo.get_version(conn, name, version)
            if gone is not None and gone not in before.tags:
                raise NotFound(
                    f"version {version} of {name!r} has no tag {gone!r}", name=name, key=gone
                )
            found = registry_repo.update_version(
                conn,
                name,
                version,
                user,
                description=text,
                stage=stage,
                archive_others=archive_others,
                tags=clean_tags,
                deleted_tag=gone,
                reason=why,
            )
            _record_changes(conn, name, version, user, why, before.description, text, clean_tags)
            if gone is not None:
                registry_repo.record(conn, name, "tag_deleted", user, version, key=gone, reason=why)
            return found

        return self.db.write(job)


def _record_changes(
    conn: Connection,
    name: str,
    version: int | None,
    user: str,
    reason: str,
    old_description: str,
    description: str | None,
    tags: dict[str, str] | None,
) -> None:
    if description is not None and description != old_description:
        registry_repo.record(
            conn,
            name,
            "description_changed",
            user,
            version,
            old=old_description,
            new=description,
            reason=reason,
        )
    for key, value in (tags or {}).items():
        registry_repo.record(
            conn, name, "tag_set", user, version, key=key, value=value, reason=reason
        )
