"""Customer identifiers (phone numbers, handles, account ids) kept only as salted hashes.

A keyed hash (HMAC-SHA256) lets an analyst count or follow one customer across messages without
the store holding who they are; the salt lives outside the store (config or a local key file), so
the store alone cannot be turned back into phone numbers by trying them all.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import re
import secrets
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

IDENTIFIER_FIELDS = (
    "customer_id",
    "user_id",
    "author_id",
    "author",
    "phone",
    "phone_number",
    "msisdn",
    "wa_id",
    "psid",
    "email",
    "handle",
    "username",
    "from",
    "sender",
)


HASHED = re.compile(r"h_[0-9a-f]{20}")  # what IdentifierHasher.digest returns


@dataclass(frozen=True)
class IdentifierHasher:
    salt: bytes
    fields: frozenset[str] = frozenset(IDENTIFIER_FIELDS)

    def digest(self, value: Any) -> str:
        return (
            "h_" + hmac.new(self.salt, str(value).strip().lower().encode(), hashlib.sha256).hexdigest()[:20]
        )


def protect_metadata(
    metadata: dict[str, Any], hasher: IdentifierHasher | None, redact: Callable[[Any], Any]
) -> dict[str, Any]:
    """Identifier fields hashed (dropped without a hasher), every other value redacted.

    Hashes are not passed through redaction: a run of hex digits can look like a phone number. A value
    hashed already (by the webhook receiver, before landing) is kept as it is, not hashed twice."""
    fields = hasher.fields if hasher else frozenset(IDENTIFIER_FIELDS)
    out = {}
    for key, value in metadata.items():
        if key.lower() not in fields:
            out[key] = redact(value)
        elif hasher is not None:
            out[key] = value if isinstance(value, str) and HASHED.fullmatch(value) else hasher.digest(value)
    return out


def load_salt(secret: str | None, key_file: Path) -> bytes:
    """The configured salt, else the one in ``key_file`` (created once, readable by its owner only)."""
    if secret:
        return secret.encode()
    if not key_file.exists():
        # written whole under a temporary name, then linked into place: two first runs at once (a
        # scheduled run and a manual ingest) must not read a half-written key or crash on the other's
        key_file.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=key_file.parent, prefix=f".{key_file.name}-")  # owner-only
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32))
            with contextlib.suppress(FileExistsError):  # the other run's key was linked first: use it
                os.link(tmp, key_file)
        finally:
            os.unlink(tmp)
    return key_file.read_text().strip().encode()


def hasher_for(secret: str | None, key_file: Path) -> IdentifierHasher:
    return IdentifierHasher(load_salt(secret, key_file))
