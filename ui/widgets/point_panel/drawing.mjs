// Drawing a panel on its canvas: the points (or grid cells), the boundary lines, the marks (a kept shape's by its
// tool: a profile's line), a scan map's scale bar, the axes, and the canvas a tool draws its shape on while drawn.
// Each function takes the panel (element.mjs) and reads what it holds: its header and arrays, its rows' positions
// (x, y), its view, the selection, its tools.

/** @typedef {import("./element.mjs").Panel} Panel */
/**
 * The plot within the canvas (CSS pixels, inside the contract's margins) and the data range it shows; `down`: y
 * grows downwards (a scan map).
 * @typedef {{left: number, top: number, w: number, h: number, x0: number, x1: number, y0: number, y1: number,
 *   down: boolean}} Plot
 */
/**
 * A mark the overlay carries (element.py's overlay): a symbol at each (x, y), or a kept shape drawn by the tool of
 * its symbol's name.
 * @typedef {{x: number[], y: number[], symbol: string, name?: string, colour?: string, size?: number}} Mark
 */

const FADE = 0.82;  // how far an unselected point goes towards white while a selection is shown
const RING = 0xff111111;  // the outline of a selected point (opaque #111111)
const RING_MAX = 5000;   // more selected points than this are shown by their colour alone

/** @type {(v: number) => string} a number in at most 4 significant digits */
export const fmt = (v) => (Number.isFinite(v) ? (+v.toPrecision(4)).toString() : "NaN");
/** @type {(n: number) => string} a count, its thousands separated */
export const count = (n) => n.toLocaleString("en-US");

/**
 * @param {number} low
 * @param {number} high
 * @param {number} [count]  about how many
 * @returns {number[]} round ticks from low to high
 */
export function niceTicks(low, high, count = 6) {
  if (!(high > low)) return [low];
  const raw = (high - low) / count, power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= raw);
  const ticks = [];
  for (let t = Math.ceil(low / step) * step; t <= high + step * 1e-9; t += step) ticks.push(+t.toPrecision(12));
  return ticks;
}

/**
 * A scale bar's round length: the largest of `steps` (1, 2, 5) times a power of ten at most `fraction` of `span`,
 * with the arithmetic of latentcore/figures/plotly_figures.py's nice_length (log10's guess checked, tens multiplied).
 * @param {number} span
 * @param {number} fraction
 * @param {number[]} steps
 * @returns {number}
 */
export function niceLength(span, fraction, steps) {
  const target = Math.max(span * fraction, 1e-12);
  let k = Math.floor(Math.log10(target));
  if (powerOfTen(k + 1) <= target) k += 1;
  else if (powerOfTen(k) > target) k -= 1;
  const power = powerOfTen(k);
  return Math.max(...steps.map((m) => m * power).filter((length) => length <= target));
}

function powerOfTen(k) {
  let power = 1;
  for (let i = 0; i < Math.abs(k); i++) power *= 10;
  return k >= 0 ? power : 1 / power;
}

/**
 * @param {Panel} panel
 * @returns {Plot} where its plot is, and what it shows
 */
export function plotArea(panel) {
  const m = panel.header.contract.margin;
  const w = panel.width - m.left - m.right, h = panel.height - m.top - m.bottom;
  let {x0, x1, y0, y1} = panel.view;
  if (panel.header.equal) {  // equal units on both axes: widen the view to the plot's aspect
    const s = Math.min(w / (x1 - x0), h / (y1 - y0)), cx = (x0 + x1) / 2, cy = (y0 + y1) / 2;
    x0 = cx - w / s / 2; x1 = cx + w / s / 2; y0 = cy - h / s / 2; y1 = cy + h / s / 2;
  }
  return {left: m.left, top: m.top, w, h, x0, x1, y0, y1, down: !!panel.header.y_down};
}

/**
 * @param {Plot} p
 * @param {number} x
 * @param {number} y
 * @returns {[number, number]} the point (x, y) of the data on the canvas (CSS pixels)
 */
