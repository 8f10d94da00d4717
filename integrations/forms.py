import socket
from datetime import datetime, time, timedelta
from urllib.parse import urlsplit

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Submit
from django import forms
from django.contrib.auth import get_user_model
from django.utils import timezone

from assessments.models import Cohort
from standards.models import Unit

from .exporters import EXPORTERS
from .models import ApiToken, Webhook
from .webhooks import address_refusal


def _helper(label, method="post"):
    helper = FormHelper()
    helper.form_method = method
    helper.add_input(Submit("submit", label))
    return helper


class ApiTokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="Which system uses it, e.g. “aXcelerate”.")
    scope = forms.ChoiceField(choices=ApiToken.Scope.choices, widget=forms.RadioSelect)
    acts_for = forms.ModelChoiceField(
        queryset=get_user_model()
        .objects.filter(is_active=True, role__in=["administrator", "assessor"])
        .order_by("role", "last_name", "first_name"),
        help_text="The token sees what this person sees: an administrator everything, "
        "an assessor only their own candidates. Writing enrolments needs an administrator.",
    )
    valid_until = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Optional. The token stops working at the end of this day.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = _helper("Create the token")

    def clean_valid_until(self):
        day = self.cleaned_data["valid_until"]
        if day is not None and day < timezone.localdate():
            raise forms.ValidationError("Choose today or a later day.")
        return day

    def expires_at(self):
        day = self.cleaned_data["valid_until"]
        if day is None:
            return None
        return timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min))


class WebhookForm(forms.ModelForm):
    class Meta:
        model = Webhook
        fields = ["url", "secret", "description", "is_active"]
        # The secret is never sent back to the browser; leave it empty to keep it.
        widgets = {"secret": forms.PasswordInput(render_value=False)}
        help_texts = {"url": "The receiver's address (https:// in production)."}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["url"].assume_scheme = "https"
        if self.instance.pk:
            self.fields["secret"].required = False
            self.fields["secret"].help_text = "Leave empty to keep the current secret."
        self.helper = _helper("Save the webhook")

    def clean_url(self):
        """Refuse at once a receiver the sender would refuse (integrations.webhooks): one
        whose address, as the name resolves now, is not public nor on an allowed network."""
        url = self.cleaned_data["url"]
        parts = urlsplit(url)
        try:
            found = socket.getaddrinfo(parts.hostname, parts.port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            return url  # not resolvable from here (yet): each delivery checks again
        for *_, address in found:
            refusal = address_refusal(address[0])
            if refusal:
                raise forms.ValidationError(
                    f"Webhooks are not sent to {parts.hostname}: its address is {refusal}."
                )
        return url

    def clean_secret(self):
        secret = self.cleaned_data["secret"]
        if not secret and self.instance.pk:
            return self.instance.secret
        if len(secret) < 16:
            raise forms.ValidationError("Use a secret of at least 16 characters.")
        return secret


class ResultsExportForm(forms.Form):
    format = forms.ChoiceField(
        label="Export",
        choices=[(key, cls.verbose_name) for key, cls in EXPORTERS.items()],
    )
    unit = forms.ModelChoiceField(queryset=Unit.objects.all(), required=False)
    cohort = forms.ModelChoiceField(queryset=Cohort.objects.all(), required=False)
    period_start = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"}), label="Decided from"
    )
    period_end = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"}), label="Decided until"
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = _helper("Download", method="get")

    def clean(self):
        data = super().clean()
        start, end = data.get("period_start"), data.get("period_end")
        if start and end and end < start:
            raise forms.ValidationError("The period must end on or after the day it starts.")
        unit, exporter = data.get("unit"), EXPORTERS.get(data.get("format"))
        if unit and exporter and unit.framework != exporter.framework:
            raise forms.ValidationError(
                f"{unit.display_code} is not a unit of this export's framework; "
                f"choose the {'NZQA' if unit.is_nzqa else 'AVETMISS'} export for it."
            )
        return data
