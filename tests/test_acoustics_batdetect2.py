"""The optional BatDetect2 backend (batdetect2 1.3.1, CC BY-NC 4.0).

Reference: the outputs of batdetect2's own command line on the shared recordings
(``batdetect2 detect <dir>/ <out>/ 0.3 --save_preds_if_empty --quiet``, see
``audio/batdetect2-expected-1.3.1/PROVENANCE.md``). Tests that run the model skip when
batdetect2 is not installed; the import guarantees are checked without it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from conftest import require_data

from ecointegrity.acoustics.bats.batdetect2_backend import EVENT_COLUMNS, INSTALL_HINT
from ecointegrity.acoustics.io import validate_events

EXAMPLES = [
    "batdetect2-example/audio/20170701_213954-MYOMYS-LR_0_0.5.wav",
    "batdetect2-example/audio/20180530_213516-EPTSER-LR_0_0.5.wav",
    "batdetect2-example/audio/20180627_215323-RHIFER-LR_0_0.5.wav",
]
CONTRIB = [
    "batdetect2-contrib/padpadpadpad/Audiomoth.WAV",
    "batdetect2-contrib/padpadpadpad/AudiomothNoBatCalls.WAV",
    "batdetect2-contrib/padpadpadpad/Echometer.wav",
    "batdetect2-contrib/jeff37/0166_20240531_223911.wav",
    "batdetect2-contrib/jeff37/0166_20240603_033731.wav",
    "batdetect2-contrib/misc/20230322_172000_selec2.wav",
]
# batdetect2's dependency audioread imports modules Python 3.13 drops: not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:audioread")

SCHEMA = ["recording", "start_time", "end_time", "low_freq", "high_freq", "label", "score",
          "class_score", "model", "model_version"]


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=300)


# -- without batdetect2 ----------------------------------------------------------------------
def test_module_import_does_not_import_batdetect2():
    done = _run("""
        import sys
        import ecointegrity.acoustics.bats.batdetect2_backend as m
        loaded = sorted(k for k, v in sys.modules.items() if v is not None and k.split(".")[0] in ("batdetect2", "librosa"))
        assert not loaded, loaded
        assert m.BatDetect2Backend.name == "batdetect2"
    """)
    assert done.returncode == 0, done.stderr


def test_clear_error_when_batdetect2_is_missing():
    # sys.modules[name] = None makes `import name` fail as if the package were absent.
    done = _run("""
        import sys
        sys.modules["batdetect2"] = None
        from ecointegrity.acoustics.bats.batdetect2_backend import BatDetect2Backend, BatDetect2NotInstalled
        from ecointegrity.acoustics.errors import AcousticsError
        try:
            BatDetect2Backend()
        except ImportError as exc:
            assert isinstance(exc, BatDetect2NotInstalled) and isinstance(exc, AcousticsError)
            print(exc)
        else:
            raise SystemExit("no error")
    """)
    assert done.returncode == 0, done.stderr
    assert INSTALL_HINT in done.stdout
    assert "pip install torch==2.13.0 batdetect2==1.3.1" in done.stdout
    assert "CC BY-NC 4.0" in done.stdout


def test_event_columns_are_the_project_schema():
    assert EVENT_COLUMNS == SCHEMA


# -- with batdetect2 -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def backend():
    pytest.importorskip("batdetect2")
    from ecointegrity.acoustics.bats.batdetect2_backend import BatDetect2Backend

    return BatDetect2Backend(device="cpu")


def _expected(name: str) -> pd.DataFrame:
    """The command line's detections for one shared recording (CSV; JSON when it wrote none)."""
    root = require_data("audio/batdetect2-expected-1.3.1")
    csv = root / f"{name}.csv"
    if csv.exists():
        return pd.read_csv(csv)
    annotation = json.loads((root / f"{name}.json").read_text())["annotation"]
    assert annotation == [], f"{name}: no CSV but JSON detections"
    return pd.DataFrame(columns=["det_prob", "start_time", "end_time", "high_freq", "low_freq", "class",
                                 "class_prob"])


