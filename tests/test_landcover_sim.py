"""Land cover and change on the simulator's landscape, where the truth is known: map accuracy,
change recall and precision for the injected events, and the spectral-evidence filter."""

import numpy as np
import pytest
import rasterio

from ecointegrity.cube import LocalCatalog, Tile, get_profile, ingest_dataset, read_product
from ecointegrity.cube.simulate import default_geobox, simulate
from ecointegrity.landcover import (
    LandCoverModel,
    accuracy_report,
    classify,
    confusion_matrix,
    detect_change,
    draw_stratified_sample,
    features_from_catalog,
    load_scheme,
    run_landcover,
    sample_training,
    sieve_mmu,
    spectral_distance,
    stratified_estimates,
    to_polygons,
    write_polygons,
)
from ecointegrity.mosaics import run_mosaics

BANDS = ["blue", "green", "red", "nir", "swir1", "swir2"]
FOREST, CROPLAND, GRASSLAND, BUILT_UP = 1, 4, 3, 6


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Three simulated years (flooding 2019, deforestation and urban growth 2020), their annual
    products, and a model trained on 2019 truth."""
    root = tmp_path_factory.mktemp("landcover")
    geobox = default_geobox()
    scenes = simulate(geobox, start_year=2019, end_year=2021, seed=0)
    cat = LocalCatalog(root / "catalog")
    profile = get_profile("landsat-c2-l2")
    ingest_dataset(cat, "sim", scenes.dataset, sensor=profile, rename={c: profile.asset(c) for c in ("nir", "swir1", "swir2")})
    tile = Tile("sim", (0, 0), geobox)
    run_mosaics(cat.root, "sim", str(root / "products"), [tile], [2019, 2021], progress=False)
    products = LocalCatalog(root / "products")
    features = {y: features_from_catalog(products, "madmex-landsat", y, geobox) for y in (2019, 2021)}
    truth = {y: scenes.truth.land_cover.sel(year=y).values.astype(np.int32) for y in (2019, 2021)}
    training = sample_training(truth[2019], features[2019], per_class=600, block_px=25, seed=0)
    model = LandCoverModel("simulator-8", "madmex-landsat").fit(training, period="2019")
    model_path = model.save(root / "model.joblib")
    return dict(root=root, scenes=scenes, tile=tile, products=products, features=features, truth=truth,
                model=model, model_path=model_path)


@pytest.mark.parametrize("mode", ["pixel", "object"])
def test_map_accuracy_on_known_land_cover(world, mode, report):
    for year in (2019, 2021):  # 2021 was never seen in training
        mapped = classify(world["model"], world["features"][year], mode=mode)["class"].values
        mapped = sieve_mmu(mapped, pixel_area_m2=900, mmu_ha=0.5)
        acc = accuracy_report(world["truth"][year], mapped)
        report(f"simulator land cover {year} ({mode}): overall accuracy {acc.overall_accuracy:.3f}, kappa {acc.kappa:.3f}")
        assert acc.overall_accuracy >= 0.9


def test_change_of_injected_events_and_spectral_filter(world, report):
    model, features, scenes = world["model"], world["features"], world["scenes"]
    maps = {y: sieve_mmu(model.predict_map(features[y])["class"].values, pixel_area_m2=900, mmu_ha=0.5) for y in (2019, 2021)}
    gm = {y: read_product(world["products"], "geomedian", y, world["tile"].geobox) for y in (2019, 2021)}
    distance = spectral_distance(gm[2019], gm[2021], BANDS)
    deforested = scenes.truth.change.sel(year=2020).values == 1
    built = scenes.truth.change.sel(year=2020).values == 2
    plain = detect_change(maps[2019], maps[2021], mmu_ha=0.5)
    evidence = detect_change(maps[2019], maps[2021], distance=distance, mmu_ha=0.5)
    for name, result in (("post-classification", plain), ("with spectral evidence", evidence)):
        false = int((result.changed & ~(deforested | built)).sum())
        report(f"simulator change 2019->2021 {name}: {int(result.changed.sum())} px changed, {false} false")
    for event, truth, transition in (("deforestation", deforested, (FOREST, CROPLAND)), ("urban growth", built, (GRASSLAND, BUILT_UP))):
        detected = evidence.changed & (maps[2019] == transition[0]) & (maps[2021] == transition[1])
        recall = (detected & truth).sum() / truth.sum()
        precision = (detected & truth).sum() / detected.sum()
        report(f"simulator {event} at 0.5 ha: recall {recall:.3f}, precision {precision:.3f}")
        assert recall >= 0.85 and precision >= 0.85
    false_plain = (plain.changed & ~(deforested | built)).sum()
    false_evidence = (evidence.changed & ~(deforested | built)).sum()
    assert false_evidence < 0.2 * false_plain  # the evidence removes most classification noise
    assert evidence.pairs()[(FOREST, CROPLAND)] > 500


def test_change_area_with_confidence_intervals(world, report):
    """Olofsson: a stratified sample of the change map checked against the truth gives areas
    with confidence intervals that contain the true change area."""
    model, features, scenes = world["model"], world["features"], world["scenes"]
    maps = {y: model.predict_map(features[y])["class"].values for y in (2019, 2021)}
    gm = {y: read_product(world["products"], "geomedian", y, world["tile"].geobox) for y in (2019, 2021)}
    result = detect_change(maps[2019], maps[2021], distance=spectral_distance(gm[2019], gm[2021], BANDS))
    strata = np.where(result.changed, 2, 1)  # 1 stable, 2 change
    truth = np.where((scenes.truth.change.sel(year=2020).values > 0), 2, 1)
    mapped_ha = {1: (strata == 1).sum() * 0.09, 2: (strata == 2).sum() * 0.09}
    true_ha = (truth == 2).sum() * 0.09
    estimates, covered = [], 0
    for seed in range(40):  # repeated surveys: the 95 % intervals should cover the truth ~95 % of the time
        sample = draw_stratified_sample(strata, {1: 500, 2: 150}, seed=seed)
        counts = confusion_matrix(truth[sample[:, 0], sample[:, 1]], strata[sample[:, 0], sample[:, 1]], classes=[1, 2])
        frame = stratified_estimates(counts, mapped_ha).to_frame()
        estimates.append(frame.loc[2, "area"])
        covered += frame.loc[2, "area_lower"] <= true_ha <= frame.loc[2, "area_upper"]
    report(f"simulator change area over 40 stratified samples: mean {np.mean(estimates):.1f} ha "
           f"(truth {true_ha:.1f} ha, mapped {mapped_ha[2]:.1f} ha), 95% intervals covered the truth {covered}/40")
    assert abs(np.mean(estimates) - true_ha) < 0.03 * true_ha
    assert covered >= 30


def test_pipeline_writes_class_cog_with_colour_table_and_polygons(world, tmp_path):
    run = run_landcover(str(world["model_path"]), world["products"].root, str(tmp_path / "maps"), [world["tile"]],
                        [2021], mmu_ha=0.5, progress=False)
    assert not run.failed and len(run.written) == 1
    item = run.written[0]
    scheme = load_scheme("simulator-8")
    with rasterio.open(item.assets["class"].get_absolute_href()) as src:
        classes = src.read(1)
        assert src.colormap(1)[FOREST][:3] == scheme.color(FOREST)[:3]
        assert src.crs.to_epsg() == 6372
    assert set(np.unique(classes)) <= set(scheme.codes)
    # a patch smaller than 0.5 ha (6 px at 30 m) no longer exists
    from scipy import ndimage

    for code in np.unique(classes):
        labels, n = ndimage.label(classes == code, structure=np.ones((3, 3)))
        assert np.bincount(labels.ravel())[1:].min() >= 6
    again = run_landcover(str(world["model_path"]), world["products"].root, str(tmp_path / "maps"), [world["tile"]],
                          [2021], progress=False)
    assert again.skipped == 1 and not again.written
    gdf = to_polygons(classes, world["tile"].geobox, names=scheme.names("en"))
    write_polygons(gdf, tmp_path / "landcover.gpkg")
    import geopandas as gpd

    back = gpd.read_file(tmp_path / "landcover.gpkg")
    assert back.crs.to_epsg() == 6372
    assert back["area_ha"].sum() == pytest.approx(classes.size * 0.09, rel=1e-6)
    assert "Forest" in set(back["name"])


def test_saved_model_keeps_its_provenance(world):
    loaded = LandCoverModel.load(world["model_path"])
    meta = loaded.metadata()
    assert meta["scheme"] == "simulator-8" and meta["recipe"]["name"] == "madmex-landsat"
    assert meta["training_period"] == "2019" and meta["cross_validation"]["folds"] == 5
    assert meta["cross_validation"]["overall_accuracy"] > 0.9
    assert {"lightgbm", "scikit-learn", "numpy"} <= set(meta["versions"])
    X = world["features"][2021].values.reshape(len(meta["feature_names"]), -1).T[:500]
    np.testing.assert_array_equal(loaded.predict(X), world["model"].predict(X))
    with pytest.raises(ValueError, match="do not match the model"):
        loaded.predict_map(world["features"][2021].isel(feature=slice(1, None)))
