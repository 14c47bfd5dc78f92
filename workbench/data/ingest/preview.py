"""The preview of an import: the first records of a file as they would be imported, the fields
the import would not keep, and the column mapping a mapping step starts from."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from workbench.core.errors import DataImportError
from workbench.data.formats.detect import DETECT_SAMPLE, RecordFormat, detect_format, get_format
from workbench.data.ingest.importer import read_head, no_records_error
from workbench.data.ingest.input_base import ReadOptions
from workbench.data.formats.mapping import ColumnMapping
from workbench.data.formats.mapping_guess import MappingChoices, mapping_choices
from workbench.data.formats.normalise import NormalisedRecord, normalise_record, record_fields
from workbench.data.formats.unused import FieldTally, UnusedField


@dataclass(frozen=True)
class ImportPreview:
    """The first records of a file as they would be imported (for an import dialog)."""

    file_kind: str
    encoding: str
    format: str  # "" when detection failed and neither a format nor a mapping was given
    detected_format: str
    records: list[NormalisedRecord]  # unnormalised (no messages, no problems) when format is ""
    fields: list[str]  # top-level fields of the first records, for a column-mapping UI
    nested_fields: dict[str, list[str]] = field(default_factory=dict)  # keys inside list/object fields
    detection_error: str = ""  # why detection failed (the message import_file would raise)
    splits: tuple[str, ...] = ()  # a DatasetDict folder's splits
    split: Optional[str] = None  # the split shown
    mapping: Optional[dict[str, Any]] = None
    # Fields with values the format or mapping would not keep, counted over the records read.
    unused_fields: tuple[UnusedField, ...] = ()
    records_read: int = 0  # records read for detection and the counts (at least `records`)
    # The columns a mapping can use and the mapping to start from (the detected format's, or
    # one guessed from the field names).
    mapping_choices: Optional[MappingChoices] = None
    kind: str = "sft"  # "preference" when the format reads pairs (the version's kind)


def preview_file(
    path: str | Path,
    *,
    format: Optional[str] = None,
    limit: int = 20,
    mapping: Optional[ColumnMapping] = None,
    text_mode: Optional[str] = None,
    encoding: Optional[str] = None,
    split: Optional[str] = None,
) -> ImportPreview:
    """Detect the file type, encoding and format; normalise the first `limit` records (through
    the mapping when given). When detection fails and no format or mapping is given, the raw
    records come back with `detection_error` set, so a UI can offer a column mapping."""
    path = Path(path)
    read = ReadOptions(text_mode=text_mode, encoding=encoding, split=split)
    head, inp = read_head(path, read, max(limit, DETECT_SAMPLE))
    if not head:
        raise no_records_error(inp.name)
    fields, nested = record_fields(head)
    detected, detection_error = "", ""
    try:
        detected = detect_format((r.value for r in head if r.issue is None), inp.name).name
    except DataImportError as exc:
        detection_error = exc.user_message
    fmt: Optional[RecordFormat] = None
    if mapping is not None:
        fmt = mapping.as_format()
    elif format or detected:
        fmt = get_format(format or detected)
    unused: tuple[UnusedField, ...] = ()
    if fmt is not None:
        records = [normalise_record(raw, fmt, inp.name) for raw in head[:limit]]
        tally = FieldTally(fmt, get_format(detected) if detected and mapping is not None else None, inp.added_keys)
        for raw in head:
            tally.add(raw.value)
        unused = tally.result()
    else:
        records = [NormalisedRecord(raw.location, [], raw.value, []) for raw in head[:limit]]
    return ImportPreview(
        file_kind=inp.kind,
        encoding=inp.encoding,
        format=fmt.name if fmt else "",
        detected_format=detected,
        records=records,
        fields=fields,
        nested_fields=nested,
        detection_error=detection_error,
        splits=inp.splits,
        split=inp.split,
        mapping=mapping.to_dict() if mapping is not None else None,
        unused_fields=unused,
        records_read=len(head),
        mapping_choices=mapping_choices(fields, nested, [r.value for r in head], detected),
        kind="preference" if fmt is not None and fmt.preference else "sft",
    )
