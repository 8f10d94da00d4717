from crispy_forms.helper import FormHelper
from crispy_forms.layout import Fieldset, Layout, Submit
from django import forms
from django.contrib.auth import forms as auth_forms
from django.contrib.auth.forms import AuthenticationForm, UsernameField

from assessments.models import Cohort

from .models import User
from .people import MAX_ROWS, normalise_nsn, normalise_usi


class LoginForm(AuthenticationForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_tag = False


class NSNField(forms.CharField):
    def to_python(self, value):
        return normalise_nsn(super().to_python(value))


class USIField(forms.CharField):
    def to_python(self, value):
        return normalise_usi(super().to_python(value))


class UserForm(forms.ModelForm):
    """Create an account. There is no password field: the person sets their own."""

    class Meta:
        model = User
        fields = [
            "username",
            "first_name",
            "last_name",
            "email",
            "role",
            "is_moderator",
            "national_student_number",
            "unique_student_identifier",
        ]
        field_classes = {
            "username": UsernameField,
            "national_student_number": NSNField,
            "unique_student_identifier": USIField,
        }
        help_texts = {
            "username": "Used to sign in. For candidates, usually their email address.",
            "email": "The link to set a password is sent here.",
            "national_student_number": "NZ learners: 9 or 10 digits.",
            "unique_student_identifier": "AU learners: 10 characters, e.g. from the USI card.",
        }

    submit_label = "Create user and email a set-password link"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("first_name", "last_name", "email"):
            self.fields[name].required = True
        self.helper = FormHelper()
        self.helper.attrs = {"novalidate": ""}
        self.helper.layout = Layout(
            Fieldset("Person", *self._present("username", "first_name", "last_name", "email")),
            Fieldset("Access", *self._present("role", "is_moderator", "is_active")),
            Fieldset(
                "Student identifier (candidates)",
                "national_student_number",
                "unique_student_identifier",
            ),
        )
        self.helper.add_input(Submit("submit", self.submit_label))

    def _present(self, *names):
        return [name for name in names if name in self.fields]

    def _others(self):
        others = User.objects.all()
        if self.instance.pk:
            others = others.exclude(pk=self.instance.pk)
        return others

    def _taken(self, what, **lookup):
        other = self._others().filter(**lookup).first()
        if other:
            raise forms.ValidationError(
                f"{other} ({other.username}) already has this {what}.", code="taken"
            )

    # Checked here rather than by the model's constraints, whose messages
    # name the constraint instead of the field.
    def clean_username(self):
        username = self.cleaned_data["username"]
        self._taken("username", username__iexact=username)
        return username

    def clean_email(self):
        email = self.cleaned_data["email"]
        # One account per address: the address is where the password link goes.
        self._taken("email address", email__iexact=email)
        return email

    def clean_national_student_number(self):
        nsn = self.cleaned_data["national_student_number"]
        if nsn:
            self._taken("NSN", national_student_number=nsn)
        return nsn

    def clean_unique_student_identifier(self):
        usi = self.cleaned_data["unique_student_identifier"]
        if usi:
            self._taken("USI", unique_student_identifier=usi)
        return usi

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("role") == User.Role.CANDIDATE and cleaned.get("is_moderator"):
            self.add_error(
                "is_moderator",
                "Candidates cannot be moderators. Untick this, or choose the assessor "
                "or administrator role.",
            )
        return cleaned


class UserEditForm(UserForm):
    """Change an account. Usernames stay fixed; accounts are deactivated, never deleted."""

    class Meta(UserForm.Meta):
        fields = [name for name in UserForm.Meta.fields if name != "username"] + ["is_active"]
        labels = {"is_active": "Active"}
        help_texts = {
            **UserForm.Meta.help_texts,
            "is_active": "Untick to stop this person signing in. Their records are kept.",
        }

    submit_label = "Save changes"

    def __init__(self, *args, acting_user, **kwargs):
        super().__init__(*args, **kwargs)
        self.acting_user = acting_user

    def clean(self):
        cleaned = super().clean()
        # An administrator locking themselves out would need someone with
        # database access to get back in.
        if self.instance.pk == self.acting_user.pk:
            if "is_active" in cleaned and not cleaned["is_active"]:
                self.add_error("is_active", "You cannot deactivate your own account.")
            if cleaned.get("role") and cleaned["role"] != User.Role.ADMINISTRATOR:
                self.add_error("role", "You cannot remove your own administrator role.")
        return cleaned


class CandidateImportForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        help_text=f"UTF-8, comma-separated, at most 2 MB and {MAX_ROWS} candidates.",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )
    cohort = forms.ModelChoiceField(
        queryset=Cohort.objects.all(),
        required=False,
        empty_label="No cohort",
        help_text="Optional: add every imported candidate to this cohort.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.attrs = {"novalidate": ""}
        self.helper.add_input(Submit("submit", "Check and import"))


class PasswordResetForm(auth_forms.PasswordResetForm):
    """Also reaches new accounts whose set-password link has expired.

    Django skips accounts without a usable password, but every account the
    portal creates starts without one, and its first link can expire.
    """

    def get_users(self, email):
        email_field = User.get_email_field_name()
        return User._default_manager.filter(
            **{f"{email_field}__iexact": email, "is_active": True}
        ).iterator()
