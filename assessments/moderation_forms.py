from crispy_forms.helper import FormHelper
from crispy_forms.layout import Submit
from django import forms
from django.contrib.auth import get_user_model

from assessment_portal.dates import validate_plausible_date
from assessment_portal.queries import NAME_FIELDS
from standards.models import Unit

from .forms import ListedChoices
from .models import ModerationExport
from .moderation import DEFAULT_RULES, SEED_LIMIT

User = get_user_model()


def _helper(submit_name, submit_label):
    helper = FormHelper()
    helper.add_input(Submit(submit_name, submit_label))
    return helper


def active_moderators():
    return (
        User.objects.filter(is_moderator=True, is_active=True)
        .only(*NAME_FIELDS, "role")
        .order_by("last_name", "first_name", "username")
    )


def _moderator_label(user):
    return f"{user} ({user.get_role_display().lower()})"


class ModeratorChoiceField(forms.ModelChoiceField):
    iterator = ListedChoices

    def label_from_instance(self, obj):
        return _moderator_label(obj)


class ModeratorsField(forms.ModelMultipleChoiceField):
    iterator = ListedChoices

    def __init__(self, **kwargs):
        super().__init__(
            queryset=active_moderators(),
            widget=forms.CheckboxSelectMultiple,
            help_text="Each attempt goes to the least busy of these who took no part in "
            "assessing it.",
            **kwargs,
        )

    def label_from_instance(self, obj):
        return _moderator_label(obj)


def _default_help():
    nzqa, au = DEFAULT_RULES[Unit.Framework.NZQA], DEFAULT_RULES[Unit.Framework.AU]
    return (
        f"Blank: {nzqa[0]} and {nzqa[1]}% for NZQA unit standards, "
        f"{au[0]} and {au[1]}% for AU units."
    )


class RoundForm(forms.Form):
    unit = forms.ModelChoiceField(queryset=Unit.objects.all())
    name = forms.CharField(max_length=150, help_text="For example “2026 external moderation”.")
    period_start = forms.DateField(
        label="First day",
        widget=forms.DateInput(attrs={"type": "date"}),
        validators=[validate_plausible_date],
    )
    period_end = forms.DateField(
        label="Last day",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Attempts signed off between the first and last day (inclusive) are the "
        "population.",
        validators=[validate_plausible_date],
    )
    minimum = forms.IntegerField(
        label="Minimum per assessor", min_value=1, max_value=1000, required=False
    )
    percent = forms.IntegerField(
        label="Percentage per assessor",
        min_value=0,
        max_value=100,
        required=False,
        help_text="The sample takes whichever of the two is larger. " + _default_help(),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = _helper("submit", "Create round")


class DrawSampleForm(forms.Form):
    seed = forms.IntegerField(
        min_value=0,
        max_value=SEED_LIMIT - 1,
        required=False,
        help_text="Leave blank for a new random seed. The seed is recorded; the same seed "
        "draws the same sample from the same population.",
    )
    moderators = ModeratorsField()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, prefix="draw", **kwargs)


class PickSampleForm(forms.Form):
    """The attempts picked on the population page (as hidden fields) and their moderators."""

    def __init__(self, *args, round_, **kwargs):
        super().__init__(*args, prefix="pick", **kwargs)
        self.fields["assessments"] = forms.ModelMultipleChoiceField(
            label="Attempts to moderate",
            queryset=round_.population.all(),
            widget=forms.MultipleHiddenInput,
            error_messages={"required": "Tick at least one attempt to moderate."},
        )
        self.fields["moderators"] = ModeratorsField()


class AssignModeratorForm(forms.Form):
    moderator = ModeratorChoiceField(queryset=active_moderators())

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = _helper("submit", "Assign")


AGREEMENT = [("agree", "Agree"), ("disagree", "Disagree")]


class ReviewForm(forms.Form):
    """A view on each of the assessor's judgements, then on the result."""

    result = forms.ChoiceField(
        label="Overall verdict",
        choices=[("agree", "Agree with the result"), ("disagree", "Disagree with the result")],
        widget=forms.RadioSelect,
    )
    recommendation = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        required=False,
        help_text="Commentary and next steps for the assessor; required if you disagree "
        "with the result. The learner's result does not change.",
    )

    def __init__(self, *args, judgements, **kwargs):
        super().__init__(*args, **kwargs)
        self.judgements = judgements
        for j in judgements:
            number = j.criterion.number
            self.fields[f"c{j.pk}"] = forms.ChoiceField(
                label=f"Your view of the judgement of {number}",
                choices=AGREEMENT,
                widget=forms.RadioSelect,
            )
            self.fields[f"c{j.pk}_reason"] = forms.CharField(
                label=f"Reason (required if you disagree on {number})",
                required=False,
                widget=forms.Textarea(attrs={"rows": 2}),
            )
        self.helper = FormHelper()
        self.helper.form_tag = False

    def fields_for(self, judgement):
        return self[f"c{judgement.pk}"], self[f"c{judgement.pk}_reason"]

    def clean(self):
        data = super().clean()
        for j in self.judgements:
            if data.get(f"c{j.pk}") == "disagree" and not data.get(f"c{j.pk}_reason", "").strip():
                self.add_error(f"c{j.pk}_reason", "Give the reason you disagree.")
        if data.get("result") == "disagree" and not data.get("recommendation", "").strip():
            self.add_error("recommendation", "Recommend what should happen.")
        return data

    def review_data(self):
        data = self.cleaned_data
        return {
            "criteria": {
                j.pk: (data[f"c{j.pk}"] == "agree", data[f"c{j.pk}_reason"])
                for j in self.judgements
            },
            "agrees_with_result": data["result"] == "agree",
            "recommendation": data["recommendation"],
        }


class ResponseForm(forms.Form):
    text = forms.CharField(
        label="Your response",
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Recorded with the time; responses cannot be edited afterwards.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = _helper("submit", "Send response")


class ExportForm(forms.Form):
    format = forms.ChoiceField(
        choices=ModerationExport.Format.choices,
        initial=ModerationExport.Format.PDF,
        widget=forms.RadioSelect,
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = _helper("submit", "Build the report")
