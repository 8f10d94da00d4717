"""Results exports for student management systems and regulators.

Every export is one registered class: a kind of rows (AVETMISS for
Australian units, NZQA for unit standards) combined with a file format (CSV
or XLSX). Adding a format or a kind is one new class in this module.
"""

import csv
import io
from datetime import date

from openpyxl import Workbook

from assessments.models import Enrolment
from assessments.moderation import spreadsheet_safe
from standards.models import Unit

from .results import local_date, reported_result, with_result_data

EXPORTERS = {}


def register(cls):
    EXPORTERS[cls.identifier] = cls
    return cls


def _yes_no(value):
    return "Yes" if value else "No"


def _day(value):
    return value.isoformat() if value else ""


def _learner_and_unit(identifier, unit, candidate):
    """The columns every results row starts with: who, and which unit release."""
    return [
        identifier,
        candidate.last_name,
        candidate.first_name,
        unit.code,
        unit.version,
        unit.title,
    ]


def _amendment_and_enrolment(result):
    """The columns every results row ends with: whether it was amended, cohort, enrolment."""
    enrolment = result.enrolment
    return [
        _yes_no(result.amended),
        # The day in the institution's time zone, as every other date in the export.
        _day(local_date(result.amended_at)),
        enrolment.cohort.name if enrolment.cohort else "",
        enrolment.pk,
    ]


class ResultsExporter:
    """Rows of results for one framework, filtered by unit, cohort and period."""

    identifier = ""
    verbose_name = ""
    framework = ""
    extension = ""
    content_type = ""
    headers = []

    def __init__(self, *, unit=None, cohort=None, period_start=None, period_end=None):
        self.unit, self.cohort = unit, cohort
        self.period_start, self.period_end = period_start, period_end

    def results(self):
        """Each enrolment's result, those decided in the period (continuing ones always)."""
        enrolments = Enrolment.objects.filter(unit__framework=self.framework)
        if self.unit:
            enrolments = enrolments.filter(unit=self.unit)
        if self.cohort:
            enrolments = enrolments.filter(cohort=self.cohort)
        enrolments = with_result_data(enrolments).order_by(
            "unit__code", "candidate__last_name", "pk"
        )
        for enrolment in enrolments.iterator(chunk_size=500):
            result = reported_result(enrolment)
            if result.decided_on is not None and not self.in_period(result.decided_on):
                continue
            yield result

    def in_period(self, day):
        return (self.period_start is None or day >= self.period_start) and (
            self.period_end is None or day <= self.period_end
        )

    def row(self, result):
        raise NotImplementedError

    def rows(self):
        for result in self.results():
            yield [spreadsheet_safe(cell) for cell in self.row(result)]

    def filename(self):
        parts = ["results", self.kind_slug]
        if self.unit:
            parts.append(self.unit.display_code)
        if self.cohort:
            parts.append(f"cohort-{self.cohort.pk}")
        parts.append(date.today().isoformat())
        return "-".join(parts) + "." + self.extension

    def render(self):
        raise NotImplementedError


class AvetmissRows:
    """AU units: the AVETMISS national outcome identifier with the USI and unit code."""

    framework = Unit.Framework.AU
    kind_slug = "avetmiss"
    headers = [
        "USI",
        "Family name",
        "Given name",
        "Unit code",
        "Release",
        "Unit title",
        "Outcome identifier - national",
        "Outcome",
        "Activity end date",
        "Amended",
        "Amended on",
        "Cohort",
        "Enrolment ID",
    ]

    def row(self, result):
        candidate, unit = result.enrolment.candidate, result.enrolment.unit
        return [
            *_learner_and_unit(candidate.unique_student_identifier, unit, candidate),
            result.avetmiss_outcome,
            result.avetmiss_label,
            _day(result.decided_on),
            *_amendment_and_enrolment(result),
        ]


class NzqaRows:
    """NZQA unit standards: NSN, standard number and version, Achieved/Not achieved, date met."""

    framework = Unit.Framework.NZQA
    kind_slug = "nzqa"
    BASIS = {
        "competent": "Assessed",
        "not_yet_competent": "Assessed",
        "rpl_granted": "Recognition of prior learning",
        "rpl_not_granted": "Recognition of prior learning",
        "credit_transfer": "Credit transfer",
        "withdrawn": "Withdrawn",
        "continuing": "In progress",
    }
    headers = [
        "NSN",
        "Family name",
        "Given name",
        "Standard number",
        "Version",
        "Standard title",
        "Credits",
        "Result",
        "Date standard met",
        "Basis",
        "Decided on",
        "Amended",
        "Amended on",
        "Cohort",
        "Enrolment ID",
    ]

    def row(self, result):
        candidate, unit = result.enrolment.candidate, result.enrolment.unit
        return [
            *_learner_and_unit(candidate.national_student_number, unit, candidate),
            unit.credits if unit.credits is not None else "",
            result.nzqa_result,
            _day(result.achieved_on),
            self.BASIS[result.kind],
            _day(result.decided_on),
            *_amendment_and_enrolment(result),
        ]


class CsvFile(ResultsExporter):
    extension = "csv"
    content_type = "text/csv; charset=utf-8"

    def render(self):
        """UTF-8 with a byte-order mark, which Excel needs to read it as UTF-8."""
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(self.headers)
        writer.writerows(self.rows())
        return buffer.getvalue().encode("utf-8-sig")


class XlsxFile(ResultsExporter):
    extension = "xlsx"
    content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

    def render(self):
        # Write-only mode streams rows to the file instead of holding a sheet in memory.
        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet("Results")
        sheet.append(self.headers)
        for row in self.rows():
            sheet.append(row)
        buffer = io.BytesIO()
        workbook.save(buffer)
        return buffer.getvalue()


@register
class AvetmissCsv(AvetmissRows, CsvFile):
    identifier = "avetmiss-csv"
    verbose_name = "AVETMISS outcomes (AU units), CSV"


@register
class AvetmissXlsx(AvetmissRows, XlsxFile):
    identifier = "avetmiss-xlsx"
    verbose_name = "AVETMISS outcomes (AU units), Excel"


@register
class NzqaCsv(NzqaRows, CsvFile):
    identifier = "nzqa-csv"
    verbose_name = "NZQA results (unit standards), CSV"


@register
class NzqaXlsx(NzqaRows, XlsxFile):
    identifier = "nzqa-xlsx"
    verbose_name = "NZQA results (unit standards), Excel"