def _match(expected: pd.DataFrame, events: pd.DataFrame) -> list[tuple[int, int]]:
    """Pairs (expected row, event row): the same start within 1 ms, closest det_prob."""
    free = set(range(len(events)))
    pairs = []
    for i, row in expected.reset_index(drop=True).iterrows():
        near = [j for j in free if abs(events.start_time[j] - row.start_time) <= 1e-3 + 1e-9]
        assert near, f"no detection within 1 ms of {row.start_time} s"
        j = min(near, key=lambda j: abs(events.score[j] - row.det_prob))
        free.remove(j)
        pairs.append((i, j))
    return pairs


def test_defaults_are_the_command_lines(backend):
    assert backend.threshold == 0.3 and backend.chunk_size == 2.0
    assert backend.name == "batdetect2"
    assert backend.version.startswith("1.3.1/") and backend.version.endswith("Net2DFast_UK_same.pth.tar")
    assert len(backend.class_names) == 17 and "Pipistrellus pygmaeus" in backend.class_names
    assert backend.run_parameters["chunk_s"] == 2.0 and backend.run_parameters["model"] == "batdetect2"


@pytest.mark.parametrize("name", EXAMPLES + CONTRIB, ids=lambda n: n.rsplit("/", 1)[-1])
def test_reproduces_command_line_detections(backend, name, report):
    path = require_data(f"audio/{name}")
    expected = _expected(name)

    started = time.perf_counter()
    events = backend.detect_file(path)
    seconds = time.perf_counter() - started
    audio_s = sf.info(path).duration
    report(f"batdetect2 {path.name}: {audio_s:.2f} s audio, {len(events)} detections, {seconds:.2f} s "
           f"on CPU, real-time factor {seconds / audio_s:.2f}")

    assert list(events.columns) == SCHEMA
    assert list(validate_events(events).columns) == SCHEMA  # a valid event table
    assert len(events) == len(expected), f"{len(events)} detections, command line {len(expected)}"
    assert (events.recording == str(path)).all()
    assert (events.model == "batdetect2").all() and (events.model_version == backend.version).all()
    assert events.start_time.is_monotonic_increasing
    assert ((events.end_time > events.start_time) & (events.high_freq > events.low_freq)).all()
    assert ((events.score >= backend.threshold) & (events.score <= 1)).all()
    assert (events.high_freq <= sf.info(path).samplerate / 2).all()  # above Nyquist dropped

    pairs = _match(expected, events)
    if not pairs:
        return
    exp = expected.reset_index(drop=True)
    i, j = (list(x) for x in zip(*pairs, strict=False))
    np.testing.assert_allclose(events.start_time[j], exp.start_time[i], atol=1e-3 + 1e-9)
    np.testing.assert_allclose(events.end_time[j], exp.end_time[i], atol=1e-3 + 1e-9)
    np.testing.assert_allclose(events.score[j], exp.det_prob[i], atol=1e-3 + 1e-9)
    np.testing.assert_allclose(events.class_score[j], exp.class_prob[i], atol=2e-3)
    np.testing.assert_allclose(events.low_freq[j], exp.low_freq[i], atol=1000)  # about a bin
    np.testing.assert_allclose(events.high_freq[j], exp.high_freq[i], atol=1000)
    same = (events.label[j].to_numpy() == exp["class"][i].to_numpy()).mean()
    assert same >= 0.95, f"labels agree for {same:.0%} of detections"


def test_file_labels_match_what_is_known(backend):
    # Echo Meter file: manual GUANO ID PIPPIP; example file names carry the species.
    echometer = backend.detect_file(require_data("audio/batdetect2-contrib/padpadpadpad/Echometer.wav"))
    assert (echometer.label == "Pipistrellus pipistrellus").all()
    rhifer = backend.detect_file(require_data(f"audio/{EXAMPLES[2]}"))
    assert rhifer.label.value_counts().idxmax() == "Rhinolophus ferrumequinum"


