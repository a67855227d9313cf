"""Keys for crypto-shredding: the master key, each complaint's data keys, and their table.

docs/DOMAIN.md part C. Every complaint has a data key per part (complainant, subject,
narrative), 32 random bytes, stored in `complaint_keys` wrapped (AES-GCM) under the master key,
which comes from outside the database (`COMPLAINTS_MASTER_KEY`; a KMS in production). The keys
of a new complaint are written in its events' transaction, by the recorder (`write`, the
`Companion` protocol); erasure sets the erased parts' rows to NULL in the erasure event's own
transaction, and a row once NULL is never written again, so a destroyed key stays destroyed.

The master key is checked at start-up against a row it wrapped, so a wrong or an old key is
refused with a message rather than reading every personal field as erased.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12
KEY_BYTES = 32
# The row that holds the blind index's key, wrapped like any data key (see `check_master`).
INDEX_OWNER = "00000000-0000-0000-0000-000000000000"
INDEX_PART = "blind_index"
MASTER_SETTING = "COMPLAINTS_MASTER_KEY"


class MasterKeyError(Exception):
    """The master key is missing, malformed, or not the one the data keys are wrapped under."""


def key_table_ddl(dialect: str) -> list[str]:
    blob = "bytea" if dialect == "postgres" else "BLOB"
    return [
        "CREATE TABLE IF NOT EXISTS complaint_keys (complaint_id TEXT NOT NULL, "
        f"part TEXT NOT NULL, wrapped {blob}, master_key_id TEXT, destroyed_at TEXT, "
        "PRIMARY KEY (complaint_id, part))",
        "CREATE INDEX IF NOT EXISTS complaint_keys_by_master ON complaint_keys (master_key_id)",
        # The blind index of subject access: keyed hashes only (api.eventstore.blind_index).
        "CREATE TABLE IF NOT EXISTS subject_index (digest TEXT NOT NULL, "
        "complaint_id TEXT NOT NULL, appears_as TEXT NOT NULL, "
        "PRIMARY KEY (digest, complaint_id, appears_as))",
        "CREATE INDEX IF NOT EXISTS subject_index_by_complaint ON subject_index (complaint_id)",
    ]


def decode_master_key(text: str, *, source: str = MASTER_SETTING) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        hint = "make one with `openssl rand -base64 32`"
        raise MasterKeyError(f"{source} is not base64 ({hint})") from None
    if len(key) != KEY_BYTES:
        raise MasterKeyError(f"{source} must be {KEY_BYTES} bytes, base64; it is {len(key)}")
    return key


def new_master_key_text() -> str:
    return base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()


def development_key_path(sqlite_path: str) -> Path:
    return Path(sqlite_path + ".master-key")


def development_master_key(sqlite_path: str) -> bytes:
    """The key beside an SQLite database, created on first use (readable by its owner only),
    so that `make run` needs no setting; a production store is given its key instead."""
    path = development_key_path(sqlite_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(descriptor, "w") as file:
            file.write(new_master_key_text() + "\n")
    return decode_master_key(path.read_text(), source=str(path))


def master_key_id(master: bytes) -> str:
    """A name for the master key that reveals nothing of it (stored beside what it wraps)."""
    return hmac.new(master, b"complaints/master-key-id/v1", hashlib.sha256).hexdigest()[:16]


@dataclass(frozen=True)
class MasterKey:
    key: bytes

    @property
    def id(self) -> str:
        return master_key_id(self.key)

    def wrap(self, owner: str, part: str, data_key: bytes) -> bytes:
        nonce = secrets.token_bytes(NONCE_BYTES)
        return nonce + AESGCM(self.key).encrypt(nonce, data_key, _wrap_context(owner, part))

    def unwrap(self, owner: str, part: str, wrapped: bytes) -> bytes:
        """The data key; `MasterKeyError` if this master key did not wrap it."""
        try:
            return AESGCM(self.key).decrypt(
                wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], _wrap_context(owner, part)
            )
        except InvalidTag:
            raise MasterKeyError(
                f"the data key of {owner} ({part}) was not wrapped under this master key"
            ) from None


def _wrap_context(owner: str, part: str) -> bytes:
    return f"complaints/data-key/v1|{owner}|{part}".encode()


def new_data_key() -> bytes:
    return secrets.token_bytes(KEY_BYTES)
