"""One exception type for problems the user can fix; commands print its message on one line."""


class UserError(Exception):
    """Bad input: the message names the file or flag and says what to do."""

    exit_code = 2
