from django.urls import path

from . import views

app_name = "evidence"
urlpatterns = [
    path("", views.evidence_list, name="evidence_list"),
    path("new/<str:kind>/", views.evidence_create, name="evidence_create"),
    path("<int:pk>/", views.evidence_detail, name="evidence_detail"),
    path("<int:pk>/edit/", views.evidence_edit, name="evidence_edit"),
    path("<int:pk>/delete/", views.evidence_delete, name="evidence_delete"),
    path("<int:pk>/files/", views.evidence_add_files, name="evidence_add_files"),
    path("<int:pk>/map/", views.evidence_map, name="evidence_map"),
    path("mappings/<int:pk>/unmap/", views.evidence_unmap, name="evidence_unmap"),
    path("files/<int:pk>/download/", views.file_download, name="file_download"),
    path("files/<int:pk>/delete/", views.file_delete, name="file_delete"),
    path("files/<int:pk>/view/", views.file_view, name="file_view"),
    path("files/<int:pk>/pages/<int:number>/", views.pdf_page, name="pdf_page"),
    path("review/<int:assessment_pk>/<int:evidence_pk>/", views.review_panel, name="review_panel"),
    path(
        "review/<int:assessment_pk>/mappings/<int:mapping_pk>/",
        views.decide_mapping,
        name="decide_mapping",
    ),
    path("coverage/<int:enrolment_pk>/", views.coverage, name="coverage"),
    path("submit/<int:enrolment_pk>/", views.submit, name="submit"),
]
