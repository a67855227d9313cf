"""Validation failures said in the product's words rather than the library's.

pydantic's messages name its own machinery ("Input should be a valid dictionary or object to
extract fields from", "Value error, ..."); a caseworker's tool shows these to a person, so each
kind a request can meet is said plainly, with what to send instead.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

Item = Mapping[str, Any]


def is_json(content_type: str | None) -> bool:
    media_type = (content_type or "").split(";")[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")


def _context(item: Item) -> Mapping[str, Any]:
    context = item.get("ctx")
    return context if isinstance(context, Mapping) else {}


def _characters(count: object) -> str:
    return "1 character" if count == 1 else f"{count} characters"


def _items(count: object) -> str:
    return "1 item" if count == 1 else f"{count} items"


def _not_an_object(item: Item, sent_json: bool) -> str:
    if len(item.get("loc", ())) <= 1 and not sent_json:
        return "The body must be JSON, sent with the header Content-Type: application/json."
    return "must be a JSON object"


def _too_short(item: Item) -> str:
    least = _context(item).get("min_length")
    return "must not be empty" if least == 1 else f"must be at least {_characters(least)}"


def _one_of(item: Item) -> str:
    expected = str(_context(item).get("expected", "")).replace("'", "")
    return f"must be one of: {expected}" if expected else "is not one of the allowed values"


# The patterns of our own types, said in words (domain.values: Identifier).
_PATTERNS = {r"^\S+$": "must be one word, without spaces"}


def _pattern(item: Item) -> str:
    pattern = str(_context(item).get("pattern", ""))
    return _PATTERNS.get(pattern, f"does not have the expected form ({pattern})")


def _own_sentence(item: Item) -> str:
    """A rule of ours raised inside a model: its own sentence, without pydantic's prefix."""
    cause = _context(item).get("error")
    return str(cause) if cause is not None else str(item.get("msg", "is not valid"))


_MESSAGES: dict[str, Callable[[Item], str]] = {
    "missing": lambda _: "is required",
    "extra_forbidden": lambda _: "is not a field of this request",
    "value_error": _own_sentence,
    "assertion_error": _own_sentence,
    "enum": _one_of,
    "literal_error": _one_of,
    "string_type": lambda _: "must be text",
    "string_too_short": _too_short,
    "string_too_long": lambda i: f"must be at most {_characters(_context(i).get('max_length'))}",
    "string_pattern_mismatch": _pattern,
    "int_type": lambda _: "must be a whole number",
    "int_parsing": lambda _: "must be a whole number",
    "int_from_float": lambda _: "must be a whole number",
    "greater_than_equal": lambda i: f"must be at least {_context(i).get('ge')}",
    "less_than_equal": lambda i: f"must be at most {_context(i).get('le')}",
    "bool_type": lambda _: "must be true or false",
    "bool_parsing": lambda _: "must be true or false",
    "list_type": lambda _: "must be a list",
    "too_long": lambda i: f"must have at most {_items(_context(i).get('max_length'))}",
    "too_short": lambda i: f"must have at least {_items(_context(i).get('min_length'))}",
    "uuid_type": lambda _: "must be a complaint id (a UUID)",
    "uuid_parsing": lambda _: "must be a complaint id (a UUID)",
    "date_type": lambda _: "must be a date, YYYY-MM-DD",
    "date_parsing": lambda _: "must be a date, YYYY-MM-DD",
    "date_from_datetime_parsing": lambda _: "must be a date, YYYY-MM-DD",
    "date_from_datetime_inexact": lambda _: "must be a date, YYYY-MM-DD",
    "datetime_type": lambda _: "must be a date and time with a UTC offset",
    "datetime_parsing": lambda _: (
        "must be a date and time with a UTC offset, e.g. 2026-11-24T10:15:00Z"
    ),
    "datetime_from_date_parsing": lambda _: (
        "must be a date and time with a UTC offset, e.g. 2026-11-24T10:15:00Z"
    ),
    "timezone_aware": lambda _: "must carry a UTC offset, e.g. 2026-11-24T10:15:00Z",
    "json_invalid": lambda i: f"is not valid JSON ({_context(i).get('error', 'cannot be read')})",
}


def in_our_words(item: Item, *, sent_json: bool) -> str:
    """The message for one validation failure; the library's own for a kind not listed."""
    kind = str(item.get("type", ""))
    if kind in ("model_attributes_type", "dict_type", "model_type"):
        return _not_an_object(item, sent_json)
    say = _MESSAGES.get(kind)
    return say(item) if say is not None else str(item.get("msg", "is not valid"))
