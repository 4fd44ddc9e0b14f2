"""Errors that stop a whole run, as opposed to one sample's stage.

A sample's failure is recorded and the run goes on; a `RunAborted` cancels every worker at
once (a disk that is full, a judge that is gone), leaves the run directory resumable, and
becomes one line on the console and the exit code below.
"""

from __future__ import annotations


class RunAborted(Exception):
    """The run cannot go on; what was written so far is kept and a re-run resumes."""

    exit_code = 1
