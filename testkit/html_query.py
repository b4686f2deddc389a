"""A small HTML reader for view tests: find elements by id, tag or attribute, and read their text
the way a person (or a screen reader) would, without a third-party parser."""

import re
from html.parser import HTMLParser

VOID = {
    "area",
    "base",
    "br",
    "col",
    "embed",
    "hr",
    "img",
    "input",
    "link",
    "meta",
    "source",
    "track",
    "wbr",
}


class Node:
    def __init__(self, tag: str, attrs: dict, parent: "Node | None") -> None:
        self.tag = tag
        self.attrs = attrs
        self.parent = parent
        self.children: list[Node | str] = []

    def __repr__(self) -> str:
        return f"<{self.tag} {self.attrs}>"

    def get(self, name: str, default=None):
        return self.attrs.get(name, default)

    def iter(self):
        for child in self.children:
            if isinstance(child, Node):
                yield child
                yield from child.iter()

    def find_all(self, tag: str | None = None, **attrs) -> list["Node"]:
        found = []
        for node in self.iter():
            if tag is not None and node.tag != tag:
                continue
            if all(node.attrs.get(k.rstrip("_").replace("_", "-")) == v for k, v in attrs.items()):
                found.append(node)
        return found

    def find(self, tag: str | None = None, **attrs) -> "Node | None":
        nodes = self.find_all(tag, **attrs)
        return nodes[0] if nodes else None

    def by_id(self, element_id: str) -> "Node | None":
        return self.find(id=element_id)

    @property
    def text(self) -> str:
        parts: list[str] = []

        def walk(node: Node) -> None:
            for child in node.children:
                if isinstance(child, str):
                    parts.append(child)
                elif child.tag not in ("script", "style", "template"):
                    walk(child)

        walk(self)
        return re.sub(r"\s+", " ", "".join(parts)).strip()

    def buttons(self) -> list[str]:
        """Accessible names of the real buttons inside, in order."""
        return [b.text for b in self.find_all("button")]

    def links(self) -> dict[str, str]:
        """Link text to href."""
        return {a.text: a.get("href") for a in self.find_all("a") if a.get("href")}

    def loaders(self) -> dict[str, str]:
        """Button text to the URL it loads with htmx (hx-get), e.g. the room's Report buttons
        that fill the report dialog."""
        return {b.text: b.get("hx-get") for b in self.find_all("button") if b.get("hx-get")}

    def list_items(self, heading_id: str) -> list[str]:
        """Texts of the items of the list named by the heading `heading_id` (aria-labelledby)."""
        lists = [n for n in self.iter() if n.get("aria-labelledby") == heading_id]
        assert lists, f"no list labelled by #{heading_id}"
        return [li.text for li in lists[0].find_all("li") if "muted" not in li.get("class", "")]

    def usernames(self, heading_id: str) -> list[str]:
        """The usernames in a presence list (each item holds one `.username`)."""
        lists = [n for n in self.iter() if n.get("aria-labelledby") == heading_id]
        assert lists, f"no list labelled by #{heading_id}"
        return [n.text for n in lists[0].iter() if "username" in (n.get("class") or "").split()]


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {}, None)
        self.current = self.root

    def handle_starttag(self, tag, attrs):
        node = Node(tag, {k: (v if v is not None else "") for k, v in attrs}, self.current)
        self.current.children.append(node)
        if tag not in VOID:
            self.current = node

    def handle_startendtag(self, tag, attrs):
        node = Node(tag, {k: (v if v is not None else "") for k, v in attrs}, self.current)
        self.current.children.append(node)

    def handle_endtag(self, tag):
        node = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.current = node.parent

    def handle_data(self, data):
        self.current.children.append(data)


def parse(html: str | bytes) -> Node:
    if isinstance(html, bytes):
        html = html.decode()
    builder = _Builder()
    builder.feed(html)
    builder.close()
    return builder.root


def field_error(html: str | bytes, name: str) -> str | None:
    """The error shown next to a form field (`#<name>-error`), or None."""
    node = parse(html).by_id(f"{name}-error")
    return node.text if node is not None else None


def field_value(html: str | bytes, name: str) -> str | None:
    doc = parse(html)
    node = doc.find("input", name=name) or doc.find("textarea", name=name)
    if node is None:
        return None
    return node.get("value", "") if node.tag == "input" else node.text
