// What the viewer and the dashboard share: the map, product tabs, legends, offline notice.
import L from "leaflet";
import "leaflet/dist/leaflet.css";
import "./styles.css";
import { lang, onLanguage, t } from "./i18n.js";

// No hairline seams between tiles: at a phone's fractional pixel ratio (2.75) tile edges fall
// between device pixels and the base map showed through a one-pixel line. Each tile is drawn
// one CSS pixel larger, over its neighbour (a 0.4 % stretch; Leaflet issue 3575's usual fix).
const initTile = L.GridLayer.prototype._initTile;
L.GridLayer.include({
  _initTile(tile) {
    initTile.call(this, tile);
    const size = this.getTileSize();
    tile.style.width = `${size.x + 1}px`;
    tile.style.height = `${size.y + 1}px`;
  },
});

// Mexico (the API's first country), for when there is nothing better to show.
export const COUNTRY_BOUNDS = [[14.5, -118.4], [32.7, -86.7]];
// The default product comes first; the rest keep the server's order.
const PREFERRED = ["geomedian", "ndvi", "tasselled_cap", "ndwi", "wofs", "ndbi", "bu"];

export function orderProducts(list) {
  const rank = (p) => {
    const i = PREFERRED.indexOf(p.product);
    return i < 0 ? PREFERRED.length : i;
  };
  return [...list].sort((a, b) => rank(a) - rank(b));
}

// The base map is context only; the products draw over it. Ours first: country outlines served
// with the app (cached by the service worker), so there is a map without the internet;
// OpenStreetMap's tiles are an option in the layer switch.
const BASE_STYLE = { color: "#7c8a80", weight: 1, fillColor: "#f4f1e8", fillOpacity: 1, interactive: false };

export function createMap(element, { zoomControl = true } = {}) {
  // Whole zoom levels (fractional ones leave hairline seams between tiles) and no tile fade-in:
  // a year switch must be instant, not a flash of the base map.
  // minZoom 4: a country fills a phone; no zooming out to a world without data.
  const map = L.map(element, { zoomControl, attributionControl: true, zoomSnap: 1, fadeAnimation: false, minZoom: 4 });
  map.createPane("basemap").style.zIndex = 150; // under the tiles (200), over the sea (the container)
  const own = L.geoJSON(null, { pane: "basemap", style: BASE_STYLE, attribution: "Natural Earth" }).addTo(map);
  fetch("/basemap.json")
    .then((response) => (response.ok ? response.json() : null))
    .then((outlines) => { if (outlines) own.addData(outlines); })
    .catch(() => { /* no outlines: the products alone */ });
  const osm = L.tileLayer("https://tile.openstreetmap.org/{z}/{x}/{y}.png", {
    maxZoom: 19, attribution: '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a>',
  });
  // The switch, its labels in the page's language (Leaflet's own toggle says "Layers")
  const baseSwitch = () => {
    const control = L.control.layers({ [t("baseSimple")]: own, [t("baseOsm")]: osm }, null, { position: "bottomright" }).addTo(map);
    const toggle = control.getContainer().querySelector(".leaflet-control-layers-toggle");
    toggle.title = t("baseMaps");
    toggle.setAttribute("aria-label", t("baseMaps"));
    return control;
  };
  let control = baseSwitch();
  onLanguage(() => {
    control.remove();
    control = baseSwitch();
  });
  map.fitBounds(COUNTRY_BOUNDS);
  return map;
}

/** Leaflet bounds of a country's view ([west, south, east, north] in the API). */
export function countryBounds(country) {
  const [w, s, e, n] = country.view;
  return L.latLngBounds([s, w], [n, e]);
}

/**
 * The country switch: a <select> with the countries the API lists (names in the page's language);
 * it starts on the country the map shows, and choosing one flies the map to its view.
 * ``onSwitch(country)`` is called after each choice.
 */
export function setupCountrySwitch(select, map, countries, onSwitch = () => {}) {
  if (!select || !countries.length) return;
  const label = () => {
    for (const option of select.options) {
      const c = countries.find((x) => x.id === option.value);
      option.textContent = lang === "en" ? c.name_en : c.name_es;
    }
  };
  select.replaceChildren(...countries.map((c) => new Option("", c.id)));
  label();
  onLanguage(label);
  const here = map.getCenter();
  select.value = (countries.find((c) => countryBounds(c).contains(here)) ?? countries[0]).id;
  select.addEventListener("change", () => {
    const country = countries.find((c) => c.id === select.value);
    map.flyToBounds(countryBounds(country), { duration: 1 });
    onSwitch(country);
  });
  select.closest("[hidden]")?.removeAttribute("hidden");
}

/** Leaflet bounds of a product ([west, south, east, north] in the API), or null. */
export function productBounds(product) {
  if (!product?.bounds) return null;
  const [w, s, e, n] = product.bounds;
  return L.latLngBounds([s, w], [n, e]);
}

