"""Readers that turn a source into raw records, streaming, with file and line for every record."""

from pipeline.sources.files import SUPPORTED_FORMATS, expand_paths, read_records
from pipeline.sources.records import RawRecord, ReadOptions, SourceError

__all__ = ["SUPPORTED_FORMATS", "RawRecord", "ReadOptions", "SourceError", "expand_paths", "read_records"]
