"""The real MovieLens 100k where only PyPI is reachable: rebuilt from RecBole's wheel.

GroupLens's server is often out of reach (offline labs, corporate proxies) while a package index
is not. RecBole's wheel ships the 100,000 ratings as ``ml-100k.inter``: a header line, then
``u.data``'s lines in ``u.data``'s order. From it this module writes the five files the kit reads:

- ``u.data``: the ratings, verbatim (checked against a pinned SHA-256 of RecBole's file);
- ``ua.base`` / ``ua.test``: GroupLens's own split, which ``mku.sh`` makes with ``allbut.pl``:
  each user's first 10 ratings in ``u.data`` order go to ``ua.test``, the rest to ``ua.base``,
  both sorted by user then item;
- ``u.user``: the same five fields, ``|``-separated;
- ``u.item``: ids, titles with the year, and the genre flags; RecBole keeps no release day or
  IMDb URL, so those fields are empty.

Command line: ``python -m cdlab.movielens_pypi DIR`` (downloads the wheel with pip), or
``--wheel PATH`` for a wheel already on disk.
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from cdlab import data

REQUIREMENT = "recbole==1.2.1"
MEMBERS = "recbole/dataset_example/ml-100k/ml-100k"
RATINGS_SHA256 = "4edb74e2a81178c2ba9ff381495f754f996c4aea351b1272ca36b43da0935eff"
UNKNOWN_TITLE = {"unkonwn": "unknown"}  # RecBole's spelling of GroupLens's placeholder film
PIP_TIMEOUT = 300.0


def fetch_wheel(dest: Path, requirement: str = REQUIREMENT) -> Path:
    """Download the wheel (no dependencies) with this interpreter's pip; returns its path."""
    dest.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:"]
    try:
        done = subprocess.run(
            [*command, "--dest", str(dest), requirement],
            capture_output=True,
            text=True,
            timeout=PIP_TIMEOUT,
        )
    except subprocess.TimeoutExpired as e:
        raise data.DownloadError(f"pip download {requirement} took over {PIP_TIMEOUT:.0f} s") from e
    wheels = sorted(dest.glob("*.whl"))
    if done.returncode != 0 or not wheels:
        said = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise data.DownloadError(f"pip could not download {requirement}: {said}")
    return wheels[0]


def _member(wheel: zipfile.ZipFile, suffix: str) -> list[list[str]]:
    """The rows of one RecBole atomic file (tab-separated, a typed header line dropped)."""
    name = f"{MEMBERS}.{suffix}"
    try:
        text = wheel.read(name).decode("utf-8")
    except KeyError:
        raise data.DataError(f"the wheel has no {name}") from None
    return [line.split("\t") for line in text.splitlines()[1:] if line]


def _ratings(wheel: zipfile.ZipFile, expected_sha256: str) -> np.ndarray:
    raw = wheel.read(f"{MEMBERS}.inter")
    digest = hashlib.sha256(raw).hexdigest()
    if digest != expected_sha256:
        raise data.DataError(
            f"{MEMBERS}.inter has SHA-256 {digest}, not the pinned {expected_sha256}: "
            "not the MovieLens 100k ratings this module knows"
        )
    body = raw.decode("utf-8").split("\n", 1)[1]
    return np.array(body.split(), dtype=np.int64).reshape(-1, 4)


def ua_split(ratings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``allbut.pl ua 1 10``: each user's first 10 rows (in file order) are the test rows."""
    order = np.argsort(ratings[:, 0], kind="stable")
    users = ratings[order, 0]
    starts = np.searchsorted(users, users)
    test = np.zeros(len(ratings), dtype=bool)
    test[order[np.arange(len(ratings)) - starts < data.TEST_PER_USER]] = True

    def by_user_item(rows: np.ndarray) -> np.ndarray:
        return rows[np.lexsort((rows[:, 1], rows[:, 0]))]

    return by_user_item(ratings[~test]), by_user_item(ratings[test])


def _ratings_text(rows: np.ndarray) -> str:
    return "".join(f"{u}\t{i}\t{r}\t{t}\n" for u, i, r, t in rows.tolist())


def _item_line(item_id: str, title: str, year: str, genres: str) -> str:
    title = UNKNOWN_TITLE.get(title, title)
    if year.isdigit():
        title = f"{title} ({year})"
    tokens = set(genres.split())
    flags = "|".join("1" if genre in tokens else "0" for genre in data.GENRES)
    return f"{item_id}|{title}||||{flags}\n"


def rebuild(wheel_path: Path, dest: Path, expected_sha256: str | None = None) -> Path:
    """Write the five MovieLens 100k files from the wheel into ``dest``; returns ``dest``.

    The ratings must have ``expected_sha256`` (default: the pinned digest of RecBole's copy).
    """
    if not zipfile.is_zipfile(wheel_path):
        raise data.DataError(f"{wheel_path} is not a wheel (zip archive)")
    with zipfile.ZipFile(wheel_path) as wheel:
        ratings = _ratings(wheel, expected_sha256 or RATINGS_SHA256)
        users = _member(wheel, "user")
        items = _member(wheel, "item")
    base, test = ua_split(ratings)
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "u.data").write_text(_ratings_text(ratings))
    (dest / "ua.base").write_text(_ratings_text(base))
    (dest / "ua.test").write_text(_ratings_text(test))
    (dest / "u.user").write_text(
        "".join("|".join(user) + "\n" for user in users), encoding=data.ENCODING
    )
    (dest / "u.item").write_text(
        "".join(_item_line(*item) for item in items), encoding=data.ENCODING, errors="replace"
    )
    return dest


def download(dest: Path) -> Path:
    """Fetch the wheel with pip and rebuild the files into ``dest``."""
    with tempfile.TemporaryDirectory() as wheels:
        return rebuild(fetch_wheel(Path(wheels)), dest)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m cdlab.movielens_pypi", description=__doc__.split("\n")[0]
    )
    parser.add_argument("dir", type=Path, help="where to write u.data, ua.base, ua.test, ...")
    parser.add_argument("--wheel", type=Path, help=f"a {REQUIREMENT} wheel already on disk")
    args = parser.parse_args(argv)
    try:
        if args.wheel:
            rebuild(args.wheel, args.dir)
        else:
            print(f"downloading {REQUIREMENT} from the package index ...", file=sys.stderr)
            download(args.dir)
    except (data.DataError, data.DownloadError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(args.dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
