"""Land-cover class schemes and mappings between them, read from versioned JSON data files.

Class codes, names and colours are data, never code: every scheme is a JSON file with a ``name``
and a ``version`` (so every map can say which legend it uses), and every crosswalk between two
schemes is a JSON mapping file. Packaged files live in ``ecointegrity/landcover/schemes/``:

* schemes ``madmex-31``, ``csi-17``, ``eolearn-lulc``, ``simulator-8`` (``<name>.json``);
* mappings ``madmex-31_to_csi-17`` (CONABIO's official one) and ``simulator-8_to_csi-17``
  (provisional), named ``<from>_to_<to>.json``.

A user's scheme (e.g. Colombia's, which is not public) is loaded from its own path::

    scheme = load_scheme("madmex-31")               # or load_scheme("path/to/colombia.json")
    scheme.validate_codes(classified)                # ValueError naming any unknown code
    csi = convert(classified, "madmex-31", "csi-17") # nodata stays nodata
    dst.write_colormap(1, load_scheme("csi-17").colormap())
    scheme.to_qml("madmex.qml", lang="en")           # QGIS paletted style
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

__all__ = [
    "ClassEntry",
    "ClassScheme",
    "SchemeMapping",
    "convert",
    "list_mappings",
    "list_schemes",
    "load_mapping",
    "load_scheme",
]

RGBA = tuple[int, int, int, int]
Lang = Literal["es", "en"]
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
_QML_DOCTYPE = "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>"


def _data_dir():  # a Traversable: works from a wheel, a zip or the source tree
    return resources.files("ecointegrity.landcover").joinpath("schemes")


class ClassEntry(BaseModel):
    """One class of a scheme: integer code, Spanish and English names, ``#rrggbb`` colour."""

    model_config = ConfigDict(frozen=True, extra="allow")
    code: int = Field(ge=0)
    name_es: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    color: str

    @field_validator("color")
    @classmethod
    def _check_color(cls, v: str) -> str:
        if not _COLOR.match(v):
            raise ValueError(f"bad colour {v!r}: expected '#rrggbb' (6 hex digits)")
        return v.lower()

    @property
    def rgba(self) -> RGBA:
        """The colour as an opaque (r, g, b, 255) tuple."""
        return (int(self.color[1:3], 16), int(self.color[3:5], 16), int(self.color[5:7], 16), 255)


