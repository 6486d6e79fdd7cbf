"""Reading and writing COGs the way the mosaic pipeline does, against rasterio in the same run.

Reads: 41 dates x 7 bands of a 1000 x 1000 px tile (uint16, DEFLATE with the horizontal
predictor and 512 px blocks, as Landsat Collection 2 and our ingest write them), read in the
pipeline's two 512-row windows by a thread per core:

- baseline: ``rasterio`` ``read(window=..., out=...)`` per file (GDAL's GeoTIFF driver);
- ecointegrity: ``cube._tiff_window.read_tiff_window`` (tifffile + imagecodecs' libdeflate).

Writes: the 24 band files of the seven annual products of one tile, on a thread per core:

- baseline: rasterio's COG driver opened for writing, as ``write_cog`` did before (GDAL does the
  work when the file is closed, holding the GIL);
- ecointegrity: ``cube.write_cog`` (filled in memory, then GDAL's CreateCopy without the GIL).

Both outputs are checked equal (the pixels read; the files written, byte for byte).

    python benchmarks/cog_io.py [--repeats 5]

Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import rasterio
from odc.geo.geobox import GeoBox
from rasterio.windows import Window

from ecointegrity.cube import write_cog
from ecointegrity.cube._tiff_window import read_tiff_window

SIZE = 1000
DATES, BANDS = 41, 7
WINDOWS = [((0, 512), (0, SIZE)), ((512, SIZE), (0, SIZE))]
THREADS = os.cpu_count() or 1


def _sources(folder: Path, geobox: GeoBox) -> list[Path]:
    """DATES x BANDS reflectance-like uint16 COGs: smooth fields plus sensor noise."""
    rng = np.random.default_rng(0)
    paths = []
    for i in range(DATES * BANDS):
        field = np.cumsum(rng.normal(0, 40, geobox.shape), axis=1) / 8 + 9000
        counts = np.clip(field + rng.normal(0, 60, geobox.shape), 1, 65535).astype(np.uint16)
        path = folder / f"source_{i:03d}.tif"
        write_cog(path, counts, geobox, nodata=0)
        paths.append(path)
    return paths


def _read_rasterio(path: Path, rows: tuple[int, int], cols: tuple[int, int], out: np.ndarray) -> None:
    with rasterio.open(path) as src:
        src.read(1, window=Window.from_slices(rows, cols), out=out)


def _read_ours(path: Path, rows: tuple[int, int], cols: tuple[int, int], out: np.ndarray) -> None:
    if not read_tiff_window(str(path), rows, cols, out, 0.0):
        raise RuntimeError(f"{path}: the tile reader declined a plain COG")


def _read_all(paths: list[Path], read: Callable) -> np.ndarray:
    out = np.empty((len(paths), SIZE, SIZE), np.uint16)

    def work(chunk: list[int]) -> None:
        with rasterio.Env(GDAL_DISABLE_READDIR_ON_OPEN="EMPTY_DIR"):
            for i in chunk:
                for rows, cols in WINDOWS:
                    read(paths[i], rows, cols, out[i, rows[0] : rows[1], cols[0] : cols[1]])

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(work, [list(range(k, len(paths), THREADS)) for k in range(THREADS)]))
    return out


def _products(geobox: GeoBox) -> list[np.ndarray]:
    """The 24 band files of a tile's seven products, in their storage dtypes."""
    rng = np.random.default_rng(1)
    smooth = np.cumsum(rng.normal(0, 30, geobox.shape), axis=1)
    int16 = [(smooth / 4 + 1500 + 100 * i).astype(np.int16) for i in range(18)]
    mads = [(np.abs(smooth) / 1e5 + rng.gamma(2, 0.002, geobox.shape)).astype(np.float32)
            for _ in range(3)]
    counts = [rng.integers(0, 41, geobox.shape).astype(np.uint16) for _ in range(3)]
    return int16 + mads + counts


