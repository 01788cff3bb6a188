"""The small HTML pages the worker serves besides the dashboard: login, a force's alerts, a retailer's backlog, and the
form that asks why before personal data is shown. Every value is escaped (``crimelink.safe_text``); none has a
script."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from crimelink.safe_text import html_text

__all__ = ["login_page", "table_page", "justification_page", "signed_in_bar"]

_STYLE = ("body{font-family:system-ui,sans-serif;margin:2rem;max-width:70rem;color:#222}table{border-collapse:collapse}"
          "td,th{border:1px solid #ccd;padding:.25rem .5rem;text-align:left}label{display:block;margin:.6rem 0}"
          "input{padding:.3rem;min-width:22rem}.err{color:#b00}.bar{float:right}")


def _page(title: str, body: str) -> str:
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html_text(title)}</title>"
            f"<style>{_STYLE}</style></head><body>{body}</body></html>")


def signed_in_bar(name: str, role: str, csrf: str) -> str:
    return (f"<form class='bar' method='post' action='/logout'>{html_text(name)} ({html_text(role)}) "
            f"<input type='hidden' name='csrf' value='{html_text(csrf)}'><button>Log out</button></form>")


def login_page(login_csrf: str, next_path: str, error: str = "") -> str:
    problem = f"<p class='err'>{html_text(error)}</p>" if error else ""
    return _page("crimelink: log in", (
        "<h1>crimelink</h1><p>Log in with your user name and your password or token "
        "(<code>crimelink users add</code> prints a token).</p>" + problem +
        "<form method='post' action='/login'>"
        f"<input type='hidden' name='csrf' value='{html_text(login_csrf)}'>"
        f"<input type='hidden' name='next' value='{html_text(next_path)}'>"
        "<label>User <input name='name' autocomplete='username' required autofocus></label>"
        "<label>Password or token <input name='secret' type='password' autocomplete='current-password' required>"
        "</label><button>Log in</button></form>"))


def table_page(title: str, bar: str, intro: str, columns: Sequence[str], rows: Sequence[Sequence[Any]],
               links: dict[int, str] | None = None) -> str:
    """A titled table; ``links`` maps a column to a URL pattern with ``{}`` for the cell's (quoted) value."""
    links = links or {}
    head = "".join(f"<th>{html_text(column)}</th>" for column in columns)
    body = []
    for row in rows:
        cells = []
        for index, value in enumerate(row):
            text = html_text(value)
            if index in links:
                text = f"<a href='{html_text(links[index].format(quote(str(value), safe='')))}'>{text}</a>"
            cells.append(f"<td>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    table = f"<table><tr>{head}</tr>{''.join(body)}</table>" if rows else "<p>Nothing yet.</p>"
    return _page(title, f"{bar}<h1>{html_text(title)}</h1><p>{html_text(intro)}</p>{table}")


def justification_page(bar: str, what: str, path: str) -> str:
    return _page("crimelink: why?", (
        f"{bar}<h1>{html_text(what)}</h1><p>This shows personal data (suspect descriptions, vehicle registrations). "
        "Say why you consult it: the reason is kept in the access log with your name and the time.</p>"
        f"<form method='get' action='{html_text(path)}'><label>Why <input name='why' required minlength='4' "
        "maxlength='500' placeholder='Op Falcon: linking thefts across Kent and Essex'></label>"
        "<button>Show</button></form>"))
