from crispy_forms.helper import FormHelper
from crispy_forms.layout import Submit
from django import forms
from django.contrib.auth import get_user_model
from django.forms.models import ModelChoiceIterator

from assessment_portal.dates import validate_plausible_date
from standards.models import Unit

from .models import Assessment, Cohort, Judgement

User = get_user_model()


def _helper(submit_label):
    helper = FormHelper()
    helper.add_input(Submit("submit", submit_label))
    return helper


class ListedChoices(ModelChoiceIterator):
    """Choices read in one query. Django reads a choice field's objects through a
    server-side cursor, three round trips on PostgreSQL (~1 ms a page) to spare the
    memory of a long list; these lists are a few dozen units or staff."""

    def __iter__(self):
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        for obj in self.queryset:
            yield self.choice(obj)


class ListedChoiceField(forms.ModelChoiceField):
    iterator = ListedChoices


class PersonChoiceField(ListedChoiceField):
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
    unit = forms.ModelChoiceField(
        queryset=Unit.objects.current(), help_text="The current release of each unit."
    )
    assessor = PersonChoiceField(queryset=active_users(User.Role.ASSESSOR))
    cohort = forms.ModelChoiceField(
        queryset=Cohort.objects.none(),
        required=False,
        help_text="Optional: one of the candidate's cohorts.",
    )
    due_date = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Optional.",
        validators=[validate_plausible_date],
    )

    def __init__(self, *args, candidate=None, **kwargs):
        super().__init__(*args, **kwargs)
        if candidate is not None:
            self.fields["cohort"].queryset = candidate.cohorts.all()
            self.initial["candidate"] = candidate.pk
        self.fields["candidate"].error_messages["required"] = "Find and choose a candidate first."
        self.helper = _helper("Enrol")


class CohortEnrolmentForm(forms.Form):
    unit = ListedChoiceField(
        queryset=Unit.objects.current(), help_text="The current release of each unit."
    )
    assessor = PersonChoiceField(queryset=active_users(User.Role.ASSESSOR))
    due_date = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Optional.",
        validators=[validate_plausible_date],
    )


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


class IdListField(forms.Field):
    """A list of ids from checkboxes; which ids are allowed is the service's rule."""

    widget = forms.CheckboxSelectMultiple

    def to_python(self, value):
        try:
            return [int(v) for v in value or []]
        except (TypeError, ValueError):
            raise forms.ValidationError("Choose range items from the list.") from None


class JudgementForm(forms.Form):
    """One criterion's judgement, prefixed by the judgement so a page can hold many.

    Rendered by a plain template (assessments/_judgement.html) rather than crispy:
    a unit has dozens of criteria and crispy cost ~10 ms each.
    """

    verdict = forms.ChoiceField(
        choices=[("", "Not judged yet"), *Judgement.Verdict.choices], required=False
    )
    methods = forms.MultipleChoiceField(choices=Judgement.Method.choices, required=False)
    range_items = IdListField(required=False)
    valid = forms.BooleanField(required=False)
    sufficient = forms.BooleanField(required=False)
    authentic = forms.BooleanField(required=False)
    current = forms.BooleanField(required=False)
    comment = forms.CharField(required=False)
    version = forms.IntegerField()

    def __init__(self, *args, judgement_pk, **kwargs):
        super().__init__(*args, prefix=f"j{judgement_pk}", **kwargs)


class ApplyToUnjudgedForm(forms.Form):
    methods = forms.MultipleChoiceField(
        label="Methods used",
        choices=Judgement.Method.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    rules = forms.MultipleChoiceField(
        label="Rules of evidence met",
        choices=[(rule, rule.capitalize()) for rule in RULES],
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )


class SignOffForm(forms.Form):
    feedback = forms.CharField(
        label="Feedback to the candidate",
        widget=forms.Textarea(attrs={"rows": 4}),
        required=False,
        help_text="Required when the result is not achieved / not yet competent.",
    )
    declaration = forms.BooleanField(label="I make the assessor declaration above.", required=False)


class AmendmentForm(forms.Form):
    new_result = forms.ChoiceField(label="Correct result", choices=Assessment.Result.choices)
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, unit, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["new_result"].choices = [
            (result, unit.result_label(result)) for result in Assessment.Result.values
        ]
        self.helper = _helper("Record the amendment")


class EnrolmentStatusForm(forms.Form):
    new_status = forms.ChoiceField(label="Decision")
    effective_date = forms.DateField(
        label="Took effect on", widget=forms.DateInput(attrs={"type": "date"})
    )
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, enrolment, **kwargs):
        super().__init__(*args, **kwargs)
        Status = type(enrolment).Status
        if enrolment.status == Status.ACTIVE:
            choices = [(value, label) for value, label in Status.choices if value != Status.ACTIVE]
        else:
            choices = [(Status.ACTIVE, "Reinstate (active again)")]
        self.fields["new_status"].choices = choices
        self.helper = _helper("Record the decision")
