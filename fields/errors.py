"""Errors a user can cause (bad files, bad settings). Their message is the whole story: the
command line prints it on one line, the app shows it in the status bar."""


class FieldscopeError(Exception):
    """Base of every error caused by input rather than by a bug."""


class ConfigError(FieldscopeError):
    """A field, scene or training setting is out of range."""


class InputError(FieldscopeError):
    """A data file is missing, unreadable, damaged or too large; the message names the file."""


class SnapshotError(FieldscopeError):
    """A snapshot file is truncated, damaged, foreign, of another kind or from a newer version."""
