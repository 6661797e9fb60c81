"""A small wheel laid out like RecBole's: three users' ratings in its ``ml-100k`` atomic files,
with the metadata pip needs to take it as ``recbole==1.2.1`` from a local folder."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import numpy as np

from cdlab.movielens_pypi import MEMBERS

NAME = "recbole-1.2.1-py3-none-any.whl"
COUNTS = {1: 12, 2: 30, 3: 20}  # ratings per user: each has more than ua.test's ten
USERS = ("user_id:token\tage:token\tgender:token\toccupation:token\tzip_code:token\n"
         "1\t24\tM\ttechnician\t85711\n"
         "2\t53\tF\tother\t94043\n"
         "3\t23\tM\twriter\t32067\n")  # fmt: skip
ITEMS = ("item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n"
         "1\tToy Story\t1995\tAnimation Children's Comedy\n"
         "2\tMisérables, Les\t1995\tDrama Musical\n"
         "3\tunkonwn\tunkonwn\tunknown\n")  # fmt: skip


def ratings(seed: int = 7) -> np.ndarray:
    """``user item rating timestamp`` rows, users interleaved as in u.data."""
    rng = np.random.default_rng(seed)
    rows = [
        (user, item, rng.integers(1, 6), 874_724_710 + rng.integers(0, 10**7))
        for user, count in COUNTS.items()
        for item in rng.choice(np.arange(1, 4), count)
    ]
    return np.array(rows, dtype=np.int64)[rng.permutation(len(rows))]


def make(folder: Path, rows: np.ndarray) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    header = "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
    inter = header + "".join("\t".join(map(str, r)) + "\n" for r in rows.tolist())
    info = "recbole-1.2.1.dist-info"
    with zipfile.ZipFile(folder / NAME, "w") as wheel:
        wheel.writestr(f"{MEMBERS}.inter", inter)
        wheel.writestr(f"{MEMBERS}.user", USERS)
        wheel.writestr(f"{MEMBERS}.item", ITEMS.encode())
        wheel.writestr(f"{info}/METADATA", "Metadata-Version: 2.1\nName: recbole\nVersion: 1.2.1\n")
        wheel.writestr(
            f"{info}/WHEEL",
            "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        )
        wheel.writestr(f"{info}/RECORD", "")
    return folder / NAME


def ratings_sha256(wheel: Path) -> str:
    """What ``movielens_pypi.RATINGS_SHA256`` must be for this wheel to be taken."""
    with zipfile.ZipFile(wheel) as zf:
        return hashlib.sha256(zf.read(f"{MEMBERS}.inter")).hexdigest()
