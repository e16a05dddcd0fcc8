// The element (st.components.v2; element.py sends its messages): a panel's tool bar, canvas and scale; the pointer
// sent to the panel's active tool (tools.mjs: box, lasso, a click with any, a scan map's line; pan), whose shape's
// rows are shown at once, a selection on every panel of its group (Shift adds, Alt or Ctrl removes), a kept shape
// (a line: the page's line profile) on the group's scan maps, then sent to Python as the shape; the group's overlay
// (Python's selection and the marks) shown.

import {decodeMask, parse, positions} from "./wire.mjs";
import {cellRows, combine, rowsOf, viewOf} from "./shapes.mjs";
import {clearOutline, count, drawPanel, fmt, outlineContext, plotArea, toData, toScreen} from "./drawing.mjs";
import {panelTools} from "./tools.mjs";

/** @typedef {import("./wire.mjs").Payload} Payload */
/** @typedef {import("./shapes.mjs").Shape} Shape */
/** @typedef {import("./drawing.mjs").Mark} Mark */
/**
 * A group's overlay: Python's selection (or the one just made here) and each panel's marks.
 * @typedef {{mask?: ?Uint8Array, rows?: Int32Array, count?: number, marks: {[key: string]: Mark[]}}} Overlay
 */

// the panels by key, their keys by group, each group's overlay, each panel's last times; the module is loaded once
// a page, so every panel sees it. window.__latentPanels is the browser tests' and benchmarks' hook on it, no more.
const REGISTRY = {panels: {}, groups: {}, overlays: {}, timing: {}};
window.__latentPanels = REGISTRY;
const PICK_PX = 10;  // a click or hover picks the nearest point within this distance

/** One panel: its payload's header, arrays and rows' positions (x, y), its view, selection, marks and tools. */
export class Panel {
  /**
   * @param {string} key
   * @param {HTMLElement} root
   * @param {Payload} payload
   * @param {(shape: Shape) => void} send  the shape to Python (the component's trigger)
   * @param {(view: ?object) => void} keepView  a zoomable panel's view to Python (the component's state)
   * @param {?Panel} previous  the panel this one replaces in `root`
   */
  constructor(key, root, payload, send, keepView, previous) {
    Object.assign(this, {key, root, send, keepView, ...payload});
    Object.assign(this, positions(payload));
    this.group = this.header.group;
    this.selected = null;  // Uint8Array mask over rows, or null: nothing selected
    this.rows = new Int32Array(0);  // the selected rows
    this.marks = [];
    this.place = JSON.stringify([this.header.x_range, this.header.y_range, this.header.grid]);
    this.home();
    if (previous?.place === this.place) this.view = {...previous.view};  // recoloured: the zoom stays
    if (this.header.view) this.view = {...this.header.view};  // zoomed in: the rows in the view the server drew
    // a binned scatter, or one zoomed into, asks the server for the rows in a new view (points when few enough)
    this.zoomable = !!(this.header.zoomed || (this.header.binned && !this.header.y_down));
    this.build(previous?.mode);
    REGISTRY.panels[key] = this;
    (REGISTRY.groups[this.group] ??= new Set()).add(key);
    const overlay = REGISTRY.overlays[this.group];
    if (overlay) this.overlay(overlay);
    else this.draw();
  }

  home() {
    const h = this.header;
    if (h.kind === "grid") {
      const g = h.grid;
      this.view = {x0: g.x0 - g.dx / 2, x1: g.x0 + (g.nx - 0.5) * g.dx, y0: g.y0 - g.dy / 2, y1: g.y0 + (g.ny - 0.5) * g.dy};
    } else {
      const pad = (r) => (r[1] - r[0]) * 0.03 || 1;
      this.view = {x0: h.x_range[0] - pad(h.x_range), x1: h.x_range[1] + pad(h.x_range),
                   y0: h.y_range[0] - pad(h.y_range), y1: h.y_range[1] + pad(h.y_range)};
    }
  }

