// React-2-EO viewer: watch a region change year by year, export it as a GIF, react to it.
import * as api from "./api.js";
import {
  COUNTRY_BOUNDS, L, countryBounds, createMap, orderProducts, plain, productBounds, productTabs, registerServiceWorker, renderLegend, renderTabs,
  setupCountrySwitch, unionBounds, watchConnection,
} from "./common.js";
import { Compare } from "./compare.js";
import { applyLanguage, lang, onLanguage, setupLanguageToggle, t } from "./i18n.js";

const FRAME_MS = 1000; // one year per second while playing
const GIF = { size: 512, fps: 2 };

const $ = (id) => document.getElementById(id);

// Exposed for people debugging in the console and for the end-to-end tests.
const state = (window.r2eo = {
  products: [],
  product: null,
  yearFrom: null,
  yearTo: null,
  year: null,
  playing: true,
  firstFrameMs: null, // ms from navigation start to the first animation frame on screen
  // the export dialog (see renderExport)
  exportPhase: null,
  exportTicket: 0,
  exportMessage: null,
  animation: null,
  reaction: null,
  reactMessage: null,
  sending: null,
  country: null, // the country last chosen in the switch
  story: null, // the story last opened (its key)
  stories: [],
  comparing: () => Boolean(compare?.open),
  compareClip: () => [...document.querySelectorAll(".leaflet-compare-before-pane, .leaflet-compare-after-pane")].map((p) => p.style.clip),
  mapCentre: () => map?.getCenter(),
  zoom: () => map?.getZoom(),
  setZoom: (z) => map?.setZoom(z, { animate: false }),
  pointOf: (lon, lat) => map?.latLngToContainerPoint([lat, lon]),
  deviceLocation: null,
  shownReady: () => Boolean(stack?.isReady(state.year)), // the year on screen has all its tiles
  layerCount: () => stack?.layers.size ?? 0, // year layers on the map now (at most PREFETCH_YEARS + 2)
  peakLayerCount: 0, // the most year layers on the map at once since the page loaded
});

// Years whose tiles are fetched ahead of the one on screen, in play order. Two seconds of
// look-ahead at one year per second hides a 4G round trip or two (a phone view of ~10 tiles of
// ~20-40 kB takes well under a second at ~9 Mbit/s), while a pause or a pan wastes at most two
// views' worth of data; 30 layers at once would delay the first frame and spend the data plan.
const PREFETCH_YEARS = 2;

/**
 * A bounded window of tile layers over the years of the range: the year on screen, the one shown
 * before it (kept until the next one is shown, so a switch never uncovers an empty map) and the
 * next PREFETCH_YEARS years in play order, wrapping around. Hidden layers sit at opacity 0 so that
 * their tiles load ahead; the look-ahead starts only once the year on screen has all its tiles, so
 * the first frame does not share the connection with later years. At most PREFETCH_YEARS + 2
 * layers exist at any time.
 */
class YearStack {
  constructor(map, product, years) {
    this.map = map;
    this.product = product;
    this.years = years;
    this.bounds = productBounds(product);
    this.layers = new Map();
    this.loading = new Map();
    this.shown = null;
    this.previous = null;
  }

  add(year) {
    if (this.layers.has(year)) return;
    const layer = L.tileLayer(api.tileUrl(this.product.product, year), {
      opacity: year === this.shown ? 1 : 0, bounds: this.bounds ?? undefined, maxNativeZoom: 16, maxZoom: 19,
      className: `year-${year}`, attribution: this.product.attribution,
    });
    this.layers.set(year, layer);
    this.loading.set(year, true);
    layer.on("loading", () => this.loading.set(year, true));
    layer.on("load", () => {
      this.loading.set(year, false);
      if (year === this.shown) this.prefetch(); // the year on screen is in: fetch the next ones
      this.onLoad?.(year);
    });
    layer.addTo(this.map);
    // No tile of this layer in view (outside the product's bounds): Leaflet fires neither event.
    if (!layer.isLoading()) this.loading.set(year, false);
    state.peakLayerCount = Math.max(state.peakLayerCount, this.layers.size);
  }

  drop(year) {
    const layer = this.layers.get(year);
    if (!layer) return;
    this.map.removeLayer(layer); // Leaflet aborts its tiles still in flight
    this.layers.delete(year);
    this.loading.delete(year);
  }

