"""The summary of a headless notebook run: ``index.html`` for people, ``junit.xml`` for CI.

One row (one JUnit testcase) per notebook: pass or fail, duration, and the first error with its
traceback. Kernel tracebacks carry ANSI colour codes, which XML cannot hold, so they are stripped.
"""

from __future__ import annotations

import html
import re
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

SUITE = "cdlab-notebooks"
_UNPRINTABLE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]|[\x00-\x08\x0b\x0c\x0e-\x1f]")


def plain(text: str) -> str:
    """``text`` without ANSI escapes and the control characters XML 1.0 refuses."""
    return _UNPRINTABLE.sub("", text)


@dataclass(frozen=True)
class Failure:
    """A notebook's first error."""

    ename: str
    evalue: str
    traceback: str

    @classmethod
    def of(cls, ename: str, evalue: str, traceback: str) -> Failure:
        return cls(plain(ename), plain(evalue), plain(traceback))

    @property
    def message(self) -> str:
        return f"{self.ename}: {self.evalue}"


@dataclass(frozen=True)
class Outcome:
    """How one notebook's run went; ``html`` is None when nothing was executed to show."""

    notebook: Path
    seconds: float
    failure: Failure | None = None
    html: Path | None = None

    @property
    def passed(self) -> bool:
        return self.failure is None


def _totals(outcomes: list[Outcome]) -> tuple[int, float]:
    """How many failed, and the seconds they all took."""
    return sum(not o.passed for o in outcomes), sum(o.seconds for o in outcomes)


def write_index(outcomes: list[Outcome], path: Path) -> None:
    failed, seconds = _totals(outcomes)
    rows = []
    for o in outcomes:
        result = "passed" if o.passed else "FAILED"
        error = html.escape(o.failure.message) if o.failure else ""
        name = html.escape(o.html.name) if o.html else ""
        link = f'<a href="{name}">{name}</a>' if o.html else ""
        rows.append(
            f'<tr class="{result.lower()}"><td>{html.escape(str(o.notebook))}</td>'
            f"<td>{result}</td><td>{o.seconds:.1f} s</td><td><pre>{error}</pre></td>"
            f"<td>{link}</td></tr>"
        )
    path.write_text(
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>CD Lab notebooks</title>\n'
        "<style>body{font-family:sans-serif}td,th{padding:4px 8px;text-align:left;"
        "vertical-align:top}pre{margin:0;white-space:pre-wrap}.passed td:nth-child(2)"
        "{color:green}.failed td:nth-child(2){color:#b00;font-weight:bold}</style></head>\n"
        f"<body><h1>CD Lab notebooks</h1>\n<p>{len(outcomes) - failed} passed, {failed} failed, "
        f"{seconds:.1f} s in all ({time.strftime('%Y-%m-%d %H:%M:%S %Z')})</p>\n"
        "<table><tr><th>notebook</th><th>result</th><th>duration</th><th>first error</th>"
        "<th>executed</th></tr>\n" + "\n".join(rows) + "\n</table></body></html>\n"
    )


def write_junit(outcomes: list[Outcome], path: Path) -> None:
    failed, seconds = _totals(outcomes)
    counts = {"tests": str(len(outcomes)), "failures": str(failed), "errors": "0"}
    suites = ET.Element("testsuites", name=SUITE, time=f"{seconds:.3f}", **counts)
    suite = ET.SubElement(
        suites,
        "testsuite",
        name=SUITE,
        time=f"{seconds:.3f}",
        timestamp=time.strftime("%Y-%m-%dT%H:%M:%S"),
        skipped="0",
        **counts,
    )
    for o in outcomes:
        case = ET.SubElement(
            suite,
            "testcase",
            classname=o.notebook.parent.name or SUITE,
            name=o.notebook.stem,
            file=str(o.notebook),
            time=f"{o.seconds:.3f}",
        )
        if o.failure is not None:
            ET.SubElement(
                case, "failure", message=o.failure.message, type=o.failure.ename
            ).text = o.failure.traceback
    ET.indent(suites)
    ET.ElementTree(suites).write(path, encoding="utf-8", xml_declaration=True)
