"""Readers that turn a source into raw records, streaming, with file and line for every record."""

from pipeline.sources.files import SUPPORTED_FORMATS, RawRecord, expand_paths, read_records

__all__ = ["SUPPORTED_FORMATS", "RawRecord", "expand_paths", "read_records"]
