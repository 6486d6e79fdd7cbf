"""A static STAC catalog on disk or object storage: the embedded default, no database.

Layout (STAC best practice, readable by pystac, QGIS's STAC browser and stac-browser)::

    <root>/catalog.json
    <root>/<collection>/collection.json
    <root>/<collection>/<item>/<item>.json        # assets of written data sit beside it

Every JSON file is written atomically, and a collection lists an item only after the item's
JSON (and its data) is complete, so a crash never leaves a partial item in the catalog. On object
storage (``s3://bucket/prefix``, any S3-compatible store, see :mod:`ecointegrity.io`) the same
order holds: each file is one upload that appears whole or not at all, data files first, the
item's JSON next, the collection's JSON (which lists the item) last.
Reading a STAC API instead (the scale-out) goes through :class:`StacApiCatalog`, which offers
the same ``items`` query.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

import pystac

from .. import io as _io
from .errors import CatalogError, NoDataError
from .sensors import SensorProfile, get_profile
from .timerange import TimeRange, to_time_range

__all__ = ["Catalog", "LocalCatalog", "StacApiCatalog", "open_catalog", "SENSOR_KEY"]

SENSOR_KEY = "ecointegrity:sensor"
INTERVAL_KEY = "ecointegrity:interval"
BBOX_KEY = "ecointegrity:bbox"


class Catalog(Protocol):
    """What loading needs from any catalog."""

    def items(
        self,
        collection: str,
        *,
        bbox: Sequence[float] | None = None,
        time: TimeRange | str | tuple | None = None,
    ) -> list[pystac.Item]: ...

    def sensor_profile(self, collection: str) -> SensorProfile: ...


class LocalCatalog:
    """A static STAC catalog rooted at a local folder or an fsspec URL."""

    def __init__(self, root: str | os.PathLike, *, title: str = "ecointegrity catalog"):
        # Absolute, so that hrefs stay valid whatever the working directory of a reader.
        self.root = os.path.abspath(root) if _io.is_local(root) else str(root).rstrip("/")
        if not _io.is_local(self.root):
            # GDAL (odc-stac, the tile renderer) reads this catalog's COGs over /vsis3
            _io.configure_gdal_s3()
        self._title = title
        self._collections: dict[str, pystac.Collection] = {}
        if not _io.exists(self._catalog_json):
            self._write_catalog_json([])

    def __repr__(self) -> str:
        return f"LocalCatalog({self.root!r})"

    @property
    def _catalog_json(self) -> str:
        return _io.join(self.root, "catalog.json")

    def _collection_json(self, collection: str) -> str:
        return _io.join(self.root, collection, "collection.json")

    def item_dir(self, collection: str, item_id: str) -> str:
        """Folder of an item: its JSON and the data files written for it."""
        return _io.join(self.root, collection, item_id)

    # -- collections ---------------------------------------------------------------------
    def collections(self) -> list[str]:
        cat = _io.read_json(self._catalog_json)
        return [
            link["href"].split("/")[-2]
            for link in cat.get("links", [])
            if link.get("rel") == "child"
        ]

    def collection(self, collection: str) -> pystac.Collection:
        if collection not in self._collections:
            path = self._collection_json(collection)
            if not _io.exists(path):
                known = ", ".join(self.collections()) or "none"
                raise CatalogError(
                    f"collection {collection!r} is not in catalog {self.root}; collections: {known}"
                )
            coll = pystac.Collection.from_dict(_io.read_json(path))
            coll.set_self_href(path)
            self._collections[collection] = coll
        return self._collections[collection]

    def ensure_collection(
        self,
        collection: str,
        *,
        description: str = "",
        sensor: SensorProfile | str | None = None,
        extra_fields: dict[str, Any] | None = None,
    ) -> pystac.Collection:
        """Create a collection if missing (its profile is stored in its JSON)."""
        if collection in self.collections():
            return self.collection(collection)
        fields: dict[str, Any] = dict(extra_fields or {})
        if sensor is not None:
            fields[SENSOR_KEY] = get_profile(sensor).model_dump(mode="json")
        coll = pystac.Collection(
            id=collection,
            description=description or collection,
            extent=_empty_extent(),
            extra_fields=fields,
            license="other",
        )
        self._write_collection(coll, {})
        self._write_catalog_json([*self.collections(), collection])
        return self.collection(collection)

    def sensor_profile(self, collection: str) -> SensorProfile:
        coll = self.collection(collection)
        spec = coll.extra_fields.get(SENSOR_KEY)
        return get_profile(spec if spec is not None else collection)

    # -- items ---------------------------------------------------------------------------
    def item_ids(self, collection: str) -> list[str]:
        return list(self._index(collection))

    def _index(self, collection: str) -> dict[str, dict[str, Any]]:
        """Item id -> its link, which also carries the item's time interval and bbox.

        Queries filter on these link fields and read only the matching items' JSON: a year of
        a forty-year archive costs a fortieth of the archive.
        """
        coll = self.collection(collection)
        return {
            link.href.split("/")[-1][: -len(".json")]: link.extra_fields
            for link in coll.links
            if link.rel == "item"
        }

    def add_items(self, collection: str, items: Iterable[pystac.Item]) -> int:
        """Write items (replacing any with the same id) and list them in the collection."""
        written = [self.write_item(collection, item) for item in items]
        self.register_items(collection, written)
        return len(written)

    def write_item(self, collection: str, item: pystac.Item) -> pystac.Item:
        """Write an item's JSON without listing it yet (safe from parallel workers)."""
        item.collection_id = collection
        d = item.to_dict(include_self_link=False, transform_hrefs=False)
        # Data written beside the item are referenced relatively: the catalog can be moved
        # or uploaded to object storage as a whole.
        here = self.item_dir(collection, item.id) + "/"
        for asset in d["assets"].values():
            if asset["href"].startswith(here):
                asset["href"] = "./" + asset["href"][len(here) :]
        d["links"] = [
            {"rel": "collection", "href": "../collection.json", "type": "application/json"},
            {"rel": "parent", "href": "../collection.json", "type": "application/json"},
            {"rel": "root", "href": "../../catalog.json", "type": "application/json"},
        ]
        _io.write_json_atomic(_io.join(self.item_dir(collection, item.id), f"{item.id}.json"), d)
        return item

    def register_items(self, collection: str, items: Sequence[pystac.Item]) -> None:
        """List written items in their collection and grow its extent.

        The collection is rewritten last and in one process only, so a reader never meets a
        listed item whose JSON is incomplete, and parallel writers never race on it.
        """
        if not items:
            return
        coll = self.collection(collection)
        index = self._index(collection)
        for item in items:
            start, end = _item_interval(item)
            index[item.id] = {
                INTERVAL_KEY: [
                    pystac.utils.datetime_to_str(start),
                    pystac.utils.datetime_to_str(end),
                ],
                BBOX_KEY: list(item.bbox) if item.bbox else None,
            }
        coll.extent = _merge_extent(coll.extent, list(items))
        self._write_collection(coll, index)

    def items(
        self,
        collection: str,
        *,
        bbox: Sequence[float] | None = None,
        time: TimeRange | str | tuple | None = None,
    ) -> list[pystac.Item]:
        """Items of a collection intersecting a lon/lat ``bbox`` and a time range, by date."""
        trange = to_time_range(time) if time is not None else None
        ids = []
        for item_id, fields in self._index(collection).items():
            interval, box = fields.get(INTERVAL_KEY), fields.get(BBOX_KEY)
            if (
                trange is not None
                and interval
                and not trange.overlaps(*map(pystac.utils.str_to_datetime, interval))
            ):
                continue
            if bbox is not None and box and not _bbox_overlap(bbox, box):
                continue
            ids.append(item_id)
        paths = [_io.join(self.item_dir(collection, i), f"{i}.json") for i in ids]
        with ThreadPoolExecutor(max_workers=8) as pool:
            dicts = list(pool.map(_io.read_json, paths))
        out = []
        for path, d in zip(paths, dicts, strict=True):
            item = pystac.Item.from_dict(d, preserve_dict=False)
            item.set_self_href(path)
            item.make_asset_hrefs_absolute()
            # links written by other tools carry no index fields: check the item itself
            if trange is not None and not trange.overlaps(*_item_interval(item)):
                continue
            if bbox is not None and item.bbox is not None and not _bbox_overlap(bbox, item.bbox):
                continue
            out.append(item)
        out.sort(key=lambda it: (_item_interval(it)[0], it.id))
        return out

    # -- writing -------------------------------------------------------------------------
    def _write_collection(self, coll: pystac.Collection, index: dict[str, dict[str, Any]]) -> None:
        d = coll.to_dict(include_self_link=False, transform_hrefs=False)
        d["links"] = [
            {"rel": "root", "href": "../catalog.json", "type": "application/json"},
            {"rel": "parent", "href": "../catalog.json", "type": "application/json"},
        ] + [
            {"rel": "item", "href": f"./{i}/{i}.json", "type": "application/geo+json", **fields}
            for i, fields in index.items()
        ]
        path = self._collection_json(coll.id)
        _io.write_json_atomic(path, d)
        self._collections.pop(coll.id, None)

    def _write_catalog_json(self, collections: list[str]) -> None:
        d = pystac.Catalog(id="ecointegrity", description=self._title).to_dict(
            include_self_link=False
        )
        d["links"] = [{"rel": "root", "href": "./catalog.json", "type": "application/json"}] + [
            {"rel": "child", "href": f"./{c}/collection.json", "type": "application/json"}
            for c in collections
        ]
        _io.write_json_atomic(self._catalog_json, d)


