"""Errors and warnings about a user's data, shared by every data kind."""
from __future__ import annotations

__all__ = ["DataError", "DataWarning"]


class DataError(ValueError):
    """Input data that cannot be used; the message names the file, row, column or label and the fix."""


class DataWarning(UserWarning):
    """Something in the data was left out or changed; the message names it and why."""
