from django.urls import path

from . import report_views

app_name = "reports"
urlpatterns = [
    path(
        "assessments/<int:pk>/record.pdf",
        report_views.assessment_record,
        name="assessment_record",
    ),
    path(
        "assessments/<int:pk>/record/",
        report_views.assessment_record_preview,
        name="assessment_record_preview",
    ),
    path("candidates/<int:pk>/transcript.pdf", report_views.transcript, name="transcript"),
    path(
        "candidates/<int:pk>/transcript/",
        report_views.transcript_preview,
        name="transcript_preview",
    ),
]
