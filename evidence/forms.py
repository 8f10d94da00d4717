from crispy_forms.helper import FormHelper
from crispy_forms.layout import Submit
from django import forms

from assessment_portal.dates import validate_plausible_date
from assessments.forms import PersonChoiceField
from assessments.services import CANDIDATE_DECLARATION
from standards.models import PerformanceCriterion, RangeItem, RangeStatement, Unit

from . import services
from .models import Evidence
from .upload_handlers import max_upload_bytes
from .uploads import ALLOWED_EXTENSIONS, format_size

Kind = Evidence.Kind


def _helper(submit_label, *, novalidate=True):
    helper = FormHelper()
    if novalidate:
        # The server's messages say more than a browser's; they come back with the page.
        helper.attrs = {"novalidate": ""}
    helper.add_input(Submit("submit", submit_label))
    return helper


class MultipleFileInput(forms.FileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files under one name (Django documentation, "Uploading multiple files").

    Empty files are let through so the upload check can reject them with its own message.
    """

    def __init__(self, **kwargs):
        kwargs.setdefault(
            "widget", MultipleFileInput(attrs={"accept": ",".join(ALLOWED_EXTENSIONS)})
        )
        super().__init__(allow_empty_file=True, **kwargs)

    def clean(self, data, initial=None):
        # The widget always gives a list: request.FILES.getlist(name).
        single_clean = super().clean
        return [single_clean(item, initial) for item in data]


def files_help_text():
    return (
        f"Up to {services.MAX_FILES_PER_UPLOAD} files at a time, each at most "
        f"{format_size(max_upload_bytes())}: documents (PDF, Word, Excel, PowerPoint, "
        "OpenDocument, text), images, audio or video. Allowed file types: "
        f"{', '.join(ALLOWED_EXTENSIONS)}."
    )


class FilesFormMixin:
    """The ``files`` field, failing with the upload handler's refusals if it dropped any.

    A file dropped while arriving is missing from request.FILES, so without this the
    form would save the rest as if nothing had happened.
    """

    def add_files_field(self, upload_rejections, *, required):
        self.upload_rejections = upload_rejections
        self.files_required = required
        self.fields["files"] = MultipleFileField(
            # Checked in clean_files, after the handler's refusals, so those are what people read.
            required=False,
            label="Files" if required else "Attachments (optional)",
            help_text=files_help_text(),
        )

    def clean_files(self):
        if self.upload_rejections:
            raise forms.ValidationError(
                [rejected.message for rejected in self.upload_rejections]
                + ["Nothing was saved. Choose the files again, leaving out any over the limit."]
            )
        files = self.cleaned_data["files"]
        if self.files_required and not files:
            raise forms.ValidationError("Choose at least one file to upload.")
        return files


LABELS = {
    Kind.FILE: {"occurred_on": "Date"},
    Kind.WRITTEN: {"description": "The question or task", "text": "Your answer"},
    Kind.OBSERVATION: {"occurred_on": "Date observed", "text": "What you observed"},
    Kind.QUESTIONING: {
        "occurred_on": "Date of questioning",
        "text": "Questions asked and the candidate's answers",
    },
    Kind.THIRD_PARTY: {
        "third_party_name": "Name of the third party",
        "third_party_role": "Their role (e.g. supervisor)",
        "third_party_contact": "Their phone or email, for verification",
        "occurred_on": "Date of the report",
        "text": "Their statement",
    },
}


class EvidenceForm(FilesFormMixin, forms.ModelForm):
    """An item's fields for its kind; on creation, its files and (for assessors) the candidate."""

    class Meta:
        model = Evidence
        fields = sorted({name for names in services.KIND_FIELDS.values() for name in names})
        widgets = {
            "description": forms.Textarea(attrs={"rows": 3}),
            "text": forms.Textarea(attrs={"rows": 10}),
            "occurred_on": forms.DateInput(attrs={"type": "date"}),
        }

    def __init__(self, *args, kind, user, upload_rejections=(), creating=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.kind = kind
        for name in list(self.fields):
            if name not in services.KIND_FIELDS[kind]:
                del self.fields[name]
        order = list(services.KIND_FIELDS[kind])
        for name, label in LABELS[kind].items():
            self.fields[name].label = label
        for name in services.REQUIRED_FIELDS[kind]:
            self.fields[name].required = True
        if creating and kind in Evidence.ASSESSOR_KINDS:
            self.fields["candidate"] = PersonChoiceField(
                queryset=services.candidates_assessed_by(user).order_by("last_name", "first_name"),
                help_text="Candidates you assess.",
            )
            order.insert(0, "candidate")
        if creating and kind in services.KINDS_WITH_FILES:
            self.add_files_field(upload_rejections, required=kind == Kind.FILE)
            order.append("files")
        if "occurred_on" in self.fields:
            self.fields["occurred_on"].validators.append(validate_plausible_date)
        self.order_fields(order)
        self.helper = _helper("Save" if self.instance.pk else "Add to portfolio")


class AddFilesForm(FilesFormMixin, forms.Form):
    def __init__(self, *args, upload_rejections=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.add_files_field(upload_rejections, required=True)
        self.helper = _helper("Upload")


class CriterionChoiceField(forms.ModelMultipleChoiceField):
    """Accepts any criterion, so the mapping service can say why one is not allowed,
    while offering only those the user may choose, grouped under their unit and outcome."""

    widget = forms.CheckboxSelectMultiple

    def __init__(self, **kwargs):
        super().__init__(queryset=PerformanceCriterion.objects.all(), **kwargs)


class MapForm(forms.Form):
    criteria = CriterionChoiceField(
        help_text="Tick every criterion this item shows, in any of your units."
    )
    range_items = forms.ModelMultipleChoiceField(
        queryset=RangeItem.objects.all(),
        widget=forms.CheckboxSelectMultiple,
        required=False,
        label="Range items it covers",
        help_text="Optional: the items of the chosen criteria's ranges this evidence covers.",
    )
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        label="Note",
        help_text="How this item shows the criteria (for your assessor).",
    )

    def __init__(self, *args, criteria, **kwargs):
        super().__init__(*args, **kwargs)
        # Rows, not instances, as for the range items below (~0.4 ms).
        groups = {}
        for *outcome, pk, number, text in criteria.values_list(
            "outcome__unit__framework",
            "outcome__unit__code",
            "outcome__number",
            "outcome__title",
            "pk",
            "number",
            "text",
        ):
            groups.setdefault(tuple(outcome), []).append((pk, f"{number} {text}"))
        self.fields["criteria"].choices = [
            (_outcome_label(*outcome), options) for outcome, options in groups.items()
        ]
        # Two queries whatever the units hold (a prefetch is skipped when there is nothing
        # to prefetch for): the statements' criterion numbers, then their items.
        statements = RangeStatement.objects.filter(criteria__in=criteria)
        numbers = {}
        for statement, number in (
            RangeStatement.criteria.through.objects.filter(rangestatement__in=statements)
            .order_by("performancecriterion__sort_key")
            .values_list("rangestatement", "performancecriterion__number")
        ):
            numbers.setdefault(statement, []).append(number)
        # Rows, not instances: ~90 items would each build their own statement and unit (~1.5 ms
        # at 10k candidates, issue 13); a statement's label is made once, for its first item.
        items = (
            RangeItem.objects.filter(range_statement__in=statements)
            .order_by("range_statement__unit", "range_statement__position", "position")
            .values_list(
                "range_statement",
                *(f"range_statement__{name}" for name in ("term", "wording", "coverage")),
                "range_statement__unit__framework",
                "range_statement__unit__code",
                "pk",
                "text",
            )
        )
        groups = {}
        for statement_id, *statement, pk, text in items:
            groups.setdefault((statement_id, *statement), []).append((pk, text))
        self.fields["range_items"].choices = [
            (_range_label(*statement, numbers[statement_id]), options)
            for (statement_id, *statement), options in groups.items()
        ]


def _outcome_label(framework, code, number, title):
    unit = Unit(framework=framework, code=code)
    return f"{unit.display_code} · {unit.outcome_label} {number}: {title}"


def _range_label(term, wording, coverage, framework, code, numbers):
    name = f"“{term}”" if term else "Range"
    unit = Unit(framework=framework, code=code)
    coverage = RangeStatement.Coverage(coverage).label.lower()
    return f"{unit.display_code} {', '.join(numbers)} · {name}: {wording} ({coverage})"


class SubmitForm(forms.Form):
    """The authenticity declaration. Whether it was ticked is for the submit service to judge."""

    attempt = forms.IntegerField(widget=forms.HiddenInput)
    declaration = forms.BooleanField(
        required=False,
        label=CANDIDATE_DECLARATION,
        widget=forms.CheckboxInput(attrs={"required": True}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The browser's own check, too: a missing tick is the likeliest mistake here.
        self.helper = _helper("Submit for assessment", novalidate=False)