  /** @param {string} [mode]  the tool chosen (the previous panel's), else the first */
  build(mode) {
    const h = this.header;
    this.root.innerHTML = "";
    this.root.dataset.key = this.key;
    this.root.dataset.rows = h.n;
    this.tools = panelTools(this);
    const offered = Object.values(this.tools).filter((tool) => tool.button && tool.offered());
    const bar = document.createElement("div");
    bar.className = "lp-bar";
    bar.innerHTML = `<span class="lp-title"></span><span class="lp-tools">${offered.map(({name, button}) => `
      <button data-mode="${name}" title="${button.title}">${button.label}</button>`).join("")}
      <button data-act="home" title="Back to the whole view (or double-click)">Reset</button></span>`;
    bar.querySelector(".lp-title").textContent = h.title;
    bar.addEventListener("click", (e) => {
      const b = e.target.closest("button");
      if (!b) return;
      if (b.dataset.act === "home") this.reset(); else this.setMode(b.dataset.mode);
    });
    this.note = document.createElement("div");
    this.note.className = "lp-note";
    const stage = document.createElement("div");
    stage.className = "lp-stage";
    this.canvas = document.createElement("canvas");
    this.shape = document.createElement("canvas");
    this.shape.className = "lp-shape";
    this.tip = document.createElement("div");
    this.tip.className = "lp-tip";
    stage.append(this.canvas, this.shape, this.tip);
    this.root.append(bar, this.note, stage, this.scale());
    this.stage = stage;
    this.setMode(offered.some((tool) => tool.name === mode) ? mode : offered[0].name);
    this.size();
    new ResizeObserver(() => { if (this.size()) this.draw(); }).observe(stage);
    this.listen();
  }

  scale() {
    // the colour bar (continuous) or the legend (categories with their counts), in HTML under the canvas
    const h = this.header, box = document.createElement("div");
    box.className = "lp-scale";
    if (h.colorbar) {
      const c = h.colorbar, stops = c.scale.map((s, i) => `${s} ${(100 * i / (c.scale.length - 1)).toFixed(2)}%`);
      box.innerHTML = `<span class="lp-cb-title"></span><span class="lp-cb-low"></span>
        <span class="lp-cb" style="background: linear-gradient(to right, ${stops.join(",")})"></span><span class="lp-cb-high"></span>`;
      box.querySelector(".lp-cb-title").textContent = c.title;
      box.querySelector(".lp-cb-low").textContent = fmt(c.low);
      box.querySelector(".lp-cb-high").textContent = fmt(c.high);
    } else {
      for (const [name, colour] of h.legend || []) {
        const item = document.createElement("span");
        item.className = "lp-item";
        item.innerHTML = `<i style="background:${colour}"></i>`;
        item.append(name);
        box.append(item);
      }
    }
    return box;
  }

  say(text) {
    // a line above the canvas (an approximation made here), until the next selection
    if (this.note.textContent !== text) this.note.textContent = text;
  }

  /** @param {string} mode  the name of the tool the pointer goes to */
  setMode(mode) {
    this.mode = mode;
    this.tool = this.tools[mode];
    for (const b of this.root.querySelectorAll("[data-mode]")) b.classList.toggle("on", b.dataset.mode === mode);
    this.shape.style.cursor = this.tool.cursor;
  }

  size() {
    const m = this.header.contract.margin, width = Math.max(200, Math.floor(this.stage.clientWidth || this.root.clientWidth || 600));
    const h = this.header, plotW = width - m.left - m.right;
    let height = h.height;
    if (h.equal) {  // a scan map keeps its grid's aspect ratio
      const v = this.view, aspect = Math.abs(v.y1 - v.y0) / Math.abs(v.x1 - v.x0);
      height = Math.min(h.height, Math.round(plotW * aspect) + m.top + m.bottom);
    }
    if (width === this.width && height === this.height) return false;
    const dpr = window.devicePixelRatio || 1;
    this.width = width; this.height = height; this.dpr = dpr;
    for (const c of [this.canvas, this.shape]) {
      c.width = Math.round(width * dpr); c.height = Math.round(height * dpr);
      c.style.width = `${width}px`; c.style.height = `${height}px`;
    }
    this.stage.style.height = `${height}px`;
    return true;
  }

