from django.contrib import admin

from .models import (
    EvidenceGuide,
    ExplanatoryNote,
    Outcome,
    PerformanceCriterion,
    RangeItem,
    RangeStatement,
    Unit,
)


class OutcomeInline(admin.TabularInline):
    model = Outcome
    extra = 0
    show_change_link = True


class ExplanatoryNoteInline(admin.StackedInline):
    model = ExplanatoryNote
    extra = 0


class RangeStatementInline(admin.TabularInline):
    model = RangeStatement
    fields = ("position", "term", "wording", "coverage", "minimum")
    extra = 0
    show_change_link = True


class EvidenceGuideInline(admin.StackedInline):
    model = EvidenceGuide
    can_delete = False


@admin.register(Unit)
class UnitAdmin(admin.ModelAdmin):
    list_display = ("display_code", "title", "framework", "version", "level", "credits")
    list_filter = ("framework",)
    search_fields = ("code", "title")
    inlines = [OutcomeInline, RangeStatementInline, ExplanatoryNoteInline, EvidenceGuideInline]


class PerformanceCriterionInline(admin.TabularInline):
    model = PerformanceCriterion
    extra = 0


@admin.register(Outcome)
class OutcomeAdmin(admin.ModelAdmin):
    list_display = ("unit", "number", "title")
    list_filter = ("unit",)
    list_select_related = ("unit",)
    inlines = [PerformanceCriterionInline]


class RangeItemInline(admin.TabularInline):
    model = RangeItem
    extra = 0


@admin.register(RangeStatement)
class RangeStatementAdmin(admin.ModelAdmin):
    list_display = ("unit", "position", "term", "wording", "coverage")
    list_filter = ("unit", "coverage")
    list_select_related = ("unit",)
    filter_horizontal = ("criteria",)
    inlines = [RangeItemInline]

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "criteria":
            kwargs["queryset"] = PerformanceCriterion.objects.select_related("outcome__unit")
        return super().formfield_for_manytomany(db_field, request, **kwargs)
