"""Values from feeds and analysts' queries, made safe for where they are shown: Markdown, HTML, CSV (spreadsheets) and
a terminal. Every field a retailer sends can hold anything; none may change the layout or run in the reader's tools.
"""

from __future__ import annotations

import html
import re
from typing import Any

__all__ = ["markdown_text", "html_text", "csv_cell", "terminal_text"]

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&])")
_LINE_BREAKS = re.compile(r"[\r\n\u2028\u2029\x85]+")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def markdown_text(value: Any) -> str:
    """A value as literal Markdown text (safe in a table cell): markup and ``|`` escaped, line breaks made spaces."""
    text = _CONTROL.sub("", _LINE_BREAKS.sub(" ", "" if value is None else str(value)))
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def html_text(value: Any) -> str:
    """A value as HTML text, quotes included."""
    return html.escape("" if value is None else str(value), quote=True)


def csv_cell(value: Any) -> Any:
    """A value a spreadsheet will not run: text starting with ``=``, ``+``, ``-``, ``@``, tab or CR gets a leading
    ``'`` (OWASP's advice). Numbers stay numbers, so a negative number is not touched."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def terminal_text(value: Any) -> str:
    """A value printed literally: control characters (escape sequences, bidi overrides) shown as ``\\xNN``."""
    text = "" if value is None else str(value)
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 256 else f"\\u{ord(m.group()):04x}",
                        text.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t"))
