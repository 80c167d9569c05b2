"""CSV and PDF renderings of a statement page (the ``Accept`` alternatives to JSON)."""

from __future__ import annotations

import csv
import io
from typing import Any, Literal

from ..models.statement_csv import STATEMENT_CSV_COLUMNS, flatten_entry

__all__ = ["CSV_COLUMNS", "accept_kind", "render_csv", "render_pdf"]

CSV_COLUMNS = STATEMENT_CSV_COLUMNS


def accept_kind(accept: str) -> Literal["csv", "pdf", "json"]:
    """'csv', 'pdf' or 'json' from an Accept header (first recognised media type wins)."""
    for part in accept.split(","):
        media = part.split(";", 1)[0].strip().lower()
        if media == "text/csv":
            return "csv"
        if media == "application/pdf":
            return "pdf"
        if media == "application/json":
            return "json"
    return "json"


def render_csv(entries: list[dict[str, Any]]) -> bytes:
    """Header row plus one flattened row per entry (nested fields as dotted column names)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for entry in entries:
        writer.writerow(flatten_entry(entry))
    return out.getvalue().encode()


def _pdf_text(text: str) -> str:
    safe = text.encode("latin-1", "replace").decode("latin-1")
    return safe.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def render_pdf(title: str, entries: list[dict[str, Any]], lines_per_page: int = 60) -> bytes:
    """A small but structurally valid PDF 1.4 listing the entries, one line each."""
    lines = [title, ""]
    for e in entries:
        lines.append(
            f"{e['processedTimestamp']}  {e['transactionId']['type']:<28} "
            f"{e['transactionId']['id']:>20}  {e['transactionAmount']['amount']:>12} "
            f"{e['transactionAmount']['currency']}  {e['entryState']}"
        )
    pages = [lines[i : i + lines_per_page] for i in range(0, len(lines), lines_per_page)] or [[]]
    objects: list[bytes] = []
    n_pages = len(pages)
    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(n_pages))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {n_pages} >>".encode())
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Courier >>")
    for i, page in enumerate(pages):
        content_ref = 5 + 2 * i
        objects.append(
            (
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 842 595] "
                f"/Resources << /Font << /F1 3 0 R >> >> /Contents {content_ref} 0 R >>"
            ).encode()
        )
        ops = ["BT", "/F1 8 Tf", "10 TL", "30 570 Td"]
        ops.extend(f"({_pdf_text(line)}) Tj T*" for line in page)
        ops.append("ET")
        stream = "\n".join(ops).encode("latin-1")
        objects.append(
            b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream"
        )
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for num, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{num} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for off in offsets:
        out += f"{off:010d} 00000 n \n".encode()
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n"
    ).encode()
    return bytes(out)
