"""The one exception type for a user's mistake: the CLI prints its message as one line and exits 2."""


class UserError(Exception):
    """Bad input from the user (a missing file, a wrong option). Never shown as a traceback."""
