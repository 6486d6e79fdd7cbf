// React-2-EO dashboard: everyone's reactions per H3 cell, totals, and the most reacted-to regions.
import * as api from "./api.js";
import {
  COUNTRY_BOUNDS, L, createMap, orderProducts, plain, productTabs, registerServiceWorker, renderLegend, renderTabs, setupCountrySwitch,
  unionBounds, watchConnection,
} from "./common.js";
import { lang, onLanguage, setupLanguageToggle, t } from "./i18n.js";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const POLL_MS = Math.max(1, Number(params.get("poll")) || 10) * 1000;

const state = (window.r2eoDashboard = { products: [], product: "", year: "", summary: null, cells: null, updates: 0 });

let map;
let productLayer = null;
const cells = L.geoJSON(null, { style: cellStyle, onEachFeature: cellPopup });

// Colour: the share of likes (red = disliked, green = liked); opacity: how many reacted.
function cellStyle(feature) {
  const { like_share: share, total } = feature.properties;
  const hue = Math.round(120 * share);
  return {
    color: `hsl(${hue}, 70%, 30%)`, weight: 1, fillColor: `hsl(${hue}, 75%, 45%)`,
    fillOpacity: Math.min(0.85, 0.25 + 0.15 * Math.log2(total)),
  };
}

// Each cell says how many reacted, on the map; the likes and dislikes on hover or tap.
function cellPopup(feature, layer) {
  const p = feature.properties;
  layer.bindTooltip(String(p.total), { permanent: true, direction: "center", className: "cell-count" });
  layer.bindPopup(`${p.likes} ${t("likes")} · ${p.dislikes} ${t("dislikes")} (${Math.round(100 * p.like_share)}%)`);
}

function renderCellsLegend() {
  const el = $("cells-legend");
  el.innerHTML = '<strong></strong><div class="ramp" style="background:linear-gradient(to right,hsl(0,75%,45%),hsl(60,75%,45%),hsl(120,75%,45%))"></div><div class="scale"><span>0%</span><span>100%</span></div><p class="muted"></p>';
  el.querySelector("strong").textContent = t("likeShare");
  el.querySelector("p").textContent = t("fewReactions", { k: state.minCount ?? 5 });
}

function productTitle(name) {
  const product = state.products.find((p) => p.product === name);
  return product ? plain(product).name : name;
}

function renderSummary(summary) {
  const { totals, top } = summary;
  $("t-reactions").textContent = totals.reactions;
  $("t-likes").textContent = totals.likes;
  $("t-dislikes").textContent = totals.dislikes;
  $("t-animations").textContent = totals.animations;
  const body = $("top").querySelector("tbody");
  body.replaceChildren();
  if (!top.length) { // an empty state, not an empty table
    const tr = document.createElement("tr");
    const td = document.createElement("td");
    td.colSpan = 5;
    td.className = "empty";
    td.textContent = t("noReactions", { k: summary.min_reactions_per_cell });
    tr.append(td);
    body.append(tr);
  }
  for (const row of top) {
    const tr = document.createElement("tr");
    const lat = (row.miny + row.maxy) / 2;
    const lon = (row.minx + row.maxx) / 2;
    const region = document.createElement("button");
    region.type = "button";
    region.className = "link";
    // the gazetteer's name ("Bacalar, Quintana Roo"); the coordinates where no place is near
    const coords = `${lat.toFixed(2)}, ${lon.toFixed(2)}`;
    region.textContent = row.place?.[lang] ?? coords;
    region.title = coords;
    region.addEventListener("click", () => map.fitBounds([[row.miny, row.minx], [row.maxy, row.maxx]]));
    const cellsText = [productTitle(row.product), `${row.years_from}–${row.years_to}`, row.likes, row.dislikes];
    const first = document.createElement("td");
    first.append(region);
    tr.append(first, ...cellsText.map((v) => { const td = document.createElement("td"); td.textContent = v; return td; }));
    body.append(tr);
  }
}

async function refresh() {
  const filters = { product: state.product || null, year: state.year || null };
  try {
    const [summary, geojson] = await Promise.all([
      api.reactionSummary(filters),
      api.reactionStats({ ...filters, zoom: Math.round(map.getZoom()) }),
    ]);
    state.summary = summary;
    state.minCount = summary.min_reactions_per_cell;
    renderCellsLegend();
    state.cells = geojson;
    state.updates += 1;
    renderSummary(summary);
    cells.clearLayers();
    cells.addData(geojson);
    $("updated").textContent = `${t("updated")} ${new Date().toLocaleTimeString()}`;
  } catch (error) {
    $("updated").textContent = error.message;
  }
}

function showProductLayer() {
  if (productLayer) map.removeLayer(productLayer);
  productLayer = null;
  const product = state.products.find((p) => p.product === (state.product || state.products[0]?.product));
  if (!product) return;
  const year = state.year && product.years.includes(Number(state.year)) ? Number(state.year) : product.years.at(-1);
  productLayer = L.tileLayer(api.tileUrl(product.product, year), { opacity: 0.8, maxNativeZoom: 16, attribution: product.attribution });
  productLayer.addTo(map);
  cells.bringToFront();
  renderLegend($("product-legend"), product);
}

function fillYears() {
  const select = $("year-filter");
  const years = [...new Set(state.products.flatMap((p) => p.years))].sort();
  for (const year of years) {
    const option = document.createElement("option");
    option.value = option.textContent = year;
    select.append(option);
  }
  select.addEventListener("change", () => { state.year = select.value; showProductLayer(); refresh(); });
}

async function start() {
  setupLanguageToggle();
  watchConnection();
  registerServiceWorker();
  map = createMap($("map"));
  cells.addTo(map);
  renderCellsLegend();
  onLanguage(() => {
    renderCellsLegend();
    renderTabsNow();
    if (state.summary) renderSummary(state.summary); // place names in the new language
    const shown = state.products.find((p) => p.product === (state.product || state.products[0]?.product));
    if (shown) renderLegend($("product-legend"), shown);
  });
  try {
    state.products = orderProducts(await api.products()).filter((p) => p.years.length);
  } catch { state.products = []; }
  map.fitBounds(unionBounds(state.products) ?? COUNTRY_BOUNDS);
  api.countries().then((countries) => setupCountrySwitch($("country"), map, countries)).catch(() => {});
  fillYears();
  renderTabsNow();
  showProductLayer();
  map.on("zoomend", refresh); // the H3 resolution follows the zoom
  await refresh();
  setInterval(refresh, POLL_MS);
}

function renderTabsNow() {
  const tabs = [{ key: "", label: t("allProducts") },
    ...productTabs(state.products)];
  renderTabs($("tabs"), tabs, state.product, (key) => { state.product = key; showProductLayer(); refresh(); });
}

start();
