"""CSV exports: cells safe to open in a spreadsheet, and streamed responses for long tables."""

import csv
from collections.abc import Callable, Iterable

from django.http import HttpResponse, StreamingHttpResponse

# A spreadsheet runs a cell that starts with one of these as a formula (OWASP "CSV injection").
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value):
    """A text cell a spreadsheet would run as a formula gets a leading apostrophe; numbers stay numbers."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


class _Echo:
    """A file-like object whose ``write`` returns the line, for csv.writer inside a generator."""

    def write(self, value: str) -> str:
        return value


def csv_lines(header: list[str], rows: Iterable[list]) -> Iterable[str]:
    """The CSV text of a header and rows, one line at a time, every text cell made safe."""
    writer = csv.writer(_Echo())
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow([safe_cell(value) for value in row])


def csv_download(filename: str, header: list[str], rows: Iterable[list]) -> HttpResponse:
    """A ``text/csv`` download of a table that is already in memory (a report, a resampled series)."""
    response = HttpResponse("".join(csv_lines(header, rows)), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def csv_response(
    filename: str, header: list[str], rows: Callable[[], Iterable[list]], *, context=None
) -> StreamingHttpResponse:
    """A streamed ``text/csv`` download. ``rows`` is called while the body is produced, inside ``context``
    (e.g. the tenant scope, which the view has left by then), so a long table is never held in memory."""

    def body():
        if context is None:
            yield from csv_lines(header, rows())
        else:
            with context:
                yield from csv_lines(header, rows())

    response = StreamingHttpResponse(body(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
