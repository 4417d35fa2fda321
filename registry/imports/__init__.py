"""Import and force sync of exchange files (issue 7). See docs/import.md for the format."""

from .engine import BATCH_SIZE, ImportResult, import_file, write_error_report
from .schema import KINDS, ImportFileError, RowError

__all__ = ["BATCH_SIZE", "KINDS", "ImportFileError", "ImportResult", "RowError", "import_file", "write_error_report"]
