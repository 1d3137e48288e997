"""User-facing errors.

Everything a user can cause (a bad config key, a missing file, a malformed date, a
blocking data-quality failure) is raised as a :class:`ShoprecError` subclass whose
message is one line naming the file, key, column or value at fault. The CLI prints
that line and exits non-zero; any other exception is a bug and gets a traceback
with ``--verbose``.
"""

from __future__ import annotations


class ShoprecError(Exception):
    """A problem the user can fix; ``str(err)`` is the one-line message."""

    exit_code: int = 2


class ConfigError(ShoprecError):
    """The configuration file is missing, unreadable or invalid."""


class InputError(ShoprecError):
    """An input path, source format, date or record set cannot be used."""


class ValidationFailed(ShoprecError):
    """A blocking data-quality expectation failed; nothing downstream was written."""

    exit_code = 3
