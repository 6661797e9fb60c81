"""MovieLens 100k files: the generator's format and sizes, reading them back, and downloading."""

from __future__ import annotations

import http.server
import json
import re
import socket
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from cdlab import data


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return data.generate(tmp_path_factory.mktemp("generated") / "ml-100k")


@pytest.fixture(scope="module")
def archive(generated: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A zip laid out like the official one: the files under ``ml-100k/``."""
    path = tmp_path_factory.mktemp("archive") / data.ARCHIVE
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in data.FILES:
            zf.write(generated / name, f"ml-100k/{name}")
        zf.writestr("ml-100k/README", "not one of the five files")
    return path


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="latin-1").splitlines()


def test_generated_files_have_the_movielens_100k_sizes(generated: Path) -> None:
    sizes = {name: len(_lines(generated / name)) for name in data.FILES}
    assert sizes == {
        "u.data": 100_000,
        "ua.base": 90_570,
        "ua.test": 9_430,
        "u.item": 1_682,
        "u.user": 943,
    }


def test_rating_lines_are_user_item_rating_timestamp_separated_by_tabs(generated: Path) -> None:
    line = re.compile(r"^\d{1,3}\t\d{1,4}\t[1-5]\t\d{9}$")
    for name in ("u.data", "ua.base", "ua.test"):
        assert all(line.match(text) for text in _lines(generated / name)), name


def test_every_user_and_item_is_rated_and_each_pair_at_most_once(generated: Path) -> None:
    ratings = data.load_ratings(generated)
    assert set(np.unique(ratings.user)) == set(range(1, data.N_USERS + 1))
    assert set(np.unique(ratings.item)) == set(range(1, data.N_ITEMS + 1))
    assert np.bincount(ratings.user)[1:].min() >= 20
    pairs = ratings.user.astype(np.int64) * 10_000 + ratings.item
    assert np.unique(pairs).size == len(ratings)


def test_ua_test_holds_ten_ratings_per_user_and_ua_base_the_rest(generated: Path) -> None:
    everything = data.load_ratings(generated)
    base = data.load_ratings(generated, "ua.base")
    test = data.load_ratings(generated, "ua.test")
    assert (np.bincount(test.user, minlength=data.N_USERS + 1)[1:] == 10).all()

    def rows(*splits: data.Ratings) -> np.ndarray:
        table = np.concatenate(
            [np.stack([r.user, r.item, r.rating, r.timestamp], axis=1) for r in splits]
        ).astype(np.int64)
        return table[np.lexsort(table.T[::-1])]

    assert np.array_equal(rows(everything), rows(base, test))
    for split in (base, test):  # like the real files: sorted by user, then item
        assert np.all(np.diff(split.user.astype(np.int64) * 10_000 + split.item) > 0)


def test_items_and_users_look_like_the_real_files(generated: Path) -> None:
    items = data.load_items(generated)
    assert [item.id for item in items] == list(range(1, data.N_ITEMS + 1))
    for item in items:
        year = re.fullmatch(r".+ \((\d{4})\)", item.title).group(1)
        assert re.fullmatch(rf"\d\d-[A-Z][a-z]{{2}}-{year}", item.release_date)
        assert item.video_release_date == ""
        assert item.imdb_url.startswith("http://us.imdb.com/M/title-exact?")
        assert len(item.genres) == 19 and set(item.genres) <= {0, 1} and any(item.genres)
    users = data.load_users(generated)
    assert [user.id for user in users] == list(range(1, data.N_USERS + 1))
    for user in users:
        assert 7 <= user.age <= 73 and user.gender in ("M", "F")
        assert user.occupation in data.OCCUPATIONS and re.fullmatch(r"\d{5}", user.zip_code)


def test_liked_share_is_like_the_real_data_and_the_ceiling_is_about_0_9(generated: Path) -> None:
    summary = json.loads((generated / data.CEILING_FILE).read_text())
    assert 0.53 <= summary["liked_fraction"] <= 0.57
    assert 0.88 <= data.ceiling(generated) <= 0.92
    assert abs(summary["bayes_rule_accuracy"] - summary["ceiling"]) < 0.01
    ratings = data.load_ratings(generated)
    assert ratings.labels().dtype == np.float32
    assert ratings.labels().mean() == pytest.approx(summary["liked_fraction"])


def test_generation_is_deterministic(generated: Path, tmp_path: Path) -> None:
    again = data.generate(tmp_path / "again")
    for name in (*data.FILES, data.CEILING_FILE):
        assert (again / name).read_bytes() == (generated / name).read_bytes(), name
    other = data.generate(tmp_path / "other", seed=data.DEFAULT_SEED + 1)
    assert (other / "u.data").read_bytes() != (generated / "u.data").read_bytes()


def test_the_command_line_prints_the_ceiling(
    generated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert data.main(["ceiling", str(generated)]) == 0
    assert float(capsys.readouterr().out) == pytest.approx(data.ceiling(generated), abs=1e-4)


def test_real_data_has_no_known_ceiling(archive: Path, tmp_path: Path) -> None:
    real = data.prepare(archive, tmp_path)
    with pytest.raises(data.DataError, match="ceiling"):
        data.ceiling(real)


def test_the_archive_reads_like_the_directory(generated: Path, archive: Path) -> None:
    for name in ("u.data", "ua.base", "ua.test"):
        from_zip, from_dir = data.load_ratings(archive, name), data.load_ratings(generated, name)
        assert np.array_equal(from_zip.rating, from_dir.rating)
        assert np.array_equal(from_zip.timestamp, from_dir.timestamp)
    assert data.load_items(archive) == data.load_items(generated)
    assert data.load_users(archive) == data.load_users(generated)


def test_prepare_uses_real_files_when_given_and_generates_otherwise(
    generated: Path, archive: Path, tmp_path: Path
) -> None:
    assert data.prepare(generated, tmp_path) == generated
    assert data.prepare(generated.parent, tmp_path) == generated  # the unpacked archive's parent
    extracted = data.prepare(archive, tmp_path / "work")
    assert sorted(p.name for p in extracted.iterdir()) == sorted(data.FILES)
    for name in data.FILES:
        assert (extracted / name).read_bytes() == (generated / name).read_bytes()
    made = data.prepare(None, tmp_path / "offline")
    assert data.ceiling(made) == data.ceiling(generated)
    (tmp_path / "empty").mkdir()
    with pytest.raises(data.DataError, match="does not hold"):
        data.prepare(tmp_path / "empty", tmp_path)


def test_malformed_files_raise_a_data_error(tmp_path: Path) -> None:
    (tmp_path / "u.data").write_text("1\t2\tfive\t874724710\n")
    with pytest.raises(data.DataError, match=r"u\.data"):
        data.load_ratings(tmp_path)
    with pytest.raises(data.DataError, match=r"no ua\.test"):
        data.load_ratings(tmp_path, "ua.test")
    (tmp_path / "u.user").write_text("1|24|M|technician\n")
    with pytest.raises(data.DataError, match=r"u\.user line 1"):
        data.load_users(tmp_path)


def test_one_hot_puts_users_then_items_in_2625_float32_columns(generated: Path) -> None:
    ratings = data.load_ratings(generated, "ua.test")
    X = data.one_hot(ratings, data.N_USERS, data.N_ITEMS)
    assert X.shape == (9_430, 2_625) and X.dtype == np.float32 and X.format == "csr"
    assert (X.getnnz(axis=1) == 2).all() and (X.data == 1).all()
    assert np.array_equal(X.indices[0::2], ratings.user - 1)
    assert np.array_equal(X.indices[1::2], data.N_USERS + ratings.item - 1)
    with pytest.raises(data.DataError, match="ids outside"):
        data.one_hot(ratings, data.N_USERS - 1, data.N_ITEMS)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def file_server(archive: Path, tmp_path: Path) -> Iterator[str]:
    """An HTTP server on 127.0.0.1 serving the archive and a file that is not a zip."""
    root = tmp_path / "served"
    root.mkdir()
    (root / data.ARCHIVE).write_bytes(archive.read_bytes())
    (root / "not-a-zip.zip").write_text("<html>moved</html>")

    def handler(*args: object, **kwargs: object) -> _QuietHandler:
        return _QuietHandler(*args, directory=str(root), **kwargs)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_download_fetches_the_archive(file_server: str, archive: Path, tmp_path: Path) -> None:
    path = data.download(tmp_path / "dl", url=f"{file_server}/{data.ARCHIVE}", timeout=5)
    assert path == tmp_path / "dl" / data.ARCHIVE
    assert path.read_bytes() == archive.read_bytes()
    assert np.array_equal(data.load_ratings(path).user, data.load_ratings(archive).user)


def test_download_errors_say_what_went_wrong(file_server: str, tmp_path: Path) -> None:
    dest = tmp_path / "dl"
    with pytest.raises(data.DownloadError, match="404"):
        data.download(dest, url=f"{file_server}/missing.zip", timeout=5)
    with pytest.raises(data.DownloadError, match="not return a zip"):
        data.download(dest, url=f"{file_server}/not-a-zip.zip", timeout=5)
    assert list(dest.iterdir()) == []  # nothing half-written is left behind


def test_download_when_offline_raises_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(data.DownloadError, match=r"could not download .* if offline"):
        data.download(tmp_path, url=f"http://127.0.0.1:{port}/{data.ARCHIVE}", timeout=5)
