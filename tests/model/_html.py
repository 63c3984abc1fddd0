"""
Checks every card test applies: the HTML is well formed and made of the card's own parts only.

A card is built from a handful of tags with inline ``style`` attributes. A value that escaped
HTML-escaping would show as another tag, another attribute, or an unbalanced tree, so checking
the parsed tree against that small vocabulary catches every injection, whatever its spelling.
"""

from __future__ import annotations

from html.parser import HTMLParser

#: The tags a card is made of, and the one attribute they carry.
CARD_TAGS = frozenset({"div", "span", "table", "thead", "tbody", "tr", "th", "td", "ul", "li"})
CARD_ATTRIBUTES = frozenset({"style"})


class _Tree(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.problems: list[str] = []
        self.tags: set[str] = set()
        self.attributes: set[str] = set()
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack.append(tag)
        self.tags.add(tag)
        self.attributes.update(name for name, _ in attrs)
        for name, value in attrs:
            if name == "style" and value is not None and ("url(" in value or "@import" in value):
                self.problems.append(f"style loads something: {value[:80]}")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.problems.append(f"self-closing <{tag}/>")

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def handle_comment(self, data: str) -> None:
        self.problems.append("a comment")

    def handle_decl(self, decl: str) -> None:
        self.problems.append("a declaration")


def parse_card(markup: str) -> str:
    """
    Check *markup* is one balanced tree of card tags with style attributes only; return its text.

    The text is what a reader sees (entities decoded), for checks on what it says.
    """
    assert isinstance(markup, str), type(markup)
    assert markup.startswith("<div"), markup[:80]
    tree = _Tree()
    tree.feed(markup)
    tree.close()
    assert not tree.problems, tree.problems[:5]
    assert tree.stack == [], f"unclosed tags: {tree.stack}"
    assert tree.tags <= CARD_TAGS, f"unexpected tags: {tree.tags - CARD_TAGS}"
    assert tree.attributes <= CARD_ATTRIBUTES, f"unexpected attributes: {tree.attributes}"
    lowered = markup.lower()
    for forbidden in ("<script", "<link", "<style", "<img", "<iframe"):
        assert forbidden not in lowered, forbidden
    return "".join(tree.text)
