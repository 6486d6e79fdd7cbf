import numpy as np
import pytest

from ecointegrity.cube.errors import MissingBandError, UnknownSensorError
from ecointegrity.cube.sensors import (
    LANDSAT_QA_BITS,
    LandsatQAMask,
    clean_mask,
    get_profile,
    sentinel2_offset,
)

# Landsat 8-9 Collection 2 QA_PIXEL values and their documented meaning
# (USGS LSDS-1619 Science Product Guide, pixel quality assessment table).
DOCUMENTED_QA = {
    1: "fill",
    21824: "clear land, low-confidence cloud/shadow/snow/cirrus",
    21952: "clear water (bit 7)",
    21826: "dilated cloud over land",
    22280: "high-confidence cloud (bit 3)",
    23888: "high-confidence cloud shadow (bit 4)",
    30048: "high-confidence snow/ice (bit 5)",
    54596: "high-confidence cirrus (bit 2)",
    55052: "cloud and cirrus",
}


def _bits(value: int) -> set[str]:
    return {name for name, bit in LANDSAT_QA_BITS.items() if value >> bit & 1}


def test_documented_qa_values_decode_to_their_flags():
    assert _bits(1) == {"fill"}
    assert _bits(21824) == {"clear"}
    assert _bits(21952) == {"clear", "water"}
    assert _bits(21826) == {"clear", "dilated_cloud"}
    assert _bits(22280) == {"cloud"}
    assert "shadow" in _bits(23888)
    assert "snow" in _bits(30048)
    assert "cirrus" in _bits(54596)
    assert {"cloud", "cirrus"} <= _bits(55052)


def test_landsat_clear_mask_on_documented_values():
    qa = np.array(list(DOCUMENTED_QA), dtype=np.uint16)
    clear = LandsatQAMask().clear(qa)
    expected = {1: False, 21824: True, 21952: True, 21826: False, 22280: False,
                23888: False, 30048: False, 54596: False, 55052: False}
    assert dict(zip(DOCUMENTED_QA, clear.tolist(), strict=False)) == expected


def test_landsat_mask_can_keep_snow():
    keep_snow = LandsatQAMask(exclude=("fill", "cloud", "shadow", "cirrus", "dilated_cloud"))
    assert keep_snow.clear(np.array([30048], dtype=np.uint16))[0]
    with pytest.raises(ValueError, match="unknown Landsat QA flags"):
        LandsatQAMask(exclude=("clouds",)).clear(np.array([0]))


def test_sentinel2_scl_clear_classes():
    scl = np.arange(12)
    clear = get_profile("sentinel-2-l2a").clear(scl)
    assert np.flatnonzero(clear).tolist() == [4, 5, 6, 7]


@pytest.mark.parametrize(
    "props, offset",
    [
        ({"s2:processing_baseline": "02.14"}, 0.0),
        ({"s2:processing_baseline": "04.00"}, -0.1),
        ({"s2:processing_baseline": "05.10"}, -0.1),
        ({"s2:processing_baseline": "05.10", "earthsearch:boa_offset_applied": True}, 0.0),
        ({}, 0.0),
    ],
)
def test_sentinel2_baseline_offset(props, offset):
    assert sentinel2_offset(props) == offset


def test_landsat_scaling_is_documented_c2_l2():
    p = get_profile("landsat-c2-l2")
    # DN 7273 is 0.0 reflectance: 7273 * 0.0000275 - 0.2 = 0.0000075
    assert 7273 * p.scale + p.offset == pytest.approx(0.0, abs=1e-5)
    assert p.asset("nir") == "nir08" and p.asset("swir1") == "swir16"


def test_profile_errors_are_clear():
    with pytest.raises(UnknownSensorError, match="unknown sensor profile 'spot-9'"):
        get_profile("spot-9")
    with pytest.raises(MissingBandError, match="band 'swir1' is not in sensor profile 'cbers4-awfi'"):
        get_profile("cbers4-awfi").asset("swir1")


def test_profile_round_trips_through_json():
    p = get_profile("cbers4-awfi")
    assert get_profile(p.model_dump(mode="json")) == p


def test_clean_mask_opens_specks_and_buffers_clouds():
    clear = np.ones((1, 21, 21), dtype=bool)
    clear[0, 2, 2] = False  # a one-pixel speck: removed by opening
    clear[0, 10:14, 10:14] = False  # a real cloud: kept and buffered
    out = clean_mask(clear, open_px=1, buffer_px=2)
    assert out[0, 2, 2]
    assert not out[0, 10:14, 10:14].any()
    assert not out[0, 8, 11] and out[0, 5, 11]
    assert np.array_equal(clean_mask(clear), clear)
