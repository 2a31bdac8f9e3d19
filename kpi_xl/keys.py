"""Head office's secret key for tamper-evident metadata (stdlib only: the Excel button imports it).

Without a key, ``meta_checksum`` is a plain SHA-256 of the metadata rows: it reveals a clerk's
accidental edit of the hidden sheet, but anyone can relabel a workbook as another district and
recompute it. With a key, workbooks are built with ``checksum_kind = hmac-sha256`` and the checksum
is HMAC-SHA256 under the key; consolidation with the key refuses (KPI-E104) any workbook whose
checksum is not a valid HMAC, so a relabelled or hand-made workbook cannot pass as a district's.

Where the key comes from, first found wins:

- ``KPI_XL_KEY``: the key itself (hex from ``kpi-xl keygen``), e.g. set in head office's service;
- ``KPI_XL_KEY_FILE``: a path to a file holding it (made by ``kpi-xl keygen --out FILE``).

The key lives only at head office (a file readable by head office's account, or a password
manager), never in a workbook, never on a district PC, never in the repository. Use one key per
fiscal year (``kpi_key_2564.txt``): workbooks of a year are built and consolidated with that year's
key, and a leaked key stops mattering when the year closes.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

KEY_ENV = "KPI_XL_KEY"
KEY_FILE_ENV = "KPI_XL_KEY_FILE"
HMAC_KIND = "hmac-sha256"
MIN_KEY_BYTES = 16


class KeyProblem(ValueError):
    """The configured key cannot be used (unreadable file, too short)."""

    def __init__(self, source: str, detail: str):
        self.source, self.detail = source, detail
        super().__init__(f"{source}: {detail}")


def _decode(text: str, source: str) -> bytes:
    text = text.strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = text.encode("utf-8")
    if len(key) < MIN_KEY_BYTES:
        raise KeyProblem(source, f"สั้นกว่า {MIN_KEY_BYTES} ไบต์ / shorter than {MIN_KEY_BYTES} bytes")
    return key


def load_key(path: str | Path | None = None) -> bytes | None:
    """The key from ``path``, else ``$KPI_XL_KEY``, else the file in ``$KPI_XL_KEY_FILE``; None when none
    is configured (plain SHA-256 mode). Raises :class:`KeyProblem` for a configured but unusable key."""
    if path is None and os.environ.get(KEY_ENV, "").strip():
        return _decode(os.environ[KEY_ENV], KEY_ENV)
    source = path if path is not None else os.environ.get(KEY_FILE_ENV, "").strip() or None
    if source is None:
        return None
    try:
        text = Path(source).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise KeyProblem(str(source), getattr(exc, "strerror", None) or type(exc).__name__) from None
    return _decode(text, str(source))


def new_key() -> str:
    """A fresh 256-bit key as hex (what ``kpi-xl keygen`` writes)."""
    return secrets.token_hex(32)


def keyed_digest(key: bytes, payload: bytes) -> str:
    return hmac.new(key, payload, hashlib.sha256).hexdigest()


def same(a: str, b: str) -> bool:
    """Constant-time comparison (a checksum is a secret-derived value)."""
    return hmac.compare_digest(a.encode(), b.encode())
