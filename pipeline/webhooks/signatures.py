"""Is this body really from the platform? Each one signs with a shared secret; compare in constant time.

Meta (WhatsApp, Messenger): ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret, raw body)>``.
Google (RBM, GBM): ``X-Goog-Signature: <base64 HMAC-SHA512(client token, signed bytes)>``, where the
signed bytes are the raw body for GBM and the decoded ``message.data`` for RBM.
"""

from __future__ import annotations

import base64
import hashlib
import hmac


def meta_signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def google_signature(token: str, signed: bytes) -> str:
    return base64.b64encode(hmac.new(token.encode(), signed, hashlib.sha512).digest()).decode()


def meta_signature_ok(secret: str, body: bytes, header: str | None) -> bool:
    return header is not None and hmac.compare_digest(meta_signature(secret, body), header.strip())


def google_signature_ok(token: str, signed: bytes, header: str | None) -> bool:
    return header is not None and hmac.compare_digest(google_signature(token, signed), header.strip())


def same_secret(expected: str, given: object) -> bool:
    """A verify token or client token compared in constant time."""
    return isinstance(given, str) and hmac.compare_digest(expected.encode(), given.encode())