export function toScreen(p, x, y) {
  const sx = p.left + (x - p.x0) / (p.x1 - p.x0) * p.w;
  const f = (y - p.y0) / (p.y1 - p.y0);
  return [sx, p.top + (p.down ? f : 1 - f) * p.h];
}

/**
 * @param {Plot} p
 * @param {number} sx
 * @param {number} sy
 * @returns {[number, number]} the point (sx, sy) of the canvas (CSS pixels) in data units
 */
export function toData(p, sx, sy) {
  const f = (sy - p.top) / p.h;
  return [p.x0 + (sx - p.left) / p.w * (p.x1 - p.x0), p.y0 + (p.down ? f : 1 - f) * (p.y1 - p.y0)];
}

/** @param {Panel} panel  drawn on its canvas */
export function drawPanel(panel) {
  const p = plotArea(panel), ctx = panel.canvas.getContext("2d"), dpr = panel.dpr;
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.clearRect(0, 0, panel.canvas.width, panel.canvas.height);
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.fillStyle = panel.header.background || "#ffffff";
  ctx.fillRect(p.left, p.top, p.w, p.h);
  if (panel.header.kind === "grid") drawGrid(panel, ctx, p); else drawPoints(panel, ctx, p);
  drawLines(panel, ctx, p);
  drawMarks(panel, ctx, p);
  if (panel.header.y_down) drawScaleBar(panel, ctx, p);
  drawAxes(panel, ctx, p);
}

function colours(header) {
  // code -> packed RGBA (little-endian ABGR), full and faded
  const full = new Uint32Array(header.palette.length), faded = new Uint32Array(full.length);
  header.palette.forEach(([r, g, b, a], i) => {
    const f = (c) => Math.round(c + (255 - c) * FADE);
    full[i] = ((a << 24) | (b << 16) | (g << 8) | r) >>> 0;
    faded[i] = ((a << 24) | (f(b) << 16) | (f(g) << 8) | f(r)) >>> 0;
  });
  return {full, faded};
}

function drawPoints(panel, ctx, p) {
  // every point once into a base image (faded while there is a selection), kept until the view changes;
  // a selection then only copies it and draws its own rows on top, ringed in black when few
  const dpr = panel.dpr, W = Math.round(p.w * dpr), H = Math.round(p.h * dpr), sel = panel.selected;
  const size = Math.max(1, Math.round(panel.header.point_size * dpr)), half = size >> 1;
  const ax = W / (p.x1 - p.x0), ay = H / (p.y1 - p.y0), codes = panel.arrays.codes, xs = panel.x, ys = panel.y;
  const put = (pixels, i, colour, grow) => {  // a square of size + 2 * grow device pixels
    const side = size + 2 * grow, px = Math.round((xs[i] - p.x0) * ax) - half - grow;
    const fy = (ys[i] - p.y0) * ay, py = Math.round(p.down ? fy : H - fy) - half - grow;
    const x0 = Math.max(0, px), x1 = Math.min(W, px + side), y1 = Math.min(H, py + side);
    for (let yy = Math.max(0, py); yy < y1; yy++) pixels.fill(colour, yy * W + x0, yy * W + Math.max(x0, x1));
  };
  const key = [W, H, p.x0, p.x1, p.y0, p.y1].join();
  if (panel.bases?.key !== key) panel.bases = {key};
  const offsets = panel.bases.offsets ??= pixelOffsets(panel, p, W, H, size, half);
  const square = (pixels, i, colour) => {  // put's square, from the row's kept offset
    const o = offsets[i];
    if (o < 0) { put(pixels, i, colour, 0); return; }
    for (let r = 0, line = o; r < size; r++, line += W) for (let c = 0; c < size; c++) pixels[line + c] = colour;
  };
  const base = (kind) => {
    if (!panel.bases[kind]) {
      const pixels = new Uint32Array(W * H).fill(0xffffffff), palette = colours(panel.header)[kind];
      for (let i = 0; i < panel.header.n; i++) square(pixels, i, palette[codes[i]]);
      panel.bases[kind] = pixels;
    }
    return panel.bases[kind];
  };
  const image = ctx.createImageData(W, H), pixels = new Uint32Array(image.data.buffer);
  pixels.set(base(sel ? "faded" : "full"));
  const bases = panel.bases;  // the other one made while the browser is idle: the next click only copies it
  requestIdleCallback(() => { if (panel.bases === bases) base(sel ? "full" : "faded"); });
  if (sel) {
    const rows = panel.rows, {full} = colours(panel.header);
    if (rows.length <= RING_MAX) for (const i of rows) put(pixels, i, RING, 1);
    for (const i of rows) square(pixels, i, full[codes[i]]);
  }
  ctx.putImageData(image, Math.round(p.left * dpr), Math.round(p.top * dpr));
}

