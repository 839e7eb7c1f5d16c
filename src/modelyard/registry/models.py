"""Registered models: names, descriptions, tags, cards."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection

from modelyard.registry import listing
from modelyard.registry.checks import clean_description, clean_reason
from modelyard.registry.entities import RegisteredModel
from modelyard.registry.part import RegistryPart
from modelyard.store.metadata import registry_repo
from modelyard.tracking import validation as v

MAX_CARD = 1_000_000


class Models(RegistryPart):
    def create_model(
        self,
        name: str,
        *,
        user: str,
        description: str = "",
        tags: dict[str, str] | None = None,
    ) -> RegisteredModel:
        clean = v.clean_name(name, "model name")
        clean_tags = v.clean_pairs(tags, "tag")
        text = clean_description(description)
        return self.db.write(lambda c: registry_repo.create_model(c, clean, text, clean_tags, user))

    def get_model(self, name: str) -> RegisteredModel:
        with self.db.read() as conn:
            return registry_repo.get_model(conn, name)

    def model_name(self, model_id: int) -> str:
        """The name of a model by its id (its versions' files live under it)."""
        with self.db.read() as conn:
            return registry_repo.model_name(conn, model_id)

    def update_model(
        self,
        name: str,
        *,
        user: str,
        new_name: str | None = None,
        description: str | None = None,
        tags: dict[str, str] | None = None,
        deleted_tag: str | None = None,
    ) -> RegisteredModel:
        clean_new = v.clean_name(new_name, "model name") if new_name is not None else None
        clean_tags = v.clean_pairs(tags, "tag")
        text = None if description is None else clean_description(description)
        return self.db.write(
            lambda c: registry_repo.update_model(
                c,
                name,
                user,
                new_name=clean_new,
                description=text,
                tags=clean_tags,
                deleted_tag=deleted_tag,
            )
        )

    def delete_model(self, name: str, user: str, reason: str = "") -> None:
        why = clean_reason(reason)
        self.db.write(lambda c: registry_repo.delete_model(c, name, user, why))

    def search_models(
        self,
        filter: str | None = None,
        order_by: Sequence[str] | None = None,
        max_results: int = 100,
        page_token: str | None = None,
        readable: set[str] | None = None,
    ) -> tuple[list[RegisteredModel], str | None]:
        """By name unless ordered; with ``readable`` (model names), only those."""
        with self.db.read() as conn:
            items = registry_repo.list_models(conn)
        items = listing.only(items, readable, lambda m: m.name)
        return listing.search(items, listing.MODELS, filter, order_by, max_results, page_token)

    def set_card(self, name: str, card: str, user: str) -> RegisteredModel:
        """The model card (Markdown), recorded in the history."""
        card = v.clean_text(card, "model card", MAX_CARD)

        def job(conn: Connection) -> RegisteredModel:
            registry_repo.set_card(conn, name, card, user)
            return registry_repo.get_model(conn, name)

        return self.db.write(job)
