"""Test the QA endpoint and gate the pipeline on the match rate (the deck's test stage).

Usage: python3 source/test.py <EndpointName> prepdata_result.json <configuration_qa.json>
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cdlab.steps import gate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Call the endpoint with the held-out test channel, print predictions and the "
        "match rate, and exit 1 when it is under the threshold."
    )
    parser.add_argument(
        "endpoint",
        metavar="EndpointName",
        help="the endpoint, or its prefix when the configuration names a commit and timestamp",
    )
    parser.add_argument("prepdata", metavar="prepdata_result.json", type=Path)
    parser.add_argument("configuration", metavar="configuration_qa.json", type=Path)
    parser.add_argument(
        "--threshold",
        type=float,
        help=f"minimum match rate (default: the configuration's {gate.THRESHOLD_TAG} tag, "
        f"else {gate.DEFAULT_THRESHOLD})",
    )
    args = parser.parse_args(argv)
    match_rate, threshold = gate.run(
        args.endpoint, args.prepdata, args.configuration, args.threshold
    )
    if match_rate < threshold:
        print(f"test: match rate {match_rate:.4f} is under {threshold:.2f}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