function pixelOffsets(panel, p, W, H, size, half) {
  // each row's square (put's, unringed): the index of its top-left device pixel, or -1 where it is clipped
  const n = panel.header.n, offsets = new Int32Array(n), xs = panel.x, ys = panel.y;
  const ax = W / (p.x1 - p.x0), ay = H / (p.y1 - p.y0);
  for (let i = 0; i < n; i++) {
    const px = Math.round((xs[i] - p.x0) * ax) - half, fy = (ys[i] - p.y0) * ay;
    const py = Math.round(p.down ? fy : H - fy) - half;
    offsets[i] = px >= 0 && py >= 0 && px + size <= W && py + size <= H ? py * W + px : -1;
  }
  return offsets;
}

function drawGrid(panel, ctx, p) {
  // one pixel a grid cell, scaled without smoothing: every pixel exact at any zoom
  const g = panel.header.grid, codes = panel.arrays.codes, cell = panel.arrays.cell, sel = panel.selected;
  panel.cells ??= (() => {  // each cell's colour, full and faded, made once
    const {full, faded} = colours(panel.header), on = new Uint32Array(g.nx * g.ny), off = new Uint32Array(g.nx * g.ny);
    for (let i = 0; i < panel.header.n; i++) { on[cell[i]] = full[codes[i]]; off[cell[i]] = faded[codes[i]]; }
    return {on, off, bitmap: new OffscreenCanvas(g.nx, g.ny), image: new ImageData(g.nx, g.ny)};
  })();
  const {on, off, bitmap, image} = panel.cells, pixels = new Uint32Array(image.data.buffer);
  if (!sel) pixels.set(on);
  else {
    pixels.set(off);
    for (const i of panel.rows) pixels[cell[i]] = on[cell[i]];
  }
  bitmap.getContext("2d").putImageData(image, 0, 0);
  const [ax, ay] = toScreen(p, g.x0 - g.dx / 2, g.y0 - g.dy / 2);
  const [bx, by] = toScreen(p, g.x0 + (g.nx - 0.5) * g.dx, g.y0 + (g.ny - 0.5) * g.dy);
  ctx.save();
  ctx.beginPath(); ctx.rect(p.left, p.top, p.w, p.h); ctx.clip();
  ctx.imageSmoothingEnabled = false;
  ctx.translate(ax, ay);
  ctx.scale((bx - ax) / g.nx, (by - ay) / g.ny);
  ctx.drawImage(bitmap, 0, 0);
  ctx.restore();
}

function drawLines(panel, ctx, p) {
  const xs = panel.arrays.lines_x, ys = panel.arrays.lines_y;
  if (!xs) return;
  ctx.save();
  ctx.beginPath(); ctx.rect(p.left, p.top, p.w, p.h); ctx.clip();
  ctx.beginPath();
  let pen = false;
  for (let i = 0; i < xs.length; i++) {
    if (!Number.isFinite(xs[i])) { pen = false; continue; }
    const [sx, sy] = toScreen(p, xs[i], ys[i]);
    if (pen) ctx.lineTo(sx, sy); else ctx.moveTo(sx, sy);
    pen = true;
  }
  ctx.strokeStyle = "#000000"; ctx.lineWidth = 1;
  ctx.stroke();
  ctx.restore();
}

