// Before and after: two years of a product side by side on one map, split by a line people
// drag (or move with the arrow keys: it is a range input). The left year is clipped to the
// left of the line, the right year to its right, as Leaflet layers in panes of their own; the
// clip follows the map as it pans and zooms.
import { L } from "./common.js";
import { t } from "./i18n.js";

export class Compare {
  constructor(map, root) {
    this.map = map;
    this.root = root; // the overlay: line, year labels, range input
    this.layers = [];
    this.panes = ["compare-before", "compare-after"].map((name) => {
      const pane = map.getPane(name) ?? map.createPane(name);
      pane.style.zIndex = 210;
      return pane;
    });
    this.range = root.querySelector("input");
    this.range.addEventListener("input", () => this.clip());
    this.onMove = () => this.clip();
  }

  get open() { return this.layers.length > 0; }

  /** Show ``before`` left and ``after`` right, with ``tileUrl(year)`` and the layer options. */
  show(before, after, tileUrl, options) {
    this.close();
    this.years = [before, after];
    this.layers = [before, after].map((year, i) => L.tileLayer(tileUrl(year), { ...options, pane: this.panes[i] }).addTo(this.map));
    this.root.querySelector(".before").textContent = before;
    this.root.querySelector(".after").textContent = after;
    this.range.value = 50;
    this.label();
    this.root.hidden = false;
    this.map.on("move zoom resize", this.onMove);
    this.clip();
  }

  label() {
    if (this.years) this.range.setAttribute("aria-label", t("compareSlider", { from: this.years[0], to: this.years[1] }));
  }

  /** Where the line is, in the map's pixels from its left edge. */
  lineX() {
    const width = this.map.getSize().x;
    const thumb = 44; // the input's thumb: its centre runs from 22 px to width - 22 px
    return thumb / 2 + (Number(this.range.value) / 100) * (width - thumb);
  }

  clip() {
    if (!this.open) return;
    const size = this.map.getSize();
    const nw = this.map.containerPointToLayerPoint([0, 0]);
    const se = this.map.containerPointToLayerPoint(size);
    const x = nw.x + this.lineX();
    // CSS clip works on the absolutely placed panes whatever their own size (0 x 0 here)
    this.panes[0].style.clip = `rect(${nw.y}px, ${x}px, ${se.y}px, ${nw.x}px)`;
    this.panes[1].style.clip = `rect(${nw.y}px, ${se.x}px, ${se.y}px, ${x}px)`;
    this.root.querySelector(".line").style.left = `${this.lineX()}px`;
  }

  close() {
    for (const layer of this.layers) this.map.removeLayer(layer);
    this.layers = [];
    for (const pane of this.panes) pane.style.clip = "";
    this.map.off("move zoom resize", this.onMove);
    this.root.hidden = true;
  }
}
