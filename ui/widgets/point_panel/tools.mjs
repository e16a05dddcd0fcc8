// The panel tools, one class each (their Python side: the class of the same name in tools.py), in one table keyed by
// the contract's shape names (TOOLS): how a press, its moves and its release make a shape (down, move, up), its
// outline while it is drawn, the rows it takes (with shapes.mjs's arithmetic), what the panel says of it, and for a
// shape that stays drawn (a line) its mark. element.mjs sends a panel's pointer to its active tool; a press that
// hardly moves is a click, whatever the tool. Pan, which moves the view and makes no shape, is a tool outside the
// table. No shape or op name is spelled here but the table's keys: a shape's name is its tool's key, an op is the
// contract's.

import {cellRows, inBox, inPolygon, lineRows, simplify} from "./shapes.mjs";
import {count, fmt, plotArea, toData, toScreen} from "./drawing.mjs";

const CLICK_PX = 4;  // a press that moves less than this is a click
const LASSO_STEP_PX = 2;  // a lasso's next vertex at least this far from its last: fewer vertices
const PROFILE_COLOUR = "#e31a1c";  // a line's (ui/widgets/line_profile.py's LINE_COLOUR)

/** @typedef {import("./element.mjs").Panel} Panel */
/** @typedef {import("./shapes.mjs").Shape} Shape */
/** @typedef {import("./drawing.mjs").Plot} Plot */
/** @typedef {import("./drawing.mjs").Mark} Mark */
/** @typedef {[number, number]} Point  a point of the canvas, in CSS pixels from its top left */
/** @typedef {Uint8Array | Int32Array | null} Rows  a selecting tool's mask over the rows; a kept shape's, in order */

/** A tool: its state is the press being drawn; subclasses make the shape (`dragged`) and what follows from it. */
class Tool {
  /** @type {?{label: string, title: string}} its button on the panel's bar; null: none */
  button = null;
  /** its rows are a selection, combined with the panel's; else its shape is kept, drawn as a mark (`mark`) */
  selects = true;
  cursor = "crosshair";

  /** @param {Panel} panel */
  constructor(panel) {
    this.panel = panel;
    /** @type {Point} */ this.start = [0, 0];
    /** @type {Point} */ this.end = [0, 0];
    this.moved = false;
    this.op = "";
  }

  /** @returns {string} its shape's name: its key in TOOLS, one of the contract's shapes */
  get name() { return NAMES.get(this.constructor); }

  /** @returns {boolean} whether the panel offers it (its button) */
  offered() { return true; }

  /**
   * A press: Shift adds, Alt or Ctrl (Cmd) removes, a plain press replaces (the contract's ops, in its order).
   * @param {Point} point
   * @param {{shiftKey: boolean, altKey: boolean, ctrlKey: boolean, metaKey: boolean}} event
   */
  down(point, event) {
    const [replace, add, remove] = this.panel.header.contract.ops;
    this.start = this.end = point;
    this.moved = false;
    this.op = event.shiftKey ? add : (event.altKey || event.ctrlKey || event.metaKey) ? remove : replace;
  }

  /** @param {Point} point  the pointer, pressed */
  move(point) {
    this.moved ||= Math.hypot(point[0] - this.start[0], point[1] - this.start[1]) >= CLICK_PX;
    this.end = point;
  }

  /**
   * The release: the shape drawn, or a click where the pointer hardly moved.
   * @param {Point} point
   * @returns {?Shape} null: none (a lasso without an area, a click on no row, a pan)
   */
  up(point) {
    this.end = point;
    return this.moved ? this.dragged() : Click.at(this.panel, point, this.op);
  }

  /** @returns {?Shape} the shape from the press to the release */
  dragged() { return null; }

  /** @param {CanvasRenderingContext2D} ctx  the shape while drawn, on drawing.mjs's outlineContext */
  outline(ctx) {}

  /**
   * @param {Shape} shape  one it made
   * @returns {Rows} the rows it takes on the panel, as tools.py's rows_in
   */
  rows(shape) { return null; }