function drawMarks(panel, ctx, p) {
  for (const mark of panel.marks) {
    const tool = panel.tools[mark.symbol];
    if (tool?.mark) { tool.mark(ctx, p, mark); continue; }  // a kept shape (a profile's line)
    ctx.strokeStyle = mark.colour || "#111111"; ctx.fillStyle = mark.colour || "#e31a1c"; ctx.lineWidth = 1.5;
    mark.x.forEach((x, i) => {
      const [sx, sy] = toScreen(p, x, mark.y[i]), r = (mark.size || 12) / 2;
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

function drawScaleBar(panel, ctx, p) {
  // a round length (the contract's scale_bar) near the bottom left of a scan map, on a white band; kept on the panel
  // for the tests (`scaleBar`)
  const {fraction, steps} = panel.header.contract.scale_bar, span = Math.abs(p.x1 - p.x0);
  const length = niceLength(span, fraction, steps), px = length / span * p.w, unit = panel.header.unit;
  const label = `${fmt(length)}${unit ? ` ${unit}` : ""}`, x = p.left + 12, y = p.top + p.h - 12;
  ctx.font = "11px sans-serif";
  const width = Math.max(px, ctx.measureText(label).width);
  ctx.fillStyle = "rgba(255,255,255,0.8)";
  ctx.fillRect(x - 5, y - 19, width + 10, 27);
  ctx.fillStyle = "#111111";
  ctx.fillRect(x, y, px, 4);
  ctx.textAlign = "center"; ctx.textBaseline = "bottom";
  ctx.fillText(label, x + px / 2, y - 2);
  panel.scaleBar = {length, px, label, span};
}

function drawAxes(panel, ctx, p) {
  const h = panel.header;
  ctx.strokeStyle = "#888888"; ctx.lineWidth = 1;
  ctx.strokeRect(p.left + 0.5, p.top + 0.5, p.w - 1, p.h - 1);
  ctx.fillStyle = "#31333f"; ctx.font = "11px sans-serif";
  ctx.textAlign = "center"; ctx.textBaseline = "top";
  for (const t of niceTicks(Math.min(p.x0, p.x1), Math.max(p.x0, p.x1))) {
    const [sx] = toScreen(p, t, p.y0);
    ctx.fillRect(sx, p.top + p.h, 1, 4);
    ctx.fillText(fmt(t), sx, p.top + p.h + 6);
  }
  ctx.textAlign = "right"; ctx.textBaseline = "middle";
  for (const t of niceTicks(Math.min(p.y0, p.y1), Math.max(p.y0, p.y1))) {
    const [, sy] = toScreen(p, p.x0, t);
    ctx.fillRect(p.left - 4, sy, 4, 1);
    ctx.fillText(fmt(t), p.left - 6, sy);
  }
  ctx.font = "12px sans-serif"; ctx.textAlign = "center"; ctx.textBaseline = "bottom";
  ctx.fillText(h.x_title, p.left + p.w / 2, panel.height - 4);
  ctx.save();
  ctx.translate(14, p.top + p.h / 2); ctx.rotate(-Math.PI / 2);
  ctx.textBaseline = "middle";
  ctx.fillText(h.y_title, 0, 0);
  ctx.restore();
}

/**
 * The canvas over the plot where a tool draws its shape while it is drawn (tools.mjs's outline), cleared, a path
 * begun, dashed.
 * @param {Panel} panel
 * @returns {CanvasRenderingContext2D}
 */
export function outlineContext(panel) {
  const ctx = panel.shape.getContext("2d");
  clearOutline(panel);
  ctx.setTransform(panel.dpr, 0, 0, panel.dpr, 0, 0);
  ctx.strokeStyle = "#111111"; ctx.fillStyle = "rgba(17,17,17,0.08)"; ctx.setLineDash([4, 3]); ctx.lineWidth = 1;
  ctx.beginPath();
  return ctx;
}

/** @param {Panel} panel  its shape canvas cleared */
export function clearOutline(panel) {
  const ctx = panel.shape.getContext("2d");
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.clearRect(0, 0, panel.shape.width, panel.shape.height);
}
