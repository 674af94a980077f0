"""Reading a user's CSV file, with errors that say what to do."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from fastlearn.utils.errors import DataError

__all__ = ["read_table"]


def read_table(path: str | Path, encoding: str | None = None) -> pd.DataFrame:
    """A CSV as a DataFrame, with an error that names the file and what to do when it cannot be read."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file. Pass the path of a CSV file.")
    try:
        return pd.read_csv(path, encoding=encoding) if encoding else pd.read_csv(path)
    except UnicodeDecodeError as e:
        raise DataError(f"{path} is not UTF-8 ({e.reason} at byte {e.start}); pass its encoding, e.g. "
                        "encoding='latin-1' (--encoding latin-1 on the command line).") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as e:
        raise DataError(f"{path} could not be read as a CSV: {e}") from None
