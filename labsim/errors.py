"""Errors that carry a one-line message for the user and an exit code."""

from __future__ import annotations


class LabsimError(Exception):
    """A failure the user can act on; ``str(err)`` is the one-line message."""

    exit_code: int = 1

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class UserInputError(LabsimError):
    """Bad input (topology file, command-line argument): exit code 2, nothing created."""

    exit_code = 2


class EngineError(LabsimError):
    """The container engine is missing, refuses, or failed underneath labsim."""

    exit_code = 2


class CheckFailed(LabsimError):
    """A lab check or exercise did not pass."""

    exit_code = 1