  draw() {
    const t0 = performance.now();
    drawPanel(this);
    REGISTRY.timing[this.key] = {...REGISTRY.timing[this.key], draw_ms: performance.now() - t0};
  }

  reset() {
    this.home();
    this.draw();
    if (this.header.zoomed) this.keepView(null);  // back to every row
  }

  viewChanged() {
    // a zoom or pan of a zoomable panel: the view goes to the server once the user pauses
    if (!this.zoomable) return;
    clearTimeout(this.viewTimer);
    this.viewTimer = setTimeout(() => this.keepView(viewOf(this.view)), 400);
  }

  /**
   * @param {number} sx
   * @param {number} sy
   * @returns {number} the row drawn nearest to a point of the canvas, within PICK_PX (a scan map's: the pixel's);
   *   -1: none
   */
  nearest(sx, sy) {
    const p = plotArea(this), [x, y] = toData(p, sx, sy);
    if (this.header.kind === "grid") {
      const g = this.header.grid, c = Math.round((x - g.x0) / g.dx), r = Math.round((y - g.y0) / g.dy);
      if (c < 0 || r < 0 || c >= g.nx || r >= g.ny) return -1;
      this.cellRows ??= cellRows(this.arrays.cell, g.nx * g.ny);
      return this.cellRows[r * g.nx + c];
    }
    const kx = p.w / (p.x1 - p.x0), ky = p.h / (p.y1 - p.y0);
    let best = -1, bestD = PICK_PX * PICK_PX;
    for (let i = 0; i < this.header.n; i++) {
      const dx = (this.x[i] - x) * kx, dy = (this.y[i] - y) * ky, d = dx * dx + dy * dy;
      if (d <= bestD) { best = i; bestD = d; }
    }
    return best;
  }

  fromGroup(name) {
    // an array of this panel's, or else of a linked panel's (the same rows): what the payloads share
    if (this.arrays[name]) return this.arrays[name];
    for (const key of REGISTRY.groups[this.group] || []) {
      const other = REGISTRY.panels[key];
      if (other?.root.isConnected && other.arrays[name]) return other.arrays[name];
    }
    return null;
  }

  hover(sx, sy) {
    // the row, its position on the scan (this panel's, or its linked scan map's), the colour's value
    const row = this.nearest(sx, sy);
    if (row < 0) { this.tip.style.display = "none"; return; }
    if (this.header.binned) { this.hoverCell(row, sx, sy); return; }
    const h = this.header, unit = h.unit ? ` ${h.unit}` : "", ids = this.arrays.row_ids;
    const lines = [`row ${ids ? ids[row] : row}`];
    const scan = h.kind === "grid" ? this : [...(REGISTRY.groups[this.group] || [])]
      .map((key) => REGISTRY.panels[key]).find((other) => other?.header.kind === "grid" && other.root.isConnected);
    if (scan) lines.push(`x ${fmt(scan.x[row])}${unit}, y ${fmt(scan.y[row])}${unit}`);
    else lines.push(`${h.x_title} ${fmt(this.x[row])}, ${h.y_title} ${fmt(this.y[row])}`);
    const values = this.fromGroup("values");
    if (values) lines.push(`${h.value_name} ${fmt(values[row])}`);
    else if (h.code_names) lines.push(h.code_names[this.arrays.codes[row]] ?? "");
    this.showTip(lines, sx, sy);
  }

