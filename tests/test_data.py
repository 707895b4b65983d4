"""The data layer: every published number, every error path, the paper's split."""

from __future__ import annotations

import io
import shutil

import numpy as np
import pytest
from scipy.stats import multivariate_normal

from radogaga import data
from radogaga.data import fetch, registry

# (name, rows, columns, anomalies, anomaly share to 1e-4), from the issue / paper notes.
TABULAR = [
    ("kddcup99", 494_021, 121, 97_278, 0.1969),
    ("kddcup_rev", 121_597, 121, 24_319, 0.2000),
    ("thyroid", 3_772, 6, 93, 0.0247),
    ("arrhythmia", 452, 274, 66, 0.1460),
]


@pytest.mark.parametrize("name, rows, cols, anomalies, ratio", TABULAR)
def test_tabular_sets_match_the_paper(data_root, name, rows, cols, anomalies, ratio):
    ds = data.load(name)
    assert ds.X.shape == (rows, cols) and ds.X.dtype == np.float32
    assert ds.meta.shape == (rows, cols)
    assert int(ds.y.sum()) == anomalies == ds.meta.n_anomalies
    assert ds.meta.anomaly_ratio == pytest.approx(ratio, abs=5e-5)
    assert ds.X.min() == 0.0 and ds.X.max() == 1.0
    assert len(ds.meta.sha256) == 64 and ds.meta.source_url.startswith("http")


def test_kdd_one_hot_blocks(data_root):
    X = data.load("kddcup99").X
    # 87 one-hot columns (protocol 3, service 66, flag 11, land 2, logged_in 2,
    # is_host_login 1, is_guest_login 2). is_host_login takes one value in the 10 % file,
    # so min-max maps its constant column to 0: each row has six ones among them.
    np.testing.assert_array_equal(X[:, 84], 0.0)
    np.testing.assert_array_equal(X[:, :87].sum(axis=1), 6.0)


def test_kddcup_rev_is_seeded(data_root):
    a, b = data.load("kddcup_rev", seed=0), data.load("kddcup_rev", seed=1)
    assert a.X.shape == b.X.shape and not np.array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.X, data.load("kddcup_rev", seed=0).X)


def _mixture_density(source):
    return sum(multivariate_normal(m, v * np.eye(3)).pdf(source)
               for m, v in zip(data.toy.TOY_MEANS, data.toy.TOY_VARIANCES)) / 3


def test_toy_generator_recipe():
    ds = data.load("toy", n=9_000, seed=3)
    assert ds.X.shape == (9_000, 16) and ds.X.min() == 0.0 and ds.X.max() == 1.0
    assert np.bincount(ds.y).tolist() == [3_000, 3_000, 3_000]
    lift = ds.extras["lift"]
    np.testing.assert_allclose(lift.T @ lift, np.eye(3), atol=1e-12)
    means = data.toy.TOY_MEANS
    distances = [np.linalg.norm(means[i] - means[j]) for i, j in [(0, 1), (0, 2), (1, 2)]]
    np.testing.assert_allclose(sorted(distances), [10, 10 * np.sqrt(2), 10 * np.sqrt(3)])
    source = ds.extras["source"]
    for k, variance in enumerate((1.0, 2.0, 4.0)):
        assert source[ds.y == k].var(axis=0).mean() == pytest.approx(variance, rel=0.1)
    np.testing.assert_allclose(ds.extras["density"], _mixture_density(source), rtol=1e-10)
    np.testing.assert_array_equal(data.load("toy", n=9_000, seed=3).X, ds.X)


def test_toy_official_density_and_agreement_with_generator(data_root):
    official, generated = data.load("toy_official"), data.load("toy")
    assert official.X.shape == (10_000, 16) and np.bincount(official.y).tolist() == [3_333, 3_333, 3_334]
    # The source coordinates are a rotation of the authors' s: distances are preserved,
    # so per-component spread and mean distances match the recipe.
    for ds in (official, generated):
        src, y = ds.extras["source"], ds.y
        spreads = [src[y == k].var(axis=0).sum() / 3 for k in range(3)]
        np.testing.assert_allclose(spreads, [1, 2, 4], rtol=0.06)
        centres = np.array([src[y == k].mean(axis=0) for k in range(3)])
        gaps = sorted(np.linalg.norm(centres[i] - centres[j]) for i, j in [(0, 1), (0, 2), (1, 2)])
        np.testing.assert_allclose(gaps, [10, 10 * np.sqrt(2), 10 * np.sqrt(3)], rtol=0.02)
    # The recovered source points reproduce the authors' density column.
    recovered = np.exp(data.toy_log_density(official.extras["source"]))
    assert np.corrcoef(recovered, official.extras["density"])[0, 1] > 0.999


def test_olivetti_faces(data_root):
    ds = data.load("olivetti")
    assert ds.X.shape == (400, 1, 64, 64) and 0.0 <= ds.X.min() and ds.X.max() <= 1.0
    assert np.bincount(ds.y).tolist() == [10] * 40
    # Upright faces: the mean face is nearly mirror-symmetric left-right, not top-bottom
    # (a transposed image would swap the two); measured 0.034 against 0.107.
    mean_face = ds.X[:, 0].mean(axis=0)
    left_right = np.abs(mean_face - mean_face[:, ::-1]).mean()
    top_bottom = np.abs(mean_face - mean_face[::-1, :]).mean()
    assert left_right < 0.5 * top_bottom


