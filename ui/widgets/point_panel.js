// Latent Explorer's point panel (st.components.v2): every row of a scatter or a scan map drawn on a 2D
// canvas, selected in the browser by box, lasso or click (Shift adds, Alt or Ctrl removes), the selection
// drawn at once here and on the linked panels of its group, then sent to Python as its shape.
// The payload (ui/widgets/point_panel.py) is one binary message: a uint32 header length, a JSON header,
// then the typed arrays it lists. No library: plain ES module, no build step.

// panels by key, their keys by group, each group's overlay, and each panel's last times (tests, benchmarks)
const REGISTRY = (window.__latentPanels ??= {panels: {}, groups: {}, overlays: {}, timing: {}});
const MARGIN = {left: 62, right: 14, top: 30, bottom: 44};
const FADE = 0.82;  // how far an unselected point goes towards white while a selection is shown
const CLICK_PX = 4;  // a press that moves less than this is a click
const PICK_PX = 10;  // a click or hover picks the nearest point within this distance
const RING = 0xff111111;  // the outline of a selected point (opaque #111111)
const RING_MAX = 5000;   // more selected points than this are shown by their colour alone

function parse(bytes) {
  const buffer = bytes.slice().buffer;  // aligned copy: typed-array views need aligned offsets
  const length = new DataView(buffer).getUint32(0, true);
  const header = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, 4, length)));
  const types = {u8: Uint8Array, u16: Uint16Array, i32: Int32Array, f32: Float32Array};
  const base = (4 + length + 3) & ~3, arrays = {};
  for (const [name, type, offset, count] of header.arrays) arrays[name] = new types[type](buffer, base + offset, count);
  return {header, arrays};
}

function positions({header, arrays}) {
  // The coordinates every selection is resolved over, computed as Python computes them (float64).
  const n = header.n, x = new Float64Array(n), y = new Float64Array(n);
  if (header.kind === "grid") {
    const g = header.grid;
    for (let i = 0; i < n; i++) {
      const cell = arrays.cell[i];
      x[i] = g.x0 + (cell % g.nx) * g.dx;
      y[i] = g.y0 + Math.floor(cell / g.nx) * g.dy;
    }
  } else {
    const [x0, x1] = header.x_range, [y0, y1] = header.y_range;
    const sx = (x1 - x0) / 65535, sy = (y1 - y0) / 65535;
    for (let i = 0; i < n; i++) { x[i] = x0 + arrays.qx[i] * sx; y[i] = y0 + arrays.qy[i] * sy; }
  }
  return {x, y};
}

function niceTicks(low, high, count = 6) {
  if (!(high > low)) return [low];
  const raw = (high - low) / count, power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= raw);
  const ticks = [];
  for (let t = Math.ceil(low / step) * step; t <= high + step * 1e-9; t += step) ticks.push(+t.toPrecision(12));
  return ticks;
}

const fmt = (v) => (Number.isFinite(v) ? (+v.toPrecision(4)).toString() : "NaN");