  hoverCell(cell, sx, sy) {
    // a binned panel's cell: how many rows it holds, its centre, its colour's name or value
    const h = this.header, unit = h.unit ? ` ${h.unit}` : "", rows = this.arrays.count[cell];
    const lines = [`${count(rows)} row${rows === 1 ? "" : "s"} in this cell`,
                   h.y_down ? `x ${fmt(this.x[cell])}${unit}, y ${fmt(this.y[cell])}${unit}`
                            : `${h.x_title} ${fmt(this.x[cell])}, ${h.y_title} ${fmt(this.y[cell])}`];
    const code = this.arrays.codes[cell], bar = h.colorbar;
    if (h.code_names) lines.push(h.code_names[code] ?? "");
    else if (bar && code !== h.palette.length + h.contract.nan_code) {  // codes 0-254 span the colour bar's limits
      lines.push(`${h.value_name} ${fmt(bar.low + (bar.high - bar.low) * code / 254)} (the cell's mean)`);
    }
    this.showTip(lines, sx, sy);
  }

  showTip(lines, sx, sy) {
    this.tip.textContent = lines.join("\n");
    Object.assign(this.tip.style, {display: "block", left: `${Math.min(sx + 12, this.width - 180)}px`, top: `${sy + 12}px`});
  }

  listen() {
    // the pointer to the active tool: a press, its moves (its outline drawn once a frame at most, however fast the
    // pointer moves), its release; the shape made taken (`take`)
    const el = this.shape;
    let pressed = false, busy = 0, frame = 0;
    const at = (e) => { const r = el.getBoundingClientRect(); return [e.clientX - r.left, e.clientY - r.top]; };
    const outline = () => {
      frame = 0;
      if (!pressed) return;
      const t0 = performance.now();
      this.tool.outline(outlineContext(this));
      busy += performance.now() - t0;
    };
    el.addEventListener("pointerdown", (e) => {
      if (e.button !== 0) return;
      el.setPointerCapture(e.pointerId);
      this.tool.down(at(e), e);
      pressed = true;
      busy = 0;
      this.tip.style.display = "none";
    });
    el.addEventListener("pointermove", (e) => {
      const point = at(e);
      if (!pressed) { this.hover(...point); return; }
      const t0 = performance.now();
      this.tool.move(point);
      frame ||= requestAnimationFrame(outline);
      busy += performance.now() - t0;
    });
    el.addEventListener("pointerup", (e) => {
      if (!pressed) return;
      pressed = false;
      cancelAnimationFrame(frame);
      frame = 0;
      clearOutline(this);
      const up = performance.now(), shape = this.tool.up(at(e));
      if (shape) this.take(shape, up, busy);
    });
    el.addEventListener("pointerleave", () => { this.tip.style.display = "none"; });
    el.addEventListener("dblclick", () => this.reset());
    el.addEventListener("wheel", (e) => {
      e.preventDefault();
      const p = plotArea(this), [sx, sy] = at(e), [cx, cy] = toData(p, sx, sy);
      const k = Math.exp(Math.max(-1, Math.min(1, e.deltaY / 300)));
      const v = this.view;
      this.view = {x0: cx + (v.x0 - cx) * k, x1: cx + (v.x1 - cx) * k, y0: cy + (v.y0 - cy) * k, y1: cy + (v.y1 - cy) * k};
      this.draw();
      this.viewChanged();
    }, {passive: false});
  }

  /**
   * A shape just made, by its tool (the one of its name): its rows shown here and on the group's panels at once, a
   * selection combined with the panel's or a kept shape as its mark, what the tool says of it, then the shape sent
   * (with the count of rows it left selected, or took); Python resolves it over the same coordinates.
   * @param {Shape} shape
   * @param {number} up  when the pointer was released (performance.now())
   * @param {number} dragMs  the main thread's time in the press's handlers
   */
  take(shape, up, dragMs) {
    const tool = this.tools[shape.shape], rows = tool.rows(shape);
    this.say(tool.note(shape, rows));
    let taken;
    if (tool.selects) {
      taken = showSelection(this.group, combine(shape.op, rows, this.selected, this.header.contract.ops));
    } else {
      showMark(this.group, tool.name, {x: shape.x, y: shape.y, symbol: tool.name});
      taken = rows ? rows.length : 0;
    }
    REGISTRY.timing[this.key] = {...REGISTRY.timing[this.key], highlight_ms: performance.now() - up, drag_ms: dragMs,
                                 shape, count: taken, ...(tool.selects ? {} : {line_rows: rows && Array.from(rows)})};
    this.send({...shape, count: taken});
  }

