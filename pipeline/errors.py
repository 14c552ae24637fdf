"""The failures a user can fix, under one base class.

The CLI turns any PipelineError into one line, `error: <message>`, and exit code 2; anything else is a bug
and keeps its traceback. Each subclass is raised where the problem is detected, with a message that names
the file, key or command involved. The classes that several layers raise live here; the others live beside
the code that raises them.
"""


class PipelineError(Exception):
    """A known failure with a message meant for the user."""


class DataError(PipelineError, ValueError):
    """A data file is missing, unreadable, or its rows cannot be used; the message names the file and row."""


class ParityError(PipelineError):
    """An ONNX model disagrees with PyTorch beyond the configured tolerance."""


class MissingOutputError(PipelineError, FileNotFoundError):
    """An upstream stage's output is not there yet; the message names the command that makes it."""
