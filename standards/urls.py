from django.urls import path

from . import views

app_name = "standards"
urlpatterns = [
    path("", views.unit_list, name="unit_list"),
    path("<str:code>/", views.unit_detail, name="unit_detail"),
    path("<str:code>/v<str:version>/", views.unit_detail, name="unit_release"),
]
