"""Ingest from the public Earth Search STAC API. Needs the internet: skipped when unreachable
(this project's CI machine has no route to it; run on a connected machine)."""

import pytest

from ecointegrity.cli.demo_job import DEMO_BBOX, stac_api_reachable
from ecointegrity.cube import LocalCatalog, ingest_stac_api, load

EARTH_SEARCH = "https://earth-search.aws.element84.com/v1"

pytestmark = [
    pytest.mark.network,
    pytest.mark.skipif(not stac_api_reachable(EARTH_SEARCH, timeout=5), reason=f"{EARTH_SEARCH} is not reachable"),
]


def test_landsat_items_keep_remote_hrefs_and_load(tmp_path):
    cat = LocalCatalog(tmp_path / "cat")
    report = ingest_stac_api(cat, "landsat-c2-l2", bbox=DEMO_BBOX, time="2023-01/2023-03", api_url=EARTH_SEARCH,
                             max_cloud=30, limit=3)
    assert report.items_added >= 1
    item = cat.items("landsat-c2-l2")[0]
    assert item.assets["red"].href.startswith("https://")
    ds = load(cat, "landsat-c2-l2", ["red", "nir"], bbox=DEMO_BBOX, crs="EPSG:6372", resolution=30).compute()
    valid = ds.red.values[~(ds.red.isnull().values)]
    assert valid.size and -0.2 <= valid.min() and valid.max() < 1.6
