"""The integrity grid: products aggregated onto cells of whole source pixels (250 m by default).

Every cell is an exact block of ``factor x factor`` source pixels, so a cell's class shares and
statistics use whole pixels only and the grid lines up with the products' own grid (odc-geo
``GeoBox.zoom_out``). Partial blocks at the right and bottom edges are kept, with their
``valid_fraction``. Functions take and return xarray objects on that grid; ``cell_table``
flattens a dataset of layers into the table the network reads (x, y, row, col and one column
per layer), ``sites_to_cells`` places recording sites on it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
import xarray as xr
from odc.geo.geobox import GeoBox
from odc.geo.xr import xr_coords
from pyproj import Transformer

__all__ = [
    "cell_factor",
    "cell_geobox",
    "cell_statistics",
    "cell_table",
    "class_shares",
    "majority",
    "sites_to_cells",
]


def cell_factor(geobox: GeoBox, cell_size: float) -> int:
    """Source pixels per cell side: the whole number nearest ``cell_size`` / pixel size (a
    250 m cell on 30 m Landsat pixels is 8 pixels, 240 m; the cell grid's resolution says so)."""
    res = abs(float(geobox.resolution.x))
    factor = int(round(cell_size / res))
    if factor < 1:
        raise ValueError(f"a {cell_size} m cell is smaller than the {res} m pixels")
    return factor


def cell_geobox(geobox: GeoBox, cell_size: float) -> GeoBox:
    """The grid of ``cell_size`` cells over ``geobox`` (same origin and CRS)."""
    return geobox.zoom_out(cell_factor(geobox, cell_size))


def _blocks(values: np.ndarray, factor: int, fill: float = np.nan) -> np.ndarray:
    """(ny, nx) -> (cells_y, cells_x, factor * factor), padded with ``fill``."""
    ny, nx = values.shape
    cy, cx = -(-ny // factor), -(-nx // factor)
    padded = np.full(
        (cy * factor, cx * factor), fill, dtype=np.result_type(values.dtype, np.float32)
    )
    padded[:ny, :nx] = values
    return (
        padded.reshape(cy, factor, cx, factor)
        .transpose(0, 2, 1, 3)
        .reshape(cy, cx, factor * factor)
    )


def _on_cells(
    data: Mapping[str, np.ndarray], grid: GeoBox, attrs: Mapping | None = None
) -> xr.Dataset:
    coords = xr_coords(grid)
    return xr.Dataset(
        {k: (("y", "x"), v.astype(np.float32)) for k, v in data.items()},
        coords=coords,
        attrs=dict(attrs or {}),
    )


def class_shares(
    land_cover: xr.DataArray,
    cell_size: float,
    classes: Iterable[int],
    *,
    nodata: int = 0,
    prefix: str = "share_",
) -> xr.Dataset:
    """Share of each class among a cell's valid pixels (``share_<code>``), and the cell's
    ``valid_fraction`` (pixels with data / pixels in the cell)."""
    geobox = land_cover.odc.geobox
    factor = cell_factor(geobox, cell_size)
    values = np.asarray(land_cover.values, np.float64)
    values[values == nodata] = np.nan
    blocks = _blocks(values, factor)
    valid = np.isfinite(blocks).sum(axis=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        data = {
            f"{prefix}{c}": np.where(valid > 0, (blocks == c).sum(axis=2) / valid, np.nan)
            for c in classes
        }
    data["valid_fraction"] = valid / factor ** 2
    return _on_cells(data, geobox.zoom_out(factor), {"cell_size": cell_size})


def cell_statistics(
    layer: xr.DataArray,
    cell_size: float,
    *,
    name: str | None = None,
    stats: Sequence[str] = ("mean",),
    quantiles: Sequence[float] = (),
) -> xr.Dataset:
    """NaN-aware statistics of a continuous layer per cell: ``<name>_mean``, ``<name>_std``,
    ``<name>_p10`` for quantile 0.1, ..."""
    geobox = layer.odc.geobox
    factor = cell_factor(geobox, cell_size)
    name = name or str(layer.name)
    blocks = _blocks(np.asarray(layer.values, np.float64), factor)
    empty = ~np.isfinite(blocks).any(axis=2)
    blocks[empty] = 0.0  # silences all-NaN warnings; those cells are set back to NaN below
    functions: dict[str, Callable[..., np.ndarray]] = {
        "mean": np.nanmean, "std": np.nanstd, "min": np.nanmin, "max": np.nanmax
    }
    data = {}
    for stat in stats:
        if stat not in functions:
            raise ValueError(f"unknown statistic {stat!r}; use {sorted(functions)} or quantiles=")
        data[f"{name}_{stat}"] = np.where(empty, np.nan, functions[stat](blocks, axis=2))
    for q in quantiles:
        data[f"{name}_p{round(100 * q)}"] = np.where(
            empty, np.nan, np.nanquantile(blocks, q, axis=2)
        )
    return _on_cells(data, geobox.zoom_out(factor), {"cell_size": cell_size})


def majority(codes: xr.DataArray, cell_size: float, *, name: str, nodata: int = 0) -> xr.DataArray:
    """The most frequent class of each cell (ties: the smallest code; NaN without data), for
    categorical context such as ecoregions or life zones."""
    geobox = codes.odc.geobox
    factor = cell_factor(geobox, cell_size)
    values = np.asarray(codes.values, np.float64)
    values[values == nodata] = np.nan
    blocks = _blocks(values, factor)
    classes = np.unique(blocks[np.isfinite(blocks)])
    if not len(classes):
        out = np.full(blocks.shape[:2], np.nan)
    else:
        counts = np.stack([(blocks == c).sum(axis=2) for c in classes])
        out = np.where(counts.sum(axis=0) > 0, classes[np.argmax(counts, axis=0)], np.nan)
    return _on_cells({name: out}, geobox.zoom_out(factor))[name]


def cell_table(layers: xr.Dataset) -> pd.DataFrame:
    """One row per cell: row, col, x, y (cell centre, grid CRS) and every layer."""
    ny, nx = layers.sizes["y"], layers.sizes["x"]
    rows, cols = np.meshgrid(np.arange(ny), np.arange(nx), indexing="ij")
    xs, ys = np.meshgrid(layers.x.values, layers.y.values)
    table = pd.DataFrame(
        {"row": rows.ravel(), "col": cols.ravel(), "x": xs.ravel(), "y": ys.ravel()}
    )
    for name, layer in layers.data_vars.items():
        table[name] = np.asarray(layer.values).ravel()
    return table


def sites_to_cells(sites: pd.DataFrame, grid: GeoBox, *, latitude: str = "latitude",
                   longitude: str = "longitude") -> pd.DataFrame:
    """``sites`` with the ``row``/``col`` of the cell holding each site (WGS84 coordinates);
    sites outside the grid or without coordinates are dropped."""
    lat = pd.to_numeric(sites[latitude], errors="coerce").to_numpy(float)
    lon = pd.to_numeric(sites[longitude], errors="coerce").to_numpy(float)
    if grid.crs is None:
        raise ValueError("the cell grid has no CRS: sites cannot be placed on it")
    x, y = Transformer.from_crs("EPSG:4326", grid.crs.to_wkt(), always_xy=True).transform(lon, lat)
    col, row = ~grid.affine @ (np.asarray(x), np.asarray(y))
    row, col = np.floor(row), np.floor(col)
    inside = (
        np.isfinite(row)
        & np.isfinite(col)
        & (row >= 0)
        & (col >= 0)
        & (row < grid.shape[0])
        & (col < grid.shape[1])
    )
    out = sites.loc[inside].copy()
    out["row"], out["col"] = row[inside].astype(int), col[inside].astype(int)
    return out
