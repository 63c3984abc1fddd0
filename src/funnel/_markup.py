"""Text made safe for the places it is shown: a notebook's markdown, a terminal."""

from __future__ import annotations

import html

from funnel._privacy import escape_controls

#: Characters markdown gives a meaning (emphasis, links, images, code, headings, lists, tables).
_MARKDOWN = frozenset("\\`*_[]{}()#+-.!|~")


def markdown_text(text: str) -> str:
    """
    *text* as literal markdown: HTML escaped, markdown punctuation backslash-escaped,
    control characters escaped, on one line.

    A record id, a reason or a note shown in a notebook then renders as the text it
    is, never as a link, an image (a remote URL loaded on display) or raw HTML.

    >>> print(markdown_text("![x](https://t.example/p.png) <img onerror=alert(1)>"))
    \\!\\[x\\]\\(https://t\\.example/p\\.png\\) &lt;img onerror=alert\\(1\\)&gt;
    """
    flat = " ".join(escape_controls(text).split())
    escaped = html.escape(flat, quote=False)
    return "".join(f"\\{c}" if c in _MARKDOWN else c for c in escaped)
