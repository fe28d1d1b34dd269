"""Plain text from a store's HTML description (Shopify "Body (HTML)"), with the stdlib parser:
tags dropped, entities decoded, block elements kept as line breaks, scripts and styles skipped."""

from __future__ import annotations

from html.parser import HTMLParser

_BLOCK = {"p", "br", "li", "div", "ul", "ol", "table", "tr", "h1", "h2", "h3", "h4", "h5", "h6"}
_SKIP = {"script", "style"}


class _TextOnly(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in _SKIP:
            self.skipping += 1
        elif tag in _BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag in _BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def strip_html(text: str) -> str:
    """"<p>Soft <b>merino</b> &amp; silk</p>" -> "Soft merino & silk"; plain text comes back trimmed."""
    if "<" not in text and "&" not in text:
        return text.strip()
    parser = _TextOnly()
    parser.feed(text)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).split("\n"))
    return "\n".join(line for line in lines if line)