class StacApiCatalog:
    """A STAC API (e.g. Earth Search) queried through pystac-client."""

    def __init__(self, url: str, *, max_cloud: float | None = None):
        import pystac_client

        self.url = url
        self.max_cloud = max_cloud
        self._client = pystac_client.Client.open(url)

    def items(
        self,
        collection: str,
        *,
        bbox: Sequence[float] | None = None,
        time: TimeRange | str | tuple | None = None,
        limit: int | None = None,
    ) -> list[pystac.Item]:
        query = {"eo:cloud_cover": {"lt": self.max_cloud}} if self.max_cloud is not None else None
        trange = to_time_range(time) if time is not None else None
        search = self._client.search(
            collections=[collection],
            bbox=list(bbox) if bbox is not None else None,
            datetime=trange.stac_interval() if trange else None,
            query=query,
            max_items=limit,
        )
        items = list(search.items())
        if not items:
            raise NoDataError(
                f"STAC API {self.url}: no items in {collection!r} for bbox={bbox} time={time}"
            )
        return items

    def sensor_profile(self, collection: str) -> SensorProfile:
        return get_profile(collection)


def open_catalog(location: str | os.PathLike) -> LocalCatalog | StacApiCatalog:
    """Open a catalog folder / catalog.json (local or fsspec URL), or a STAC API by URL."""
    s = str(location)
    if s.endswith("catalog.json"):
        return LocalCatalog(s[: -len("catalog.json")].rstrip("/") or ".")
    if s.startswith(("http://", "https://")) and not _io.exists(_io.join(s, "catalog.json")):
        return StacApiCatalog(s)
    return LocalCatalog(s)


