"""Looking for a secret where it must not be: the forms it can take, and a scan of
files (Parquet values, gzip and zip members, everything else byte for byte) and text.

The forms of a key K: K itself, its hex (both cases), its base64 at each of the three
alignments it can have inside a longer base64 text (standard and URL-safe), and the
HMAC-SHA256 pads (K XOR 0x36, K XOR 0x5C), raw and in hex. A pad is K padded with
zeros to 64 bytes before the XOR; the scan looks for its first len(K) bytes, the part
that gives K back, so a pad padded or cut either way is found.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shoprec.lake import Storage

_BLOCK = 64  # SHA-256's block: HMAC's keys are padded (or hashed) to it


def secret_forms(key: str) -> dict[str, bytes]:
    """Every form of ``key`` the scans look for, by name."""
    k = key.encode()
    forms = {"key": k, "key hex": k.hex().encode(), "key HEX": k.hex().upper().encode()}
    for shift in range(3):  # the key at byte offset 0, 1 or 2 of a base64 group
        placed = b"\0" * shift + k + b"\0\0"
        # only the characters every one of whose bits comes from the key
        start, end = (4 if shift else 0), (shift + len(k)) // 3 * 4
        forms[f"key base64 +{shift}"] = base64.b64encode(placed)[start:end]
        forms[f"key base64url +{shift}"] = base64.urlsafe_b64encode(placed)[start:end]
    block = k if len(k) <= _BLOCK else hashlib.sha256(k).digest()
    for name, byte in (("ipad", 0x36), ("opad", 0x5C)):
        pad = bytes(b ^ byte for b in block)
        forms[name] = pad
        forms[f"{name} hex"] = pad.hex().encode()
        forms[f"{name} HEX"] = pad.hex().upper().encode()
    return forms


@dataclass(frozen=True)
class Hit:
    where: str
    form: str


@dataclass
class Scan:
    """What a scan looked at and what it found."""

    forms: dict[str, bytes]
    hits: list[Hit]
    files: int = 0
    scanned_bytes: int = 0

    @classmethod
    def of(cls, key: str) -> Scan:
        return cls(secret_forms(key), [])

    def data(self, data: bytes, where: str) -> None:
        """``data`` itself (the caller decodes containers)."""
        self.scanned_bytes += len(data)
        self.hits.extend(Hit(where, name) for name, form in self.forms.items() if form in data)

    def text(self, text: str, where: str) -> None:
        self.data(text.encode("utf-8", "surrogateescape"), where)

    def file(self, path: Path, where: str | None = None) -> None:
        """A file: its bytes, and what they hold when they are Parquet, gzip or zip."""
        self.files += 1
        self._blob(path.read_bytes(), where or str(path))

    def tree(self, root: Path) -> None:
        """Every file under ``root``."""
        for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink()):
            self.file(path)

    def store(self, storage: Storage, uri: str) -> None:
        """Every file under ``uri`` (a lake's root, a bucket) read through ``storage``."""
        for rel in sorted(storage.walk(uri)):
            self.files += 1
            self._blob(storage.read_bytes(f"{uri.rstrip('/')}/{rel}"), f"{uri}/{rel}")

    def _blob(self, data: bytes, where: str) -> None:
        self.data(data, where)
        if data[:4] == b"PAR1" and data[-4:] == b"PAR1":
            self.data(_parquet_values(data), f"{where} (values)")
        elif data[:2] == b"\x1f\x8b":
            self._blob(gzip.decompress(data), f"{where} (gunzipped)")
        elif data[:4] == b"PK\x03\x04":
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                for member in z.namelist():
                    self._blob(z.read(member), f"{where}!{member}")


def _parquet_values(data: bytes) -> bytes:
    """Every string and binary value of a Parquet file (nested ones too), one a line."""
    import pyarrow.parquet as pq

    out = io.BytesIO()
    for batch in pq.ParquetFile(io.BytesIO(data)).iter_batches():
        for column in batch.columns:
            for value in _leaves(column.to_pylist()):
                out.write(value)
                out.write(b"\n")
    return out.getvalue()


def _leaves(values: Iterable[Any]) -> Iterator[bytes]:
    for v in values:
        if isinstance(v, str):
            yield v.encode("utf-8", "surrogateescape")
        elif isinstance(v, bytes):
            yield v
        elif isinstance(v, dict):
            yield from _leaves(v.keys())
            yield from _leaves(v.values())
        elif isinstance(v, list | tuple):
            yield from _leaves(v)
