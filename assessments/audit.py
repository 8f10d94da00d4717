"""The hash chain of an attempt's history.

Every change to an attempt (submission, judgements, sign-off, amendments,
attempts closed or opened by an amendment, moderation) is one ``AuditEntry``.
The entries of one attempt are numbered 1, 2, … and each stores

    hash = SHA-256(previous entry's hash + canonical JSON of its own content)

(the first entry's "previous hash" is 64 zeros). The content is the attempt,
the position, the judgement, the action, the actor, the time in UTC and the
before and after states, so changing, removing or inserting any entry breaks
every later hash. The last hash, the chain's *head*, is printed on the PDF
record: a printed record can be checked against the database years later with
``manage.py verify_audit --assessment N``.

The format of ``canonical_content`` is a promise to every record already
written: change it and every stored chain stops verifying.
"""

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC

from django.db import transaction
from django.utils import timezone

from .models import Amendment, Assessment, AuditEntry, SignOff

GENESIS = "0" * 64


def canonical_content(
    *, assessment_id, sequence, judgement_id, action, actor_id, at, before, after
):
    """The entry's content as one canonical JSON text: sorted keys, no spaces, UTF-8."""
    return json.dumps(
        {
            "assessment": assessment_id,
            "sequence": sequence,
            "judgement": judgement_id,
            "action": action,
            "actor": actor_id,
            "at": at.astimezone(UTC).isoformat(timespec="microseconds"),
            "before": before,
            "after": after,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )


def link_hash(previous_hash, content):
    return hashlib.sha256((previous_hash + content).encode("utf-8")).hexdigest()


def entry_hash(entry, previous_hash):
    """The hash ``entry`` should have, following an entry whose hash is ``previous_hash``."""
    return link_hash(
        previous_hash,
        canonical_content(
            assessment_id=entry.assessment_id,
            sequence=entry.sequence,
            judgement_id=entry.judgement_id,
            action=entry.action,
            actor_id=entry.actor_id,
            at=entry.at,
            before=entry.before,
            after=entry.after,
        ),
    )


def _plain(value):
    # Exactly what the JSON column will give back, so the hash computed now is
    # the hash recomputed from the stored row later (tuples become lists, …).
    return None if value is None else json.loads(json.dumps(value))


def sign_off_content(signed):
    """A sign-off as its "signed off" entry records it."""
    return {
        "sign_off": signed.pk,
        "result": signed.result,
        "feedback": signed.feedback,
        "declaration": signed.declaration,
        "signed_by": signed.signed_by_id,
        "signed_at": signed.signed_at.isoformat(),
    }


def amendment_content(amendment):
    """The fields of an amendment its "result amended" entry records."""
    return {
        "amendment": amendment.pk,
        "result": amendment.new_result,
        "reason": amendment.reason,
        "amended_at": amendment.amended_at.isoformat(),
    }


# No savepoint of its own: an entry belongs to its caller's change, and the two
# stand or fall together (and a save stays within its query budget).
@transaction.atomic(savepoint=False)
def append(assessment, *, action, actor, judgement=None, before=None, after=None, head=None):
    """Add an entry at the end of ``assessment``'s chain and return it.

    The attempt's row is locked first (PostgreSQL; SQLite serialises writers
    itself), so two concurrent appends queue up instead of both following the
    same entry; the unique (assessment, sequence) constraint refuses a fork
    even if a caller got that wrong. A caller that already holds that lock and
    read the chain's last (sequence, hash) under it passes them as ``head``
    ((None, None) for an empty chain), saving the two reads.
    """
    if head is None:
        Assessment.objects.select_for_update().filter(pk=assessment.pk).values_list("pk").get()
        head = (
            AuditEntry.objects.filter(assessment_id=assessment.pk)
            .order_by("-sequence")
            .values_list("sequence", "hash")
            .first()
        ) or (None, None)
    last_sequence, last_hash = head
    sequence, previous_hash = (last_sequence + 1, last_hash) if last_sequence else (1, GENESIS)
    entry = AuditEntry(
        assessment_id=assessment.pk,
        sequence=sequence,
        judgement=judgement,
        action=action,
        actor=actor,
        at=timezone.now(),
        before=_plain(before),
        after=_plain(after),
    )
    entry.hash = entry_hash(entry, previous_hash)
    entry.save()
    return entry


def chain_new(entries):
    """Number and hash, oldest first, the entries of attempts that have no history yet.

    For a bulk writer (``seed_scale``) building many attempts' histories at once;
    everything else adds one entry at a time with ``append``.
    """
    by_attempt = defaultdict(list)
    for entry in entries:
        by_attempt[entry.assessment_id].append(entry)
    for chain in by_attempt.values():
        previous_hash = GENESIS
        for sequence, entry in enumerate(sorted(chain, key=lambda e: e.at), 1):
            entry.sequence = sequence
            entry.before, entry.after = _plain(entry.before), _plain(entry.after)
            entry.hash = entry_hash(entry, previous_hash)
            previous_hash = entry.hash
    return entries


@dataclass
class Broken:
    """The first link of a chain that does not verify."""

    assessment_id: int
    entry_id: int
    sequence: int
    problem: str
    expected: str
    stored: str

    def __str__(self):
        return (
            f"assessment {self.assessment_id}: entry {self.entry_id} (#{self.sequence}) "
            f"{self.problem}: expected {self.expected}, stored {self.stored}"
        )


@dataclass
class ChainReport:
    assessment_id: int
    count: int = 0
    head: str = GENESIS
    broken: Broken | None = None


def _check(entries):
    """Walk entries of one chain in order; return its ChainReport."""
    report = None
    previous_hash = GENESIS
    for entry in entries:
        if report is None:
            report = ChainReport(entry.assessment_id)
        if report.broken:
            report.count += 1
            continue
        expected_sequence = report.count + 1
        if entry.sequence != expected_sequence:
            report.broken = Broken(
                entry.assessment_id,
                entry.pk,
                entry.sequence,
                "is out of sequence (an entry before it is missing)",
                f"#{expected_sequence}",
                f"#{entry.sequence}",
            )
        else:
            expected = entry_hash(entry, previous_hash)
            if expected != entry.hash:
                report.broken = Broken(
                    entry.assessment_id,
                    entry.pk,
                    entry.sequence,
                    "does not match its content and the previous hash",
                    expected,
                    entry.hash,
                )
        report.count += 1
        previous_hash = entry.hash
        report.head = entry.hash
    return report


def verify(assessments=None):
    """Check every chain (or those of ``assessments``, a queryset of ids); yield ChainReports.

    Reads entries in one ordered pass with a server-side cursor, holding one
    attempt's chain at a time, however many attempts there are.
    """
    entries = AuditEntry.objects.order_by("assessment_id", "sequence")
    if assessments is not None:
        entries = entries.filter(assessment_id__in=assessments)
    chain, current = [], None
    for entry in entries.iterator(chunk_size=2000):
        if entry.assessment_id != current:
            if chain:
                yield _check(chain)
            chain, current = [], entry.assessment_id
        chain.append(entry)
    if chain:
        yield _check(chain)


def chain_summary(entries):
    """{"count", "head"} of an attempt's chain from its entries in order, as stored.

    The PDF record and the assessment page print these; ``verify_audit
    --assessment`` prints the same after checking every link.
    """
    last = entries[-1] if entries else None
    return {"count": last.sequence if last else 0, "head": last.hash if last else GENESIS}


def records_differing_from_history(assessments=None):
    """Sign-offs and amendments whose row no longer says what their entry recorded.

    The chain proves the entries unchanged; this extends that to the signed
    rows the entries describe. Yields one sentence per difference.
    """
    entries = AuditEntry.objects.filter(action__in=["signed off", "result amended"])
    sign_offs = SignOff.objects.order_by("pk")
    amendments = Amendment.objects.order_by("pk")
    if assessments is not None:
        entries = entries.filter(assessment_id__in=assessments)
        sign_offs = sign_offs.filter(assessment_id__in=assessments)
        amendments = amendments.filter(assessment_id__in=assessments)
    recorded = {}
    for entry in entries.only("pk", "assessment_id", "sequence", "action", "after"):
        after = entry.after or {}
        if entry.action == "signed off":
            recorded[("sign-off", entry.assessment_id)] = (entry, after)
        elif "amendment" in after:  # entries before the chain existed did not name it
            recorded[("amendment", after["amendment"])] = (entry, after)
    rows = [(("sign-off", s.assessment_id), s, sign_off_content(s)) for s in sign_offs]
    rows += [(("amendment", a.pk), a, amendment_content(a)) for a in amendments]
    for key, row, content in rows:
        kind = key[0]
        if key not in recorded:
            yield f"assessment {row.assessment_id}: {kind} {row.pk} has no entry in the history"
            continue
        entry, after = recorded[key]
        changed = sorted(name for name in content if name in after and after[name] != content[name])
        if changed:
            yield (
                f"assessment {row.assessment_id}: {kind} {row.pk} differs from entry "
                f"{entry.pk} (#{entry.sequence}) in {', '.join(changed)}"
            )
