from crispy_forms.bootstrap import InlineCheckboxes, InlineRadios
from crispy_forms.helper import FormHelper
from crispy_forms.layout import Div, Fieldset, Layout, Submit
from django import forms
from django.contrib.auth import get_user_model

from standards.models import RangeItem, Unit

from .models import Assessment, Cohort, Judgement

User = get_user_model()


def _helper(submit_label):
    helper = FormHelper()
    helper.add_input(Submit("submit", submit_label))
    return helper


class PersonChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        identifier = f" · {obj.student_identifier}" if obj.student_identifier else ""
        return f"{obj.get_full_name() or obj.username} ({obj.email}){identifier}"


def active_users(role):
    return User.objects.filter(role=role, is_active=True).order_by("last_name", "first_name")


class EnrolmentForm(forms.Form):
    """Enrol the candidate found by the page's search (an institution has thousands)."""

    candidate = PersonChoiceField(
        queryset=active_users(User.Role.CANDIDATE), widget=forms.HiddenInput
    )
    unit = forms.ModelChoiceField(queryset=Unit.objects.all())
    assessor = PersonChoiceField(queryset=active_users(User.Role.ASSESSOR))
    cohort = forms.ModelChoiceField(
        queryset=Cohort.objects.none(),
        required=False,
        help_text="Optional: one of the candidate's cohorts.",
    )
    due_date = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"}), help_text="Optional."
    )

    def __init__(self, *args, candidate=None, **kwargs):
        super().__init__(*args, **kwargs)
        if candidate is not None:
            self.fields["cohort"].queryset = candidate.cohorts.all()
            self.initial["candidate"] = candidate.pk
        self.fields["candidate"].error_messages["required"] = "Find and choose a candidate first."
        self.helper = _helper("Enrol")


class CohortEnrolmentForm(forms.Form):
    unit = forms.ModelChoiceField(queryset=Unit.objects.all())
    assessor = PersonChoiceField(queryset=active_users(User.Role.ASSESSOR))
    due_date = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"}), help_text="Optional."
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = _helper("Enrol the whole cohort")


class CohortForm(forms.ModelForm):
    """Name and description; members are added on the cohort's page or by CSV import."""

    class Meta:
        model = Cohort
        fields = ["name", "description"]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = _helper("Save cohort")


class AssessorForm(forms.Form):
    assessor = PersonChoiceField(queryset=active_users(User.Role.ASSESSOR))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = _helper("Reassign")


RULES = ["valid", "sufficient", "authentic", "current"]


class JudgementForm(forms.Form):
    """One criterion's judgement; prefixed by the judgement so a page can hold many."""

    verdict = forms.ChoiceField(
        choices=[("", "Not judged yet"), *Judgement.Verdict.choices],
        widget=forms.RadioSelect,
        required=False,
    )
    methods = forms.MultipleChoiceField(
        label="Methods used",
        choices=Judgement.Method.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    range_items = forms.ModelMultipleChoiceField(
        label="Range items covered",
        queryset=RangeItem.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    valid = forms.BooleanField(required=False)
    sufficient = forms.BooleanField(required=False)
    authentic = forms.BooleanField(required=False)
    current = forms.BooleanField(required=False)
    comment = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    version = forms.IntegerField(widget=forms.HiddenInput)

    def __init__(self, *args, judgement, **kwargs):
        items = [
            item
            for statement in judgement.criterion.range_statements.all()
            for item in statement.items.all()
        ]
        kwargs.setdefault(
            "initial",
            {
                "verdict": judgement.verdict,
                "methods": judgement.methods,
                "range_items": [item.pk for item in judgement.range_items.all()],
                "valid": judgement.valid,
                "sufficient": judgement.sufficient,
                "authentic": judgement.authentic,
                "current": judgement.current,
                "comment": judgement.comment,
                "version": judgement.version,
            },
        )
        super().__init__(*args, prefix=f"j{judgement.pk}", **kwargs)
        # The choices come from the prefetched range, so the page's query count
        # does not grow with the number of criteria.
        field = self.fields["range_items"]
        field.queryset = RangeItem.objects.filter(pk__in=[item.pk for item in items])
        field.choices = [(item.pk, item.text) for item in items]
        if not items:
            del self.fields["range_items"]
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.disable_csrf = True
        self.helper.layout = Layout(
            InlineRadios("verdict"),
            InlineCheckboxes("methods"),
            *([InlineCheckboxes("range_items")] if items else []),
            Fieldset(
                "Rules of evidence",
                Div(*RULES, css_class="d-flex flex-wrap column-gap-4"),
                css_class="mb-2",
            ),
            "comment",
            "version",
        )


class SignOffForm(forms.Form):
    feedback = forms.CharField(
        label="Feedback to the candidate",
        widget=forms.Textarea(attrs={"rows": 4}),
        required=False,
        help_text="Required when the result is not achieved / not yet competent.",
    )
    declaration = forms.BooleanField(label="I make the assessor declaration above.", required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = _helper("Sign off the result")


class AmendmentForm(forms.Form):
    new_result = forms.ChoiceField(label="Correct result", choices=Assessment.Result.choices)
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, unit, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["new_result"].choices = [
            (result, unit.result_label(result)) for result in Assessment.Result.values
        ]
        self.helper = _helper("Record the amendment")
