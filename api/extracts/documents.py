"""Official extracts: the facts they state, the signed PDF, and its verification.

The signed payload holds exactly the lines printed on the document (sections of label/value
rows), so the verification page can show what the extract showed and nothing else, and a PDF
whose visible text differs from its signed payload is detected. Protected personal data is not
printed (SNILS is masked): anyone holding the code sees the verification page.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

import segno
from django.conf import settings
from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone
from fpdf import FPDF
from pypdf import PdfReader
from pypdf.errors import PyPdfError

from registry import selectors
from registry.models import CategoryAssignment, ContinuingEducation, Employment, MedicalWorker

from ..models import Extract
from . import signing

# fontTools logs every table it subsets at INFO, once per PDF.
logging.getLogger("fontTools").setLevel(logging.WARNING)

FONT_DIR = Path(__file__).resolve().parent / "fonts"
XMP_NS = "https://medreg.local/ns/extract/1.0/"
MAX_UPLOAD_BYTES = 2 * 1024 * 1024
PAYLOAD_VERSION = 1


def _date(value: dt.date | None) -> str:
    return value.strftime("%d.%m.%Y") if value else "—"


def _mask_snils(snils: str) -> str:
    return f"***-***-{snils[6:9]} {snils[9:]}" if len(snils) == 11 else "—"


def _identity_section(worker: MedicalWorker) -> dict:
    return {
        "title": "Сведения о медицинском работнике",
        "rows": [
            ["Фамилия, имя, отчество", worker.full_name],
            ["Регистровый номер", worker.registry_number_display],
            ["СНИЛС", _mask_snils(worker.snils)],
            ["Статус подтверждения личности", worker.get_identity_status_display()],
            ["Включён в регистр", _date(worker.registered_on)],
        ],
    }


def _workplaces_section(worker: MedicalWorker) -> dict:
    rows = []
    employments = (
        Employment.objects.filter(worker=worker, ended_on__isnull=True)
        .select_related("organization", "position", "specialty")
        .order_by("kind", "-rate", "id")
    )
    for emp in employments:
        parts = [emp.position.name]
        if emp.department:
            parts.append(emp.department)
        if emp.specialty:
            parts.append(f"специальность: {emp.specialty.name}")
        parts.append(f"{emp.get_kind_display().lower()}, ставка {emp.rate.normalize():f}, с {_date(emp.started_on)}")
        rows.append([emp.organization.short_name, "; ".join(parts)])
    return {"title": "Места работы", "rows": rows or [["—", "Текущих мест работы в регистре нет"]]}


def _documents_section(worker: MedicalWorker, today: dt.date) -> dict:
    rows = []
    documents = worker.admission_documents.select_related("specialty", "accreditation_kind").order_by(
        "-valid_until", "id"
    )
    for doc in documents:
        kind = doc.get_kind_display()
        if doc.accreditation_kind:
            kind += f" ({doc.accreditation_kind.name.lower()})"
        rows.append(
            [
                f"{kind} № {doc.number}",
                f"{doc.specialty.name}; выдан {_date(doc.issued_on)}; действует до {_date(doc.valid_until)}; "
                f"статус: {doc.admission_status(today).label}",
            ]
        )
    return {
        "title": "Документы о допуске к профессиональной деятельности",
        "rows": rows or [["—", "Документов о допуске в регистре нет"]],
    }


def _qualification_sections(worker: MedicalWorker, today: dt.date) -> list[dict]:
    admissions = [
        [a.specialty.name, f"{a.status.label}" + (f" до {_date(a.valid_until)}" if a.valid_until else "")]
        for a in selectors.worker_admissions(worker=worker, today=today)
    ]
    categories = [
        [c.category.name, f"{c.specialty.name}; присвоена {_date(c.awarded_on)}; действует до {_date(c.valid_until)}"]
        for c in CategoryAssignment.objects.filter(worker=worker, valid_until__gte=today)
        .select_related("category", "specialty")
        .order_by("-awarded_on", "id")
    ]
    since = today - dt.timedelta(days=5 * 365)
    hours = (
        ContinuingEducation.objects.filter(worker=worker, completed_on__gte=since).aggregate(h=Sum("hours"))["h"] or 0
    )
    return [
        {
            "title": "Допуск к профессиональной деятельности",
            "rows": admissions or [["—", "Документов о допуске в регистре нет"]],
        },
        {"title": "Квалификационные категории", "rows": categories or [["—", "Действующих категорий нет"]]},
        {
            "title": "Непрерывное медицинское образование",
            "rows": [["Освоено за последние 5 лет", f"{hours} ч (ЗЕТ) из {settings.CME_CYCLE_HOURS} ч цикла"]],
        },
    ]


def extract_facts(*, worker: MedicalWorker, kind: str, today: dt.date | None = None) -> dict:
    """The facts an extract of `kind` states about the worker now (no code or date yet)."""
    today = today or timezone.localdate()
    if kind == Extract.Kind.REGISTRY:
        sections = [_identity_section(worker), _workplaces_section(worker), _documents_section(worker, today)]
    elif kind == Extract.Kind.QUALIFICATION:
        sections = [_identity_section(worker), *_qualification_sections(worker, today)]
    else:
        raise ValueError(f"unknown extract kind {kind!r}")
    return {"v": PAYLOAD_VERSION, "kind": kind, "title": Extract.Kind(kind).label, "sections": sections}


def verify_url(code: str) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("extracts:verify", args=[code])


# --- PDF -------------------------------------------------------------------------------------


def visible_lines(payload: dict) -> list[str]:
    """Every fact line the PDF prints, in order; what the upload check looks for in the PDF text."""
    lines = [
        payload["title"],
        f"Код проверки: {_code_display(payload['code'])}",
        f"Дата выдачи: {payload['issued_at']}",
    ]
    for section in payload["sections"]:
        lines.append(section["title"])
        lines.extend(f"{label}: {value}" for label, value in section["rows"])
    return lines


def _code_display(code: str) -> str:
    return f"{code[:4]}-{code[4:8]}-{code[8:]}"


def _signed_blob(extract: Extract) -> str:
    blob = {"payload": extract.payload, "key_id": extract.key_id, "signature": extract.signature}
    return base64.b64encode(json.dumps(blob, ensure_ascii=False).encode()).decode()


def _xmp(blob_b64: str, title: str) -> str:
    return (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        f'<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:medreg="{XMP_NS}">'
        f'<dc:title><rdf:Alt><rdf:li xml:lang="x-default">{escape(title)}</rdf:li></rdf:Alt></dc:title>'
        f"<medreg:SignedExtract>{blob_b64}</medreg:SignedExtract>"
        "</rdf:Description></rdf:RDF></x:xmpmeta>"
    )


def render_pdf(extract: Extract, *, payload: dict | None = None) -> bytes:
    """The PDF of an extract. `payload` overrides the printed facts (tests forge documents with it);
    the embedded signed data is always the stored extract's."""
    shown = payload or extract.payload
    pdf = FPDF(format="A4")
    pdf.set_margins(20, 18, 20)
    pdf.set_auto_page_break(True, margin=18)
    pdf.add_font("DejaVu", "", FONT_DIR / "DejaVuSans.ttf")
    pdf.add_font("DejaVu", "B", FONT_DIR / "DejaVuSans-Bold.ttf")
    pdf.set_title(shown["title"])
    pdf.set_author("Медрег — регистр медицинских работников")
    pdf.set_creator("Медрег")
    pdf.set_lang("ru")
    pdf.set_creation_date(extract.created_at)
    pdf.set_xmp_metadata(_xmp(_signed_blob(extract), shown["title"]))
    pdf.add_page()
    width = pdf.epw

    qr = io.BytesIO()
    segno.make(verify_url(extract.code), error="m").save(qr, kind="png", scale=5, border=2)
    pdf.image(qr, x=pdf.w - 20 - 34, y=16, w=34, h=34)

    pdf.set_font("DejaVu", "", 9)
    pdf.multi_cell(width - 40, 5, "Медрег — регистр медицинских работников", align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font("DejaVu", "B", 15)
    pdf.multi_cell(width - 40, 8, shown["title"], align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.set_font("DejaVu", "", 10)
    for line in visible_lines(shown)[1:3]:
        pdf.multi_cell(width - 40, 6, line, align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.set_y(max(pdf.get_y(), 54))
    for section in shown["sections"]:
        pdf.ln(3)
        pdf.set_font("DejaVu", "B", 12)
        pdf.multi_cell(width, 7, section["title"], align="L", new_x="LMARGIN", new_y="NEXT")
        for label, value in section["rows"]:
            pdf.set_font("DejaVu", "", 10)
            pdf.multi_cell(width, 5.5, f"{label}: {value}", align="L", new_x="LMARGIN", new_y="NEXT")
            pdf.ln(1)
    pdf.ln(6)
    pdf.set_font("DejaVu", "", 8)
    pdf.multi_cell(
        width,
        4.5,
        f"Проверить подлинность и актуальность: {verify_url(extract.code)} или QR-код. Документ подписан "
        f"электронной подписью регистра (Ed25519, ключ {extract.key_id}); подписанные сведения встроены в файл.",
        align="L",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.multi_cell(width, 4.5, f"Подпись: {extract.signature}", align="L", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


# --- Verification ----------------------------------------------------------------------------


@dataclass
class Verdict:
    """What /verify/ shows. `authentic` only when the signature holds under a usable key."""

    found: bool
    authentic: bool = False
    reason: str = ""
    extract: Extract | None = None
    payload: dict | None = None
    current: bool | None = None
    changed_sections: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


_REASONS = {
    signing.VerifyResult.BAD_SIGNATURE: "Подпись не совпадает со сведениями: документ изменён после выдачи.",
    signing.VerifyResult.UNKNOWN_KEY: "Документ подписан неизвестным ключом.",
    signing.VerifyResult.REVOKED_KEY: "Ключ, которым подписан документ, отозван: документ недействителен.",
}


def _check_signature(payload: dict, key_id: str, signature: str) -> str:
    return signing.verify(
        payload,
        key_id=key_id,
        signature=signature,
        keys=settings.EXTRACT_SIGNING_KEYS,
        revoked=settings.EXTRACT_REVOKED_KEY_IDS,
    )


def _currency(verdict: Verdict) -> None:
    """Compare the signed facts with what an extract would say about the live record today."""
    extract = verdict.extract
    live = extract_facts(worker=extract.worker, kind=extract.kind)
    signed = {s["title"]: s["rows"] for s in verdict.payload["sections"]}
    now = {s["title"]: s["rows"] for s in live["sections"]}
    verdict.changed_sections = [title for title in signed if signed[title] != now.get(title)]
    verdict.current = not verdict.changed_sections


def verify_code(code: str) -> Verdict:
    """Verdict for a code typed or scanned from the document."""
    code = normalize_code(code)
    extract = Extract.objects.select_related("worker").filter(code=code).first() if code else None
    if extract is None:
        return Verdict(found=False, reason="Выписка с таким кодом проверки в регистре не выдавалась.")
    verdict = Verdict(found=True, extract=extract, payload=extract.payload)
    result = _check_signature(extract.payload, extract.key_id, extract.signature)
    if result != signing.VerifyResult.VALID:
        verdict.reason = _REASONS[result]
        return verdict
    if extract.payload.get("code") != extract.code:
        verdict.reason = _REASONS[signing.VerifyResult.BAD_SIGNATURE]
        return verdict
    verdict.authentic = True
    _currency(verdict)
    return verdict


def normalize_code(code: str) -> str:
    code = re.sub(r"[\s-]", "", (code or "").upper())
    if len(code) != 12 or any(ch not in "23456789ABCDEFGHJKLMNPQRSTUVWXYZ" for ch in code):
        return ""
    return code


class PdfCheckError(ValueError):
    """The upload is not an extract we can check; the message is shown in Russian."""


def _read_signed_blob(reader: PdfReader) -> dict:
    try:
        metadata = reader.trailer["/Root"].get("/Metadata")
        xml = metadata.get_object().get_data().decode() if metadata is not None else ""
    except (PyPdfError, AttributeError, UnicodeDecodeError, KeyError) as exc:
        raise PdfCheckError("Файл: подписанные сведения выписки не найдены.") from exc
    match = re.search(r"<medreg:SignedExtract>([A-Za-z0-9+/=\s]+)</medreg:SignedExtract>", xml)
    if not match:
        raise PdfCheckError("Файл: подписанные сведения выписки не найдены — это не выписка Медрега.")
    try:
        blob = json.loads(base64.b64decode(match.group(1)))
        if not isinstance(blob.get("payload"), dict):
            raise ValueError
        return blob
    except (ValueError, TypeError, AttributeError) as exc:
        raise PdfCheckError("Файл: подписанные сведения повреждены.") from exc


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def verify_pdf(data: bytes) -> Verdict:
    """Check an uploaded PDF: its embedded signature, its visible text against the signed facts,
    and the signed facts against the extract stored under the same code."""
    if not data.startswith(b"%PDF-"):
        raise PdfCheckError("Файл: это не PDF.")
    if len(data) > MAX_UPLOAD_BYTES:
        raise PdfCheckError("Файл: слишком большой для выписки (не более 2 МБ).")
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if len(reader.pages) > 20:
            raise PdfCheckError("Файл: слишком много страниц для выписки.")
        blob = _read_signed_blob(reader)
        text = "".join(page.extract_text() or "" for page in reader.pages)
    except PdfCheckError:
        raise
    except Exception as exc:  # pypdf raises many kinds on a broken file; none may become a 500
        raise PdfCheckError("Файл: не удалось прочитать PDF.") from exc

    payload = blob["payload"]
    code = normalize_code(str(payload.get("code", "")))
    verdict = verify_code(code) if code else Verdict(found=False)
    if not verdict.found:
        return Verdict(found=False, reason="Выписка с кодом из файла в регистре не выдавалась.")
    result = _check_signature(payload, str(blob.get("key_id", "")), str(blob.get("signature", "")))
    if result != signing.VerifyResult.VALID:
        verdict.authentic, verdict.current = False, None
        verdict.problems.append(_REASONS[result])
    elif payload != verdict.extract.payload:
        verdict.authentic, verdict.current = False, None
        verdict.problems.append("Подписанные сведения в файле не совпадают с выпиской, выданной под этим кодом.")
    squashed = _squash(text)
    missing = [line for line in visible_lines(payload) if _squash(line) not in squashed]
    if missing:
        verdict.authentic, verdict.current = False, None
        verdict.problems.append(
            "Текст документа изменён: не совпадают строки — " + "; ".join(f"«{line}»" for line in missing[:5])
        )
    elif _squash("".join(visible_lines(payload))) not in squashed:
        # Every line is there but not as one block in order: lines were added between or moved.
        verdict.authentic, verdict.current = False, None
        verdict.problems.append("Текст документа изменён: добавлены или переставлены строки.")
    if verdict.problems:
        verdict.reason = verdict.problems[0]
    return verdict
