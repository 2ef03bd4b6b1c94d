"""The console's pages: Jinja2 templates, autoescaped, under a strict Content-Security-Policy.

The console runs no script at all (`script-src` is not granted): every page is a server-rendered
form, so markup smuggled into a reason, a reference or a record key is shown as text, could not
run if it got through, and could not send anything elsewhere (`form-action 'self'`). Styles come
from the gateway (`/static/console/console.css`, like GraphiQL's assets: no CDN, works offline);
nothing inline; no framing (clickjacking); no caching (the pages name people's records).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.responses import HTMLResponse

__all__ = ["CONTENT_SECURITY_POLICY", "STATIC", "page"]

STATIC = Path(__file__).parent / "static"

CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'none'",
    "style-src 'self'",
    "img-src 'self' data:",
    "form-action 'self'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
))  # fmt: skip

HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # Not no-referrer: under it browsers send `Origin: null` with a form's POST, and the
    # console's forms check their Origin (gateway.http.console.session). Nothing leaves the site.
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

_TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,  # a page missing a value fails its test, not silently blank
    trim_blocks=True,
    lstrip_blocks=True,
)


def page(template: str, *, status: int = 200, **values: Any) -> HTMLResponse:
    """The page `template` rendered with `values`, with the console's headers."""
    html = _TEMPLATES.get_template(template).render(**values)
    return HTMLResponse(html, status_code=status, headers=HEADERS)
