"""Administrator pages for people: user accounts and candidate CSV import."""

from django.urls import path

from . import people_views

urlpatterns = [
    path("", people_views.user_list, name="user_list"),
    path("new/", people_views.user_create, name="user_create"),
    path("import/", people_views.candidate_import, name="candidate_import"),
    path("<int:pk>/edit/", people_views.user_edit, name="user_edit"),
    path(
        "<int:pk>/send-password-link/",
        people_views.user_send_password_link,
        name="user_send_password_link",
    ),
]
