"""Errors a user sees: each names the file (or argument) and what is wrong with it."""


class LatentError(Exception):
    """Base class: the CLI prints these as one line and exits with code 2."""

    def __init__(self, message: str, path=None):
        self.path = None if path is None else str(path)
        super().__init__(f"{self.path}: {message}" if self.path else message)


class InputError(LatentError, ValueError):
    """A data file is missing, corrupt, of an unknown format, or has the wrong shape/length."""


class CheckpointError(LatentError, ValueError):
    """A checkpoint cannot be used: wrong architecture, missing or unexpected keys."""


class TrainingError(LatentError, RuntimeError):
    """A training run cannot go on (e.g. its loss stopped being finite); the message says why."""


class UnsafeCheckpointError(CheckpointError):
    """A checkpoint's pickle asks to call code; it is refused before anything runs."""
