"""Published reports (``ecointegrity report``): a page listing them, each report as a page or a
PDF, and each region's card as a page of its own (``/reports/regions/{slug}``).

The reports folder (``ECOINTEGRITY_API_REPORTS_DIR`` or ``ecointegrity serve --reports``) holds
what the report commands wrote and their ``index.json``. Only files the index lists are served,
so a request can never name another file; every answer is a file read, bounded in cost.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from pydantic import BaseModel

from ..errors import NotFound

__all__ = ["ReportInfo", "router"]

Lang = Literal["es", "en"]
_REVALIDATE = {"Cache-Control": "no-cache"}


class ReportInfo(BaseModel):
    """One published report in one language."""

    name: str
    kind: str
    lang: str
    title: str
    subtitle: str
    created: str
    region: str | None = None
    html: str
    pdf: str
    page: str


def _folder(request: Request) -> Path:
    folder = request.app.state.reports_dir
    if folder is None:
        raise NotFound("no reports are published on this server (ecointegrity serve --reports)")
    return Path(folder)


def _entries(folder: Path) -> list[dict[str, Any]]:
    path = folder / "index.json"
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except ValueError as exc:
        raise NotFound(f"the reports index cannot be read ({exc})") from None
    return [e for e in entries if isinstance(e, dict) and {"name", "lang", "html", "pdf"} <= set(e)]


def _info(entry: dict[str, Any]) -> ReportInfo:
    page = (f"/reports/regions/{entry['name'].removeprefix('region-')}?lang={entry['lang']}"
            if entry.get("region") else f"/reports/{entry['html']}")
    return ReportInfo(
        name=entry["name"], kind=str(entry.get("kind", "")), lang=entry["lang"],
        title=str(entry.get("title", "")), subtitle=str(entry.get("subtitle", "")),
        created=str(entry.get("created", "")), region=entry.get("region"),
        html=f"/reports/{entry['html']}", pdf=f"/reports/{entry['pdf']}", page=page)


_WORDS = {
    "es": {"title": "Informes", "lead": "Informes publicados. Cada uno en página web y en PDF.",
           "regions": "Fichas por región", "others": "De toda el área", "none": "Aún no hay informes.",
           "other_lang": ("en", "English")},
    "en": {"title": "Reports", "lead": "Published reports, each as a web page and as a PDF.",
           "regions": "Region cards", "others": "For the whole area", "none": "No reports yet.",
           "other_lang": ("es", "Español")},
}


def _index_page(infos: list[ReportInfo], lang: Lang) -> str:
    words: dict[str, Any] = _WORDS[lang]
    e = html.escape
    other, other_name = words["other_lang"]

    def item(i: ReportInfo) -> str:
        return (f"<li><a class='title' href='{e(i.page)}'>{e(i.region or i.title)}</a>"
                f"<span>{e(i.subtitle)}</span> <a class='pdf' href='{e(i.pdf)}'>PDF</a></li>")

    reports = [i for i in infos if not i.region]
    cards = sorted((i for i in infos if i.region), key=lambda i: i.region or "")
    body = "".join([
        f"<h2>{e(words['others'])}</h2><ul>{''.join(map(item, reports))}</ul>" if reports else "",
        f"<h2>{e(words['regions'])}</h2><ul>{''.join(map(item, cards))}</ul>" if cards else "",
    ]) or f"<p>{e(words['none'])}</p>"
    return (
        f"<!doctype html><html lang='{lang}'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        f"<title>{e(words['title'])} · React-2-EO</title><style>"
        "body{font-family:system-ui,sans-serif;max-width:48em;margin:1.5em auto;padding:0 1em;"
        "line-height:1.4}h1,h2{color:#1b4d3e}ul{list-style:none;padding:0}"
        "li{margin:.4em 0;padding:.2em 0;border-bottom:1px solid #e2e8f0}a{color:#1b4d3e}"
        "a.title{display:block;min-height:44px;box-sizing:border-box;padding:.7em 0 .2em;"
        "font-weight:600}span{color:#555}"
        "a.pdf,nav a{display:inline-flex;align-items:center;min-height:44px;min-width:44px;"
        "padding:0 .4em}</style></head>"
        f"<body><nav><a href='/'>React-2-EO</a> · <a href='/reports?lang={other}' "
        f"lang='{other}'>{other_name}</a></nav><h1>{e(words['title'])}</h1>"
        f"<p>{e(words['lead'])}</p>{body}</body></html>")


def router() -> APIRouter:
    api = APIRouter(tags=["reports"])

    @api.get("/api/reports", response_model=list[ReportInfo])
    def list_reports(
        request: Request, lang: Annotated[Lang | None, Query(description="only this language")] = None
    ) -> list[ReportInfo]:
        """The published reports (integrity, land-cover validation, region cards, acoustics)."""
        entries = _entries(_folder(request))
        return [_info(e) for e in entries if lang is None or e["lang"] == lang]

    @api.get("/reports", response_class=HTMLResponse, include_in_schema=False)
    def reports_page(request: Request, lang: Lang = "es") -> HTMLResponse:
        infos = [_info(e) for e in _entries(_folder(request)) if e["lang"] == lang]
        return HTMLResponse(_index_page(infos, lang), headers=_REVALIDATE)

    @api.get("/reports/regions/{slug}", response_class=HTMLResponse, include_in_schema=False)
    def region_card(request: Request, slug: str, lang: Lang = "es") -> Response:
        """A region's card as a page (from ``ecointegrity report regions``)."""
        folder = _folder(request)
        for entry in _entries(folder):
            if entry["name"] == f"region-{slug}" and entry["lang"] == lang:
                return FileResponse(folder / Path(entry["html"]).name, media_type="text/html",
                                    headers=_REVALIDATE)
        raise NotFound(f"no region card {slug!r} in {lang}")

    @api.get("/reports/{file_name}", include_in_schema=False)
    def report_file(request: Request, file_name: str) -> Response:
        """A report's HTML page or PDF, by the name the index lists."""
        folder = _folder(request)
        for entry in _entries(folder):
            for key, media in (("html", "text/html"), ("pdf", "application/pdf")):
                if entry[key] == file_name:
                    path = folder / Path(file_name).name
                    if not path.is_file():
                        break
                    return FileResponse(path, media_type=media, headers=_REVALIDATE)
        raise NotFound(f"no report {file_name!r}")

    return api