  /** The next PREFETCH_YEARS years after the one on screen, in play order, wrapping around. */
  ahead() {
    const i = this.years.indexOf(this.shown);
    const next = [];
    for (let k = 1; k <= Math.min(PREFETCH_YEARS, this.years.length - 1); k++) {
      next.push(this.years[(i + k) % this.years.length]);
    }
    return next;
  }

  /** Bring the window up to date: drop the layers that left it, add the ones that entered it. */
  prefetch() {
    const ahead = this.isReady(this.shown) ? this.ahead() : [];
    const keep = new Set([this.previous, this.shown, ...this.ahead()]);
    for (const year of [...this.layers.keys()]) if (!keep.has(year)) this.drop(year);
    for (const year of ahead) this.add(year);
  }

  isReady(year) { return this.loading.get(year) === false; }

  show(year) {
    if (year !== this.shown) [this.previous, this.shown] = [this.shown, year];
    this.add(year);
    for (const [y, layer] of this.layers) layer.setOpacity(y === year ? 1 : 0);
    this.prefetch();
  }

  remove() {
    for (const year of [...this.layers.keys()]) this.drop(year);
  }
}

let map;
let stack = null;
let timer = null;
let compare = null;

function current() { return state.products.find((p) => p.product === state.product); }

function yearsInRange(product = current()) {
  return product.years.filter((y) => y >= state.yearFrom && y <= state.yearTo);
}

function showYear(year) {
  state.year = year;
  stack?.show(year);
  $("year").textContent = year ?? "";
}

function rebuildLayers() {
  if (compare?.open) endCompare();
  stack?.remove();
  const product = current();
  const years = yearsInRange(product);
  stack = new YearStack(map, product, years);
  stack.onLoad = (year) => {
    if (year === state.year && state.firstFrameMs === null) {
      state.firstFrameMs = Math.round(performance.now());
      performance.mark?.("r2eo-first-frame");
      $("splash").classList.add("gone");
    }
  };
  showYear(years.includes(state.year) ? state.year : years[0]);
  schedule();
}

// Advance only to a year whose tiles are in: a slow network slows the animation, never blanks it.
function tick() {
  timer = null;
  if (!state.playing) return;
  const years = yearsInRange();
  const next = years[(years.indexOf(state.year) + 1) % years.length];
  if (years.length > 1 && stack.isReady(next) && stack.isReady(state.year)) showYear(next);
  schedule(stack.isReady(next) ? FRAME_MS : 100);
}

function schedule(delay = FRAME_MS) {
  clearTimeout(timer);
  timer = state.playing ? setTimeout(tick, delay) : null;
}

function setPlaying(playing) {
  if (playing && compare?.open) { // play means the animation again
    endCompare();
    rebuildLayers();
  }
  state.playing = playing;
  const button = $("play");
  button.setAttribute("aria-pressed", String(playing));
  button.querySelector("[aria-hidden]").textContent = playing ? "❚❚" : "▶";
  button.querySelector(".sr").textContent = t(playing ? "pause" : "play");
  button.querySelector(".sr").dataset.i18n = playing ? "pause" : "play";
  schedule();
}

function setupRange(product) {
  const from = $("year-from");
  const to = $("year-to");
  const first = product.years[0];
  const last = product.years[product.years.length - 1];
  for (const input of [from, to]) {
    input.min = first;
    input.max = last;
    input.disabled = first === last;
  }
  state.yearFrom = Math.max(first, Math.min(state.yearFrom ?? first, last));
  state.yearTo = Math.min(last, Math.max(state.yearTo ?? last, first));
  if (state.yearFrom > state.yearTo) [state.yearFrom, state.yearTo] = [first, last];
  from.value = state.yearFrom;
  to.value = state.yearTo;
  updateRangeLabel();
  renderTicks(first, last);
}

// A tick per year on the slider, a longer one every five years.
function renderTicks(first, last) {
  const ticks = $("range-ticks");
  ticks.replaceChildren();
  if (last <= first) return;
  for (let year = first; year <= last; year++) {
    const tick = document.createElement("span");
    tick.style.left = `${((year - first) / (last - first)) * 100}%`;
    if (year % 5 === 0) tick.className = "major";
    ticks.append(tick);
  }
}

