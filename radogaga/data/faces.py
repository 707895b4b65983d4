"""Face images at 64 x 64: the Olivetti faces (offline default) and CelebA (a folder)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import scipy.io

from radogaga.data.dataset import Dataset, DatasetMeta
from radogaga.data.fetch import DATA_VARIABLE, DataError, DataNotFoundError, locate
from radogaga.data.registry import CELEBA_HOME, OLIVETTI

FACE_SIDE = 64
CELEBA_SUBDIR = Path("celeba") / "img_align_celeba"


def _image_meta(name: str, X: np.ndarray, preprocessing: str, **fields) -> DatasetMeta:
    return DatasetMeta(name=name, shape=tuple(X.shape), n_anomalies=None, anomaly_ratio=None,
                       label_meaning=fields.pop("label_meaning", "none"),
                       preprocessing=preprocessing, **fields)


def load_olivetti(path=None) -> Dataset:
    """400 grey faces as (400, 1, 64, 64) float32 in [0, 1]; y is the person (0-39)."""
    file, digest = locate(OLIVETTI, path)
    try:
        faces = scipy.io.loadmat(file)["faces"]
    except (ValueError, KeyError, OSError) as error:
        raise DataError(f"{file} is not the Olivetti .mat file with array 'faces': {error}") from error
    # Columns are images stored column-major: transpose each to upright rows.
    images = faces.T.reshape(-1, FACE_SIDE, FACE_SIDE).transpose(0, 2, 1)
    X = (images.astype(np.float32) / 255.0)[:, None]
    return Dataset(X, np.repeat(np.arange(40), 10), _image_meta(
        "olivetti", X, "uint8 grey levels / 255, shape (N, 1, 64, 64)",
        label_meaning="person (0-39)", source_url=OLIVETTI.url, sha256=digest, credit=OLIVETTI.credit,
    ))


def _celeba_folder(path) -> Path:
    if path is not None:
        return Path(path).expanduser()
    if os.environ.get(DATA_VARIABLE):
        return Path(os.environ[DATA_VARIABLE]).expanduser() / CELEBA_SUBDIR
    raise DataNotFoundError(
        f"CelebA cannot be downloaded automatically. Get img_align_celeba from {CELEBA_HOME} "
        f"and pass path=<folder of .jpg files> or set {DATA_VARIABLE} to a folder holding "
        f"{CELEBA_SUBDIR}."
    )


def _centre_square(image, side: int):
    """Crop the central square (side = the shorter edge) and resize to side x side,
    as the authors' center_celeba.py does."""
    width, height = image.size
    edge = min(width, height)
    left, top = (width - edge) // 2, (height - edge) // 2
    return image.crop((left, top, left + edge, top + edge)).resize((side, side), resample=3)


def load_celeba(path=None, limit: int | None = None) -> Dataset:
    """CelebA aligned faces from a folder of .jpg/.png, centre-cropped to 64 x 64 RGB in [0, 1]."""
    from PIL import Image, UnidentifiedImageError

    folder = _celeba_folder(path)
    files = sorted(p for p in folder.glob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png")) \
        if folder.is_dir() else []
    if not files:
        raise DataNotFoundError(f"No .jpg or .png images in {folder}; get img_align_celeba from {CELEBA_HOME}.")
    if limit is not None:
        if limit < 1:
            raise ValueError(f"limit={limit} must be a positive number of images.")
        files = files[:limit]
    images = []
    for file in files:
        try:
            with Image.open(file) as image:
                images.append(np.asarray(_centre_square(image.convert("RGB"), FACE_SIDE)))
        except (UnidentifiedImageError, OSError) as error:
            raise DataError(f"{file} is not a readable image ({error}); remove or replace it.") from error
    X = (np.stack(images).astype(np.float32) / 255.0).transpose(0, 3, 1, 2)
    return Dataset(X, None, _image_meta(
        "celeba", X, "central square crop, resized to 64 x 64 (bicubic), RGB / 255",
        source_url=CELEBA_HOME, sha256="", credit="CelebA (Liu et al. 2015), non-commercial research use",
    ))
