from django.contrib.auth import views as auth_views
from django.shortcuts import render

from assessments import dashboards

from .forms import LoginForm


def home(request):
    """Each role's dashboard."""
    user = request.user
    if user.is_candidate:
        context = {"enrolments": dashboards.candidate_enrolments(user)}
    elif user.is_assessor:
        context = dashboards.assessor_summary(user)
    else:
        context = {
            **dashboards.administrator_summary(),
            **dashboards.assessor_summary(user),
        }
    return render(request, f"dashboard/{user.role}.html", context)


class LoginView(auth_views.LoginView):
    form_class = LoginForm