// Thumb centres run from half a thumb in from each end of a native range input.
const THUMB_PX = 28;

function yearAtX(clientX) {
  const from = $("year-from");
  const box = $("range-track").getBoundingClientRect();
  const min = Number(from.min);
  const max = Number(from.max);
  const f = (clientX - box.left - THUMB_PX / 2) / Math.max(1, box.width - THUMB_PX);
  return Math.round(min + Math.min(1, Math.max(0, f)) * (max - min));
}

// Where a year's thumb centre is on screen (for the end-to-end tests).
state.rangeX = (year) => {
  const from = $("year-from");
  const box = $("range-track").getBoundingClientRect();
  const f = (year - Number(from.min)) / Math.max(1, Number(from.max) - Number(from.min));
  return box.left + THUMB_PX / 2 + f * (box.width - THUMB_PX);
};

function moveThumb(which, year) {
  const input = $(which === "from" ? "year-from" : "year-to");
  input.value = year;
  onRangeInput({ target: input });
}

// Pointer on the slider: the nearer thumb follows it (a tap jumps); where both thumbs sit on
// one year, the first move decides which one (left: "from", right: "to").
function setupRangePointer() {
  const track = $("range-track");
  let drag = null; // { which: "from" | "to" | null, start, before }
  track.addEventListener("pointerdown", (event) => {
    if ($("year-from").disabled) return;
    event.preventDefault();
    const year = yearAtX(event.clientX);
    const dFrom = Math.abs(year - state.yearFrom);
    const dTo = Math.abs(year - state.yearTo);
    let which = dFrom < dTo ? "from" : dTo < dFrom ? "to" : null;
    if (which === null && state.yearFrom !== state.yearTo) which = year < state.yearFrom ? "from" : "to";
    drag = { which, start: year, before: [state.yearFrom, state.yearTo] };
    track.setPointerCapture?.(event.pointerId);
    if (which) moveThumb(which, year);
  });
  track.addEventListener("pointermove", (event) => {
    if (!drag) return;
    const year = yearAtX(event.clientX);
    if (!drag.which) {
      if (year === drag.start) return;
      drag.which = year < drag.start ? "from" : "to";
    }
    moveThumb(drag.which, year);
  });
  const end = () => {
    if (!drag) return;
    const changed = drag.before[0] !== state.yearFrom || drag.before[1] !== state.yearTo;
    drag = null;
    if (changed) rebuildLayers(); // as the inputs' change event: once, on release
  };
  track.addEventListener("pointerup", end);
  track.addEventListener("pointercancel", end);
}

function updateRangeLabel() {
  $("range-label").textContent = state.yearFrom === state.yearTo ? `${state.yearFrom}` : `${state.yearFrom}–${state.yearTo}`;
  $("year-from").setAttribute("aria-valuetext", `${t("from")} ${state.yearFrom}`);
  $("year-to").setAttribute("aria-valuetext", `${t("to")} ${state.yearTo}`);
}

function onRangeInput(event) {
  let from = Number($("year-from").value);
  let to = Number($("year-to").value);
  if (from > to) { // the thumbs cannot cross: the one being moved pushes the other
    if (event.target.id === "year-from") to = from; else from = to;
    $("year-from").value = from;
    $("year-to").value = to;
  }
  state.yearFrom = from;
  state.yearTo = to;
  updateRangeLabel();
}

function selectProduct(name) {
  state.product = name;
  const product = current();
  setupRange(product);
  renderLegend($("legend"), product);
  rebuildLayers();
}

// -- before and after, stories --------------------------------------------------------------------

// The first and last year of the chosen range, side by side (the whole series if one year).
function startCompare() {
  const product = current();
  let years = yearsInRange(product);
  if (years.length < 2) years = product.years;
  if (years.length < 2) return;
  setPlaying(false);
  stack?.remove();
  stack = null;
  $("year").textContent = "";
  compare.show(years[0], years[years.length - 1], (year) => api.tileUrl(product.product, year), {
    bounds: productBounds(product) ?? undefined, maxNativeZoom: 16, maxZoom: 19, attribution: product.attribution,
  });
  labelCompareButton();
}

function endCompare() {
  compare.close();
  labelCompareButton();
}

