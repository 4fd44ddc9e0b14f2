"""Argument types that refuse bad values at parse time (exit 2 with the flag named), never later.

Every number flag says its range; non-finite floats (nan, inf) are refused everywhere.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable


def whole(lo: int, hi: int | None = None) -> Callable[[str], int]:
    """A whole number in [lo, hi]."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < lo or (hi is not None and value > hi):
            span = f">= {lo}" if hi is None else f"from {lo} to {hi}"
            raise argparse.ArgumentTypeError(f"must be {span}, got {value}")
        return value
    return parse


def number(lo: float, hi: float | None = None, *, above: bool = False, below: bool = False) -> Callable[[str], float]:
    """A finite number >= lo (> lo with `above`) and <= hi (< hi with `below`)."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        low_ok = value > lo if above else value >= lo
        high_ok = hi is None or (value < hi if below else value <= hi)
        if not math.isfinite(value) or not low_ok or not high_ok:
            span = f"{'above' if above else 'at least'} {lo:g}" if math.isfinite(lo) else ""
            if hi is not None:
                span += f" and {'below' if below else 'at most'} {hi:g}"
            span = f" {span.strip()}" if span.strip() else ""
            raise argparse.ArgumentTypeError(f"must be a finite number{span}, got {text}")
        return value
    return parse


def run_id(text: str) -> str:
    from factbench.store.jsonl import InputFileError
    from factbench.store.run_dir import check_run_id

    try:
        return check_run_id(text)
    except InputFileError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


POSITIVE = whole(1)
NON_NEGATIVE = whole(0)
SECONDS = number(0, above=True)
FINITE = number(-math.inf)
