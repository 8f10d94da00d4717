from django.urls import path

from . import moderation_views as views

app_name = "moderation"
urlpatterns = [
    path("", views.round_list, name="round_list"),
    path("rounds/new/", views.round_create, name="round_create"),
    path("rounds/<int:pk>/", views.round_detail, name="round_detail"),
    path("rounds/<int:pk>/population/", views.round_population, name="round_population"),
    path("rounds/<int:pk>/summary/", views.round_summary, name="round_summary"),
    path("rounds/<int:pk>/export/", views.round_export, name="round_export"),
    path("samples/<int:pk>/moderator/", views.sample_assign, name="sample_assign"),
    path("exports/<int:pk>/status/", views.export_status, name="export_status"),
    path("exports/<int:pk>/download/", views.export_download, name="export_download"),
    path("exports/<int:pk>/retry/", views.export_retry, name="export_retry"),
    path("reviews/", views.my_reviews, name="my_reviews"),
    path("reviews/<int:pk>/", views.review, name="review"),
    path("decisions/", views.my_decisions, name="my_decisions"),
    path("decisions/<int:pk>/", views.decision, name="decision"),
]
