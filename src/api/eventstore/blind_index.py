"""The blind index of subject access: keyed hashes of normalised identifiers, equality only.

docs/DOMAIN.md part C. A records manager finds every complaint a person appears in by email,
phone, or name with date of birth, without decrypting anything: the lodging writes
HMAC-SHA256 digests (under the index key, itself wrapped under the master key) of
- emails trimmed and lower-cased,
- phones in E.164, GB the default region,
- names case-folded with spaces collapsed, with the date of birth,
and a search hashes what it is given the same way. Erasing the complainant part deletes the
complaint's entries. No fuzzy matching: that would need the values themselves.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import date
from typing import Any

import phonenumbers


def normal_email(email: str) -> str:
    return email.strip().lower()


def normal_phone(phone: str) -> str:
    """E.164 where the number parses (GB by default), else its digits and a leading +."""
    try:
        number = phonenumbers.parse(phone, "GB")
    except phonenumbers.NumberParseException:
        number = None
    if number is not None and phonenumbers.is_possible_number(number):
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return re.sub(r"[^\d+]", "", phone)


def normal_name(name: str, date_of_birth: date | str) -> str:
    day = date_of_birth if isinstance(date_of_birth, str) else date_of_birth.isoformat()
    return f"{' '.join(name.casefold().split())}|{day}"


def digest(index_key: bytes, kind: str, normal: str) -> str:
    return hmac.new(index_key, f"{kind}:{normal}".encode(), hashlib.sha256).hexdigest()


def email_digest(index_key: bytes, email: str) -> str:
    return digest(index_key, "email", normal_email(email))


def phone_digest(index_key: bytes, phone: str) -> str:
    return digest(index_key, "phone", normal_phone(phone))


def name_digest(index_key: bytes, name: str, date_of_birth: date | str) -> str:
    return digest(index_key, "name", normal_name(name, date_of_birth))


def entries(index_key: bytes, lodged: dict[str, Any]) -> list[tuple[str, str]]:
    """(digest, appears_as) for the people of a lodging's state, before it is sealed."""
    found: list[tuple[str, str]] = []
    complainant = lodged.get("complainant") or {}
    if complainant.get("email"):
        found.append((email_digest(index_key, complainant["email"]), "complainant"))
    if complainant.get("phone"):
        found.append((phone_digest(index_key, complainant["phone"]), "complainant"))
    if complainant.get("name") and complainant.get("date_of_birth"):
        found.append(
            (
                name_digest(index_key, complainant["name"], complainant["date_of_birth"]),
                "complainant",
            )
        )
    other = lodged.get("on_behalf_of") or {}
    if other.get("name") and other.get("date_of_birth"):
        found.append(
            (name_digest(index_key, other["name"], other["date_of_birth"]), "on_behalf_of")
        )
    return found


def find(datastore: Any, dialect: str, digests: list[str]) -> list[tuple[str, str]]:
    """(complaint_id, appears_as) of every entry with one of `digests`."""
    if not digests:
        return []
    marks = ", ".join(["%s" if dialect == "postgres" else "?"] * len(digests))
    with datastore.transaction(commit=False) as cursor:
        cursor.execute(
            "SELECT DISTINCT complaint_id, appears_as FROM subject_index "
            f"WHERE digest IN ({marks}) ORDER BY complaint_id, appears_as",
            tuple(digests),
        )
        return [(row["complaint_id"], row["appears_as"]) for row in cursor.fetchall()]
