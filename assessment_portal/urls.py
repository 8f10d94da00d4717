from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from integrations.api import url_patterns as api_url_patterns

from . import health, views
from .forms import PasswordResetForm

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", health.healthz, name="healthz"),
    path("accounts/login/", views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "accounts/password_reset/",
        auth_views.PasswordResetView.as_view(form_class=PasswordResetForm),
        name="password_reset",
    ),
    path("accounts/", include("django.contrib.auth.urls")),
    path("people/", include("assessment_portal.people_urls")),
    path("standards/", include("standards.urls")),
    path("evidence/", include("evidence.urls")),
    path("reports/", include("assessments.report_urls")),
    path("moderation/", include("assessments.moderation_urls")),
    path("notifications/", include("notifications.urls")),
    path("", include("assessments.urls")),
    path("api/v1/", api_url_patterns()),
    path("integrations/", include("integrations.urls")),
    path("admin/", admin.site.urls),
]

handler400 = "assessment_portal.middleware.bad_request"
