from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from .forms import WordingCorrectionForm
from .models import (
    CatalogueCorrection,
    EvidenceGuide,
    ExplanatoryNote,
    Outcome,
    PerformanceCriterion,
    RangeItem,
    RangeStatement,
    Unit,
)
from .releases import Change, correct_wording, wording_parts
from .validation import UnitDataError

FROZEN_REASON = (
    "{release} is used by enrolments, so it is shown read-only: judgements, evidence "
    "mappings and signed assessment records point at its criteria and range items, and a "
    "signed record must never change behind anyone's back. Wording is corrected with "
    "“Correct wording” on the unit's page here, or manage.py import_unit FILE "
    '--correction "why" --by USERNAME; each correction is logged on the unit page. '
    "A changed structure is imported as a new version."
)


def _used_release(obj):
    """The frozen release ``obj`` (a unit or one of its parts) belongs to, if any."""
    if obj is None:
        return None
    unit = obj if isinstance(obj, Unit) else obj.unit
    return unit if unit.is_used else None


class FrozenReleaseMixin:
    """Shows a part of a used release read-only; add, change and delete are refused."""

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and not _used_release(obj)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and not _used_release(obj)

    def get_deleted_objects(self, objs, request):
        # The bulk "delete selected" action asks without an object; refuse there too.
        deleted, model_count, perms_needed, protected = super().get_deleted_objects(objs, request)
        frozen = {_used_release(obj) for obj in objs} - {None}
        if frozen:
            # Say why (the page shows a missing permission instead of reasons otherwise).
            reasons = [FROZEN_REASON.format(release=unit.release_label) for unit in frozen]
            return deleted, model_count, set(), list(protected) + reasons
        return deleted, model_count, perms_needed, protected

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        # Nothing is added to, or moved into, a used release.
        if db_field.name == "unit":
            kwargs["queryset"] = Unit.objects.filter(enrolments=None)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        release = _used_release(obj)
        if release is not None:
            context["frozen_release_reason"] = FROZEN_REASON.format(release=release.release_label)
        return super().render_change_form(request, context, add, change, form_url, obj)


class FrozenInlineMixin:
    """An inline of a used release's parts: nothing added, changed or deleted."""

    def has_add_permission(self, request, obj=None):
        return super().has_add_permission(request, obj) and not _used_release(obj)

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and not _used_release(obj)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and not _used_release(obj)


class OutcomeInline(FrozenInlineMixin, admin.TabularInline):
    model = Outcome
    extra = 0
    show_change_link = True


class ExplanatoryNoteInline(FrozenInlineMixin, admin.StackedInline):
    model = ExplanatoryNote
    extra = 0


class RangeStatementInline(FrozenInlineMixin, admin.TabularInline):
    model = RangeStatement
    fields = ("position", "term", "wording", "coverage", "minimum")
    extra = 0
    show_change_link = True


class EvidenceGuideInline(FrozenInlineMixin, admin.StackedInline):
    model = EvidenceGuide
    can_delete = False


@admin.register(Unit)
class UnitAdmin(FrozenReleaseMixin, admin.ModelAdmin):
    list_display = (
        "display_code",
        "title",
        "framework",
        "version",
        "withdrawn",
        "level",
        "credits",
    )
    list_filter = ("framework", "withdrawn")
    search_fields = ("code", "title")
    inlines = [OutcomeInline, RangeStatementInline, ExplanatoryNoteInline, EvidenceGuideInline]

    def has_change_permission(self, request, obj=None):
        # A used release stays open to change so that it can be withdrawn.
        return admin.ModelAdmin.has_change_permission(self, request, obj)

    def get_readonly_fields(self, request, obj=None):
        if _used_release(obj):
            return [f.name for f in Unit._meta.fields if f.name not in {"id", "withdrawn"}]
        return super().get_readonly_fields(request, obj)

    def get_urls(self):
        view = self.admin_site.admin_view(self.correct_wording_view)
        return [
            path("<path:object_id>/correct-wording/", view, name="standards_unit_correct"),
            *super().get_urls(),
        ]

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if _used_release(obj):
            context["correct_wording_url"] = reverse("admin:standards_unit_correct", args=[obj.pk])
        return super().render_change_form(request, context, add, change, form_url, obj)

    def correct_wording_view(self, request, object_id):
        """Pick one part of a used release, then give its corrected wording and the reason."""
        unit = get_object_or_404(Unit.objects.with_structure(), pk=object_id)
        if not (self.has_change_permission(request, unit) and request.user.is_administrator):
            raise PermissionDenied
        if not unit.is_used:
            messages.info(request, "No enrolment uses this release yet; edit it directly.")
            return redirect("admin:standards_unit_change", unit.pk)
        parts = {
            f"{row._meta.model_name}.{row.pk}.{field}": (part, row, field)
            for part, row, field in wording_parts(unit)
        }
        key = request.GET.get("part", "")
        form = None
        if key in parts:
            part, row, field = parts[key]
            form = WordingCorrectionForm(request.POST or None, row=row, field=field)
            if request.method == "POST" and form.is_valid():
                change = Change(part, row, field, form.cleaned_data["text"])
                try:
                    correct_wording(
                        unit, [change], reason=form.cleaned_data["reason"], by=request.user
                    )
                except UnitDataError as error:
                    form.add_error(None, str(error))
                else:
                    messages.success(request, f"Corrected the {field} of {part}; logged.")
                    return redirect("admin:standards_unit_change", unit.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Correct the wording of {unit.release_label}",
            "opts": self.opts,
            "original": unit,
            "parts": [
                (k, f"{part}: {field.replace('_', ' ')}") for k, (part, _r, field) in parts.items()
            ],
            "chosen": parts.get(key),
            "key": key,
            "form": form,
        }
        return TemplateResponse(request, "admin/standards/unit/correct_wording.html", context)


class PerformanceCriterionInline(FrozenInlineMixin, admin.TabularInline):
    model = PerformanceCriterion
    extra = 0


@admin.register(Outcome)
class OutcomeAdmin(FrozenReleaseMixin, admin.ModelAdmin):
    list_display = ("unit", "number", "title")
    list_filter = ("unit",)
    list_select_related = ("unit",)
    inlines = [PerformanceCriterionInline]


class RangeItemInline(FrozenInlineMixin, admin.TabularInline):
    model = RangeItem
    extra = 0


@admin.register(RangeStatement)
class RangeStatementAdmin(FrozenReleaseMixin, admin.ModelAdmin):
    list_display = ("unit", "position", "term", "wording", "coverage")
    list_filter = ("unit", "coverage")
    list_select_related = ("unit",)
    filter_horizontal = ("criteria",)
    inlines = [RangeItemInline]

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "criteria":
            kwargs["queryset"] = PerformanceCriterion.objects.select_related("outcome__unit")
        return super().formfield_for_manytomany(db_field, request, **kwargs)


@admin.register(CatalogueCorrection)
class CatalogueCorrectionAdmin(admin.ModelAdmin):
    """The log of wording corrections: read only, as it is append-only."""

    list_display = ("corrected_at", "unit", "part", "field", "corrected_by", "reason")
    list_filter = ("unit",)
    list_select_related = ("unit", "corrected_by")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