function polygonTest(xs, ys) {
  // (x, y) -> inside the polygon, by the even-odd rule with the same arithmetic as ui/widgets/point_panel.py's
  // _in_polygon; each edge is listed in the horizontal bands its y span covers, so a point tests only the few
  // edges of its band (an edge that does not span its y could not change the answer)
  const n = xs.length, low = Math.min(...ys), high = Math.max(...ys), bands = 64;
  const height = (high - low) / bands || 1, band = (y) => Math.max(0, Math.min(bands - 1, Math.floor((y - low) / height)));
  const edges = Array.from({length: bands}, () => []);
  for (let i = 0, j = n - 1; i < n; j = i++) {
    for (let b = band(Math.min(ys[i], ys[j])); b <= band(Math.max(ys[i], ys[j])); b++) edges[b].push(i, j);
  }
  return (px, py) => {
    const list = edges[band(py)];
    let inside = false;
    for (let e = 0; e < list.length; e += 2) {
      const i = list[e], j = list[e + 1];
      if ((ys[i] > py) !== (ys[j] > py) && px < (xs[j] - xs[i]) * (py - ys[i]) / (ys[j] - ys[i]) + xs[i]) inside = !inside;
    }
    return inside;
  };
}

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
      <button data-mode="lasso" title="Lasso: draw around points (Shift adds, Alt removes)">Lasso</button>
      <button data-mode="pan" title="Pan: drag to move; the wheel zooms">Pan</button>
      <button data-act="home" title="Back to the whole view (or double-click)">Reset</button></span>`;
    bar.querySelector(".lp-title").textContent = h.title;
    bar.addEventListener("click", (e) => {
      const b = e.target.closest("button");
      if (!b) return;
      if (b.dataset.act === "home") this.reset(); else this.setMode(b.dataset.mode);
    });
    const stage = document.createElement("div");
    stage.className = "lp-stage";
    this.canvas = document.createElement("canvas");
    this.shape = document.createElement("canvas");
    this.shape.className = "lp-shape";
    this.tip = document.createElement("div");
    this.tip.className = "lp-tip";
    stage.append(this.canvas, this.shape, this.tip);
    this.root.append(bar, stage, this.scale());
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

  setMode(mode) {
    this.mode = mode;
    for (const b of this.root.querySelectorAll("[data-mode]")) b.classList.toggle("on", b.dataset.mode === mode);
    this.shape.style.cursor = mode === "pan" ? "grab" : "crosshair";
  }

  size() {
    const width = Math.max(200, Math.floor(this.stage.clientWidth || this.root.clientWidth || 600));
    const h = this.header, plotW = width - MARGIN.left - MARGIN.right;
    let height = h.height;
    if (h.equal) {  // a scan map keeps its grid's aspect ratio
      const v = this.view, aspect = Math.abs(v.y1 - v.y0) / Math.abs(v.x1 - v.x0);
      height = Math.min(h.height, Math.round(plotW * aspect) + MARGIN.top + MARGIN.bottom);
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

  // data <-> CSS pixels of the canvas
  plot() {
    const w = this.width - MARGIN.left - MARGIN.right, h = this.height - MARGIN.top - MARGIN.bottom;
    let {x0, x1, y0, y1} = this.view;
    if (this.header.equal) {  // equal units on both axes: widen the view to the plot's aspect
      const sx = w / (x1 - x0), sy = h / (y1 - y0), s = Math.min(sx, sy);
      const cx = (x0 + x1) / 2, cy = (y0 + y1) / 2;
      x0 = cx - w / s / 2; x1 = cx + w / s / 2; y0 = cy - h / s / 2; y1 = cy + h / s / 2;
    }
    return {left: MARGIN.left, top: MARGIN.top, w, h, x0, x1, y0, y1, down: !!this.header.y_down};
  }

  toScreen(p, x, y) {
    const sx = p.left + (x - p.x0) / (p.x1 - p.x0) * p.w;
    const f = (y - p.y0) / (p.y1 - p.y0);
    return [sx, p.top + (p.down ? f : 1 - f) * p.h];
  }

  toData(p, sx, sy) {
    const f = (sy - p.top) / p.h;
    return [p.x0 + (sx - p.left) / p.w * (p.x1 - p.x0), p.y0 + (p.down ? f : 1 - f) * (p.y1 - p.y0)];
  }

  draw() {
    const t0 = performance.now();
    const p = this.plot(), ctx = this.canvas.getContext("2d"), dpr = this.dpr;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = this.header.background || "#ffffff";
    ctx.fillRect(p.left, p.top, p.w, p.h);
    if (this.header.kind === "grid") this.drawGrid(ctx, p); else this.drawPoints(ctx, p);
    this.drawLines(ctx, p);
    this.drawMarks(ctx, p);
    this.drawAxes(ctx, p);
    REGISTRY.timing[this.key] = {...REGISTRY.timing[this.key], draw_ms: performance.now() - t0};
  }

  colours() {
    // code -> packed RGBA (little-endian ABGR), full and faded
    const full = new Uint32Array(this.header.palette.length), faded = new Uint32Array(full.length);
    this.header.palette.forEach(([r, g, b, a], i) => {
      const f = (c) => Math.round(c + (255 - c) * FADE);
      full[i] = ((a << 24) | (b << 16) | (g << 8) | r) >>> 0;
      faded[i] = ((a << 24) | (f(b) << 16) | (f(g) << 8) | f(r)) >>> 0;
    });
    return {full, faded};
  }

  drawPoints(ctx, p) {
    // every point once into a base image (faded while there is a selection), kept until the view changes;
    // a selection then only copies it and draws its own rows on top, ringed in black when few
    const dpr = this.dpr, W = Math.round(p.w * dpr), H = Math.round(p.h * dpr), sel = this.selected;
    const size = Math.max(1, Math.round(this.header.point_size * dpr)), half = size >> 1;
    const ax = W / (p.x1 - p.x0), ay = H / (p.y1 - p.y0), codes = this.arrays.codes, xs = this.x, ys = this.y;
    const put = (pixels, i, colour, grow) => {  // a square of size + 2 * grow device pixels
      const side = size + 2 * grow, px = Math.round((xs[i] - p.x0) * ax) - half - grow;
      const fy = (ys[i] - p.y0) * ay, py = Math.round(p.down ? fy : H - fy) - half - grow;
      const x0 = Math.max(0, px), x1 = Math.min(W, px + side), y1 = Math.min(H, py + side);
      for (let yy = Math.max(0, py); yy < y1; yy++) pixels.fill(colour, yy * W + x0, yy * W + Math.max(x0, x1));
    };
    const key = [W, H, p.x0, p.x1, p.y0, p.y1].join();
    if (this.bases?.key !== key) this.bases = {key};
    const offsets = this.bases.offsets ??= this.pixelOffsets(p, W, H, size, half);
    const square = (pixels, i, colour) => {  // put's square, from the row's kept offset
      const o = offsets[i];
      if (o < 0) { put(pixels, i, colour, 0); return; }
      for (let r = 0, line = o; r < size; r++, line += W) for (let c = 0; c < size; c++) pixels[line + c] = colour;
    };
    const base = (kind) => {
      if (!this.bases[kind]) {
        const pixels = new Uint32Array(W * H).fill(0xffffffff), palette = this.colours()[kind];
        for (let i = 0; i < this.header.n; i++) square(pixels, i, palette[codes[i]]);
        this.bases[kind] = pixels;
      }
      return this.bases[kind];
    };
    const image = ctx.createImageData(W, H), pixels = new Uint32Array(image.data.buffer);
    pixels.set(base(sel ? "faded" : "full"));
    const bases = this.bases;  // the other one made while the browser is idle: the next click only copies it
    requestIdleCallback(() => { if (this.bases === bases) base(sel ? "full" : "faded"); });
    if (sel) {
      const rows = this.rows, {full} = this.colours();
      if (rows.length <= RING_MAX) for (const i of rows) put(pixels, i, RING, 1);
      for (const i of rows) square(pixels, i, full[codes[i]]);
    }
    ctx.putImageData(image, Math.round(p.left * dpr), Math.round(p.top * dpr));
  }

  pixelOffsets(p, W, H, size, half) {
    // each row's square (put's, unringed): the index of its top-left device pixel, or -1 where it is clipped
    const n = this.header.n, offsets = new Int32Array(n), xs = this.x, ys = this.y;
    const ax = W / (p.x1 - p.x0), ay = H / (p.y1 - p.y0);
    for (let i = 0; i < n; i++) {
      const px = Math.round((xs[i] - p.x0) * ax) - half, fy = (ys[i] - p.y0) * ay;
      const py = Math.round(p.down ? fy : H - fy) - half;
      offsets[i] = px >= 0 && py >= 0 && px + size <= W && py + size <= H ? py * W + px : -1;
    }
    return offsets;
  }

  drawGrid(ctx, p) {
    // one pixel a grid cell, scaled without smoothing: every pixel exact at any zoom
    const g = this.header.grid, codes = this.arrays.codes, cell = this.arrays.cell, sel = this.selected;
    this.cells ??= (() => {  // each cell's colour, full and faded, made once
      const {full, faded} = this.colours(), on = new Uint32Array(g.nx * g.ny), off = new Uint32Array(g.nx * g.ny);
      for (let i = 0; i < this.header.n; i++) { on[cell[i]] = full[codes[i]]; off[cell[i]] = faded[codes[i]]; }
      return {on, off, bitmap: new OffscreenCanvas(g.nx, g.ny), image: new ImageData(g.nx, g.ny)};
    })();
    const {on, off, bitmap, image} = this.cells, pixels = new Uint32Array(image.data.buffer);
    if (!sel) pixels.set(on);
    else {
      pixels.set(off);
      for (const i of this.rows) pixels[cell[i]] = on[cell[i]];
    }
    bitmap.getContext("2d").putImageData(image, 0, 0);
    const [ax, ay] = this.toScreen(p, g.x0 - g.dx / 2, g.y0 - g.dy / 2);
    const [bx, by] = this.toScreen(p, g.x0 + (g.nx - 0.5) * g.dx, g.y0 + (g.ny - 0.5) * g.dy);
    ctx.save();
    ctx.beginPath(); ctx.rect(p.left, p.top, p.w, p.h); ctx.clip();
    ctx.imageSmoothingEnabled = false;
    ctx.translate(ax, ay);
    ctx.scale((bx - ax) / g.nx, (by - ay) / g.ny);
    ctx.drawImage(bitmap, 0, 0);
    ctx.restore();
  }

  drawLines(ctx, p) {
    const xs = this.arrays.lines_x, ys = this.arrays.lines_y;
    if (!xs) return;
    ctx.save();
    ctx.beginPath(); ctx.rect(p.left, p.top, p.w, p.h); ctx.clip();
    ctx.beginPath();
    let pen = false;
    for (let i = 0; i < xs.length; i++) {
      if (!Number.isFinite(xs[i])) { pen = false; continue; }
      const [sx, sy] = this.toScreen(p, xs[i], ys[i]);
      if (pen) ctx.lineTo(sx, sy); else ctx.moveTo(sx, sy);
      pen = true;
    }
    ctx.strokeStyle = "#000000"; ctx.lineWidth = 1;
    ctx.stroke();
    ctx.restore();
  }

  drawMarks(ctx, p) {
    for (const mark of this.marks) {
      ctx.strokeStyle = mark.colour || "#111111"; ctx.fillStyle = mark.colour || "#e31a1c"; ctx.lineWidth = 1.5;
      mark.x.forEach((x, i) => {
        const [sx, sy] = this.toScreen(p, x, mark.y[i]), r = (mark.size || 12) / 2;
        ctx.beginPath();
        if (mark.symbol === "star") {
          for (let k = 0; k < 10; k++) {
            const a = -Math.PI / 2 + k * Math.PI / 5, rr = k % 2 ? r / 2.2 : r;
            ctx.lineTo(sx + rr * Math.cos(a), sy + rr * Math.sin(a));
          }
          ctx.closePath(); ctx.fill(); ctx.strokeStyle = "#ffffff"; ctx.stroke();
        } else {  // an open diamond
          ctx.moveTo(sx, sy - r); ctx.lineTo(sx + r, sy); ctx.lineTo(sx, sy + r); ctx.lineTo(sx - r, sy); ctx.closePath();
          ctx.stroke();
        }
      });
    }
  }

  drawAxes(ctx, p) {
    const h = this.header;
    ctx.strokeStyle = "#888888"; ctx.lineWidth = 1;
    ctx.strokeRect(p.left + 0.5, p.top + 0.5, p.w - 1, p.h - 1);
    ctx.fillStyle = "#31333f"; ctx.font = "11px sans-serif";
    ctx.textAlign = "center"; ctx.textBaseline = "top";
    for (const t of niceTicks(Math.min(p.x0, p.x1), Math.max(p.x0, p.x1))) {
      const [sx] = this.toScreen(p, t, p.y0);
      ctx.fillRect(sx, p.top + p.h, 1, 4);
      ctx.fillText(fmt(t), sx, p.top + p.h + 6);
    }
    ctx.textAlign = "right"; ctx.textBaseline = "middle";
    for (const t of niceTicks(Math.min(p.y0, p.y1), Math.max(p.y0, p.y1))) {
      const [, sy] = this.toScreen(p, p.x0, t);
      ctx.fillRect(p.left - 4, sy, 4, 1);
      ctx.fillText(fmt(t), p.left - 6, sy);
    }
    ctx.font = "12px sans-serif"; ctx.textAlign = "center"; ctx.textBaseline = "bottom";
    ctx.fillText(h.x_title, p.left + p.w / 2, this.height - 4);
    ctx.save();
    ctx.translate(14, p.top + p.h / 2); ctx.rotate(-Math.PI / 2);
    ctx.textBaseline = "middle";
    ctx.fillText(h.y_title, 0, 0);
    ctx.restore();
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
    this.viewTimer = setTimeout(() => {
      const v = this.view;
      this.keepView({x0: Math.min(v.x0, v.x1), x1: Math.max(v.x0, v.x1), y0: Math.min(v.y0, v.y1), y1: Math.max(v.y0, v.y1)});
    }, 400);
  }

  nearest(sx, sy) {
    // the row drawn nearest to a point of the canvas, within PICK_PX
    const p = this.plot(), [x, y] = this.toData(p, sx, sy);
    if (this.header.kind === "grid") {
      const g = this.header.grid, c = Math.round((x - g.x0) / g.dx), r = Math.round((y - g.y0) / g.dy);
      if (c < 0 || r < 0 || c >= g.nx || r >= g.ny) return -1;
      this.cellRows ??= (() => {
        const rows = new Int32Array(g.nx * g.ny).fill(-1);
        this.arrays.cell.forEach((cell, i) => { rows[cell] = i; });
        return rows;
      })();
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
    this.tip.textContent = lines.join("\n");
    Object.assign(this.tip.style, {display: "block", left: `${Math.min(sx + 12, this.width - 180)}px`, top: `${sy + 12}px`});
  }

  hoverCell(cell, sx, sy) {
    // a binned panel's cell: how many rows it holds, its centre, its colour's name or value
    const h = this.header, unit = h.unit ? ` ${h.unit}` : "", count = this.arrays.count[cell];
    const lines = [`${count.toLocaleString("en-US")} row${count === 1 ? "" : "s"} in this cell`,
                   h.y_down ? `x ${fmt(this.x[cell])}${unit}, y ${fmt(this.y[cell])}${unit}`
                            : `${h.x_title} ${fmt(this.x[cell])}, ${h.y_title} ${fmt(this.y[cell])}`];
    const code = this.arrays.codes[cell], bar = h.colorbar;
    if (h.code_names) lines.push(h.code_names[code] ?? "");
    else if (bar && code < h.palette.length - 1) {  // codes 0-254 span the colour bar's limits
      lines.push(`${h.value_name} ${fmt(bar.low + (bar.high - bar.low) * code / 254)} (the cell's mean)`);
    }
    this.tip.textContent = lines.join("\n");
    Object.assign(this.tip.style, {display: "block", left: `${Math.min(sx + 12, this.width - 180)}px`, top: `${sy + 12}px`});
  }

  listen() {
    const el = this.shape;
    let drag = null;
    const at = (e) => { const r = el.getBoundingClientRect(); return [e.clientX - r.left, e.clientY - r.top]; };
    el.addEventListener("pointerdown", (e) => {
      if (e.button !== 0) return;
      el.setPointerCapture(e.pointerId);
      const [sx, sy] = at(e);
      const op = e.shiftKey ? "add" : (e.altKey || e.ctrlKey || e.metaKey) ? "remove" : "replace";
      drag = {op, start: [sx, sy], path: [[sx, sy]], view: {...this.view}, moved: false, busy: 0};
      this.tip.style.display = "none";
    });
    el.addEventListener("pointermove", (e) => {
      const [sx, sy] = at(e);
      if (!drag) { this.hover(sx, sy); return; }
      const t0 = performance.now();
      drag.moved ||= Math.hypot(sx - drag.start[0], sy - drag.start[1]) >= CLICK_PX;
      if (this.mode === "pan") {
        const p = this.plot(), [ax, ay] = this.toData(p, ...drag.start), [bx, by] = this.toData(p, sx, sy);
        Object.assign(this.view, {x0: this.view.x0 - (bx - ax), x1: this.view.x1 - (bx - ax),
                                  y0: this.view.y0 - (by - ay), y1: this.view.y1 - (by - ay)});
        drag.start = [sx, sy];
        this.draw();
      } else {
        const [lx, ly] = drag.path[drag.path.length - 1];
        if (Math.hypot(sx - lx, sy - ly) >= 2) drag.path.push([sx, sy]);  // a lasso of fewer vertices
        this.outline(drag, [sx, sy]);
      }
      drag.busy += performance.now() - t0;
    });
    el.addEventListener("pointerup", (e) => {
      if (!drag) return;
      const [sx, sy] = at(e), done = drag;
      drag = null;
      this.clearOutline();
      const up = performance.now();
      if (this.mode === "pan" && done.moved) { this.viewChanged(); return; }
      const p = this.plot();
      let shape;
      if (!done.moved) {
        const row = this.nearest(sx, sy);
        if (row < 0) return;
        const [x, y] = this.toData(p, sx, sy);
        shape = {shape: "click", row, x: [x], y: [y]};
      } else if (this.mode === "lasso") {
        const pts = done.path.map(([a, b]) => this.toData(p, a, b));
        shape = {shape: "lasso", x: pts.map((q) => q[0]), y: pts.map((q) => q[1])};
      } else {
        const [ax, ay] = this.toData(p, ...done.start), [bx, by] = this.toData(p, sx, sy);
        shape = {shape: "box", x: [Math.min(ax, bx), Math.max(ax, bx)], y: [Math.min(ay, by), Math.max(ay, by)]};
      }
      this.select({...shape, op: done.op}, up, done.busy);
    });
    el.addEventListener("pointerleave", () => { this.tip.style.display = "none"; });
    el.addEventListener("dblclick", () => this.reset());
    el.addEventListener("wheel", (e) => {
      e.preventDefault();
      const p = this.plot(), [sx, sy] = at(e), [cx, cy] = this.toData(p, sx, sy);
      const k = Math.exp(Math.max(-1, Math.min(1, e.deltaY / 300)));
      const v = this.view;
      this.view = {x0: cx + (v.x0 - cx) * k, x1: cx + (v.x1 - cx) * k, y0: cy + (v.y0 - cy) * k, y1: cy + (v.y1 - cy) * k};
      this.draw();
      this.viewChanged();
    }, {passive: false});
  }

  outline(drag, end) {
    const ctx = this.shape.getContext("2d");
    this.clearOutline();
    ctx.setTransform(this.dpr, 0, 0, this.dpr, 0, 0);
    ctx.strokeStyle = "#111111"; ctx.fillStyle = "rgba(17,17,17,0.08)"; ctx.setLineDash([4, 3]); ctx.lineWidth = 1;
    ctx.beginPath();
    if (this.mode === "lasso") drag.path.forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
    else { const [x0, y0] = drag.start, [x1, y1] = end; ctx.rect(x0, y0, x1 - x0, y1 - y0); }
    ctx.closePath(); ctx.fill(); ctx.stroke();
  }

  clearOutline() {
    const ctx = this.shape.getContext("2d");
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, this.shape.width, this.shape.height);
  }

  rowsIn(shape) {
    const n = this.header.n, hit = new Uint8Array(n), xs = this.x, ys = this.y;
    if (shape.shape === "click") hit[shape.row] = 1;
    else if (shape.shape === "box") {
      const [x0, x1] = shape.x, [y0, y1] = shape.y;
      for (let i = 0; i < n; i++) hit[i] = xs[i] >= x0 && xs[i] <= x1 && ys[i] >= y0 && ys[i] <= y1;
    } else {
      const vx = shape.x, vy = shape.y, inside = polygonTest(vx, vy);
      const [bx0, bx1, by0, by1] = [Math.min(...vx), Math.max(...vx), Math.min(...vy), Math.max(...vy)];
      for (let i = 0; i < n; i++) {
        const x = xs[i], y = ys[i];
        hit[i] = x >= bx0 && x <= bx1 && y >= by0 && y <= by1 && inside(x, y);
      }
    }
    return hit;
  }

  select(shape, up, dragMs) {
    // drawn here and on the linked panels at once; Python resolves the same shape over the same coordinates
    const mask = this.rowsIn(shape), before = this.selected;
    if (before && shape.op === "add") for (let i = 0; i < mask.length; i++) mask[i] |= before[i];
    else if (shape.op === "remove") for (let i = 0; i < mask.length; i++) mask[i] = before ? before[i] & !mask[i] : 0;
    const count = showSelection(this.group, mask);
    REGISTRY.timing[this.key] = {...REGISTRY.timing[this.key], highlight_ms: performance.now() - up, drag_ms: dragMs,
                                 shape, count};
    this.send({...shape, count});
  }

  // for tests and benchmarks: where a row is drawn (client pixels), and the rows highlighted
  clientOf(row) {
    const [sx, sy] = this.toScreen(this.plot(), this.x[row], this.y[row]), box = this.shape.getBoundingClientRect();
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

function rowsOf(mask) {
  let count = 0;
  for (let i = 0; i < mask.length; i++) count += mask[i];
  const rows = new Int32Array(count);
  for (let i = 0, k = 0; k < count; i++) if (mask[i]) rows[k++] = i;
  return rows;
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

function decodeMask(data) {
  // the selection Python holds: rows [..] or a bit field (base64, little bit order)
  if (!data.count) return null;
  const mask = new Uint8Array(data.n);
  if (data.rows) for (const r of data.rows) mask[r] = 1;
  else {
    const bits = Uint8Array.from(atob(data.bits), (c) => c.charCodeAt(0));
    for (let i = 0; i < data.n; i++) mask[i] = (bits[i >> 3] >> (i & 7)) & 1;
  }
  return mask;
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
  new Panel(key, root, payload, (value) => setTriggerValue("select", value), (view) => setStateValue("view", view),
            existing?.root === root ? existing : null);
}
