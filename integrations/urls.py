from django.urls import path

from . import views

app_name = "integrations"
urlpatterns = [
    path("tokens/", views.token_list, name="token_list"),
    path("tokens/new/", views.token_create, name="token_create"),
    path("tokens/<int:pk>/revoke/", views.token_revoke, name="token_revoke"),
    path("tokens/calls/", views.call_list, name="call_list"),
    path("webhooks/", views.webhook_list, name="webhook_list"),
    path("webhooks/new/", views.webhook_edit, name="webhook_create"),
    path("webhooks/<int:pk>/", views.webhook_detail, name="webhook_detail"),
    path("webhooks/<int:pk>/edit/", views.webhook_edit, name="webhook_edit"),
    path("exports/", views.results_export, name="results_export"),
    path("units/<str:code>/case.json", views.unit_case, name="unit_case"),
]
