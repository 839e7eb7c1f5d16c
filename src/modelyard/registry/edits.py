"""Edits made by people (the web UI, the REST API): descriptions, tags and stages, each written
to the model's history with the reason given, in the same transaction as the change."""

from __future__ import annotations

from sqlalchemy import Connection

from modelyard.errors import InvalidInput
from modelyard.registry.entities import ModelVersion, RegisteredModel, Stage
from modelyard.registry.part import RegistryPart
from modelyard.store.metadata import registry_repo
from modelyard.tracking import validation as v

MAX_REASON = 5_000
MAX_DESCRIPTION = 100_000


def _reason(reason: str) -> str:
    if not isinstance(reason, str) or len(reason) > MAX_REASON:
        raise InvalidInput("a reason is text of at most 5,000 characters", field="reason")
    return reason.strip()


def _description(text: str | None) -> str | None:
    if text is not None and (not isinstance(text, str) or len(text) > MAX_DESCRIPTION):
        raise InvalidInput(
            "a description is text of at most 100,000 characters", field="description"
        )
    return text


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
        why = _reason(reason)
        text = _description(description)
        clean_tags = v.clean_pairs(tags, "tag")

        def job(conn: Connection) -> RegisteredModel:
            before = registry_repo.get_model(conn, name)
            if deleted_tag is not None and deleted_tag not in before.tags:
                raise InvalidInput(f"model {name!r} has no tag {deleted_tag!r}", field="key")
            found = registry_repo.update_model(
                conn, name, user, description=text, tags=clean_tags, deleted_tag=deleted_tag
            )
            _record_changes(conn, name, None, user, why, before.description, text, clean_tags)
            if deleted_tag is not None:
                registry_repo.record(conn, name, "tag_deleted", user, key=deleted_tag, reason=why)
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
        why = _reason(reason)
        text = _description(description)
        clean_tags = v.clean_pairs(tags, "tag")

        def job(conn: Connection) -> ModelVersion:
            before = registry_repo.get_version(conn, name, version)
            if deleted_tag is not None and deleted_tag not in before.tags:
                raise InvalidInput(
                    f"version {version} of {name!r} has no tag {deleted_tag!r}", field="key"
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
                deleted_tag=deleted_tag,
                reason=why,
            )
            _record_changes(conn, name, version, user, why, before.description, text, clean_tags)
            if deleted_tag is not None:
                registry_repo.record(
                    conn, name, "tag_deleted", user, version, key=deleted_tag, reason=why
                )
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
