"""Administrator pages for people. Every view is invisible (404) to non-administrators."""

from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import IntegrityError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from . import people
from .access import administrator_required
from .forms import CandidateImportForm, UserEditForm, UserForm
from .models import User

# Enough to correct a file by; a longer report only slows the page down.
MAX_ERRORS_SHOWN = 1000


@administrator_required
def user_list(request):
    users = User.objects.all()
    role = request.GET.get("role", "")
    if role not in User.Role.values:
        role = ""
    if role:
        users = users.filter(role=role)
    q = request.GET.get("q", "").strip()
    users = people.matching(users, q)
    page = Paginator(users, 50).get_page(request.GET.get("page"))
    filters = urlencode({key: value for key, value in {"role": role, "q": q}.items() if value})
    return render(
        request,
        "people/user_list.html",
        {
            "page": page,
            "role": role,
            "q": q,
            "roles": User.Role.choices,
            "filters": filters,
        },
    )


@administrator_required
def user_create(request):
    form = UserForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = people.create_user(form.save(commit=False), request)
        messages.success(
            request,
            f"Created {user} ({user.username}); a set-password link is on its way to {user.email}.",
        )
        return redirect("user_list")
    return render(request, "people/user_form.html", {"form": form, "title": "Add a user"})


@administrator_required
def user_edit(request, pk):
    person = get_object_or_404(User, pk=pk)
    form = UserEditForm(request.POST or None, instance=person, acting_user=request.user)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, f"Saved {person}.")
        return redirect("user_list")
    return render(
        request,
        "people/user_form.html",
        {"form": form, "person": person, "title": f"Edit {person}"},
    )


@administrator_required
@require_POST
def user_send_password_link(request, pk):
    person = get_object_or_404(User, pk=pk)
    if not person.is_active:
        messages.error(request, f"{person} is deactivated. Make the account active first.")
    elif not person.email:
        messages.error(request, f"{person} has no email address.")
    else:
        people.queue_set_password_emails([person], request)
        messages.success(request, f"A set-password link is on its way to {person.email}.")
    return redirect("user_edit", pk=person.pk)


@administrator_required
def candidate_import(request):
    form = CandidateImportForm(request.POST or None, request.FILES or None)
    rows, errors = [], []
    if request.method == "POST" and form.is_valid():
        try:
            rows, errors = people.parse_candidate_csv(form.cleaned_data["file"])
        except people.CandidateFileError as error:
            form.add_error("file", str(error))
        else:
            if not errors:
                try:
                    users = people.import_candidates(
                        rows, request, cohort=form.cleaned_data["cohort"]
                    )
                except IntegrityError:
                    form.add_error(
                        None,
                        "Someone created an account with one of these emails or identifiers "
                        "while the file was being imported. Nothing was imported; upload the "
                        "file again to see which.",
                    )
                else:
                    cohort = form.cleaned_data["cohort"]
                    messages.success(
                        request,
                        f"Imported {len(users)} candidates"
                        + (f" into {cohort}" if cohort else "")
                        + ". Each will be emailed a link to set their password in the next few "
                        "minutes.",
                    )
                    return redirect("user_list")
    return render(
        request,
        "people/candidate_import.html",
        {
            "form": form,
            "errors": errors[:MAX_ERRORS_SHOWN],
            "error_count": len(errors),
            "bad_row_count": len({error.row for error in errors}),
            "row_count": len(rows),
        },
    )
