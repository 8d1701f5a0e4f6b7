"""Probabilistic matching of customer master records, applied to the identity graph.

The master records are the profiles whose name traits come from master-data sources (ERP,
CRM, loyalty imports by default). The matcher (`coreo.identity.matching`) scores pairs of
them; then, by the thresholds:

* at or above ``auto_merge`` the two profiles merge (through the identity rules, which may
  still refuse, e.g. two different logins), recorded with the match probability and the
  per-comparison explanation;
* between ``review`` and ``auto_merge`` the pair waits in the review queue, where a person
  accepts (merge) or rejects it; both are audited;
* below, they stay apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from coreo.audit import service as audit_service
from coreo.db import Database, utcnow
from coreo.errors import ConflictError, NotFoundError
from coreo.identity import service as identity_service
from coreo.identity.matching import MatchConfig, ScoredPair, deduplicate
from coreo.identity.models import MatchReview, Profile
from coreo.identity.service import MergeHook, Resolver
from coreo.ids import new_id
from coreo.privacy.crypto import open_rows
from coreo.profiles.models import ProfileTrait

__all__ = ["MASTER_SOURCES", "MatchRun", "decide_review", "master_records", "run_matching"]

MASTER_SOURCES = ("erp", "crm", "loyalty")


@dataclass(frozen=True, slots=True)
class MatchRun:
    records: int
    pairs: int
    merged: int
    refused: int
    queued: int


def _text(value: Any) -> str | None:
    return str(value) if isinstance(value, str | int | float) and str(value).strip() else None


def master_records(
    session: Session, workspace_id: str, sources: Sequence[str] = MASTER_SOURCES
) -> list[dict[str, Any]]:
    """One record per live profile whose name comes from a master-data source."""
    rows = session.execute(
        select(ProfileTrait.profile_id, ProfileTrait.name, ProfileTrait.value, ProfileTrait.source)
        .join(
            Profile,
            (Profile.id == ProfileTrait.profile_id) & (Profile.workspace_id == workspace_id),
        )
        .where(ProfileTrait.workspace_id == workspace_id, Profile.merged_into.is_(None))
    )
    listed = rows.all()
    sources_of = {(p, n): s for p, n, _, s in listed}
    opened = open_rows(session, workspace_id, ((p, n, v) for p, n, v, _ in listed))
    traits: dict[str, dict[str, tuple[Any, str]]] = {}
    for profile_id, name, value in opened:
        traits.setdefault(profile_id, {})[name] = (value, sources_of[(profile_id, name)])
    records = []
    for profile_id, kept in sorted(traits.items()):
        names = [kept.get(n) for n in ("lastName", "firstName")]
        source = next((s for pair in names if pair for s in [pair[1]] if s in sources), None)
        if source is None:
            continue
        address = kept.get("address", ({}, ""))[0]
        address = address if isinstance(address, dict) else {}
        records.append(
            {
                "record_id": profile_id,
                "source_system": source,
                "first_name": _text(kept.get("firstName", (None,))[0]),
                "last_name": _text(kept.get("lastName", (None,))[0]),
                "birth_date": _text(kept.get("birthday", (None,))[0]),
                "street": _text(address.get("street")),
                "house_number": _text(address.get("houseNumber")),
                "postcode": _text(address.get("postalCode")),
                "city": _text(address.get("city")),
                "email": _text(kept.get("email", (None,))[0]),
                "phone": _text(kept.get("phone", (None,))[0]),
            }
        )
    return records


def _explain(pair: ScoredPair) -> list[dict[str, Any]]:
    return [
        {"comparison": w.comparison, "level": w.level, "match_weight": round(w.match_weight, 3)}
        for w in pair.explanation
    ]


def _reason(pair: ScoredPair) -> str:
    agreeing = ", ".join(f"{w.comparison}: {w.level}" for w in pair.explanation)
    return (
        f"master records match with probability {pair.match_probability:.4f} "
        f"(weight {pair.match_weight:.1f}; {agreeing})"
    )


def run_matching(
    database: Database,
    *,
    workspace_id: str,
    actor: str,
    sources: Sequence[str] = MASTER_SOURCES,
    config: MatchConfig | None = None,
    on_merge: Sequence[MergeHook] = (),
) -> MatchRun:
    """Score the workspace's master records; merge, queue for review, or leave apart."""
    config = config or MatchConfig()
    with database.transaction(workspace_id=workspace_id, write=False) as session:
        records = master_records(session, workspace_id, sources)
    if len(records) < 2:
        return MatchRun(len(records), 0, 0, 0, 0)
    result = deduplicate(records, config=config)
    routed = result.routed()
    merged = refused = queued = 0
    now = utcnow()
    with database.transaction(workspace_id=workspace_id) as session:
        identity_service.lock_workspace(session, workspace_id)
        resolver = Resolver(
            session, workspace_id, identity_service.rules_for(session, workspace_id), on_merge
        )
        for pair in routed.auto_merge:
            survivor = resolver.merge_profiles(
                pair.left_id, pair.right_id, reason=_reason(pair), at=now
            )
            merged += survivor is not None
            refused += survivor is None
        resolver.finish()
        known = {
            (r.left_id, r.right_id)
            for r in session.scalars(
                select(MatchReview).where(MatchReview.workspace_id == workspace_id)
            )
        }
        for pair in routed.review:
            left, right = sorted((pair.left_id, pair.right_id))
            if (left, right) in known:
                continue
            session.add(
                MatchReview(
                    id=new_id("mrv"),
                    workspace_id=workspace_id,
                    left_id=left,
                    right_id=right,
                    probability=pair.match_probability,
                    weight=pair.match_weight,
                    explanation=_explain(pair),
                    status="open",
                    created_at=now,
                )
            )
            queued += 1
        run = MatchRun(len(records), len(result.pairs), merged, refused, queued)
        audit_service.record(
            session=session,
            chain=workspace_id,
            actor=actor,
            action="identity.matching.run",
            target=f"workspace:{workspace_id}",
            details={
                "records": run.records,
                "pairs": run.pairs,
                "merged": merged,
                "refused": refused,
                "queued": queued,
                "auto_merge": config.auto_merge,
                "review": config.review,
            },
        )
    return run