function labelCompareButton() {
  const button = $("compare");
  button.setAttribute("aria-pressed", String(compare.open));
  button.textContent = t(compare.open ? "compareClose" : "compare");
  button.dataset.i18n = compare.open ? "compareClose" : "compare";
}

function toggleCompare() {
  if (compare.open) {
    endCompare();
    rebuildLayers();
  } else {
    startCompare();
  }
}

// One tap: the story's product and years, played where the change is strongest.
function openStory(story) {
  if (!state.products.some((p) => p.product === story.product)) return;
  state.story = story.key;
  state.yearFrom = story.year_from;
  state.yearTo = story.year_to;
  renderTabs($("tabs"), productTabs(state.products), story.product, selectProduct);
  selectProduct(story.product);
  const [w, s, e, n] = story.bbox;
  map.flyToBounds([[s, w], [n, e]], { duration: window.matchMedia?.("(prefers-reduced-motion: reduce)").matches ? 0 : 1, maxZoom: 16 });
  setPlaying(true);
  describeStory();
}

function describeStory() {
  const story = state.stories.find((s) => s.key === state.story);
  if (!story) return;
  $("map-status").textContent = t("storyShown", {
    title: story.title[lang] ?? story.title.es, summary: (story.summary[lang] ?? story.summary.es).toLowerCase(),
    from: story.year_from, to: story.year_to,
  });
}

function renderStories() {
  const nav = $("stories");
  for (const old of nav.querySelectorAll("[data-story]")) old.remove();
  for (const story of state.stories) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "story";
    button.dataset.story = story.key;
    button.textContent = story.title[lang] ?? story.title.es;
    button.title = story.summary[lang] ?? story.summary.es;
    button.addEventListener("click", () => openStory(story));
    nav.insertBefore(button, $("compare"));
  }
  nav.hidden = false;
}

// -- export and reactions ---------------------------------------------------------------------

function exportBbox() {
  const view = map.getBounds();
  const data = productBounds(current());
  const box = data && view.intersects(data)
    ? L.latLngBounds([Math.max(view.getSouth(), data.getSouth()), Math.max(view.getWest(), data.getWest())],
      [Math.min(view.getNorth(), data.getNorth()), Math.min(view.getEast(), data.getEast())])
    : null;
  if (!box) return null;
  return { west: box.getWest(), south: box.getSouth(), east: box.getEast(), north: box.getNorth() };
}

// The export dialog is one explicit state, drawn by renderExport() alone:
//   exportPhase: null (never opened) | "exporting" | "ready" | "failed" | "nodata"
//   animation:   the animation shown, "ready" only; every reaction names its id
//   reaction:    this browser's reaction to that animation (remembered per animation)
//   sending:     the id of the animation whose reaction is in flight (its buttons wait)
// Each export takes a ticket; an older export's answer arriving late is dropped, so the dialog
// never shows one animation's picture with another's reactions.
// "Vegetación 2021–2023": an animation in plain words.
function animationTitle(animation) {
  const product = state.products.find((p) => p.product === animation.product);
  return `${product ? plain(product).name : animation.product} ${animation.year_from}–${animation.year_to}`;
}

function renderExport() {
  const ready = state.exportPhase === "ready" && state.animation;
  const animation = ready ? state.animation : null;
  const img = $("gif");
  img.hidden = !ready;
  if (animation) {
    img.alt = animationTitle(animation);
    if (img.getAttribute("src") !== animation.url) img.src = animation.url;
    const download = $("download");
    download.href = animation.url;
    download.download = `react2eo-${animation.product}-${animation.year_from}-${animation.year_to}.gif`;
    $("link").value = new URL(animation.url, location.href).href;
  } else {
    img.removeAttribute("src");
  }
  $("download").hidden = !ready;
  // Share where the browser has it; elsewhere, the GIF's link to copy
  $("share").hidden = !(ready && navigator.share);
  $("link-row").hidden = !(ready && !navigator.share);
  $("react").hidden = !ready;
  $("react").dataset.animation = animation ? String(animation.id) : "";
  const busy = Boolean(animation) && state.sending === animation.id;
  for (const value of ["like", "dislike"]) {
    $(value).setAttribute("aria-pressed", String(Boolean(animation) && state.reaction === value));
    $(value).disabled = busy;
  }
  $("export").disabled = state.exportPhase === "exporting";
  const say = (message) => (message ? t(message.key) + (message.detail ? ` (${message.detail})` : "") : "");
  $("result-status").textContent = say(state.exportMessage);
  $("react-status").textContent = ready ? say(state.reactMessage) : "";
}

