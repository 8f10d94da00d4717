"""An attempt's history in words: one describer for its page and its PDF record.

``history_rows(entries, unit)`` turns audit entries (with ``actor`` and
``judgement__criterion`` selected) into rows of ``when`` (in the configured
time zone), ``who``, ``what`` (one line) and ``details`` (what changed, item
by item), reading the unit's range items in one query.
"""

from django.utils import timezone
from django.utils.text import Truncator

from standards.models import RangeItem

from .models import Judgement
from .services import RULES_OF_EVIDENCE

QUOTE_WORDS = 40


def verdict_label(value):
    return Judgement.Verdict(value).label if value else "Not judged"


def _quote(text):
    return f"“{Truncator(text).words(QUOTE_WORDS)}”"


def _methods(values):
    return ", ".join(Judgement.Method(v).label for v in values or []) or "none"


def _listing(ids, item_text):
    return ", ".join(f"“{item_text.get(pk, f'item {pk}')}”" for pk in ids)


def _judgement_details(before, after, item_text):
    details = []
    if before.get("methods") != after.get("methods"):
        details.append(
            f"Methods: {_methods(before.get('methods'))} → {_methods(after.get('methods'))}"
        )
    old_items, new_items = set(before.get("range_items") or []), set(after.get("range_items") or [])
    if added := sorted(new_items - old_items):
        details.append(f"Range items now covered: {_listing(added, item_text)}")
    if removed := sorted(old_items - new_items):
        details.append(f"Range items no longer covered: {_listing(removed, item_text)}")
    confirmed = [r for r in RULES_OF_EVIDENCE if after.get(r) and not before.get(r)]
    withdrawn = [r for r in RULES_OF_EVIDENCE if before.get(r) and not after.get(r)]
    if confirmed:
        details.append(f"Rules of evidence confirmed: {', '.join(confirmed)}")
    if withdrawn:
        details.append(f"Rules of evidence no longer confirmed: {', '.join(withdrawn)}")
    if before.get("comment", "") != after.get("comment", ""):
        comment = after.get("comment", "")
        details.append(f"Comment: {_quote(comment)}" if comment else "Comment removed")
    return details


def amendment_consequences(after):
    """What an amendment did to the enrolment's other attempts, in words."""
    consequences = []
    closed = after.get("closed_attempts") or []
    if closed:
        numbers = " and ".join(str(n) for n in closed)
        consequences.append(f"Attempt {numbers} closed: no longer needed")
    if after.get("opened_attempt"):
        consequences.append(f"Attempt {after['opened_attempt']} opened for resubmission")
    elif after.get("attempts_remain") is False:
        consequences.append("No attempt remains to open")
    return consequences


def describe(entry, unit, item_text):
    """(what, details) of one audit entry, for people rather than machines."""
    before, after = entry.before or {}, entry.after or {}
    action = entry.action
    if action == "judgement changed" and entry.judgement:
        what = (
            f"{unit.criterion_label} {entry.judgement.criterion.number}: "
            f"{verdict_label(before.get('verdict'))} → {verdict_label(after.get('verdict'))}"
        )
        return what, _judgement_details(before, after, item_text)
    if action == "submitted":
        count = len(after.get("evidence", []))
        return (
            f"Submitted with {count} evidence item{'s' if count != 1 else ''}; "
            "authenticity declared",
            [],
        )
    if action == "signed off":
        feedback = after.get("feedback")
        return (
            f"Signed off: {unit.result_label(after.get('result'))}",
            [f"Feedback: {_quote(feedback)}"] if feedback else [],
        )
    if action == "result amended":
        what = (
            f"Result amended: {unit.result_label(before.get('result'))} → "
            f"{unit.result_label(after.get('result'))}"
        )
        return what, [f"Reason: {_quote(after.get('reason', ''))}", *amendment_consequences(after)]
    because = after.get("because") or {}
    if action == "attempt closed":
        return (
            f"Attempt closed: attempt {because.get('attempt')}'s result was amended to "
            f"{unit.result_label(because.get('result'))}",
            [],
        )
    if action == "attempt opened":
        return (
            f"Attempt opened: attempt {because.get('attempt')}'s result was amended to "
            f"{unit.result_label(because.get('result'))}",
            [],
        )
    if action == "moderated":
        agrees = after.get("agrees_with_result")
        details = []
        if after.get("disagreed_criteria"):
            details.append(
                f"Disagreed with the judgement of {', '.join(after['disagreed_criteria'])}"
            )
        if after.get("recommendation"):
            details.append(f"Recommendation: {_quote(after['recommendation'])}")
        return f"Moderated: {'agrees' if agrees else 'disagrees'} with the result", details
    if action in {"mapping confirmed", "mapping rejected"}:
        what = (
            f"Evidence mapping to {unit.criterion_label} {after.get('criterion')} "
            f"{after.get('decision')}"
        )
        previously = f"Previously {before['decision']}" if before.get("decision") else None
        details = [f"Reason: {_quote(after['reason'])}"] if after.get("reason") else []
        return what, details + ([previously] if previously else [])
    if action == "moderation response":
        return "Assessor responded to the moderation", [_quote(after.get("text", ""))]
    return action.capitalize(), []


def history_rows(entries, unit, item_text=None):
    """``item_text`` ({pk: text} of the unit's range items) if the caller has read them."""
    if item_text is None:
        # Every item of the unit, in one query whatever the entries mention.
        item_text = dict(
            RangeItem.objects.filter(range_statement__unit=unit).values_list("pk", "text")
        )
    rows = []
    for entry in entries:
        what, details = describe(entry, unit, item_text)
        rows.append(
            {
                "entry": entry,
                "when": timezone.localtime(entry.at),
                "who": entry.actor,
                "what": what,
                "details": details,
            }
        )
    return rows


# The entries amendment_rows and closed_by read: a page that shows only the latest
# changes reads these too, however old.
AMENDING_AND_CLOSING = ("result amended", "attempt closed")


def amendment_rows(assessment, entries, unit):
    """The attempt's amendments with the results in the unit's words and what each did to
    other attempts; ``entries`` is its history, as read.

    services.amend_result records each amendment in the history too: an attempt whose
    history has none needs no query for them.
    """
    consequences = {
        (entry.after or {}).get("amendment"): amendment_consequences(entry.after or {})
        for entry in entries
        if entry.action == "result amended"
    }
    if not consequences:
        return []
    amendments = assessment.amendments.select_related("amended_by")
    return [
        {
            "amendment": amendment,
            "previous": unit.result_label(amendment.previous_result),
            "new": unit.result_label(amendment.new_result),
            "consequences": consequences.get(amendment.pk, []),
        }
        for amendment in amendments
    ]


def closed_by(entries, attempts, unit):
    """For a closed attempt: when, and which amended attempt closed it (else None)."""
    for entry in entries:
        if entry.action == "attempt closed":
            because = (entry.after or {}).get("because") or {}
            amended = next((a for a in attempts if a.attempt == because.get("attempt")), None)
            return {
                "at": timezone.localtime(entry.at),
                "attempt": because.get("attempt"),
                "result": unit.result_label(because.get("result")),
                "url": amended.get_absolute_url() if amended else "",
            }
    return None
