"""The data files behind every data set: public home, checksum, size and credit.

File names are relative to a data root; `RADOGAGA_DATA` points at a folder laid out
the same way (``kddcup99/kddcup.data_10_percent.gz``, ``odds/thyroid.mat``, ...).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DataFile:
    """One downloadable file: where it lives, how to check it, whom to credit."""

    relpath: str
    urls: tuple[str, ...]
    sha256: tuple[str, ...]
    size_bytes: int
    credit: str

    @property
    def url(self) -> str:
        """The first (preferred) public home."""
        return self.urls[0]


KDDCUP99 = DataFile(
    relpath="kddcup99/kddcup.data_10_percent.gz",
    urls=(
        "http://kdd.ics.uci.edu/databases/kddcup99/kddcup.data_10_percent.gz",
        "https://ndownloader.figshare.com/files/5976042",
    ),
    sha256=("8045aca0d84e70e622d1148d7df782496f6333bf6eb979a1b0837c42a9fd9561",),
    size_bytes=2_144_903,
    credit="KDD Cup 1999 Data, UCI KDD Archive (Stolfo et al.); 10 % subset as served to scikit-learn",
)

THYROID = DataFile(
    relpath="odds/thyroid.mat",
    urls=("https://www.dropbox.com/s/bih0e15a0fukftb/thyroid.mat?dl=1",),
    sha256=("49155d7861b977e90808faf68343ff67a67f63090c2744d514dbb67ac68e7e33",),
    size_bytes=39_704,
    credit="ODDS library (Rayana 2016), from the UCI Thyroid Disease data",
)

ARRHYTHMIA = DataFile(
    relpath="odds/arrhythmia.mat",
    urls=("https://www.dropbox.com/s/lmlwuspn1sey48r/arrhythmia.mat?dl=1",),
    sha256=("e4d47e499591ae31e5d7f0cd983367092353eac240f48e14c9b36457edb3460d",),
    size_bytes=105_540,
    credit="ODDS library (Rayana 2016), from the UCI Arrhythmia data (Guvenir et al. 1997)",
)

OLIVETTI = DataFile(
    relpath="olivetti/olivettifaces.mat",
    urls=("https://ndownloader.figshare.com/files/5976027",),
    # Two saves of the same pixels: the one in the project's offline copies and the
    # one scikit-learn's fetch_olivetti_faces downloads.
    sha256=(
        "b1988d02c72fe5b8ee82b5ef3bb7982eafc74f1e1ff0ae0ade35061ad0af534d",
        "b612fb967f2dc77c9c62d3e1266e0c73d5fca46a4b8906c18e454d41af987794",
    ),
    size_bytes=1_432_511,
    credit="Olivetti (ORL) faces, AT&T Laboratories Cambridge; 64 x 64 version by Sam Roweis",
)

TOY_OFFICIAL = DataFile(
    relpath="radogaga-official/toy.csv",
    urls=("https://raw.githubusercontent.com/keizokato/RaDOGAGA/master/EXP_5.2_toy/toy.csv",),
    sha256=("dedcd10c716bfdca26e196b7e2bfa8e95745249d1f634a3d8ed7d4f666fea189",),
    size_bytes=3_362_882,
    credit="Kato, Zhou, Nakagawa: RaDOGAGA official repository (Apache-2.0), EXP_5.2_toy/toy.csv",
)

CELEBA_HOME = "https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html"
