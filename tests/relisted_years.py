"""More years from the same COGs, for tests and benchmarks of many-year views: a product
catalog's items of one year listed again under other years (the same assets, so the same
rendering work per frame). Used by tests/test_webapp_e2e.py and benchmarks/api_load.py, which
puts this folder on ``sys.path``."""

from __future__ import annotations

from collections.abc import Iterable

from ecointegrity.cube import LocalCatalog


def relist_years(products: LocalCatalog, source_year: int, years: Iterable[int]) -> None:
    """List every product's ``source_year`` items again under each of ``years`` that the
    catalog does not have yet (ids and datetimes changed, assets shared)."""
    for product in products.collections():
        listed = products.items(product)
        have = {int(item.properties["start_datetime"][:4]) for item in listed}
        base = [item for item in listed if item.properties["start_datetime"][:4] == str(source_year)]
        clones = []
        for year in years:
            if year in have:
                continue
            for item in base:
                clone = item.clone()
                clone.id = item.id.replace(str(source_year), str(year))
                clone.properties["start_datetime"] = f"{year}-01-01T00:00:00Z"
                clone.properties["end_datetime"] = f"{year}-12-31T23:59:59.999999Z"
                clones.append(clone)
        products.add_items(product, clones)
