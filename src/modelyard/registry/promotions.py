"""The promotion workflow: propose a version for a stage, review it, gate it on metrics.

Approving runs the rules against the version's run metrics and the current holders of the
referenced aliases or stages; if one fails, nothing changes and GATE_FAILED says which.
On success the stage changes (others in it are archived) and the alias moves, in one
transaction, with every step in the model's history.
"""

from __future__ import annotations

from typing import Any

from modelyard.errors import GateFailed, InvalidInput, InvalidState
from modelyard.registry import gates
from modelyard.registry.entities import Promotion, Stage
from modelyard.registry.service import RegistryService, clean_alias, parse_stage
from modelyard.store.metadata import promotions_repo, registry_repo, runs_repo
from modelyard.store.metadata.sql import now_ms

MAX_RULES = 20


class PromotionService:
    def __init__(self, registry: RegistryService) -> None:
        self.registry = registry
        self.db = registry.db

    def propose(
        self,
        name: str,
        version: int,
        stage: str,
        *,
        rules: list[str] | None = None,
        alias: str | None = None,
        user: str,
        reason: str = "",
    ) -> Promotion:
        target = parse_stage(stage)
        if target == Stage.NONE:
            raise InvalidInput("a promotion targets a stage other than None", field="stage")
        texts = list(rules or [])
        if len(texts) > MAX_RULES:
            raise InvalidInput(f"at most {MAX_RULES} rules", field="rules")
        for text in texts:
            gates.parse(text)  # refuse a bad rule now, not at approval
        target_alias = clean_alias(alias) if alias else None
        proposal = Promotion(
            id=0,
            name=name,
            version=version,
            stage=target,
            alias=target_alias,
            rules=texts,
            status="open",
            proposed_by=user,
            reason=reason,
            created_at=now_ms(),
        )

        def job(conn: Any) -> Promotion:
            registry_repo.get_version(conn, name, version)
            created = promotions_repo.create(conn, proposal)
            registry_repo.record(
                conn, name, "promotion_proposed", user, version,
                promotion=created.id, stage=target.value, alias=target_alias, rules=texts, reason=reason,
            )  # fmt: skip
            return created

        return self.db.write(job)

    def get(self, promotion_id: int) -> Promotion:
        with self.db.read() as conn:
            return promotions_repo.get(conn, promotion_id)

    def of_model(self, name: str) -> list[Promotion]:
        with self.db.read() as conn:
            registry_repo.model_id(conn, name)
            return promotions_repo.of_model(conn, name)

    def comment(self, promotion_id: int, text: str, user: str) -> Promotion:
        if not isinstance(text, str) or not text.strip():
            raise InvalidInput("a comment needs text", field="text")

        def job(conn: Any) -> Promotion:
            promotions_repo.get(conn, promotion_id)
            promotions_repo.add_review(conn, promotion_id, user, "comment", text)
            return promotions_repo.get(conn, promotion_id)

        return self.db.write(job)

    def check(self, promotion_id: int) -> list[gates.Outcome]:
        """The rules evaluated now, without deciding anything."""
        with self.db.read() as conn:
            return self._evaluate(conn, promotions_repo.get(conn, promotion_id))

    def decide(self, promotion_id: int, approve: bool, user: str, comment: str = "") -> Promotion:
        def job(conn: Any) -> Promotion:
            p = promotions_repo.get(conn, promotion_id)
            if p.status != "open":
                raise InvalidState(f"promotion {promotion_id} is already {p.status}")
            outcomes = self._evaluate(conn, p) if approve else []
            failed = [o.to_json() for o in outcomes if not o.passed]
            if failed:
                raise GateFailed(
                    f"{len(failed)} promotion rule(s) do not hold: "
                    + "; ".join(str(f["rule"]) for f in failed),
                    rules=failed,
                )
            verdict = "approve" if approve else "reject"
            promotions_repo.add_review(conn, p.id, user, verdict, comment)
            promotions_repo.decide(
                conn,
                p.id,
                "approved" if approve else "rejected",
                user,
                [o.to_json() for o in outcomes],
            )
            registry_repo.record(
                conn, p.name, f"promotion_{'approved' if approve else 'rejected'}", user, p.version,
                promotion=p.id, reason=comment,
            )  # fmt: skip
            if approve:
                why = f"promotion {p.id} approved" + (f": {comment}" if comment else "")
                registry_repo.update_version(
                    conn, p.name, p.version, user, stage=p.stage,
                    archive_others=p.stage in (Stage.PRODUCTION, Stage.STAGING), reason=why,
                )  # fmt: skip
                if p.alias:
                    registry_repo.set_alias(conn, p.name, p.alias, p.version, user, why)
            return promotions_repo.get(conn, p.id)

        return self.db.write(job)

    def _evaluate(self, conn: Any, p: Promotion) -> list[gates.Outcome]:
        def metrics_of(version: int) -> dict[str, float]:
            found = registry_repo.get_version(conn, p.name, version)
            if found.run_id is None:
                return {}
            run = runs_repo.get(conn, found.run_id)
            return {k: m.last for k, m in run.metrics.items()}

        def reference(ref: str) -> tuple[int, dict[str, float]] | None:
            model = registry_repo.get_model(conn, p.name)
            holder = model.aliases.get(ref)
            if holder is None:
                try:
                    stage = Stage.parse(ref)
                except ValueError:
                    return None
                latest = model.latest.get(stage)
                holder = latest.version if latest is not None else None
            if holder is None or holder == p.version:
                return None
            return holder, metrics_of(holder)

        own = metrics_of(p.version)
        return [gates.evaluate(gates.parse(text), own, reference) for text in p.rules]