class ClassScheme(BaseModel):
    """A versioned land-cover legend: its classes plus a nodata code outside them."""

    model_config = ConfigDict(frozen=True, extra="allow")
    name: str = Field(min_length=1)
    version: str = Field(min_length=1)
    title: str = ""
    description: str = ""
    source: str = ""
    colors_source: str = ""
    nodata: int | None = 0
    classes: tuple[ClassEntry, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _check_codes(self) -> ClassScheme:
        codes = [c.code for c in self.classes]
        dups = sorted({c for c in codes if codes.count(c) > 1})
        if dups:
            raise ValueError(f"scheme {self.name!r}: duplicate class codes {dups}")
        if self.nodata is not None and self.nodata in codes:
            raise ValueError(f"scheme {self.name!r}: nodata {self.nodata} is also a class code")
        return self

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"

    @property
    def codes(self) -> list[int]:
        """Class codes in file order (nodata excluded)."""
        return [c.code for c in self.classes]

    def _entry(self, code: int) -> ClassEntry:
        for c in self.classes:
            if c.code == code:
                return c
        raise KeyError(f"code {code} is not a class of scheme {self}; codes: {self.codes}")

    def names(self, lang: Lang = "es") -> dict[int, str]:
        """``{code: name}`` in Spanish (``"es"``) or English (``"en"``)."""
        if lang not in ("es", "en"):
            raise ValueError(f"lang must be 'es' or 'en', not {lang!r}")
        return {c.code: getattr(c, f"name_{lang}") for c in self.classes}

    def color(self, code: int) -> RGBA:
        """(r, g, b, a) of a class; the nodata code is transparent (0, 0, 0, 0)."""
        if self.nodata is not None and code == self.nodata:
            return (0, 0, 0, 0)
        return self._entry(code).rgba

    def colormap(self) -> dict[int, RGBA]:
        """``{code: (r, g, b, a)}`` for rasterio's ``write_colormap``; nodata transparent."""
        cmap = {} if self.nodata is None else {self.nodata: (0, 0, 0, 0)}
        cmap.update({c.code: c.rgba for c in self.classes})
        return cmap

    def validate_codes(self, array: Any) -> None:
        """Raise ValueError naming every value of ``array`` that is neither a class nor nodata."""
        values = np.unique(np.asarray(array))
        allowed = set(self.codes) | ({self.nodata} if self.nodata is not None else set())
        unknown = [v.item() for v in values if v.item() not in allowed]
        if unknown:
            raise ValueError(f"array holds codes not in scheme {self}: {unknown} "
                             f"(classes {self.codes}, nodata {self.nodata})")

    def to_frame(self) -> pd.DataFrame:
        """One row per class: code (index), name_es, name_en, color; scheme fields in ``attrs``."""
        df = pd.DataFrame([c.model_dump(include={"code", "name_es", "name_en", "color"})
                           for c in self.classes]).set_index("code")
        df.attrs.update(name=self.name, version=self.version, nodata=self.nodata)
        return df

    def to_qml(self, path: str | Path | None = None, lang: Lang = "es") -> str:
        """A QGIS layer style (paletted renderer, band 1) as text; also written to ``path``."""
        root = ET.Element("qgis", version="3.28", styleCategories="AllStyleCategories")
        pipe = ET.SubElement(root, "pipe")
        renderer = ET.SubElement(pipe, "rasterrenderer", type="paletted", band="1",
                                 opacity="1", alphaBand="-1", nodataColor="")
        ET.SubElement(renderer, "rasterTransparency")
        palette = ET.SubElement(renderer, "colorPalette")
        for code, label in self.names(lang).items():
            ET.SubElement(palette, "paletteEntry", value=str(code),
                          color=self._entry(code).color, label=label, alpha="255")
        ET.SubElement(root, "blendMode").text = "0"
        ET.indent(root)
        text = f"{_QML_DOCTYPE}\n{ET.tostring(root, encoding='unicode')}\n"
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text


class SchemeMapping(BaseModel):
    """A crosswalk ``from_scheme`` -> ``to_scheme`` as ``{from_code: to_code}``."""

    model_config = ConfigDict(frozen=True, extra="allow", populate_by_name=True)
    name: str = ""
    version: str = Field(min_length=1)
    from_scheme: str = Field(alias="from", min_length=1)
    to_scheme: str = Field(alias="to", min_length=1)
    from_version: str | None = None
    to_version: str | None = None
    source: str = ""
    notes: str = ""
    provisional: bool = False
    from_nodata: int | None = 0
    to_nodata: int | None = 0
    mapping: dict[int, int] = Field(min_length=1)

    @field_validator("mapping", mode="before")
    @classmethod
    def _pairs_to_dict(cls, v: Any) -> Any:
        if isinstance(v, list):  # [[from, to], ...]
            keys = [int(p[0]) for p in v]
            dups = sorted({k for k in keys if keys.count(k) > 1})
            if dups:
                raise ValueError(f"codes mapped more than once: {dups}")
            return {int(a): int(b) for a, b in v}
        return v

    def __str__(self) -> str:
        return f"{self.from_scheme} -> {self.to_scheme} v{self.version}"

    def check(self, src: ClassScheme, dst: ClassScheme) -> SchemeMapping:
        """Check the mapping against its two schemes; return it with their nodata codes.

        Raises ValueError on a name or version mismatch, on source codes outside ``src`` and
        on target codes outside ``dst``.
        """
        for role, want, ver, got in (("from", self.from_scheme, self.from_version, src),
                                     ("to", self.to_scheme, self.to_version, dst)):
            if want != got.name or (ver is not None and ver != got.version):
                raise ValueError(f"mapping {self} expects {role} scheme {want} "
                                 f"v{ver or '*'}, got {got}")
        bad_from = sorted(set(self.mapping) - set(src.codes))
        bad_to = sorted(set(self.mapping.values()) - set(dst.codes))
        if bad_from:
            raise ValueError(f"mapping {self}: codes {bad_from} are not classes of {src}")
        if bad_to:
            raise ValueError(f"mapping {self}: maps to codes {bad_to} not in scheme {dst}")
        return self.model_copy(update={"from_nodata": src.nodata, "to_nodata": dst.nodata})

    def apply(self, array: Any) -> np.ndarray:
        """Map an integer array through the table (vectorised); nodata goes to nodata.

        Raises ValueError listing any code that is neither mapped nor the source nodata.
        """
        a = np.asarray(array)
        if not np.issubdtype(a.dtype, np.integer):
            raise TypeError(f"land-cover codes must be integers, got dtype {a.dtype} "
                            "(fill NaN with the nodata code and cast first)")
        table = dict(self.mapping)
        if self.from_nodata is not None:
            table[self.from_nodata] = self.to_nodata if self.to_nodata is not None else 0
        keys = np.array(sorted(table), dtype=np.int64)
        values = np.array([table[k] for k in keys.tolist()], dtype=np.int64)
        idx = np.clip(np.searchsorted(keys, a), 0, len(keys) - 1)
        found = keys[idx] == a
        if not found.all():
            unmapped = np.unique(a[~found]).tolist()
            raise ValueError(f"mapping {self} has no target for codes {unmapped}")
        out_dtype = a.dtype if all(np.can_cast(np.min_scalar_type(v), a.dtype)
                                   for v in (values.min(), values.max())) else np.int64
        return values[idx].astype(out_dtype)


def _read_model(model: type[BaseModel], text: str, where: str) -> Any:
    try:
        return model.model_validate(json.loads(text))
    except (json.JSONDecodeError, ValidationError) as e:
        raise ValueError(f"invalid {model.__name__} file {where}: {e}") from e


def _is_path(x: str | Path) -> bool:
    return isinstance(x, Path) or str(x).endswith(".json") or "/" in str(x) or "\\" in str(x)


def list_schemes() -> list[str]:
    """Names of the packaged schemes."""
    return sorted(f.name[:-5] for f in _data_dir().iterdir()
                  if f.name.endswith(".json") and "_to_" not in f.name)


def list_mappings() -> list[tuple[str, str]]:
    """(from, to) scheme-name pairs of the packaged mappings."""
    return sorted(tuple(f.name[:-5].split("_to_", 1)) for f in _data_dir().iterdir()
                  if f.name.endswith(".json") and "_to_" in f.name)


def load_scheme(name_or_path: str | Path | ClassScheme) -> ClassScheme:
    """A packaged scheme by name (see :func:`list_schemes`) or a user's JSON scheme file."""
    if isinstance(name_or_path, ClassScheme):
        return name_or_path
    if _is_path(name_or_path):
        p = Path(name_or_path)
        return _read_model(ClassScheme, p.read_text(encoding="utf-8"), str(p))
    if name_or_path not in list_schemes():
        raise ValueError(f"unknown scheme {name_or_path!r}; packaged schemes: "
                         f"{', '.join(list_schemes())}; or pass the path of a JSON scheme file")
    f = _data_dir().joinpath(f"{name_or_path}.json")
    return _read_model(ClassScheme, f.read_text(encoding="utf-8"), f"{name_or_path}.json")


def load_mapping(from_or_path: str | Path, to: str | None = None) -> SchemeMapping:
    """A packaged mapping ``load_mapping("madmex-31", "csi-17")`` or ``load_mapping(path)``."""
    if to is None:
        p = Path(from_or_path)
        return _read_model(SchemeMapping, p.read_text(encoding="utf-8"), str(p))
    if (str(from_or_path), to) not in list_mappings():
        known = ", ".join(f"{a} -> {b}" for a, b in list_mappings())
        raise ValueError(f"no packaged mapping {from_or_path} -> {to}; packaged: {known}; "
                         "or pass the path of a JSON mapping file")
    fname = f"{from_or_path}_to_{to}.json"
    return _read_model(SchemeMapping, _data_dir().joinpath(fname).read_text(encoding="utf-8"),
                       fname)


def convert(array: Any, from_scheme: str | Path | ClassScheme, to_scheme: str | Path | ClassScheme,
            mapping: str | Path | SchemeMapping | Mapping[int, int] | None = None) -> np.ndarray:
    """Re-code ``array`` from one scheme to another.

    Schemes are names, paths or :class:`ClassScheme` objects. ``mapping`` defaults to the
    packaged ``<from>_to_<to>`` file; it may also be a mapping file path, a
    :class:`SchemeMapping` or a plain ``{from_code: to_code}`` dict. The mapping is checked
    against both schemes, the array against the source scheme; nodata maps to nodata.
    """
    src, dst = load_scheme(from_scheme), load_scheme(to_scheme)
    if mapping is None:
        mapping = load_mapping(src.name, dst.name)
    elif isinstance(mapping, (str, Path)):
        mapping = load_mapping(mapping)
    elif not isinstance(mapping, SchemeMapping):
        # validated by field name: the constructor's keywords are the aliases "from" and "to"
        mapping = SchemeMapping.model_validate(
            {"version": "0", "from_scheme": src.name, "to_scheme": dst.name,
             "mapping": dict(mapping)}
        )
    mapping = mapping.check(src, dst)
    src.validate_codes(array)
    return mapping.apply(array)