  /**
   * @param {Shape} shape
   * @param {Rows} rows
   * @returns {string} what the panel says of it above the canvas ("": nothing)
   */
  note(shape, rows) { return ""; }

  /** @returns {[Point, Point]} the press and the release in data units */
  ends() {
    const p = plotArea(this.panel);
    return [toData(p, ...this.start), toData(p, ...this.end)];
  }
}

/** From the press to the release, low to high: the rows inside, its edges included. */
class Box extends Tool {
  button = {label: "Box", title: "Box: drag to select (Shift adds, Alt removes)"};

  dragged() {
    const [[ax, ay], [bx, by]] = this.ends(), x = [Math.min(ax, bx), Math.max(ax, bx)];
    return {shape: this.name, op: this.op, x, y: [Math.min(ay, by), Math.max(ay, by)]};
  }

  outline(ctx) {
    const [x0, y0] = this.start, [x1, y1] = this.end;
    ctx.rect(x0, y0, x1 - x0, y1 - y0);
    ctx.closePath(); ctx.fill(); ctx.stroke();
  }

  rows(shape) { return inBox(shape, this.panel.x, this.panel.y); }
}

/** The path drawn: the rows inside by the even-odd rule; at most the contract's max_vertices (a longer one is
 * simplified, and said: a message to the server holds no more). */
class Lasso extends Tool {
  button = {label: "Lasso", title: "Lasso: draw around points (Shift adds, Alt removes)"};

  down(point, event) {
    super.down(point, event);
    /** @type {Point[]} */ this.path = [point];
    this.drawn = 1;  // the vertices drawn, before any simplification
  }

  move(point) {
    super.move(point);
    const [lx, ly] = this.path[this.path.length - 1];
    if (Math.hypot(point[0] - lx, point[1] - ly) >= LASSO_STEP_PX) this.path.push(point);
  }

  dragged() {
    const path = simplify(this.path, this.panel.header.contract.max_vertices);
    this.drawn = this.path.length;
    if (path.length < 3) return null;  // no area to select in
    const p = plotArea(this.panel), points = path.map(([a, b]) => toData(p, a, b));
    return {shape: this.name, op: this.op, x: points.map((q) => q[0]), y: points.map((q) => q[1])};
  }

  outline(ctx) {
    this.path.forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
    ctx.closePath(); ctx.fill(); ctx.stroke();
  }

  rows(shape) { return inPolygon(shape, this.panel.x, this.panel.y); }

  note(shape) {
    const most = this.panel.header.contract.max_vertices;
    return shape.x.length < this.drawn ? `A lasso of ${count(this.drawn)} vertices, simplified to ` +
      `${count(shape.x.length)} (a selection holds at most ${count(most)}): the rows inside the simplified outline ` +
      "are selected." : "";
  }
}

/** A press that hardly moves, with any tool: the row drawn nearest it (on a binned panel, its cell). */
class Click extends Tool {
  dragged() { return Click.at(this.panel, this.end, this.op); }

  /**
   * @param {Panel} panel
   * @param {Point} point
   * @param {string} op
   * @returns {?Shape} the click at `point`: the row drawn nearest it (element.mjs's nearest); null where none is
   */
  static at(panel, [sx, sy], op) {
    const row = panel.nearest(sx, sy);
    if (row < 0) return null;
    const [x, y] = toData(plotArea(panel), sx, sy);
    return {shape: NAMES.get(Click), op, row, x: [x], y: [y]};
  }

  rows(shape) {
    const hit = new Uint8Array(this.panel.x.length);
    hit[shape.row] = 1;
    return hit;
  }
}

/** On a scan map, from the press to the release: it selects nothing; its rows, on the pixels it passes through in
 * order, are the page's line profile. Kept: shown on the group's scan maps at once (its mark), then the server's. */
class Line extends Tool {
  button = {label: "Line", title: "Line: drag from its first point to its last (its profile below)"};
  selects = false;

  offered() { return !!this.panel.header.y_down; }

