"""A workspace's purposes (``coreo.consent.purposes.Taxonomy``): stored, read, changed.

Without a stored taxonomy the installation's applies (``DEFAULT_TAXONOMY``). The stored
document is read on every call, as text, so a change made by any process counts at once;
it is validated only when that text differs from the last one seen.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlalchemy import Text, select
from sqlalchemy import cast as sql_cast
from sqlalchemy.orm import Session

from coreo import yamltext
from coreo.audit import service as audit_service
from coreo.consent.models import PurposesRow
from coreo.consent.purposes import DEFAULT_TAXONOMY, Taxonomy
from coreo.db import utcnow
from coreo.documents import ParsedDocuments
from coreo.errors import InvalidInputError, first_problem

__all__ = ["load_taxonomy", "put_taxonomy", "taxonomy_document", "taxonomy_for"]

_PARSED = ParsedDocuments(Taxonomy.model_validate)


def taxonomy_for(session: Session, workspace_id: str) -> Taxonomy:
    stored = session.scalar(
        select(sql_cast(PurposesRow.taxonomy, Text)).where(PurposesRow.workspace_id == workspace_id)
    )
    if stored is None:
        return DEFAULT_TAXONOMY
    return _PARSED.get(workspace_id, stored)


def taxonomy_document(taxonomy: Taxonomy) -> dict[str, Any]:
    """A taxonomy as it is stored and shown (``load_taxonomy`` reads it back): purposes as
    a list, since JSONB keeps no order of keys."""
    document = taxonomy.model_dump(mode="json")
    document["purposes"] = list(document["purposes"].values())
    return document


def put_taxonomy(
    session: Session, workspace_id: str, taxonomy: Taxonomy | None, *, actor: str
) -> int:
    """Set the workspace's purposes (None: back to the installation's), audited; returns
    the new version. Ledger records of a purpose removed stay; checks of it answer that the
    purpose is unknown."""
    row = session.get(PurposesRow, workspace_id)
    version = (row.version + 1) if row is not None else 1
    if taxonomy is None:
        if row is not None:
            session.delete(row)
    else:
        if row is None:
            row = PurposesRow(workspace_id=workspace_id, version=0)
            session.add(row)
        row.taxonomy, row.version = taxonomy_document(taxonomy), version
        row.updated_at, row.updated_by = utcnow(), actor
    audit_service.record(
        session=session,
        chain=workspace_id,
        actor=actor,
        action="consent.purposes_reset" if taxonomy is None else "consent.purposes_changed",
        target=f"workspace:{workspace_id}",
        details={"version": version},
    )
    session.flush()
    return version


def load_taxonomy(text: str) -> Taxonomy:
    """Purposes from YAML or JSON (``purposes:`` a list or mapping, ``categories:`` banner
    category → purposes); InvalidInputError says what is wrong, in one line."""
    try:
        data = yamltext.parse(text)
    except yamltext.YamlError as error:
        raise InvalidInputError(str(error)) from None
    if not isinstance(data, dict):
        raise InvalidInputError("expected a mapping with purposes: and categories:")
    try:
        return Taxonomy.model_validate(data)
    except ValidationError as error:
        raise InvalidInputError(first_problem(error)) from None
