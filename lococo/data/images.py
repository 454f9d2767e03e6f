"""Image decoding shared by every data family: decode + resize, full verification, and a
threaded map that decodes many images in parallel (PIL releases the GIL while decoding)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch

from lococo.errors import DataError

PROGRESS_MIN_IMAGES = 200
T = TypeVar("T")


def inside_root(
    root: Path,
    relative: str | Sequence[str],
    source: str | Path,
    line: int | None = None,
    where: str = "",
) -> Path:
    """``root / relative`` for a file name read from ``source`` (at ``line``, or at the key
    ``where``); a name that is absolute or climbs out of ``root`` with ``..`` is refused (a
    dataset file never points outside it)."""
    parts = [relative] if isinstance(relative, str) else list(relative)
    pieces = [p for part in parts for p in part.replace("\\", "/").split("/")]
    if (parts and (parts[0].startswith(("/", "\\")) or ":" in parts[0][:3])) or ".." in pieces:
        name = "/".join(parts)
        at = f"{where}: " if where else ""
        raise DataError(source, f"{at}file name {name!r} points outside the dataset folder", line)
    return root.joinpath(*parts)


def load_resized(path: str | Path, size: int) -> torch.Tensor:
    """Decode ``path`` as RGB resized to ``size × size`` (bilinear): ``uint8`` ``3×size×size``."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            img.draft("RGB", (size, size))  # JPEG: decode at a reduced scale >= size
            rgb = img.convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
    except FileNotFoundError:
        raise DataError(path, "missing image file") from None
    except Exception as exc:  # PIL raises OSError, SyntaxError, ValueError... on bad files
        raise DataError(path, f"cannot decode image ({exc})") from exc
    return torch.from_numpy(np.array(rgb, dtype=np.uint8)).permute(2, 0, 1).contiguous()


def verify_image(path: str | Path) -> tuple[int, int]:
    """Open and fully decode ``path`` at full resolution; return (width, height)."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            img.load()
            return img.size
    except FileNotFoundError:
        raise DataError(path, "missing image file") from None
    except Exception as exc:
        raise DataError(path, f"corrupt or truncated image ({exc})") from exc


def threaded_map(
    fn: Callable[[Path], T],
    paths: Sequence[Path],
    progress: bool = True,
    desc: str = "images",
    num_threads: int | None = None,
) -> Iterable[T]:
    """``fn`` over ``paths`` in order on a thread pool (PIL decodes without the GIL)."""
    from tqdm.auto import tqdm

    threads = num_threads or min(8, os.cpu_count() or 1)
    show = progress and len(paths) >= PROGRESS_MIN_IMAGES
    pool = ThreadPoolExecutor(max_workers=threads)
    try:
        with tqdm(total=len(paths), desc=desc, disable=not show, leave=False) as bar:
            for item in pool.map(fn, paths):
                bar.update(1)
                yield item
    finally:  # on an error, do not wait for the remaining images
        pool.shutdown(wait=True, cancel_futures=True)


def decode_all(
    paths: Sequence[Path], size: int, progress: bool = True, num_threads: int | None = None
) -> torch.Tensor:
    """Decode and resize every image once: ``uint8`` ``N×3×size×size``."""
    out = torch.empty((len(paths), 3, size, size), dtype=torch.uint8)
    loaded = threaded_map(lambda p: load_resized(p, size), paths, progress, "decode", num_threads)
    for i, image in enumerate(loaded):
        out[i] = image
    return out
