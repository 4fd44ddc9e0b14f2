"""Shared pieces of factbench's static pages: the CSP, the stylesheet, and data islands.

Every page is self-contained (no network, no other file) under one Content-Security-Policy.
Data from runs reaches a page only as JSON inside <script type="application/json"> elements
that cannot close their element; the page's script puts it into the DOM with textContent.
"""

from __future__ import annotations

import html
import json
from functools import cache
from importlib import resources
from typing import Any

CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"


@cache
def asset(name: str) -> str:
    """The text of a file in factbench/reports/assets/ (stylesheets and page scripts)."""
    return resources.files("factbench.reports").joinpath("assets").joinpath(name).read_text(encoding="utf-8")


def json_for_script(data: Any) -> str:
    """JSON that is safe inside a <script> element: no '<', '>' or '&' survives literally."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def data_island(element_id: str, data: Any) -> str:
    return f'<script type="application/json" id="{html.escape(element_id)}">{json_for_script(data)}</script>'


def page(title: str, body: str, script: str = "", islands: dict[str, Any] | None = None) -> str:
    """A complete HTML document: the CSP, the shared stylesheet, `body`, data islands, then `script`."""
    data = "\n".join(data_island(k, v) for k, v in (islands or {}).items())
    js = f"<script>{script}</script>" if script else ""
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
            f"<title>{html.escape(title)}</title><style>{asset('base.css')}</style></head>"
            f"<body>\n{body}\n{data}\n{js}\n</body></html>\n")
