// The element (st.components.v2; element.py sends its messages): a panel's tool bar, canvas and scale, the
// pointer's box, lasso or click (Shift adds, Alt or Ctrl removes), the selection shown at once on every panel of
// its group, then sent to Python as its shape; a scan map's line (the page's line profile), shown at once on the
// group's scan maps and sent the same way; the group's overlay (Python's selection and the marks) shown.

import {decodeMask, parse, positions} from "./wire.mjs";
import {cellRows, combine, lineRows, rowsIn, rowsOf, simplify, viewOf} from "./shapes.mjs";
import {clearOutline, drawOutline, drawPanel, fmt, plotArea, toData, toScreen} from "./drawing.mjs";

// the panels by key, their keys by group, each group's overlay, each panel's last times; the module is loaded once
// a page, so every panel sees it. window.__latentPanels is the browser tests' and benchmarks' hook on it, no more.
const REGISTRY = {panels: {}, groups: {}, overlays: {}, timing: {}};
window.__latentPanels = REGISTRY;
const CLICK_PX = 4;  // a press that moves less than this is a click
const PICK_PX = 10;  // a click or hover picks the nearest point within this distance
const count = (n) => n.toLocaleString("en-US");

class Panel {
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
    this.build(previous?.mode || "box");
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

  build(mode) {
    const h = this.header;
    this.root.innerHTML = "";
    this.root.dataset.key = this.key;
    this.root.dataset.rows = h.n;
    const bar = document.createElement("div");
    bar.className = "lp-bar";
    bar.innerHTML = `<span class="lp-title"></span><span class="lp-tools">
      <button data-mode="box" title="Box: drag to select (Shift adds, Alt removes)">Box</button>
      <button data-mode="lasso" title="Lasso: draw around points (Shift adds, Alt removes)">Lasso</button>${h.y_down ? `
      <button data-mode="line" title="Line: drag from its first point to its last (its profile below)">Line</button>` : ""}
      <button data-mode="pan" title="Pan: drag to move; the wheel zooms">Pan</button>
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
    this.setMode(mode);
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

  setMode(mode) {
    this.mode = mode;
    for (const b of this.root.querySelectorAll("[data-mode]")) b.classList.toggle("on", b.dataset.mode === mode);
    this.shape.style.cursor = mode === "pan" ? "grab" : "crosshair";
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

  nearest(sx, sy) {
    // the row drawn nearest to a point of the canvas, within PICK_PX
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
    const el = this.shape;
    let drag = null, frame = 0;
    const at = (e) => { const r = el.getBoundingClientRect(); return [e.clientX - r.left, e.clientY - r.top]; };
    const outline = () => {  // once a frame at most, however fast the pointer moves
      frame = 0;
      if (!drag) return;
      const t0 = performance.now();
      drawOutline(this, drag.path, this.mode, drag.end);
      drag.busy += performance.now() - t0;
    };
    el.addEventListener("pointerdown", (e) => {
      if (e.button !== 0) return;
      el.setPointerCapture(e.pointerId);
      const [sx, sy] = at(e);
      const op = e.shiftKey ? "add" : (e.altKey || e.ctrlKey || e.metaKey) ? "remove" : "replace";
      drag = {op, start: [sx, sy], end: [sx, sy], path: [[sx, sy]], moved: false, busy: 0};
      this.tip.style.display = "none";
    });
    el.addEventListener("pointermove", (e) => {
      const [sx, sy] = at(e);
      if (!drag) { this.hover(sx, sy); return; }
      const t0 = performance.now();
      drag.moved ||= Math.hypot(sx - drag.start[0], sy - drag.start[1]) >= CLICK_PX;
      if (this.mode === "pan") {
        const p = plotArea(this), [ax, ay] = toData(p, ...drag.start), [bx, by] = toData(p, sx, sy);
        Object.assign(this.view, {x0: this.view.x0 - (bx - ax), x1: this.view.x1 - (bx - ax),
                                  y0: this.view.y0 - (by - ay), y1: this.view.y1 - (by - ay)});
        drag.start = [sx, sy];
        this.draw();
      } else {
        const [lx, ly] = drag.path[drag.path.length - 1];
        if (Math.hypot(sx - lx, sy - ly) >= 2) drag.path.push([sx, sy]);  // a lasso of fewer vertices
        drag.end = [sx, sy];
        frame ||= requestAnimationFrame(outline);
      }
      drag.busy += performance.now() - t0;
    });
    el.addEventListener("pointerup", (e) => {
      if (!drag) return;
      const [sx, sy] = at(e), done = drag;
      drag = null;
      cancelAnimationFrame(frame);
      frame = 0;
      clearOutline(this);
      const up = performance.now();
      if (this.mode === "pan" && done.moved) { this.viewChanged(); return; }
      if (this.mode === "line" && done.moved) { this.drawLine(done, [sx, sy], up); return; }
      const shape = done.moved ? this.shapeOf(done, [sx, sy]) : this.clickAt(sx, sy);
      if (shape) this.select({...shape, op: done.op}, up, done.busy);
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

  clickAt(sx, sy) {
    const row = this.nearest(sx, sy);
    if (row < 0) return null;
    const [x, y] = toData(plotArea(this), sx, sy);
    return {shape: "click", row, x: [x], y: [y]};
  }

  shapeOf(drag, end) {
    // a box from the press to the release, or the lasso's path in data units: at most the contract's max_vertices
    // (a longer one is simplified, and said: a message to the server holds no more)
    const p = plotArea(this);
    if (this.mode !== "lasso") {
      const [ax, ay] = toData(p, ...drag.start), [bx, by] = toData(p, ...end);
      return {shape: "box", x: [Math.min(ax, bx), Math.max(ax, bx)], y: [Math.min(ay, by), Math.max(ay, by)]};
    }
    const most = this.header.contract.max_vertices, path = simplify(drag.path, most);
    if (path.length < 3) return null;  // no area to select in
    this.say(path.length < drag.path.length
      ? `A lasso of ${count(drag.path.length)} vertices, simplified to ${count(path.length)} (a selection holds at ` +
        `most ${count(most)}): the rows inside the simplified outline are selected.` : "");
    const points = path.map(([a, b]) => toData(p, a, b));
    return {shape: "lasso", x: points.map((q) => q[0]), y: points.map((q) => q[1])};
  }

  drawLine(drag, end, up) {
    // a line from the press to the release, in data units: shown at once on the group's scan maps, its pixels
    // counted here (a binned map's cells are blocks: the server counts its pixels), then sent to the server
    const p = plotArea(this), [ax, ay] = toData(p, ...drag.start), [bx, by] = toData(p, ...end);
    const line = {shape: "line", op: "replace", x: [ax, bx], y: [ay, by]}, h = this.header;
    let rows = null;
    if (!h.binned) {
      this.cellRows ??= cellRows(this.arrays.cell, h.grid.nx * h.grid.ny);
      rows = lineRows(line, h.grid, this.cellRows);
    }
    showLine(this.group, {x: line.x, y: line.y, name: "profile line", symbol: "line", colour: "#e31a1c"});
    const length = `${fmt(Math.hypot(bx - ax, by - ay))}${h.unit ? ` ${h.unit}` : ""}`;
    this.say(`A line of ${length}${rows ? ` through ${count(rows.length)} pixels` : ""}: the values along it are ` +
             "below the maps.");
    REGISTRY.timing[this.key] = {...REGISTRY.timing[this.key], highlight_ms: performance.now() - up, shape: line,
                                 line_rows: rows && Array.from(rows)};
    this.send({...line, count: rows ? rows.length : 0});
  }

  select(shape, up, dragMs) {
    // drawn here and on the linked panels at once; Python resolves the same shape over the same coordinates
    if (shape.shape !== "lasso") this.say("");
    const mask = combine(shape.op, rowsIn(shape, this.x, this.y), this.selected);
    const selected = showSelection(this.group, mask);
    REGISTRY.timing[this.key] = {...REGISTRY.timing[this.key], highlight_ms: performance.now() - up, drag_ms: dragMs,
                                 shape, count: selected};
    this.send({...shape, count: selected});
  }

  // for tests and benchmarks: where a row is drawn (client pixels), and the rows highlighted
  clientOf(row) {
    const [sx, sy] = toScreen(plotArea(this), this.x[row], this.y[row]), box = this.shape.getBoundingClientRect();
    return [box.left + sx, box.top + sy];
  }

  selectedRows() {
    return Array.from(this.rows);
  }

  overlay(overlay) {
    const fits = overlay.mask && overlay.mask.length === this.header.n;
    this.selected = fits ? overlay.mask : null;
    this.rows = fits ? overlay.rows : new Int32Array(0);
    this.marks = overlay.marks[this.key] || [];
    this.root.dataset.selected = overlay.count;
    this.draw();
  }
}

function showSelection(group, mask) {
  // the group's panels all show `mask` (null: nothing selected); returns how many rows it holds
  const rows = mask ? rowsOf(mask) : new Int32Array(0);
  const overlay = REGISTRY.overlays[group] ??= {marks: {}};
  Object.assign(overlay, {mask: rows.length ? mask : null, rows, count: rows.length});
  for (const key of REGISTRY.groups[group] || []) {
    const panel = REGISTRY.panels[key];
    if (panel && panel.root.isConnected) panel.overlay(overlay); else REGISTRY.groups[group].delete(key);
  }
  return rows.length;
}

function showLine(group, mark) {
  // the line on the group's scan maps at once, in place of any line they showed (the overlay brings the server's)
  const overlay = REGISTRY.overlays[group] ??= {marks: {}, count: 0};
  for (const key of REGISTRY.groups[group] || []) {
    const panel = REGISTRY.panels[key];
    if (!panel?.root.isConnected || !panel.header.y_down) continue;
    overlay.marks[key] = [...(overlay.marks[key] || []).filter((m) => m.symbol !== "line"), mark];
    panel.overlay(overlay);
  }
}

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
