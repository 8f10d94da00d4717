from django.urls import path

from . import views

app_name = "assessments"
urlpatterns = [
    path("enrolments/", views.enrolment_list, name="enrolment_list"),
    path("enrolments/new/", views.enrolment_create, name="enrolment_create"),
    path("enrolments/<int:pk>/", views.enrolment_detail, name="enrolment_detail"),
    path("enrolments/<int:pk>/assessor/", views.enrolment_reassign, name="enrolment_reassign"),
    path(
        "enrolments/<int:pk>/status/",
        views.enrolment_status_change,
        name="enrolment_status_change",
    ),
    path("assess/", views.queue, name="queue"),
    path("assessments/<int:pk>/", views.assessment_detail, name="assessment_detail"),
    path("assessments/<int:pk>/history/", views.assessment_history, name="assessment_history"),
    path(
        "assessments/<int:pk>/history/latest/",
        views.assessment_latest_changes,
        name="assessment_latest_changes",
    ),
    path("assessments/<int:pk>/criteria/<int:judgement_pk>/", views.judge, name="judge"),
    path(
        "assessments/<int:pk>/apply-to-unjudged/",
        views.apply_to_unjudged,
        name="apply_to_unjudged",
    ),
    path("assessments/<int:pk>/sign-off/", views.sign_off, name="sign_off"),
    path("assessments/<int:pk>/amend/", views.amend, name="amend"),
    path("cohorts/", views.cohort_list, name="cohort_list"),
    path("cohorts/new/", views.cohort_edit, name="cohort_create"),
    path("cohorts/<int:pk>/", views.cohort_detail, name="cohort_detail"),
    path("cohorts/<int:pk>/edit/", views.cohort_edit, name="cohort_edit"),
    path("cohorts/<int:pk>/members/", views.cohort_members, name="cohort_members"),
    path(
        "cohorts/enrolments/<int:pk>/status/",
        views.cohort_enrolment_status,
        name="cohort_enrolment_status",
    ),
]