def _item_interval(item: pystac.Item) -> tuple[dt.datetime, dt.datetime]:
    props = item.properties
    if item.datetime is not None:
        return item.datetime, item.datetime
    start = pystac.utils.str_to_datetime(props["start_datetime"])
    end = pystac.utils.str_to_datetime(props["end_datetime"])
    return start, end


def _bbox_overlap(a: Sequence[float], b: Sequence[float]) -> bool:
    return not (a[2] < b[0] or b[2] < a[0] or a[3] < b[1] or b[3] < a[1])


def _empty_extent() -> pystac.Extent:
    # typed, or [[None, None]] is a list[list[None]], which pystac's list type does not accept
    open_interval: list[list[dt.datetime | None]] = [[None, None]]
    return pystac.Extent(
        pystac.SpatialExtent([[-180.0, -90.0, 180.0, 90.0]]), pystac.TemporalExtent(open_interval)
    )


def _merge_extent(extent: pystac.Extent, items: list[pystac.Item]) -> pystac.Extent:
    boxes = [it.bbox for it in items if it.bbox]
    times = [t for it in items for t in _item_interval(it)]
    old_box = extent.spatial.bboxes[0]
    if old_box != [-180.0, -90.0, 180.0, 90.0]:
        boxes.append(old_box)
    old_t = extent.temporal.intervals[0]
    times += [t for t in old_t if t is not None]
    bbox = [
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    ]
    return pystac.Extent(
        pystac.SpatialExtent([bbox]), pystac.TemporalExtent([[min(times), max(times)]])
    )