def _write_direct(path: Path, data: np.ndarray, geobox: GeoBox) -> None:
    """The COG driver opened for writing (write_cog before this benchmark's change)."""
    floating = np.issubdtype(data.dtype, np.floating)
    profile = {
        "driver": "COG", "width": data.shape[1], "height": data.shape[0], "count": 1,
        "dtype": data.dtype.name, "crs": "EPSG:6372", "transform": geobox.affine,
        "nodata": float("nan") if floating else None, "compress": "DEFLATE", "level": 1,
        "predictor": 3 if floating else 2, "blocksize": 512,
        "overview_resampling": "average" if floating else "nearest", "BIGTIFF": "IF_SAFER",
    }
    with rasterio.Env(GDAL_NUM_THREADS="1"), rasterio.open(path, "w", **profile) as dst:
        dst.write(data, 1)


def _write_ours(path: Path, data: np.ndarray, geobox: GeoBox) -> None:
    write_cog(path, data, geobox, num_threads=1)


def _write_all(folder: Path, arrays: list[np.ndarray], geobox: GeoBox, write: Callable) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(lambda i: write(folder / f"band_{i:02d}.tif", arrays[i], geobox),
                      range(len(arrays))))


def _timed(repeats: int, run: Callable[[], object]) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        run()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    geobox = GeoBox.from_bbox((3_900_000, 800_000, 3_900_000 + 30 * SIZE, 800_000 + 30 * SIZE),
                              "EPSG:6372", resolution=30)
    with tempfile.TemporaryDirectory(prefix="ecointegrity-cog-io-") as tmp:
        work = Path(tmp)
        sources = _sources(work, geobox)
        if not np.array_equal(_read_all(sources, _read_ours), _read_all(sources, _read_rasterio)):
            raise SystemExit("the tile reader and rasterio read different pixels")
        read = {name: _timed(args.repeats, lambda f=f: _read_all(sources, f))
                for name, f in (("rasterio", _read_rasterio), ("ecointegrity", _read_ours))}
        arrays = _products(geobox)
        _write_all(work / "direct", arrays, geobox, _write_direct)
        _write_all(work / "ours", arrays, geobox, _write_ours)
        same = all((work / "direct" / f.name).read_bytes() == f.read_bytes()
                   for f in sorted((work / "ours").iterdir()))
        if not same:
            raise SystemExit("write_cog and the direct COG driver wrote different files")
        write = {
            "rasterio COG driver": _timed(
                args.repeats, lambda: _write_all(work / "direct", arrays, geobox, _write_direct)),
            "ecointegrity": _timed(
                args.repeats, lambda: _write_all(work / "ours", arrays, geobox, _write_ours)),
        }
    raw_mb = DATES * BANDS * SIZE * SIZE * 2 / 1e6
    print(f"\n{'what':<44}{'median s':>10}{'MB/s':>9}{'ratio':>8}")
    for name, seconds in read.items():
        print(f"{'read 287 COGs, 2 windows each: ' + name:<44}{seconds:>10.3f}"
              f"{raw_mb / seconds:>9.0f}{read['rasterio'] / seconds:>7.2f}x")
    for name, seconds in write.items():
        print(f"{'write 24 product COGs: ' + name:<44}{seconds:>10.3f}{'':>9}"
              f"{write['rasterio COG driver'] / seconds:>7.2f}x")
    print(f"\n{THREADS} threads, median of {args.repeats}; pixels read equal, files written "
          "byte for byte equal")
    print(json.dumps({
        "benchmark": "cog_io",
        "threads": THREADS,
        "read_seconds": round(read["ecointegrity"], 3),
        "read_seconds_rasterio": round(read["rasterio"], 3),
        "read_speedup": round(read["rasterio"] / read["ecointegrity"], 2),
        "write_seconds": round(write["ecointegrity"], 3),
        "write_seconds_direct": round(write["rasterio COG driver"], 3),
        "write_speedup": round(write["rasterio COG driver"] / write["ecointegrity"], 2),
    }))


if __name__ == "__main__":
    main()