  dragged() {
    const [replace] = this.panel.header.contract.ops;  // a line replaces the line before it, Shift or not
    const [[ax, ay], [bx, by]] = this.ends();
    return {shape: this.name, op: replace, x: [ax, bx], y: [ay, by]};
  }

  outline(ctx) {
    ctx.lineWidth = 2; ctx.moveTo(...this.start); ctx.lineTo(...this.end); ctx.stroke();
  }

  /** Its rows in order; null on a binned map (its cells are blocks: the server counts the pixels). */
  rows(shape) {
    const panel = this.panel, h = panel.header;
    if (h.binned) return null;
    panel.cellRows ??= cellRows(panel.arrays.cell, h.grid.nx * h.grid.ny);
    return lineRows(shape, h.grid, panel.cellRows);
  }

  note(shape, rows) {
    const unit = this.panel.header.unit, length = Math.hypot(shape.x[1] - shape.x[0], shape.y[1] - shape.y[0]);
    return `A line of ${fmt(length)}${unit ? ` ${unit}` : ""}${rows ? ` through ${count(rows.length)} pixels` : ""}: ` +
      "the values along it are below the maps.";
  }

  /**
   * A line kept: in its colour on a white edge (seen on any pixel), its first point a dot.
   * @param {CanvasRenderingContext2D} ctx
   * @param {Plot} p
   * @param {Mark} mark
   */
  mark(ctx, p, mark) {
    const [ax, ay] = toScreen(p, mark.x[0], mark.y[0]), [bx, by] = toScreen(p, mark.x[1], mark.y[1]);
    const colour = mark.colour || PROFILE_COLOUR;
    ctx.save();
    ctx.beginPath(); ctx.rect(p.left, p.top, p.w, p.h); ctx.clip();
    for (const [stroke, width] of [["#ffffff", 5], [colour, 2.5]]) {
      ctx.strokeStyle = stroke; ctx.lineWidth = width;
      ctx.beginPath(); ctx.moveTo(ax, ay); ctx.lineTo(bx, by); ctx.stroke();
    }
    ctx.fillStyle = colour; ctx.strokeStyle = "#ffffff"; ctx.lineWidth = 1.5;
    ctx.beginPath(); ctx.arc(ax, ay, 5, 0, 2 * Math.PI); ctx.fill(); ctx.stroke();
    ctx.restore();
  }
}

/** Drag to move the view (the wheel zooms: element.mjs); a zoomable panel's view goes to the server. No shape. */
class Pan extends Tool {
  button = {label: "Pan", title: "Pan: drag to move; the wheel zooms"};
  cursor = "grab";

  get name() { return "pan"; }  // its button's mode: not a shape

  move(point) {
    const from = this.end, p = plotArea(this.panel), [ax, ay] = toData(p, ...from), [bx, by] = toData(p, ...point);
    super.move(point);
    const v = this.panel.view;
    Object.assign(v, {x0: v.x0 - (bx - ax), x1: v.x1 - (bx - ax), y0: v.y0 - (by - ay), y1: v.y1 - (by - ay)});
    this.panel.draw();
  }

  dragged() {
    this.panel.viewChanged();
    return null;
  }
}

/** The tools by the contract's shape names: what a panel offers, and what resolves a shape the golden cases give. */
export const TOOLS = {box: Box, lasso: Lasso, click: Click, line: Line};
const NAMES = new Map(Object.entries(TOOLS).map(([name, tool]) => [tool, name]));

/**
 * A panel's tools: one of each shape the contract names (a name without a tool here fails at once), then Pan.
 * @param {Panel} panel
 * @returns {{[name: string]: Tool}} by name, in the contract's order
 */
export function panelTools(panel) {
  const tools = {};
  for (const name of panel.header.contract.shapes) {
    if (!Object.hasOwn(TOOLS, name)) throw new Error(`the contract's shape ${name} has no tool in tools.mjs`);
    tools[name] = new TOOLS[name](panel);
  }
  tools.pan = new Pan(panel);
  return tools;
}
