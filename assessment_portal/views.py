from django.contrib.auth import views as auth_views
from django.shortcuts import redirect

from .forms import LoginForm


def home(request):
    return redirect("assessments:enrolment_list")


class LoginView(auth_views.LoginView):
    form_class = LoginForm