  // for tests and benchmarks: where a row is drawn (client pixels), and the rows highlighted
  clientOf(row) {
    const [sx, sy] = toScreen(plotArea(this), this.x[row], this.y[row]), box = this.shape.getBoundingClientRect();
    return [box.left + sx, box.top + sy];
  }

  selectedRows() {
    return Array.from(this.rows);
  }

  /** @param {Overlay} overlay  the group's: its selection (when over this panel's rows) and this panel's marks */
  overlay(overlay) {
    const fits = overlay.mask && overlay.mask.length === this.header.n;
    this.selected = fits ? overlay.mask : null;
    this.rows = fits ? overlay.rows : new Int32Array(0);
    this.marks = overlay.marks[this.key] || [];
    this.root.dataset.selected = overlay.count;
    this.draw();
  }
}

/**
 * The group's panels all show `mask`.
 * @param {string} group
 * @param {?Uint8Array} mask  null: nothing selected
 * @returns {number} how many rows it holds
 */
function showSelection(group, mask) {
  const rows = mask ? rowsOf(mask) : new Int32Array(0);
  const overlay = REGISTRY.overlays[group] ??= {marks: {}};
  Object.assign(overlay, {mask: rows.length ? mask : null, rows, count: rows.length});
  for (const key of REGISTRY.groups[group] || []) {
    const panel = REGISTRY.panels[key];
    if (panel && panel.root.isConnected) panel.overlay(overlay); else REGISTRY.groups[group].delete(key);
  }
  for (const panel of Object.values(REGISTRY.panels)) {  // a block of the group's rows in a group of its own
    const block = panel.header.follows;
    if (block?.group === group && panel.group !== group && panel.root.isConnected && !panel.header.binned &&
        (!mask || mask.length === block.total)) {
      showSelection(panel.group, mask && mask.subarray(block.first, block.first + panel.header.n));
    }
  }
  return rows.length;
}

/**
 * A kept shape's mark on the group's panels that offer its tool, at once, in place of the one they showed (the
 * overlay then brings the server's).
 * @param {string} group
 * @param {string} name  its tool's
 * @param {Mark} mark
 */
function showMark(group, name, mark) {
  const overlay = REGISTRY.overlays[group] ??= {marks: {}, count: 0};
  for (const key of REGISTRY.groups[group] || []) {
    const panel = REGISTRY.panels[key];
    if (!panel?.root.isConnected || !panel.tools[name].offered()) continue;
    overlay.marks[key] = [...(overlay.marks[key] || []).filter((m) => m.symbol !== name), mark];
    panel.overlay(overlay);
  }
}

/**
 * The component's entry point, for each message element.py sends: a panel's payload (drawn, unless drawn already)
 * or its group's overlay.
 * @param {{data: Uint8Array | object, parentElement: HTMLElement, setTriggerValue: (name: string, value: any) => void,
 *   setStateValue: (name: string, value: any) => void}} component
 */
export default function mount({data, parentElement, setTriggerValue, setStateValue}) {
  const root = parentElement.querySelector(".lp-root");
  if (!(data instanceof Uint8Array)) {  // the group's overlay: Python's selection and the marks
    (REGISTRY.overlays[data.group] ??= {marks: {}}).marks = data.marks || {};
    showSelection(data.group, decodeMask(data));
    root.dataset.count = data.count;
    return;
  }
  const payload = parse(data), key = payload.header.key, existing = REGISTRY.panels[key];
  if (existing?.root === root && existing.header.digest === payload.header.digest) return;  // drawn already
  new Panel(key, root, payload, (value) => setTriggerValue("shape", value), (view) => setStateValue("view", view),
            existing?.root === root ? existing : null);
}