def decide_review(
    session: Session,
    *,
    workspace_id: str,
    review_id: str,
    accept: bool,
    actor: str,
    on_merge: Sequence[MergeHook] = (),
) -> MatchReview:
    """Accept (merge the two profiles) or reject a queued pair; audited."""
    review = session.get(MatchReview, review_id)
    if review is None or review.workspace_id != workspace_id:
        raise NotFoundError(f"no match review {review_id!r}")
    if review.status != "open":
        raise ConflictError(f"match review {review_id} was already {review.status}")
    now = utcnow()
    outcome = "kept apart"
    if accept:
        identity_service.lock_workspace(session, workspace_id)
        resolver = Resolver(
            session, workspace_id, identity_service.rules_for(session, workspace_id), on_merge
        )
        survivor = resolver.merge_profiles(
            review.left_id,
            review.right_id,
            reason=f"match review {review.id} accepted by {actor} "
            f"(probability {review.probability:.4f})",
            at=now,
        )
        resolver.finish()
        outcome = f"merged into {survivor}" if survivor else "refused by the identity rules"
    review.status = "accepted" if accept else "rejected"
    review.decided_at, review.decided_by, review.outcome = now, actor, outcome
    audit_service.record(
        session=session,
        chain=workspace_id,
        actor=actor,
        action=f"identity.review.{review.status}",
        target=f"identity_match_reviews:{review.id}",
        details={
            "left": review.left_id,
            "right": review.right_id,
            "probability": review.probability,
            "outcome": outcome,
        },
    )
    return review
