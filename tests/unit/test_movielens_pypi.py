"""The real MovieLens 100k rebuilt from a RecBole wheel: tested on a small wheel of the same
layout, fetched through the real pip from a local folder, never from the network."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

from cdlab import data, movielens_pypi
from cdlab.localcloud.control import free_port
from tests import recbole_wheel


@pytest.fixture
def ratings() -> np.ndarray:
    return recbole_wheel.ratings()


@pytest.fixture
def wheel(tmp_path: Path, ratings: np.ndarray) -> Path:
    return recbole_wheel.make(tmp_path / "index", ratings)


def test_rebuild_writes_u_data_verbatim_and_grouplens_ua_split(
    wheel: Path, ratings: np.ndarray, tmp_path: Path
) -> None:
    out = movielens_pypi.rebuild(
        wheel, tmp_path / "ml-100k", expected_sha256=recbole_wheel.ratings_sha256(wheel)
    )
    u_data = data.load_ratings(out, "u.data")
    assert np.array_equal(u_data.user, ratings[:, 0]) and np.array_equal(
        u_data.timestamp, ratings[:, 3]
    )
    base, test = data.load_ratings(out, "ua.base"), data.load_ratings(out, "ua.test")
    assert len(base) + len(test) == len(ratings)
    for (
        user
    ) in recbole_wheel.COUNTS:  # allbut.pl: each user's first ten lines of u.data are the test set
        first_ten = ratings[ratings[:, 0] == user][: data.TEST_PER_USER]
        mine = test.user == user
        assert sorted(map(tuple, first_ten[:, [1, 3]].tolist())) == sorted(
            zip(test.item[mine].tolist(), test.timestamp[mine].tolist(), strict=True)
        )
    for split in (base, test):  # sorted by user, then item, as mku.sh leaves them
        keys = list(zip(split.user.tolist(), split.item.tolist(), strict=True))
        assert keys == sorted(keys)


def test_rebuild_writes_users_and_items_the_kit_reads(wheel: Path, tmp_path: Path) -> None:
    out = movielens_pypi.rebuild(
        wheel, tmp_path / "ml-100k", expected_sha256=recbole_wheel.ratings_sha256(wheel)
    )
    assert data.load_users(out)[1] == data.User(2, 53, "F", "other", "94043")
    toy, miserables, unknown = data.load_items(out)
    assert toy.title == "Toy Story (1995)"
    assert [g for g, flag in zip(data.GENRES, toy.genres, strict=True) if flag] == [
        "Animation", "Children's", "Comedy",
    ]  # fmt: skip
    assert miserables.title == "Misérables, Les (1995)"  # latin-1, as GroupLens writes u.item
    assert unknown.title == "unknown" and unknown.genres[0] == 1
    assert data.prepare(out, tmp_path / "work") == out  # all five files, ready for predata


def test_rebuild_refuses_other_ratings_and_broken_wheels(wheel: Path, tmp_path: Path) -> None:
    with pytest.raises(data.DataError, match="not the pinned"):
        movielens_pypi.rebuild(
            wheel, tmp_path / "a"
        )  # the real digest: these are not the real data
    partial = tmp_path / "partial.whl"
    with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(partial, "w") as dst:
        for name in src.namelist():
            if not name.endswith(".item"):
                dst.writestr(name, src.read(name))
    with pytest.raises(data.DataError, match=r"has no .*ml-100k\.item"):
        movielens_pypi.rebuild(
            partial, tmp_path / "b", expected_sha256=recbole_wheel.ratings_sha256(wheel)
        )
    (tmp_path / "page.whl").write_text("<html>not found</html>")
    with pytest.raises(data.DataError, match="not a wheel"):
        movielens_pypi.rebuild(tmp_path / "page.whl", tmp_path / "c")


def test_download_goes_through_pip(
    wheel: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pip resolves the pinned requirement from a local folder instead of the index."""
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(wheel.parent))
    monkeypatch.setattr(movielens_pypi, "RATINGS_SHA256", recbole_wheel.ratings_sha256(wheel))
    out = movielens_pypi.download(tmp_path / "ml-100k")
    assert len(data.load_ratings(out, "ua.test")) == len(recbole_wheel.COUNTS) * data.TEST_PER_USER


def test_download_without_an_index_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIP_INDEX_URL", f"http://127.0.0.1:{free_port()}/simple")
    monkeypatch.setenv("PIP_RETRIES", "0")
    monkeypatch.setenv("PIP_TIMEOUT", "5")
    with pytest.raises(data.DownloadError, match=r"pip could not download recbole==1\.2\.1"):
        movielens_pypi.download(tmp_path / "ml-100k")
    assert not (tmp_path / "ml-100k").exists()


def test_command_line_rebuilds_from_a_wheel_on_disk(
    wheel: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setattr(movielens_pypi, "RATINGS_SHA256", recbole_wheel.ratings_sha256(wheel))
    assert movielens_pypi.main([str(tmp_path / "out"), "--wheel", str(wheel)]) == 0
    assert (tmp_path / "out" / "ua.test").is_file()
    assert movielens_pypi.main([str(tmp_path / "x"), "--wheel", str(tmp_path / "none.whl")]) == 1
    assert "not a wheel" in capsys.readouterr().err