async function exportGif() {
  const dialog = $("result");
  const ticket = ++state.exportTicket;
  Object.assign(state, { animation: null, reaction: null, reactMessage: null });
  if (!dialog.open) dialog.showModal?.() ?? dialog.setAttribute("open", "");
  const bbox = exportBbox();
  if (!bbox) {
    Object.assign(state, { exportPhase: "nodata", exportMessage: { key: "noData" } });
    renderExport();
    return;
  }
  Object.assign(state, { exportPhase: "exporting", exportMessage: { key: "exporting" } });
  renderExport();
  const product = current();
  try {
    const animation = await api.createAnimation({
      product: product.product, bbox, year_from: state.yearFrom, year_to: state.yearTo, fps: GIF.fps, size: GIF.size, lang,
    });
    if (ticket !== state.exportTicket) return; // a newer export took over
    Object.assign(state, {
      exportPhase: "ready", exportMessage: null, animation, reaction: storedReaction(animation.id),
    });
  } catch (error) {
    if (ticket !== state.exportTicket) return;
    Object.assign(state, { exportPhase: "failed", exportMessage: { key: "exportFailed", detail: error.message } });
  }
  renderExport();
}

async function shareAnimation() {
  const animation = state.animation;
  if (!animation || !navigator.share) return;
  const title = `React-2-EO · ${animationTitle(animation)}`;
  try {
    const blob = await (await fetch(animation.url)).blob();
    const file = new File([blob], $("download").download, { type: blob.type || "image/gif" });
    if (navigator.canShare?.({ files: [file] })) await navigator.share({ files: [file], title });
    else await navigator.share({ title, url: new URL(animation.url, location.href).href });
  } catch { /* the user closed the share sheet */ }
}

async function copyLink() {
  const field = $("link");
  field.select();
  try {
    await navigator.clipboard.writeText(field.value);
    $("copy").textContent = t("copied");
  } catch { /* no clipboard here: the link stays selected to copy by hand */ }
}

function browserToken() {
  // A random id kept by this browser: one reaction per animation, no account.
  const key = "r2eo-token";
  let token = null;
  try { token = localStorage.getItem(key); } catch { /* private mode */ }
  if (!token) {
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    token = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    try { localStorage.setItem(key, token); } catch { /* kept for this page only */ }
  }
  return token;
}

function storedReaction(animationId) {
  try { return localStorage.getItem(`r2eo-reaction-${animationId}`); } catch { return null; }
}

async function sendReaction(value) {
  const animation = state.animation;
  // One request at a time per animation, and only a change is sent again.
  if (state.exportPhase !== "ready" || !animation || state.sending === animation.id || state.reaction === value) return;
  state.sending = animation.id;
  state.reactMessage = null;
  renderExport();
  try {
    const body = { value, token: browserToken() };
    if (state.deviceLocation) body.location = state.deviceLocation; // coarsened by the server
    await api.react(animation.id, body);
    try { localStorage.setItem(`r2eo-reaction-${animation.id}`, value); } catch { /* not kept */ }
    if (state.animation?.id === animation.id) Object.assign(state, { reaction: value, reactMessage: { key: "thanks" } });
  } catch (error) {
    if (state.animation?.id === animation.id) state.reactMessage = { key: "sendFailed", detail: error.message };
  } finally {
    if (state.sending === animation.id) state.sending = null;
    renderExport();
  }
}

// -- start --------------------------------------------------------------------------------------

// Location only when asked ("Cerca de mí"), and it never zooms out: at least the regional zoom.
function locateUser() {
  const button = $("near");
  button.disabled = true;
  navigator.geolocation.getCurrentPosition((position) => {
    button.disabled = false;
    const here = L.latLng(position.coords.latitude, position.coords.longitude);
    state.deviceLocation = { lat: here.lat, lon: here.lng };
    map.setView(here, Math.max(map.getZoom(), 11));
  }, () => {
    button.disabled = false;
    $("map-status").textContent = t("locationFailed");
  }, { timeout: 8000, maximumAge: 600000 });
}

