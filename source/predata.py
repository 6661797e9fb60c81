"""Prepare the MovieLens data: channels in S3 and a Glue table (the deck's build step 1).

Usage: python3 source/predata.py <DataBucket> <GlueCatalogDatabase> [--data PATH]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cdlab import data
from cdlab.steps import prepare


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Write MovieLens 100k as one-hot recordio-protobuf train/test channels to "
        "S3, register the ratings in the Glue catalog, and write prepdata_result.json."
    )
    parser.add_argument("bucket", metavar="DataBucket", help="S3 bucket for the channels")
    parser.add_argument("database", metavar="GlueCatalogDatabase", help="Glue database name")
    parser.add_argument(
        "--data",
        type=Path,
        help="the real MovieLens 100k (a directory or ml-100k.zip); default: generated offline",
    )
    parser.add_argument(
        "--download", action="store_true", help=f"download {data.ARCHIVE} first (needs network)"
    )
    args = parser.parse_args(argv)
    source = args.data
    try:
        if args.download:
            source = data.download(Path.cwd())
        prepare.run(args.bucket, args.database, source, Path.cwd())
    except (data.DataError, data.DownloadError) as e:
        print(f"predata: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
