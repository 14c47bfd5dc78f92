"""Decoded text from a dataset file, streamed in chunks, with progress and a hash of the raw bytes.

Handles gzip (by its magic bytes), UTF-8, UTF-8 with BOM and UTF-16/UTF-32 with a BOM. Any
other encoding fails with a DataImportError naming the file, the byte offset and the line.
"""

from __future__ import annotations

import codecs
import gzip
import hashlib
import zlib
from pathlib import Path
from typing import BinaryIO, Iterator, Optional

from workbench.core.errors import DataImportError

CHUNK_BYTES = 1 << 16
_GZIP_MAGIC = b"\x1f\x8b"
# Longest BOMs first: the UTF-32-LE BOM starts with the UTF-16-LE one.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_SAVE_AS_UTF8 = "Save the file as UTF-8 (most editors offer it under 'Save as' / 'Encoding') and import it again."


class _HashingReader:
    """Reads the raw file once: hashes every byte and tracks how far we got (for progress)."""

    def __init__(self, fh: BinaryIO) -> None:
        self._fh = fh
        self.hash = hashlib.sha256()
        self.position = 0

    def read(self, size: int = -1) -> bytes:
        data = self._fh.read(size)
        self.hash.update(data)
        self.position += len(data)
        return data

    def drain(self) -> None:
        while self.read(CHUNK_BYTES * 4):
            pass


class TextSource:
    """A dataset file opened for reading as text. Use as a context manager."""

    def __init__(self, path: str | Path, chunk_bytes: int = CHUNK_BYTES) -> None:
        self.path = Path(path)
        self.name = self.path.name
        self.size = self.path.stat().st_size
        self.chunk_bytes = chunk_bytes
        self._file = open(self.path, "rb")
        self._raw = _HashingReader(self._file)
        head = self._file.read(2)
        self._file.seek(0)
        self.compressed = head == _GZIP_MAGIC
        self._stream = gzip.GzipFile(fileobj=self._raw, mode="rb") if self.compressed else self._raw  # type: ignore[arg-type]
        self._pending = self._read_bytes(max(chunk_bytes, 4))
        self.encoding = self._detect_encoding()
        self._decoded_bytes = 0  # bytes of the (decompressed) stream handed to the decoder
        self._lines_seen = 0
        self._started = False

    # -- lifecycle -------------------------------------------------------------------------
    def __enter__(self) -> "TextSource":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._file.close()

    @property
    def bytes_read(self) -> int:
        """Bytes of the file on disk read so far (compressed bytes for .gz), for progress."""
        return self._raw.position

    def fraction(self) -> float:
        return self.bytes_read / self.size if self.size else 1.0

    def source_hash(self) -> str:
        """sha256 of the raw file; reads the rest of the file if the parser stopped early."""
        self._raw.drain()
        return self._raw.hash.hexdigest()

    # -- bytes -----------------------------------------------------------------------------
    def _read_bytes(self, size: int) -> bytes:
        try:
            return self._stream.read(size)
        except (OSError, EOFError, zlib.error) as exc:
            raise DataImportError(
                f"{self.name} is not a valid gzip file or is truncated.",
                details=str(exc),
                advice="Decompress it to check it, or export the dataset again.",
            ) from exc

    def _detect_encoding(self) -> str:
        data = self._pending
        for bom, encoding in _BOMS:
            if data.startswith(bom):
                self._pending = data[len(bom) :]
                self._bom_bytes = len(bom)
                return encoding
        self._bom_bytes = 0
        nul = data.find(b"\x00")
        if nul >= 0:
            raise DataImportError(
                f"{self.name} is not a UTF-8 text file: byte offset {nul} is a NUL byte.",
                details="The file is binary, or UTF-16 text without a byte order mark.",
                advice=_SAVE_AS_UTF8,
            )
        return "utf-8"

    # -- text ------------------------------------------------------------------------------
    def chunks(self) -> Iterator[str]:
        """Decoded text, chunk by chunk. May be iterated once."""
        if self._started:
            raise RuntimeError("TextSource.chunks() may be iterated only once")
        self._started = True
        decoder = codecs.getincrementaldecoder(self.encoding)(errors="strict")
        data = self._pending
        self._pending = b""
        while True:
            final = not data
            text = self._decode(decoder, data, final)
            if text:
                self._lines_seen += text.count("\n")
                yield text
            if final:
                return
            data = self._read_bytes(self.chunk_bytes)

    def _decode(self, decoder: codecs.IncrementalDecoder, data: bytes, final: bool) -> str:
        buffered = len(decoder.getstate()[0])
        try:
            text = decoder.decode(data, final)
        except UnicodeDecodeError as exc:
            # exc.start counts from the decoder's buffered bytes, which precede `data`.
            offset = self._bom_bytes + self._decoded_bytes - buffered + exc.start
            partial = exc.object[: exc.start].decode(self.encoding, errors="replace")
            line = self._lines_seen + partial.count("\n") + 1
            where = "of the decompressed data " if self.compressed else ""
            raise DataImportError(
                f"{self.name} is not valid {self.encoding.upper()} text: "
                f"byte offset {offset} {where}(line {line}) cannot be decoded.",
                details=f"{exc.reason}: byte(s) {exc.object[exc.start:exc.end]!r}",
                advice=_SAVE_AS_UTF8,
            ) from exc
        self._decoded_bytes += len(data)
        return text

    def lines(self) -> Iterator[tuple[int, str]]:
        """(1-based line number, line without its line ending). Splits on '\\n' only, so
        U+2028 and friends inside JSON strings stay where they are."""
        number = 0
        rest = ""
        for chunk in self.chunks():
            parts = (rest + chunk).split("\n")
            rest = parts.pop()
            for part in parts:
                number += 1
                yield number, part[:-1] if part.endswith("\r") else part
        if rest:
            yield number + 1, rest[:-1] if rest.endswith("\r") else rest

    def raw_lines(self) -> Iterator[str]:
        """Lines with their endings kept, as the csv module wants them."""
        rest = ""
        for chunk in self.chunks():
            parts = (rest + chunk).split("\n")
            rest = parts.pop()
            for part in parts:
                yield part + "\n"
        if rest:
            yield rest

    def head_text(self) -> str:
        """The first decoded chunk, without consuming the stream (for sniffing)."""
        decoder = codecs.getincrementaldecoder(self.encoding)(errors="replace")
        return decoder.decode(self._pending, False)


def open_text(path: str | Path, chunk_bytes: Optional[int] = None) -> TextSource:
    return TextSource(path, chunk_bytes or CHUNK_BYTES)
