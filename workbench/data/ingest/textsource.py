"""Decoded text from a dataset file, streamed in chunks, with progress and a hash of the raw bytes.

Handles gzip (by its magic bytes), UTF-8, UTF-8 with BOM and UTF-16/UTF-32 with a BOM. Other
encodings (Windows-1252, Latin-1, ...) are read only when the caller names the encoding;
otherwise the first undecodable byte fails with a DataImportError naming the file, the byte
offset and the line, and saying which 8-bit encoding the text looks like.
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
_UTF_FAMILY = ("utf-8", "utf-16", "utf-32")
# Bytes Windows-1252 leaves undefined: text holding them is not cp1252.
_CP1252_UNDEFINED = frozenset(b"\x81\x8d\x8f\x90\x9d")


def check_encoding(encoding: str) -> str:
    """The codec's canonical name, or a DataImportError for a name Python does not know."""
    try:
        info = codecs.lookup(encoding)
        if getattr(info, "_is_text_encoding", True):  # not base64, zlib, rot13, ...
            return info.name
    except LookupError:
        pass
    raise DataImportError(
        f"Unknown text encoding '{encoding}'.",
        advice="Use an encoding name such as utf-8, cp1252 (Windows, Western European), "
        "latin-1 or utf-16.",
    )


def guess_8bit(data: bytes) -> str:
    """The 8-bit encoding non-UTF-8 text most likely uses: cp1252 unless it holds bytes
    cp1252 leaves undefined (then Latin-1, which decodes any byte)."""
    return "latin-1" if _CP1252_UNDEFINED.intersection(data) else "cp1252"


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

    def __init__(self, path: str | Path, chunk_bytes: int = CHUNK_BYTES, encoding: Optional[str] = None,
                 display_name: Optional[str] = None) -> None:
        self.path = Path(path)
        self.name = display_name or self.path.name
        self.requested_encoding = check_encoding(encoding) if encoding else None
        self.size = self.path.stat().st_size
        self.chunk_bytes = chunk_bytes
        self._file = open(self.path, "rb")
        self._raw = _HashingReader(self._file)
        head = self._file.read(2)
        self._file.seek(0)
        self.compressed = head == _GZIP_MAGIC
        self._stream = gzip.GzipFile(fileobj=self._raw, mode="rb") if self.compressed else self._raw  # type: ignore[arg-type]
        try:
            self._pending = self._read_bytes(max(chunk_bytes, 4))
            self.encoding = self._detect_encoding()
        except BaseException:
            self._file.close()
            raise
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
        requested = self.requested_encoding
        if requested and not requested.startswith(_UTF_FAMILY):
            self._bom_bytes = 0
            return requested  # the user's choice: no BOM, no NUL check
        for bom, encoding in _BOMS:
            if data.startswith(bom):
                self._pending = data[len(bom) :]
                self._bom_bytes = len(bom)
                return encoding
        self._bom_bytes = 0
        if requested and requested != "utf-8":
            return requested  # UTF-16/32 without a BOM, as the user says
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
            raise self._decode_error(exc, offset, self._lines_seen) from exc
        except UnicodeError as exc:  # e.g. 'utf-16' chosen for text without a byte order mark
            raise DataImportError(
                f"{self.name} cannot be read as {self.encoding.upper()} text: {exc}.",
                advice="Choose the exact encoding (for UTF-16 without a byte order mark: utf-16-le "
                "or utf-16-be), or save the file as UTF-8.",
            ) from exc
        self._decoded_bytes += len(data)
        return text

    def _decode_error(self, exc: UnicodeDecodeError, offset: int, lines_before: int) -> DataImportError:
        """Where decoding failed, and (for UTF-8) which 8-bit encoding the text looks like."""
        partial = exc.object[: exc.start].decode(self.encoding, errors="replace")
        line = lines_before + partial.count("\n") + 1
        where = "of the decompressed data " if self.compressed else ""
        name = self.encoding.upper()
        message = f"{self.name} is not valid {name} text: byte offset {offset} {where}(line {line}) cannot be decoded."
        advice = _SAVE_AS_UTF8
        if self.encoding == "utf-8" and self.requested_encoding is None:
            guess = guess_8bit(bytes(exc.object))
            label = "Windows-1252 (Western European)" if guess == "cp1252" else "Latin-1 (ISO-8859-1)"
            message += f" It looks like {label} text."
            advice = (f"Save the file as UTF-8 (most editors offer it under 'Save as' / 'Encoding') "
                      f"and import it again, or import it with the encoding set to {guess}.")
        return DataImportError(
            message,
            details=f"{exc.reason}: byte(s) {bytes(exc.object[exc.start:exc.end])!r}",
            advice=advice,
        )

    def lines(self) -> Iterator[tuple[int, str]]:
        """(1-based line number, line without its line ending). Splits on '\\n' only, so
        U+2028 and friends inside JSON strings stay where they are."""
        number = 0
        for line in self._split_lines():
            number += 1
            yield number, line[:-1] if line.endswith("\r") else line

    def raw_lines(self) -> Iterator[str]:
        """Lines with their endings kept, as the csv module wants them."""
        lines = self._split_lines()
        previous = next(lines, None)
        for line in lines:
            yield previous + "\n"  # type: ignore[operator]
            previous = line
        if previous is not None:
            yield previous if self._ends_without_newline else previous + "\n"

    def _split_lines(self) -> Iterator[str]:
        """The text split on '\\n' (the endings dropped). A line spanning many chunks is joined
        once at its end, so a 50 MB line costs 50 MB, not 50 MB per chunk."""
        pending: list[str] = []
        self._ends_without_newline = False
        for chunk in self.chunks():
            if "\n" not in chunk:
                pending.append(chunk)
                continue
            parts = chunk.split("\n")
            if pending:
                pending.append(parts[0])
                parts[0] = "".join(pending)
                pending = []
            rest = parts.pop()
            yield from parts
            if rest:
                pending.append(rest)
        if pending:
            self._ends_without_newline = True
            yield "".join(pending)

    def line_blocks(self, block_bytes: int) -> Iterator[tuple[memoryview, int]]:
        """UTF-8 only: the raw bytes in blocks of whole lines (the last may lack its '\\n'),
        each with its byte offset in the (decompressed) text. An alternative to chunks(): the
        caller counts lines, and decodes a block with decode_block() when it must be read as
        text after all."""
        if self._started:
            raise RuntimeError("TextSource may be read only once")
        if self.encoding != "utf-8":
            raise RuntimeError("line_blocks() needs UTF-8 text")
        self._started = True
        buf, self._pending = self._pending, b""
        eof = False
        while True:
            while not eof and len(buf) < block_bytes:
                data = self._read_bytes(max(block_bytes - len(buf), 1024))
                eof = not data
                buf = buf + data if buf else data
            if not buf:
                return
            cut = len(buf) if eof and len(buf) <= block_bytes else buf.rfind(b"\n", 0, block_bytes) + 1
            if cut == 0:  # a line longer than a block: read on until it ends
                found = buf.find(b"\n", block_bytes)
                pieces, size = [buf], len(buf)  # joined once: no quadratic copying
                while found < 0 and not eof:
                    data = self._read_bytes(max(block_bytes, size))
                    eof = not data
                    found = data.find(b"\n")
                    if found >= 0:
                        found += size
                    pieces.append(data)
                    size += len(data)
                buf = b"".join(pieces) if len(pieces) > 1 else buf
                cut = found + 1 if found >= 0 else len(buf)
            # A view, not a copy: the caller hands it to numpy and pyarrow as it is.
            block, buf = (memoryview(buf), b"") if cut == len(buf) else (memoryview(buf)[:cut], buf[cut:])
            yield block, self._offset(block)

    def _offset(self, block: memoryview) -> int:
        offset = self._bom_bytes + self._decoded_bytes
        self._decoded_bytes += len(block)
        return offset

    def decode_block(self, block: bytes | memoryview, offset: int, first_line: int) -> str:
        """The text of a block from line_blocks(), with the usual error on bad bytes."""
        try:
            return bytes(block).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise self._decode_error(exc, offset + exc.start, first_line - 1) from exc

    def head_text(self) -> str:
        """The first decoded chunk, without consuming the stream (for sniffing)."""
        decoder = codecs.getincrementaldecoder(self.encoding)(errors="replace")
        try:
            return decoder.decode(self._pending, False)
        except UnicodeError:
            return ""  # reading the text reports it properly
