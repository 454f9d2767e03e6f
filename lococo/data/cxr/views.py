"""Optional view list: which images are frontal (the thesis kept frontal views only).

Open-I's XML does not say which image is frontal; the DICOM ``ViewPosition`` (``PA``, ``AP``,
``LATERAL``, ``LL``…) does. A view list is a CSV file with a header naming an image-id column
(``image_id``, ``id`` or ``image``) and a view column (``view``, ``view_position`` or
``ViewPosition``), one image per row. ``PA``, ``AP`` and ``FRONTAL`` (any case) are frontal;
images that the list does not name are NOT frontal (they are dropped when a list is used).
"""

from __future__ import annotations

import csv
from pathlib import Path

from lococo.errors import DataError

FRONTAL_VIEWS = frozenset({"PA", "AP", "FRONTAL"})
_ID_COLUMNS = ("image_id", "id", "image")
_VIEW_COLUMNS = ("view", "view_position", "viewposition")


def is_frontal(view: str | None) -> bool:
    return view is not None and view.strip().upper() in FRONTAL_VIEWS


def read_view_list(path: str | Path) -> dict[str, str]:
    """``{image id: view}`` from a view-list CSV; ``DataError`` (with the line) when malformed."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "view list not found")
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            raise DataError(path, "empty view list")
        lower = [h.strip().lower() for h in header]
        id_col = next((lower.index(c) for c in _ID_COLUMNS if c in lower), None)
        view_col = next((lower.index(c) for c in _VIEW_COLUMNS if c in lower), None)
        if id_col is None or view_col is None:
            raise DataError(
                path,
                f"header needs an image-id column {_ID_COLUMNS} and a view column "
                f"{_VIEW_COLUMNS}; got {header}",
                1,
            )
        views: dict[str, str] = {}
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if len(row) <= max(id_col, view_col):
                raise DataError(path, f"expected {len(header)} fields, got {len(row)}", line)
            image_id, view = row[id_col].strip(), row[view_col].strip()
            if not image_id or not view:
                raise DataError(path, "empty image id or view", line)
            if image_id in views and views[image_id].upper() != view.upper():
                raise DataError(path, f"image {image_id!r} listed twice with different views", line)
            views[image_id] = view
    return views


def write_view_list(path: str | Path, views: dict[str, str]) -> None:
    from lococo.io import atomic_open

    with atomic_open(path, "w") as handle:
        handle.write("image_id,view\n")
        for image_id, view in views.items():
            handle.write(f"{image_id},{view}\n")