def test_celeba_folder_loader(tmp_path):
    from PIL import Image

    folder = tmp_path / "img_align_celeba"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray(rng.integers(0, 256, (218, 178, 3), dtype=np.uint8)).save(folder / f"{i:06d}.jpg")
    ds = data.load("celeba", path=folder)
    assert ds.X.shape == (3, 3, 64, 64) and ds.y is None
    assert 0.0 <= ds.X.min() and ds.X.max() <= 1.0
    assert data.load("celeba", path=folder, limit=2).X.shape[0] == 2
    (folder / "999999.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(data.DataError, match="999999.jpg"):
        data.load("celeba", path=folder)


def test_celeba_missing_folder_says_where_to_get_it(tmp_path):
    with pytest.raises(data.DataNotFoundError, match="CelebA|celeba"):
        data.load("celeba", path=tmp_path / "nothing")


def test_unknown_name_lists_valid_names():
    with pytest.raises(ValueError, match="kddcup99.*olivetti"):
        data.load("mnist")


def test_unknown_option_is_refused():
    with pytest.raises(ValueError, match="does not take option"):
        data.load("thyroid", seed=1)


def test_missing_file_offline_names_file_variable_and_url(empty_places):
    with pytest.raises(data.DataNotFoundError) as error:
        data.load("thyroid")
    message = str(error.value)
    assert "odds/thyroid.mat" in message and "RADOGAGA_DATA" in message and registry.THYROID.url in message


def _copy_with(data_root, target_root, relpath, transform):
    target = target_root / relpath
    target.parent.mkdir(parents=True)
    target.write_bytes(transform((data_root / relpath).read_bytes()))
    return target


@pytest.mark.parametrize("damage", [
    lambda b: b[:-1] + bytes([b[-1] ^ 1]),  # one flipped bit
    lambda b: b[: len(b) // 2],             # truncated
], ids=["bad-checksum", "truncated"])
def test_damaged_file_is_refused_with_both_hashes(data_root, empty_places, damage):
    bad = _copy_with(data_root, empty_places / "data", "odds/thyroid.mat", damage)
    with pytest.raises(data.ChecksumError) as error:
        data.load("thyroid")
    message = str(error.value)
    assert fetch.sha256_of(bad) in message and registry.THYROID.sha256[0] in message
    assert bad.exists()  # never deleted, never used


def test_explicit_path_wins_and_is_verified(data_root, empty_places):
    ds = data.load("thyroid", path=data_root / "odds" / "thyroid.mat")
    assert ds.X.shape == (3_772, 6)
    assert data.load("thyroid", path=data_root).X.shape == (3_772, 6)  # a data root folder works too
    with pytest.raises(data.DataNotFoundError, match="does not exist"):
        data.load("thyroid", path=empty_places / "missing.mat")


def test_download_verifies_and_caches(data_root, empty_places, monkeypatch):
    monkeypatch.delenv("RADOGAGA_OFFLINE")
    payload = (data_root / "odds" / "arrhythmia.mat").read_bytes()
    calls = []

    def fake_urlopen(url, timeout):
        calls.append(url)
        return io.BytesIO(payload)

    monkeypatch.setattr(fetch.urllib.request, "urlopen", fake_urlopen)
    assert data.load("arrhythmia").X.shape == (452, 274)
    assert calls == [registry.ARRHYTHMIA.url]
    assert (empty_places / "cache" / "odds" / "arrhythmia.mat").read_bytes() == payload
    data.load("arrhythmia")
    assert len(calls) == 1  # second load reads the cache


def test_bad_download_leaves_nothing_behind(empty_places, monkeypatch):
    monkeypatch.delenv("RADOGAGA_OFFLINE")
    monkeypatch.setattr(fetch.urllib.request, "urlopen", lambda url, timeout: io.BytesIO(b"<html>moved</html>"))
    with pytest.raises(data.DataNotFoundError, match="sha256"):
        data.load("thyroid")
    leftovers = list((empty_places / "cache").rglob("*"))
    assert [p for p in leftovers if p.is_file()] == []


def test_network_failure_is_reported(empty_places, monkeypatch):
    monkeypatch.delenv("RADOGAGA_OFFLINE")

    def refuse(url, timeout):
        raise OSError("network is unreachable")

    monkeypatch.setattr(fetch.urllib.request, "urlopen", refuse)
    with pytest.raises(data.DataNotFoundError, match="network is unreachable.*RADOGAGA_DATA"):
        data.load("arrhythmia")


def test_same_code_path_reads_shared_copies(data_root, tmp_path, monkeypatch):
    # A folder laid out like the data root, reached through RADOGAGA_DATA, is what CI uses.
    copy = tmp_path / "copy"
    shutil.copytree(data_root / "odds", copy / "odds")
    monkeypatch.setenv("RADOGAGA_DATA", str(copy))
    assert data.load("thyroid").meta.sha256 == registry.THYROID.sha256[0]


def test_paper_split():
    y = np.r_[np.zeros(80, int), np.ones(20, int)]
    train, test = data.paper_split(y, seed=0)
    assert len(test) == 50 and np.intersect1d(train, test).size == 0
    assert (y[train] == 0).all() and 25 <= len(train) <= 50
    others = [data.paper_split(y, seed=s) for s in range(1, 20)]
    assert len({tuple(t) for _, t in others} | {tuple(test)}) == 20  # 20 seeds, 20 splits
    np.testing.assert_array_equal(data.paper_split(y, seed=0)[1], test)


@pytest.mark.parametrize("bad", [np.zeros((3, 2)), np.array([0, 2, 1])])
def test_paper_split_rejects_bad_labels(bad):
    with pytest.raises(ValueError):
        data.paper_split(bad, seed=0)