// The products' footprint, outlined; where it would be a speck of a few pixels (a national
// zoom), a ring around it instead, so that people find the data.
function outline(bounds) {
  const style = { color: "#14532d", weight: 2, fill: false, interactive: false, className: "footprint" };
  const box = L.rectangle(bounds, { ...style, dashArray: "5 4" });
  const ring = L.circleMarker(bounds.getCenter(), { ...style, radius: 12, weight: 3 });
  const update = () => {
    const ne = map.latLngToContainerPoint(bounds.getNorthEast());
    const sw = map.latLngToContainerPoint(bounds.getSouthWest());
    const small = Math.min(Math.abs(ne.x - sw.x), Math.abs(ne.y - sw.y)) < 24;
    (small ? box : ring).remove();
    (small ? ring : box).addTo(map);
  };
  map.on("zoomend", update);
  update();
}

async function start() {
  setupLanguageToggle();
  watchConnection();
  registerServiceWorker();
  map = createMap($("map"));
  compare = new Compare(map, $("compare-ui"));
  $("compare").addEventListener("click", toggleCompare);
  $("play").addEventListener("click", () => setPlaying(!state.playing));
  $("year-from").addEventListener("input", onRangeInput);
  $("year-to").addEventListener("input", onRangeInput);
  // Layers are rebuilt when the thumb is released, not on every step of a drag.
  setupRangePointer();
  $("year-from").addEventListener("change", rebuildLayers);
  $("year-to").addEventListener("change", rebuildLayers);
  $("export").addEventListener("click", exportGif);
  $("share").addEventListener("click", shareAnimation);
  $("copy").addEventListener("click", copyLink);
  $("like").addEventListener("click", () => sendReaction("like"));
  $("dislike").addEventListener("click", () => sendReaction("dislike"));
  onLanguage(() => {
    updateRangeLabel();
    labelCompareButton();
    compare.label();
    if (state.stories.length) renderStories();
    describeStory();
    setPlaying(state.playing); // relabels the button (paused while comparing)
    if (state.exportPhase) renderExport();
    if (!state.products.length) return;
    renderTabs($("tabs"), productTabs(state.products), state.product, selectProduct);
    renderLegend($("legend"), current());
  });

  let list;
  try {
    list = orderProducts(await api.products());
  } catch (error) {
    $("splash").querySelector("p").textContent = `${t("unavailable")} (${error.message})`;
    return;
  }
  state.products = list.filter((p) => p.years.length > 0);
  if (!state.products.length) {
    $("splash").querySelector("p").textContent = t("unavailable");
    return;
  }
  // The data, fitted with a margin (or the country where there is none), outlined.
  const data = unionBounds(state.products);
  map.fitBounds(data ?? COUNTRY_BOUNDS, { padding: [12, 12] });
  if (data) outline(data);
  if (navigator.geolocation) {
    $("near").hidden = false;
    $("near").addEventListener("click", locateUser);
  }
  // The switch is extra: without the list of countries the viewer works as before. People stay
  // near the data: the countries' views and the products, with room around them.
  api.countries()
    .then((countries) => {
      setupCountrySwitch($("country"), map, countries, (c) => { state.country = c.id; });
      const near = L.latLngBounds(data ? [data.getSouthWest(), data.getNorthEast()] : COUNTRY_BOUNDS); // a copy: extend() mutates
      for (const c of countries) near.extend(countryBounds(c));
      map.setMaxBounds(near.pad(0.3));
    })
    .catch(() => map.setMaxBounds((data ?? L.latLngBounds(COUNTRY_BOUNDS)).pad(0.5)));
  renderTabs($("tabs"), productTabs(state.products), state.products[0].product, selectProduct);
  selectProduct(state.products[0].product);
  renderStories(); // before-and-after at once; the stories when the server has found them
  api.stories()
    .then((stories) => { state.stories = stories.filter((s) => state.products.some((p) => p.product === s.product)); renderStories(); })
    .catch(() => { /* no stories: the viewer works as before */ });
  // Play on arrival, unless the person asked their system for less motion.
  setPlaying(!window.matchMedia?.("(prefers-reduced-motion: reduce)").matches);
  applyLanguage();
  // Never hide the map behind the splash for long, even if the first tiles are slow.
  setTimeout(() => $("splash").classList.add("gone"), 4000);
}

start();
