"""Dataset import: readers per file type, format detection and normalisation, validation,
and the normalised Parquet files (Qt-free, torch-free).

The public surface other layers use is re-exported here.
"""

from workbench.data.formats import FORMATS, RecordFormat, Turn, detect_format, get_format, register_format
from workbench.data.importer import (
    ImportOutcome,
    ImportPreview,
    NormalisedRecord,
    import_file,
    normalise_record,
    preview_file,
)
from workbench.data.parquet_io import SCHEMA, count_rows, iter_messages, read_rows
from workbench.data.problems import Issue, Location, Problem, ProblemKind
from workbench.data.readers import SUPPORTED_EXTENSIONS, RawRecord, RecordReader, register_reader

__all__ = [
    "FORMATS", "RecordFormat", "Turn", "detect_format", "get_format", "register_format",
    "ImportOutcome", "ImportPreview", "NormalisedRecord", "import_file", "normalise_record",
    "preview_file", "SCHEMA", "count_rows", "iter_messages", "read_rows",
    "Issue", "Location", "Problem", "ProblemKind",
    "SUPPORTED_EXTENSIONS", "RawRecord", "RecordReader", "register_reader",
]
