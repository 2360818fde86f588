"""Filling in HTML forms as a browser does: read the page's form, keep its hidden fields,
add what a person types and the button they press."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class Form:
    action: str
    method: str
    fields: list[tuple[str, str]] = field(default_factory=list)
    buttons: list[tuple[str, str]] = field(default_factory=list)

    def fill(self, button: tuple[str, str] | None = None, **typed: str) -> dict[str, str | list[str]]:
        """What the browser posts: the fields (typed values replace them) and the pressed button."""
        pairs = [(name, typed.get(name, value)) for name, value in self.fields]
        pairs += [(name, value) for name, value in typed.items() if name not in {n for n, _ in self.fields}]
        if button is not None:
            assert button in self.buttons, f"no button {button} in {self.buttons}"
            pairs.append(button)
        data: dict[str, str | list[str]] = {}
        for name, value in pairs:
            if name in data:  # a repeated name is posted once per field, as a list in httpx's terms
                previous = data[name]
                data[name] = [*previous, value] if isinstance(previous, list) else [previous, value]
            else:
                data[name] = value
        return data


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self._current: Form | None = None
        self._textarea: str | None = None
        self._select: str | None = None  # the open <select>'s name
        self._options: list[tuple[str, bool]] = []  # its options: (value, selected)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "option" and self._select is not None:
            self._option(attrs)
            return
        if tag == "form":
            self._current = Form(action=values.get("action", ""), method=values.get("method", "get").lower())
            self.forms.append(self._current)
        elif self._current is None or "name" not in values:
            return
        elif tag == "button" or (tag == "input" and values.get("type") == "submit"):
            self._current.buttons.append((values["name"], values.get("value", "")))
        elif tag == "input" and values.get("type") not in ("checkbox", "radio"):
            self._current.fields.append((values["name"], values.get("value", "")))
        elif tag == "textarea":
            self._textarea = values["name"]
            self._current.fields.append((values["name"], ""))
        elif tag == "select":
            self._select, self._options = values["name"], []

    def _option(self, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        self._options.append((values.get("value", ""), "selected" in values))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._current = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "select" and self._select is not None and self._current is not None:
            # A browser posts the selected option, or the first when none is marked.
            chosen = [value for value, selected in self._options if selected] or [v for v, _ in self._options[:1]]
            self._current.fields.append((self._select, chosen[0] if chosen else ""))
            self._select = None


def forms(html: str) -> list[Form]:
    parser = _FormParser()
    parser.feed(html)
    return parser.forms


def form_with(html: str, field_name: str | None = None, button: tuple[str, str] | None = None) -> Form:
    """The page's form that has this field or this button."""
    for candidate in forms(html):
        names = {name for name, _ in candidate.fields}
        if (field_name is None or field_name in names) and (button is None or button in candidate.buttons):
            return candidate
    raise AssertionError(f"no form with {field_name or button} in page:\n{html}")


LOGIN_BUTTON = ("action", "login")
APPROVE_BUTTON = ("decision", "approve")
DENY_BUTTON = ("decision", "deny")
