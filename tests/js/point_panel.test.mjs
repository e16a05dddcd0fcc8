// The point panel's browser modules in node (no browser, no Streamlit): each golden case of
// tests/data/point_panel_golden.json gives, through the tools of tools.mjs, the rows the Python side gives (a line's
// in order; tests/golden_panels.py made them, tests/app/test_point_panel_golden.py runs both sides), and so do the
// views and scale bars; each tool makes from a press, its moves and its release the shape the contract declares;
// the wire format reads what wire.py writes; a lasso too long for one message is simplified.
import {test} from "node:test";
import assert from "node:assert/strict";
import {createHash} from "node:crypto";
import {readFileSync} from "node:fs";

import {decodeMask, parse, positions} from "../../ui/widgets/point_panel/wire.mjs";
import {combine, inBox, lineRows, cellRows, rowsOf, simplify, viewOf} from "../../ui/widgets/point_panel/shapes.mjs";
import {niceLength, plotArea, toData} from "../../ui/widgets/point_panel/drawing.mjs";
import {TOOLS, panelTools} from "../../ui/widgets/point_panel/tools.mjs";

const FOLDER = new URL("../../ui/widgets/point_panel/", import.meta.url);
const GOLDEN = JSON.parse(readFileSync(new URL("../data/point_panel_golden.json", import.meta.url)));
const PAYLOAD = parse(Uint8Array.from(Buffer.from(GOLDEN.payload, "base64")));
const CONTRACT = PAYLOAD.header.contract;  // as every panel's header carries it
const [REPLACE, ADD, REMOVE] = CONTRACT.ops;

function lowbias32(x) {
  // the generated panels' integer hash, as tests/golden_panels.py computes it (uint32, wrapping)
  x = (x ^ (x >>> 16)) >>> 0;
  x = Math.imul(x, 0x7feb352d) >>> 0;
  x = (x ^ (x >>> 15)) >>> 0;
  x = Math.imul(x, 0x846ca68b) >>> 0;
  return (x ^ (x >>> 16)) >>> 0;
}

function panel(name) {
  // a golden panel as element.mjs's Panel holds it: its header (with the contract), arrays, rows where it draws them
  const found = GOLDEN.panels[name], arrays = {};
  if (found.generated) {
    const {n, seed} = found.generated;
    arrays.qx = new Uint16Array(n); arrays.qy = new Uint16Array(n);
    for (let i = 0; i < n; i++) { arrays.qx[i] = lowbias32(seed + 2 * i) >>> 16; arrays.qy[i] = lowbias32(seed + 2 * i + 1) >>> 16; }
  } else {
    for (const [key, values] of Object.entries(found.arrays)) arrays[key] = key === "cell" ? Int32Array.from(values) : Uint16Array.from(values);
  }
  const header = {...found.header, n: (arrays.cell || arrays.qx).length, contract: CONTRACT};
  return {header, arrays, ...positions({header, arrays})};
}

function sameRows(rows, expected) {
  if (Array.isArray(expected)) return assert.deepEqual(Array.from(rows), expected);
  const digest = createHash("sha256").update(Buffer.from(rows.buffer, rows.byteOffset, rows.byteLength)).digest("hex");
  assert.deepEqual({count: rows.length, sha256: digest}, expected);
}

for (const c of GOLDEN.cases) {
  test(`golden: ${c.about}`, () => {
    const tools = panelTools(panel(c.panel));
    let selected = null;
    for (const step of c.steps) {
      const tool = tools[step.shape.shape], rows = tool.rows(step.shape);
      if (!tool.selects) { sameRows(rows, step.rows); continue; }  // a line: its own rows, in order
      selected = combine(step.shape.op, rows, selected, CONTRACT.ops);
      sameRows(rowsOf(selected), step.rows);
    }
  });
}

for (const v of GOLDEN.views) {
  test(`golden view: ${v.about}`, () => {
    const {x, y} = panel(v.panel), sent = viewOf(v.view);
    assert.deepEqual(sent, v.sent);
    sameRows(rowsOf(inBox({x: [sent.x0, sent.x1], y: [sent.y0, sent.y1]}, x, y)), v.rows);
  });
}

test("golden scale bars: the length drawn for each visible width", () => {
  const {fraction, steps} = CONTRACT.scale_bar;
  assert.deepEqual(GOLDEN.scale_bars.map((b) => niceLength(b.span, fraction, steps)),
                   GOLDEN.scale_bars.map((b) => b.length));
});

test("the wire format: a payload wire.py wrote reads back as its arrays, and an overlay's bits as its rows", () => {
  const scatter = GOLDEN.panels.scatter;
  assert.equal(PAYLOAD.header.n, 200);
  assert.deepEqual(Array.from(PAYLOAD.arrays.qx), scatter.arrays.qx);
  const {x, y} = panel("scatter");
  assert.deepEqual(positions(PAYLOAD), {x, y});
  const overlay = GOLDEN.overlay;
  assert.ok(overlay.message.bits && overlay.message.bit_order === CONTRACT.mask_bit_order);
  assert.deepEqual(Array.from(rowsOf(decodeMask(overlay.message))), overlay.rows);
});

