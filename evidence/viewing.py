"""Showing uploaded evidence in the page: what can be shown inline, and how, safely.

Nothing a candidate uploaded reaches the browser as an active document:
images are decoded and re-encoded by Pillow (a polyglot's trailing script or
HTML does not survive), PDF pages are drawn to PNG on the server by PDFium
(which runs no PDF JavaScript without a form environment, never set up here),
audio, video and text are served with the content type the upload check
sniffed. Every inline response carries ``nosniff`` and a sandboxing CSP.
"""

import io
import threading

from django.conf import settings
from django.core.cache import cache
from django.http import HttpResponse

# Browsers show these; HEIC/HEIF photos (Pillow cannot decode them here) download.
IMAGE_TYPES = {"image/jpeg", "image/png", "image/gif", "image/webp"}
AUDIO_TYPES = {"audio/mpeg", "audio/wav", "audio/ogg", "audio/mp4"}
VIDEO_TYPES = {"video/mp4", "video/webm", "video/quicktime", "video/x-matroska"}
TEXT_TYPES = {"text/plain"}
PDF_TYPE = "application/pdf"

# The sandbox stops scripts, forms and plugins even if a response were opened as a page.
SANDBOX_CSP = "sandbox; default-src 'none'; img-src 'self'; media-src 'self'"
MAX_IMAGE_SIDE = 2000
PDF_PAGE_WIDTH = 1000
TEXT_PREVIEW_BYTES = 64 * 1024
CACHE_SECONDS = 24 * 3600
MAX_CACHED_BYTES = 2 * 1024 * 1024

# PDFium is not thread-safe; a threaded server renders one page at a time per process.
_pdfium = threading.Lock()


def inline_kind(evidence_file):
    """How the panel shows a file: image, pdf, audio, video, text or download."""
    content_type = evidence_file.content_type
    if content_type in IMAGE_TYPES:
        return "image"
    if content_type == PDF_TYPE:
        return "pdf"
    if content_type in AUDIO_TYPES:
        return "audio"
    if content_type in VIDEO_TYPES:
        return "video"
    if content_type in TEXT_TYPES:
        return "text"
    return "download"


def sandboxed(response, evidence_file):
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = SANDBOX_CSP
    response["Cache-Control"] = f"private, max-age={CACHE_SECONDS}"
    response["Content-Disposition"] = "inline"
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    return response


def _remember(key, png):
    # Large renders are redrawn rather than filling the shared cache.
    if len(png) <= MAX_CACHED_BYTES:
        cache.set(key, png, CACHE_SECONDS)


def _read(evidence_file):
    with evidence_file.file.open("rb") as stored:
        return stored.read()


def display_image(evidence_file):
    """The image re-encoded as PNG (first frame), at most MAX_IMAGE_SIDE on each side."""
    from PIL import Image

    key = f"evidence-image:{evidence_file.sha256}"
    png = cache.get(key)
    if png is None:
        try:
            with Image.open(io.BytesIO(_read(evidence_file))) as image:
                image.seek(0)
                image.thumbnail((MAX_IMAGE_SIDE, MAX_IMAGE_SIDE))
                out = io.BytesIO()
                image.convert("RGBA" if image.mode in {"RGBA", "LA", "P"} else "RGB").save(
                    out, "PNG"
                )
        except (OSError, ValueError, Image.DecompressionBombError):
            return None
        png = out.getvalue()
        _remember(key, png)
    return png


def text_preview(evidence_file):
    """The first TEXT_PREVIEW_BYTES of a text file, and whether there is more."""
    with evidence_file.file.open("rb") as stored:
        head = stored.read(TEXT_PREVIEW_BYTES + 1)
    return head[:TEXT_PREVIEW_BYTES].decode("utf-8", errors="replace"), len(head) > len(
        head[:TEXT_PREVIEW_BYTES]
    )


def pdf_page_count(evidence_file):
    """How many pages the PDF has (cached by content); None if PDFium cannot read it."""
    key = f"evidence-pdf-pages:{evidence_file.sha256}"
    count = cache.get(key)
    if count is None:
        import pypdfium2

        try:
            with _pdfium:
                document = pypdfium2.PdfDocument(_read(evidence_file))
                count = len(document)
                document.close()
        except pypdfium2.PdfiumError:
            count = 0
        cache.set(key, count, CACHE_SECONDS)
    return count or None


def shown_pages(evidence_file):
    """The page numbers the panel shows: the first EVIDENCE_PDF_PREVIEW_PAGES."""
    count = pdf_page_count(evidence_file) or 0
    return range(1, min(count, settings.EVIDENCE_PDF_PREVIEW_PAGES) + 1), count


def pdf_page_png(evidence_file, number):
    """Page ``number`` (from 1) drawn as a PNG PDF_PAGE_WIDTH pixels wide; None if out of range.

    Only the first EVIDENCE_PDF_PREVIEW_PAGES pages are ever drawn, each at most
    once a day per distinct file (cached by SHA-256), so a large PDF costs a
    bounded amount of server time.
    """
    if not 1 <= number <= settings.EVIDENCE_PDF_PREVIEW_PAGES:
        return None
    key = f"evidence-pdf-page:{evidence_file.sha256}:{number}"
    png = cache.get(key)
    if png is None:
        import pypdfium2

        with _pdfium:
            try:
                document = pypdfium2.PdfDocument(_read(evidence_file))
            except pypdfium2.PdfiumError:
                return None
            try:
                if number > len(document):
                    return None
                page = document[number - 1]
                width = page.get_width() or 1
                # Scale to the panel's width, bounded so a huge page cannot make a huge image.
                scale = min(PDF_PAGE_WIDTH / width, 4.0)
                image = page.render(scale=scale, may_draw_forms=False).to_pil()
                page.close()
            finally:
                document.close()
        out = io.BytesIO()
        image.convert("RGB").save(out, "PNG")
        png = out.getvalue()
        _remember(key, png)
    return png


def png_response(png, evidence_file):
    return sandboxed(HttpResponse(png, content_type="image/png"), evidence_file)
