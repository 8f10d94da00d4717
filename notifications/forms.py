from crispy_forms.helper import FormHelper
from crispy_forms.layout import Submit
from django import forms

from .models import kinds_for


class EmailSettingsForm(forms.Form):
    kinds = forms.MultipleChoiceField(
        label="E-mail me when…",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Everything stays in your notification list whatever you choose here.",
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kinds"].choices = [(kind.value, kind.label) for kind in kinds_for(user)]
        self.helper = FormHelper()
        self.helper.add_input(Submit("submit", "Save e-mail settings"))