test("a scan map in its grid's order travels without cells: the browser puts row i on cell i", () => {
  const grid = parse(Uint8Array.from(Buffer.from(GOLDEN.grid_payload, "base64")));
  assert.ok(grid.header[CONTRACT.in_order] && !grid.header.arrays.some(([name]) => name === "cell"));
  assert.deepEqual(Array.from(grid.arrays.cell), [...Array(24).keys()]);
  const {x, y} = positions(grid);
  assert.deepEqual([x[7], y[7], x[23], y[23]], [10 + 1.5, 20 + 2, 10 + 5 * 1.5, 20 + 3 * 2]);
});

test("a click map travels without its codes: the browser makes Python's of its values", () => {
  const map = parse(Uint8Array.from(Buffer.from(GOLDEN.click_map.payload, "base64")));
  assert.ok(map.header[CONTRACT.codes_from_values] && !map.header.arrays.some(([name]) => name === "codes"));
  assert.deepEqual(Array.from(map.arrays.codes), GOLDEN.click_map.codes);
});

// -- the tools: a press, its moves and its release on a panel's canvas (CSS pixels) ----------------------------

function canvas(name, nearest = -1) {
  // a golden panel drawn 600 x 400 over its whole range, as element.mjs's Panel is when the pointer reaches its tools
  const drawn = panel(name), h = drawn.header, calls = [];
  const g = h.grid, view = g ? {x0: g.x0 - 1, x1: g.x0 + g.nx * g.dx, y0: g.y0 - 1, y1: g.y0 + g.ny * g.dy}
                              : {x0: 0, x1: 6, y0: 0, y1: 6};
  return {...drawn, view, width: 600, height: 400, calls,
          nearest: () => nearest, draw: () => calls.push("draw"), viewChanged: () => calls.push("viewChanged")};
}

function drag(tool, points, keys = {}) {
  // the press at the first point, moves through the rest, the release at the last
  const press = {shiftKey: false, altKey: false, ctrlKey: false, metaKey: false, ...keys};
  tool.down(points[0], press);
  for (const point of points.slice(1)) tool.move(point);
  return tool.up(points.at(-1));
}

function declared(shape) {
  // a shape message as tools.py's read_shape reads it: the contract's fields, shape and op; x and y in pairs
  assert.ok(Object.keys(shape).every((key) => CONTRACT.shape_keys.includes(key)), Object.keys(shape).join());
  assert.ok(CONTRACT.shapes.includes(shape.shape) && CONTRACT.ops.includes(shape.op), `${shape.shape} ${shape.op}`);
  assert.equal(shape.x.length, shape.y.length);
  return shape;
}