export function unionBounds(products) {
  let all = null;
  for (const p of products) {
    const b = productBounds(p);
    if (b) all = all ? all.extend(b) : b;
  }
  return all;
}

/** A product in plain words in the page's language: name, summary, low/high, classes. */
export function plain(product) {
  return product.public?.[lang] ?? product.public?.es
    ?? { name: product.title, summary: product.description.split(". ")[0], low: null, high: null, classes: product.legend };
}

/** The tab items of products (plain names; the summary as the tooltip). */
export function productTabs(products) {
  return products.map((p) => ({ key: p.product, label: plain(p).name, description: plain(p).summary }));
}

/** Tabs (WAI-ARIA tablist: arrows move between them). ``onSelect(product)``. */
export function renderTabs(nav, items, selected, onSelect) {
  nav.replaceChildren();
  const buttons = items.map((item) => {
    const b = document.createElement("button");
    b.type = "button";
    b.role = "tab";
    b.className = "tab";
    b.id = `tab-${item.key}`;
    b.dataset.product = item.key;
    b.setAttribute("aria-controls", "map"); // the tab panel: the map, which shows the product
    b.textContent = item.label;
    if (item.description) b.title = item.description;
    b.addEventListener("click", () => { select(item.key); onSelect(item.key); });
    nav.append(b);
    return b;
  });
  const select = (key) => {
    for (const b of buttons) {
      const on = b.dataset.product === key;
      b.setAttribute("aria-selected", String(on));
      b.tabIndex = on ? 0 : -1;
      if (on) document.getElementById("map")?.setAttribute("aria-labelledby", b.id);
      if (on) b.scrollIntoView?.({ block: "nearest", inline: "nearest" });
    }
  };
  nav.onkeydown = (event) => {
    const i = buttons.indexOf(document.activeElement);
    if (i < 0 || !["ArrowLeft", "ArrowRight", "Home", "End"].includes(event.key)) return;
    event.preventDefault();
    const next = event.key === "Home" ? 0 : event.key === "End" ? buttons.length - 1
      : (i + (event.key === "ArrowRight" ? 1 : buttons.length - 1)) % buttons.length;
    buttons[next].focus();
    buttons[next].click();
  };
  select(selected);
  return select;
}

function format(value) {
  return Math.abs(value) >= 100 ? value.toFixed(0) : Number(value.toPrecision(2)).toString();
}

/** The legend of a product in plain words: its name, what it shows, then a colour ramp whose
 * ends say what they mean (the numbers stay in the tooltip), class swatches, or nothing more
 * for a picture. Drawn again when the language changes. */
export function renderLegend(element, product) {
  const words = plain(product);
  element.replaceChildren();
  const title = document.createElement("strong");
  title.textContent = words.name;
  const summary = document.createElement("p");
  summary.className = "summary";
  summary.textContent = product.kind === "rgb" && product.default_style === "false_colour" ? t("falseColour") : words.summary;
  element.append(title, summary);
  if (product.kind === "classes" && product.legend) {
    const list = document.createElement("ul");
    list.className = "classes";
    for (const code of Object.keys(product.legend)) {
      const li = document.createElement("li");
      const swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.style.background = product.legend_colors?.[code] ?? "#888";
      li.append(swatch, document.createTextNode(words.classes?.[code] ?? product.legend[code]));
      list.append(li);
    }
    element.append(list);
  } else if (product.kind === "continuous" && product.colormap_stops?.length) {
    const ramp = document.createElement("div");
    ramp.className = "ramp";
    ramp.style.background = `linear-gradient(to right, ${product.colormap_stops.join(", ")})`;
    const [lo, hi] = product.value_range ?? [0, 1];
    const raw = product.units?.[product.default_band] ?? "";
    const unit = raw === "1" ? "" : raw; // "1": dimensionless, as in CF conventions
    const numbers = `${format(lo)} – ${format(hi)} ${unit}`.trim();
    const low = words.low ?? format(lo);
    const high = words.high ?? `${format(hi)} ${unit}`.trim();
    ramp.setAttribute("role", "img");
    ramp.setAttribute("aria-label", `${low} – ${high} (${numbers})`);
    ramp.title = numbers;
    const scale = document.createElement("div");
    scale.className = "scale";
    scale.innerHTML = "<span></span><span></span>";
    scale.children[0].textContent = low;
    scale.children[1].textContent = high;
    element.append(ramp, scale);
  }
}

export function watchConnection() {
  const banner = document.getElementById("offline");
  const update = () => { banner.hidden = navigator.onLine; };
  addEventListener("online", update);
  addEventListener("offline", update);
  update();
}

export function registerServiceWorker() {
  if ("serviceWorker" in navigator && location.protocol !== "file:") {
    navigator.serviceWorker.register("/sw.js").catch(() => { /* the app works without it */ });
  }
}

export function showError(element, error) {
  element.textContent = `${t("exportFailed")}: ${error.message}`;
}

export { L };
