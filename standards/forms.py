from django import forms

from .validation import UnitDataError, check_text


class WordingCorrectionForm(forms.Form):
    """A new wording for one field of a used release, and why."""

    text = forms.CharField(label="Corrected wording", widget=forms.Textarea, strip=False)
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Why the wording changes, e.g. where the published text says so. "
        "It is shown with the correction on the unit page.",
    )

    def __init__(self, *args, row, field, **kwargs):
        super().__init__(*args, **kwargs)
        self.row, self.field = row, field
        model_field = row._meta.get_field(field)
        self.fields["text"].initial = getattr(row, field)
        self.fields["text"].required = not model_field.blank
        self.max_length = model_field.max_length

    def clean_text(self):
        # Browsers send a textarea's line breaks as CR LF; units keep LF.
        text = self.cleaned_data["text"].replace("\r\n", "\n")
        try:
            check_text(text, "text", max_length=self.max_length)
        except UnitDataError as error:
            raise forms.ValidationError(str(error).removeprefix("text: ")) from None
        if text == getattr(self.row, self.field):
            raise forms.ValidationError("This is the wording already recorded.")
        return text