test("the tools are the contract's shapes, one of each a panel, then Pan", () => {
  assert.deepEqual(Object.keys(TOOLS).sort(), [...CONTRACT.shapes].sort());
  const tools = panelTools(canvas("lattice"));
  assert.deepEqual(Object.keys(tools), [...CONTRACT.shapes, "pan"]);
  assert.ok(Object.entries(tools).every(([name, tool]) => tool.name === name));
  const renamed = {...canvas("lattice"), header: {contract: {...CONTRACT, shapes: [...CONTRACT.shapes, "polygon"]}}};
  assert.throws(() => panelTools(renamed), /the contract's shape polygon has no tool in tools.mjs/);
});

test("a box from the press to the release, low to high; Shift adds", () => {
  const on = canvas("lattice"), box = panelTools(on).box, p = plotArea(on);
  const shape = declared(drag(box, [[300, 250], [200, 150], [100, 100]], {shiftKey: true}));
  const [ax, ay] = toData(p, 300, 250), [bx, by] = toData(p, 100, 100);
  assert.deepEqual(shape, {shape: box.name, op: ADD, x: [bx, ax], y: [ay, by]});
  assert.deepEqual(Array.from(rowsOf(box.rows(shape))), Array.from(rowsOf(inBox(shape, on.x, on.y))));
  assert.equal(box.note(shape, null), "");
});

test("a lasso is its path in data units, a vertex at least 2 px from the last; Alt removes; a long one is said", () => {
  const on = canvas("lattice"), lasso = panelTools(on).lasso, p = plotArea(on);
  const path = [[100, 100], [101, 100], [300, 100], [300, 300], [100, 300]];  // the second within 2 px: left out
  const shape = declared(drag(lasso, path, {altKey: true}));
  const kept = [path[0], ...path.slice(2)].map(([a, b]) => toData(p, a, b));
  assert.deepEqual(shape, {shape: lasso.name, op: REMOVE, x: kept.map((q) => q[0]), y: kept.map((q) => q[1])});
  assert.equal(lasso.note(shape), "");
  assert.equal(drag(lasso, [[100, 100], [300, 100]]), null);  // two vertices: no area
  const most = CONTRACT.max_vertices, circle = wigglyCircle(most + 10, 150, 3).map(([a, b]) => [a - 100, b - 100]);
  const long = drag(lasso, circle);
  assert.equal(long.x.length, most);
  const drawn = (most + 10).toLocaleString("en-US");
  assert.match(lasso.note(long), new RegExp(`^A lasso of ${drawn} vertices, simplified to`));
});

test("a press that hardly moves is a click on the row nearest, whatever the tool", () => {
  const on = canvas("scan", 7), tools = panelTools(on);
  for (const tool of Object.values(tools)) {
    const shape = declared(drag(tool, [[200, 200], [202, 201], [203, 202]], {ctrlKey: true}));
    const [x, y] = toData(plotArea(on), 203, 202);  // where it is now (a pan moved the view a little)
    assert.deepEqual(shape, {shape: tools.click.name, op: REMOVE, row: 7, x: [x], y: [y]}, tool.name);
  }
  assert.ok(!on.calls.includes("viewChanged"));  // a pan that hardly moved is a click too
  const click = panelTools(on).click, shape = drag(click, [[200, 200]]);
  assert.deepEqual(Array.from(rowsOf(click.rows(shape))), [7]);
  assert.equal(drag(panelTools(canvas("lattice", -1)).box, [[200, 200]]), null);  // no row near: nothing
});

test("a line on a scan map from its first point to its last, in place of the last (Shift or not); its rows", () => {
  const on = canvas("scan"), tools = panelTools(on), p = plotArea(on);
  assert.equal(tools.line.offered(), true);
  assert.equal(panelTools(canvas("lattice")).line.offered(), false);  // a scatter has no line
  const line = declared(drag(tools.line, [[500, 300], [300, 200], [50, 60]], {shiftKey: true}));
  const [ax, ay] = toData(p, 500, 300), [bx, by] = toData(p, 50, 60);
  assert.deepEqual(line, {shape: tools.line.name, op: REPLACE, x: [ax, bx], y: [ay, by]});
  const rows = tools.line.rows(line), grid = on.header.grid;
  assert.deepEqual(Array.from(rows), Array.from(lineRows(line, grid, cellRows(on.arrays.cell, grid.nx * grid.ny))));
  assert.ok(rows.length > 3 && !tools.line.selects);
  assert.match(tools.line.note(line, rows), new RegExp(`^A line of [0-9.]+ through ${rows.length} pixels: `));
  const binned = {...on, header: {...on.header, binned: true}};
  assert.equal(panelTools(binned).line.rows(line), null);  // its cells are blocks: the server counts the pixels
});

test("pan moves the view with the pointer and makes no shape; its view goes to the server on release", () => {
  const on = canvas("lattice"), pan = panelTools(on).pan, before = {...on.view}, p = plotArea(on);
  assert.equal(drag(pan, [[100, 100], [150, 100], [200, 120]]), null);
  const [ax, ay] = toData(p, 100, 100), [bx, by] = toData(p, 200, 120);
  assert.ok(Math.abs(on.view.x0 - (before.x0 - (bx - ax))) < 1e-12);
  assert.ok(Math.abs(on.view.y1 - (before.y1 - (by - ay))) < 1e-12);
  assert.deepEqual(on.calls, ["draw", "draw", "viewChanged"]);
});

test("the browser modules spell no shape or op name: they read them from the contract (and TOOLS's keys)", () => {
  const names = new Set([...CONTRACT.shapes, ...CONTRACT.ops]);
  for (const module of ["wire.mjs", "shapes.mjs", "drawing.mjs", "tools.mjs", "element.mjs"]) {
    const code = readFileSync(new URL(module, FOLDER), "utf8").replace(/addEventListener\("\w+"/g, "");  // DOM events
    const spelled = [...code.matchAll(/["'`](\w+)["'`]/g)].map((m) => m[1]).filter((word) => names.has(word));
    assert.deepEqual(spelled, [], module);
  }
});

function wigglyCircle(n, radius, wiggle) {
  // a lasso path in pixels: a circle whose radius swings by `wiggle` at every vertex
  return Array.from({length: n}, (_, i) => {
    const a = 2 * Math.PI * i / n, r = radius + (i % 2 ? wiggle : -wiggle);
    return [400 + r * Math.cos(a), 300 + r * Math.sin(a)];
  });
}

function area(path) {
  let twice = 0;
  for (let i = 0, j = path.length - 1; i < path.length; j = i++) twice += path[j][0] * path[i][1] - path[i][0] * path[j][1];
  return Math.abs(twice) / 2;
}

test("a lasso of a million vertices is simplified to the contract's most, its outline kept", () => {
  const most = CONTRACT.max_vertices, path = wigglyCircle(1_000_000, 250, 3), simple = simplify(path, most);
  assert.equal(simple.length, most);
  assert.equal(simple[0], path[0]);
  assert.equal(simple.at(-1), path.at(-1));
  assert.ok(Math.abs(area(simple) / area(path) - 1) < 0.03, `${area(simple)} vs ${area(path)}`);
  for (const [x, y] of simple) assert.ok(Math.abs(Math.hypot(x - 400, y - 300) - 250) <= 3 + 1e-9);
  const short = wigglyCircle(most, 250, 3);
  assert.equal(simplify(short, most), short);  // at most `most` vertices: as drawn
});
