"""The one exception type for mistakes a user can fix (bad config, bad input file).

The CLI prints its message on one line and exits with code 2; everything else is a bug
and keeps its traceback.
"""


class BabylmError(Exception):
    """A user-fixable error. The message names the field or file (and line) at fault."""


EXIT_USER_ERROR = 2
