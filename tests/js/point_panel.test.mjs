// The point panel's browser modules in node (no browser, no Streamlit): the golden cases of
// tests/data/point_panel_golden.json give the rows (a line's in order) and the scale bars the Python side gives
// (tests/app/test_point_panel_golden.py runs both), the wire format reads what wire.py writes, and a lasso too long
// for one message is simplified.
import {test} from "node:test";
import assert from "node:assert/strict";
import {createHash} from "node:crypto";
import {readFileSync} from "node:fs";

import {decodeMask, parse, positions} from "../../ui/widgets/point_panel/wire.mjs";
import {cellRows, combine, lineRows, rowsIn, rowsOf, simplify, viewOf} from "../../ui/widgets/point_panel/shapes.mjs";
import {niceLength} from "../../ui/widgets/point_panel/drawing.mjs";

const GOLDEN = JSON.parse(readFileSync(new URL("../data/point_panel_golden.json", import.meta.url)));
const PAYLOAD = parse(Uint8Array.from(Buffer.from(GOLDEN.payload, "base64")));
const CONTRACT = PAYLOAD.header.contract;  // as every panel's header carries it

function lowbias32(x) {
  // the generated panels' integer hash, as the Python test computes it (uint32, wrapping)
  x = (x ^ (x >>> 16)) >>> 0;
  x = Math.imul(x, 0x7feb352d) >>> 0;
  x = (x ^ (x >>> 15)) >>> 0;
  x = Math.imul(x, 0x846ca68b) >>> 0;
  return (x ^ (x >>> 16)) >>> 0;
}

function panel(name) {
  // a golden panel's rows where the browser draws them
  const found = GOLDEN.panels[name], arrays = {};
  if (found.generated) {
    const {n, seed} = found.generated;
    arrays.qx = new Uint16Array(n); arrays.qy = new Uint16Array(n);
    for (let i = 0; i < n; i++) { arrays.qx[i] = lowbias32(seed + 2 * i) >>> 16; arrays.qy[i] = lowbias32(seed + 2 * i + 1) >>> 16; }
  } else {
    for (const [key, values] of Object.entries(found.arrays)) arrays[key] = key === "cell" ? Int32Array.from(values) : Uint16Array.from(values);
  }
  const n = (arrays.cell || arrays.qx).length;
  return positions({header: {...found.header, n, contract: CONTRACT}, arrays});
}

function sameRows(rows, expected) {
  if (Array.isArray(expected)) return assert.deepEqual(Array.from(rows), expected);
  const digest = createHash("sha256").update(Buffer.from(rows.buffer, rows.byteOffset, rows.byteLength)).digest("hex");
  assert.deepEqual({count: rows.length, sha256: digest}, expected);
}

for (const c of GOLDEN.cases) {
  test(`golden: ${c.about}`, () => {
    const {x, y} = panel(c.panel);
    let selected = null;
    for (const step of c.steps) {
      selected = combine(step.shape.op, rowsIn(step.shape, x, y), selected);
      sameRows(rowsOf(selected), step.rows);
    }
  });
}

for (const v of GOLDEN.views) {
  test(`golden view: ${v.about}`, () => {
    const {x, y} = panel(v.panel), sent = viewOf(v.view);
    assert.deepEqual(sent, v.sent);
    sameRows(rowsOf(rowsIn({shape: "box", x: [sent.x0, sent.x1], y: [sent.y0, sent.y1]}, x, y)), v.rows);
  });
}

for (const c of GOLDEN.lines) {
  test(`golden line: ${c.about}`, () => {
    const found = GOLDEN.panels[c.panel], grid = found.header.grid;
    const rows = lineRows(c.line, grid, cellRows(Int32Array.from(found.arrays.cell), grid.nx * grid.ny));
    assert.deepEqual(Array.from(rows), c.rows);
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
  assert.deepEqual(positions(PAYLOAD), panel("scatter"));
  const overlay = GOLDEN.overlay;
  assert.ok(overlay.message.bits && overlay.message.bit_order === CONTRACT.mask_bit_order);
  assert.deepEqual(Array.from(rowsOf(decodeMask(overlay.message))), overlay.rows);
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
