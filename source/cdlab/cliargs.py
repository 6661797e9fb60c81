"""The argument types of ``cdlab``'s options: each refuses a value with argparse's
ArgumentTypeError in plain words ("argument --rate: must be a number, not 'x'"), where a plain
function would show its own name ("invalid float value")."""

from __future__ import annotations

import argparse

from cdlab import config


def port(text: str) -> int:
    try:
        return config.port_number(text)
    except config.ConfigError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def whole_number(text: str, least: int = 0) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, not {text!r}") from None
    if value < least:
        raise argparse.ArgumentTypeError(f"must be {least} or more, not {value}")
    return value


def at_least_one(text: str) -> int:
    return whole_number(text, least=1)


def number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, not {text!r}") from None


def rates(text: str) -> list[float]:
    try:
        return [float(rate) for rate in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be rates separated by commas, such as 10,50,100, not {text!r}"
        ) from None
