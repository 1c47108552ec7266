"""The exception types the CLI prints as one line and exits on, never as a traceback."""


class UserError(Exception):
    """Bad input from the user (a missing file, a wrong option). Never shown as a traceback."""


class StorageError(UserError):
    """A file could not be written (a full disk, a read-only or vanished folder): one line, status 1.
    Whatever was at that path before is unchanged."""

    exit_code = 1
