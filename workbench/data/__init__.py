"""Dataset import: inputs per file type (text, Parquet, Arrow, Hugging Face folders, folders of
text files), format detection and normalisation, column mapping, validation, problem reports,
and the normalised Parquet files (Qt-free, torch-free).

The public surface other layers use is re-exported here.
"""

from workbench.data.formats.detect import FORMATS, RecordFormat, Turn, detect_format, get_format, register_format
from workbench.data.ingest.importer import ImportOutcome, import_file
from workbench.data.ingest.input_base import ReadOptions
from workbench.data.ingest.inputs import source_hash
from workbench.data.formats.mapping import ColumnMapping
from workbench.data.formats.mapping_guess import MappingChoices
from workbench.data.formats.normalise import NormalisedRecord, normalise_record
from workbench.data.storage.parquet_io import ROW_GROUP_ROWS, SCHEMA, count_rows, iter_messages, read_rows
from workbench.data.ingest.partials import clean_stale_partials
from workbench.data.ingest.preview import ImportPreview, preview_file
from workbench.data.formats.problems import Issue, Location, Problem, ProblemKind
from workbench.data.ingest.readers import TEXT_MODES, RawRecord, RecordReader, register_reader, supported_extensions
from workbench.data.formats.report import write_problems
from workbench.data.formats.unused import UnusedField

__all__ = [
    "FORMATS", "RecordFormat", "Turn", "detect_format", "get_format", "register_format",
    "ImportOutcome", "ImportPreview", "NormalisedRecord", "import_file", "normalise_record",
    "preview_file", "ReadOptions", "source_hash", "ColumnMapping", "ROW_GROUP_ROWS", "SCHEMA", "count_rows",
    "iter_messages", "read_rows", "clean_stale_partials", "Issue", "Location", "Problem",
    "ProblemKind", "supported_extensions", "TEXT_MODES", "RawRecord", "RecordReader",
    "register_reader", "write_problems", "MappingChoices", "UnusedField",
]
