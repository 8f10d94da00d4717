"""Units as 1EdTech CASE 1.1 packages: a CFDocument, CFItems and isChildOf CFAssociations.

The unit is the CFDocument; each outcome (element) and each criterion is a
CFItem; each item is a child of its parent (criteria of their outcome,
outcomes of the document). Identifiers are UUID 5s derived from the unit
code, version and number, so exporting the same unit again gives the same
identifiers, and a new version of a unit gets new ones.
"""

import uuid
from datetime import UTC, datetime, time

from standards.models import Unit

# The portal's namespace for CASE identifiers (a fixed, random UUID).
NAMESPACE = uuid.UUID("6f1f4a1e-3c2b-4d7e-9a55-1c2f0e8b7d31")


def identifier(unit, *parts):
    return str(uuid.uuid5(NAMESPACE, ":".join([unit.framework, unit.code, unit.version, *parts])))


def _uri(ident):
    return f"urn:uuid:{ident}"


def _link(title, ident):
    return {"title": title, "identifier": ident, "uri": _uri(ident)}


def _changed(unit):
    """The unit's own version date stands for when it last changed, so output is stable."""
    day = unit.version_date or unit.registration_date
    moment = (
        datetime.combine(day, time.min, tzinfo=UTC) if day else datetime(1970, 1, 1, tzinfo=UTC)
    )
    return moment.isoformat().replace("+00:00", "Z")


def package(unit):
    """The unit (fetched with ``Unit.objects.with_structure()``) as a CFPackage dict."""
    changed = _changed(unit)
    doc_id = identifier(unit)
    document_link = _link(f"{unit.display_code} {unit.title}", doc_id)
    is_nzqa = unit.framework == Unit.Framework.NZQA
    document = {
        "identifier": doc_id,
        "uri": _uri(doc_id),
        "creator": "NZQA" if is_nzqa else (unit.training_package or "training.gov.au"),
        "title": f"{unit.display_code} {unit.title}",
        "lastChangeDateTime": changed,
        "description": unit.purpose,
        "humanCodingScheme": unit.display_code,
        "version": unit.version,
        "language": "en",
        "adoptionStatus": "Adopted",
        "subject": [unit.classification] if unit.classification else [],
        "CFPackageURI": _link(unit.title, doc_id),
    }
    items, associations = [], []

    def add_item(ident, statement, code, kind, position, parent_link):
        items.append(
            {
                "identifier": ident,
                "uri": _uri(ident),
                "fullStatement": statement,
                "humanCodingScheme": code,
                "listEnumeration": str(position),
                "CFItemType": kind,
                "language": "en",
                "CFDocumentURI": document_link,
                "lastChangeDateTime": changed,
            }
        )
        association_id = identifier(unit, "isChildOf", ident)
        associations.append(
            {
                "identifier": association_id,
                "uri": _uri(association_id),
                "associationType": "isChildOf",
                "sequenceNumber": position,
                "originNodeURI": _link(statement[:100], ident),
                "destinationNodeURI": parent_link,
                "CFDocumentURI": document_link,
                "lastChangeDateTime": changed,
            }
        )

    for outcome_position, outcome in enumerate(unit.outcomes.all(), start=1):
        outcome_id = identifier(unit, "outcome", outcome.number)
        add_item(
            outcome_id,
            outcome.title,
            outcome.number,
            unit.outcome_label,
            outcome_position,
            document_link,
        )
        outcome_link = _link(outcome.title[:100], outcome_id)
        for position, criterion in enumerate(outcome.criteria.all(), start=1):
            add_item(
                identifier(unit, "criterion", criterion.number),
                criterion.text,
                criterion.number,
                unit.criterion_label,
                position,
                outcome_link,
            )
    return {"CFDocument": document, "CFItems": items, "CFAssociations": associations}