def test_recording_id_and_empty_result(backend):
    path = require_data("audio/batdetect2-contrib/padpadpadpad/AudiomothNoBatCalls.WAV")
    events = backend.detect_file(path, recording="site-7/night-3")
    assert events.empty and list(events.columns) == SCHEMA
    assert events.start_time.dtype == np.float64 and events.score.dtype == np.float64

    found = backend.detect_file(require_data(f"audio/{EXAMPLES[0]}"), recording="site-7/night-3")
    assert set(found.recording) == {"site-7/night-3"}
    assert found.label.dtype == events.label.dtype  # the same dtypes with and without rows


def test_detect_audio_matches_detect_file(backend):
    path = require_data("audio/batdetect2-contrib/jeff37/0166_20240603_033731.wav")  # 312.5 kHz, 2 chunks
    from_file = backend.detect_file(path)
    pcm, rate = sf.read(path, dtype="int16")
    for audio in (pcm, pcm.astype(np.float32) / 32768, np.stack([pcm, pcm], axis=1)):
        events = backend.detect_audio(audio, rate, recording=str(path))
        assert list(events.columns) == SCHEMA
        assert len(events) == len(from_file)
        pd.testing.assert_frame_equal(events.drop(columns=["start_time", "end_time"]),
                                      from_file.drop(columns=["start_time", "end_time"]))
        np.testing.assert_allclose(events[["start_time", "end_time"]], from_file[["start_time", "end_time"]],
                                   atol=1.5e-4)  # rounded to 0.1 ms per chunk, then offset


def test_time_expansion_is_undone(backend, tmp_path):
    # The 500 kHz example written as a 10x time-expanded 50 kHz file: same calls, real time.
    original = require_data(f"audio/{EXAMPLES[0]}")
    pcm, rate = sf.read(original, dtype="int16")
    expanded = tmp_path / "te10.wav"
    sf.write(expanded, pcm, rate // 10, subtype="PCM_16")
    assert sf.info(expanded).duration == pytest.approx(5.0)

    real = backend.detect_file(original)
    undone = backend.detect_file(expanded, time_expansion=10)
    assert len(undone) == len(real) == 15
    cols = ["start_time", "end_time", "low_freq", "high_freq", "score", "class_score"]
    np.testing.assert_allclose(undone[cols], real[cols], atol=1e-3)
    assert undone.end_time.max() <= 0.5  # real seconds, not expanded ones
    assert undone.high_freq.max() > 50_000  # real ultrasonic frequencies

    from_array = backend.detect_audio(pcm, rate // 10, time_expansion=10)
    np.testing.assert_allclose(from_array[cols], real[cols], atol=2e-4)


@pytest.mark.filterwarnings("ignore:PySoundFile failed:UserWarning", "ignore::FutureWarning:librosa")
def test_bad_files_and_arguments(backend, tmp_path):
    from ecointegrity.acoustics.bats.batdetect2_backend import BatDetect2Backend
    from ecointegrity.acoustics.errors import AudioFileError

    with pytest.raises(AudioFileError, match="no such file"):
        backend.detect_file(tmp_path / "missing.wav")
    junk = tmp_path / "junk.wav"
    junk.write_text("not audio")
    with pytest.raises(AudioFileError, match="cannot read"):
        backend.detect_file(junk)
    with pytest.raises(ValueError, match="time_expansion"):
        backend.detect_file(require_data(f"audio/{EXAMPLES[0]}"), time_expansion=0)
    with pytest.raises(ValueError, match="sample_rate"):
        backend.detect_audio(np.zeros(100), 0)
    with pytest.raises(ValueError, match="threshold"):
        BatDetect2Backend(threshold=1.5)
    with pytest.raises(ValueError, match="chunk_size"):
        BatDetect2Backend(chunk_size=0)
    assert backend.detect_audio(np.zeros(0, dtype=np.float32), 256_000).empty
