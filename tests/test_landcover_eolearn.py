"""Land cover on the real eo-learn Sentinel-2 patch (Slovenia): reference polygons, products,
spatial-block cross-validation. The scores go to the test report."""

import json

import numpy as np
import pytest

from ecointegrity.cube import LocalCatalog, ingest_arrays, ingest_eopatch, load
from ecointegrity.cube.ingest import eopatch_geobox
from ecointegrity.landcover import (
    LandCoverModel,
    Recipe,
    build_features,
    rasterize_reference,
    read_reference,
    sample_training,
)
from ecointegrity.mosaics import annual_products, ndvi_percentiles

S2_L1C_BANDS = ["B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10", "B11", "B12"]
RECIPE = Recipe(
    "eolearn-s2-l1c", "1.0.0",
    tuple(("geomedian", b) for b in ("blue", "green", "red", "nir", "swir1", "swir2"))
    + (("tasselled_cap", "brightness"), ("tasselled_cap", "greenness"), ("tasselled_cap", "wetness"))
    + tuple(("ndvi", f"ndvi_p{p}") for p in (10, 50, 90)),
    terrain=True,
    description="what the eo-learn test patch supports: 5 full-band dates, an NDVI series, a DEM",
)


@pytest.fixture(scope="module")
def patch(tmp_path_factory, eopatch_dir, reference_scenes):
    """Products of the patch: geomedian etc. from its 5 full-band scenes (CLM-masked), NDVI
    percentiles from its 68-date NDVI series, terrain from its DEM; labels from its polygons."""
    cat = LocalCatalog(tmp_path_factory.mktemp("eolearn") / "catalog")
    geobox = eopatch_geobox(eopatch_dir)
    stamps = json.loads((eopatch_dir / "timestamps.json").read_text())
    order = [2, 1, 4, 3, 0]  # PROVENANCE: scene k of REFERENCE_SCENES is timestamp order[k]
    clm = np.load(eopatch_dir / "mask" / "CLM.npy")[order].astype(np.float32)
    scenes = np.concatenate([np.load(reference_scenes), clm], axis=-1)
    ingest_arrays(cat, "l1c", scenes, bands=[*S2_L1C_BANDS, "CLM"], times=[stamps[i] for i in order],
                  geobox=geobox, sensor="sentinel-2-l1c-eopatch")
    ingest_eopatch(cat, eopatch_dir, "series", features=["NDVI", "CLM"])
    reflectance = load(cat, "l1c", ["blue", "green", "red", "nir", "swir1", "swir2"], groupby="time").compute()
    products = annual_products(reflectance, ["geomedian", "tasselled_cap"])
    products["ndvi"] = ndvi_percentiles(load(cat, "series", ["NDVI"], groupby="time").NDVI.compute())
    dem = products["geomedian"].red.copy(data=np.load(eopatch_dir / "data_timeless" / "DEM.npy")[..., 0])
    features = build_features(products, RECIPE, dem=dem)
    polygons = read_reference(eopatch_dir / "vector_timeless" / "LULC.gpkg", layer="LULC")
    labels = rasterize_reference(polygons, geobox, "LULC_ID")
    return features, labels


def test_reference_polygons_rasterize_to_the_stored_labels(patch, eopatch_dir):
    _, labels = patch
    np.testing.assert_array_equal(labels, np.load(eopatch_dir / "mask_timeless" / "LULC.npy")[..., 0])


def test_spatial_block_cross_validation(patch, report):
    features, labels = patch
    training = sample_training(labels, features, per_class=1500, block_px=20, margin_px=1, seed=0)
    model = LandCoverModel("eolearn-lulc", RECIPE, n_estimators=200).fit(training, period="2015-2017")
    cv = model.cv_report_
    majority = max(training.class_counts().values()) / len(training)
    report(f"eo-learn patch (Slovenia, S2 L1C, 101x100 px, classes {training.class_counts()}): "
           f"spatial-block CV ({cv['folds']} folds, {cv['blocks']} blocks of 20 px) overall accuracy "
           f"{cv['overall_accuracy']:.3f} (majority class {majority:.3f}), kappa {cv['kappa']:.3f}, "
           f"F1 {json.dumps({k: round(v['f1'], 3) for k, v in cv['per_class'].items()})}")
    assert cv["folds"] == 5
    # better than always answering the commonest class, and forest (2) well recognised
    assert cv["overall_accuracy"] > majority + 0.05
    assert cv["per_class"]["2"]["f1"] > 0.85
