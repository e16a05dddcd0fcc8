// Selection arithmetic, as shapes.py does it: the rows inside a box or a polygon over the coordinates drawn (a
// mask), combined with the selection (Shift adds, Alt removes); a lasso too long for one message simplified; a view
// as it is sent; the pixels of a scan map a line passes through, in order. The tools (tools.mjs) take their rows here.

/** @typedef {import("./wire.mjs").Grid} Grid */
/** @typedef {ArrayLike<number>} Numbers */
/**
 * A shape as the browser sends it (tools.mjs makes it; tools.py's read_shape reads it), in data units; its shape
 * and op are names the contract lists.
 * @typedef {{shape: string, op: string, x: number[], y: number[], row?: number, count?: number}} Shape
 */
/** @typedef {[number, number]} Point  [x, y] */

/**
 * (x, y) -> inside the polygon, by the even-odd rule with shapes.py's arithmetic; each edge is listed in the
 * horizontal bands its y span covers, so a point tests only the few edges of its band (an edge that does not span its
 * y could not change the answer).
 * @param {number[]} xs  the vertices' x
 * @param {number[]} ys  and y
 * @returns {(px: number, py: number) => boolean}
 */
export function polygonTest(xs, ys) {
  const n = xs.length, [low, high] = bounds(ys), bands = 64;
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

function bounds(values) {
  let low = Infinity, high = -Infinity;
  for (const v of values) { if (v < low) low = v; if (v > high) high = v; }
  return [low, high];
}

/**
 * The rows drawn at (xs, ys) inside a box from x[0] to x[1] and y[0] to y[1], its edges included (shapes.py's
 * rows_in_view, tools.py's Box).
 * @param {{x: number[], y: number[]}} box
 * @param {Numbers} xs
 * @param {Numbers} ys
 * @returns {Uint8Array} a mask over the rows
 */
export function inBox({x: [x0, x1], y: [y0, y1]}, xs, ys) {
  const n = xs.length, hit = new Uint8Array(n);
  for (let i = 0; i < n; i++) hit[i] = xs[i] >= x0 && xs[i] <= x1 && ys[i] >= y0 && ys[i] <= y1;
  return hit;
}

/**
 * The rows drawn at (xs, ys) inside a polygon of vertices (x, y): the even-odd rule within the vertices' bounds,
 * as shapes.py's in_polygon.
 * @param {{x: number[], y: number[]}} polygon
 * @param {Numbers} xs
 * @param {Numbers} ys
 * @returns {Uint8Array} a mask over the rows
 */
export function inPolygon(polygon, xs, ys) {
  const n = xs.length, hit = new Uint8Array(n), inside = polygonTest(polygon.x, polygon.y);
  const [bx0, bx1] = bounds(polygon.x), [by0, by1] = bounds(polygon.y);
  for (let i = 0; i < n; i++) {
    const x = xs[i], y = ys[i];
    hit[i] = x >= bx0 && x <= bx1 && y >= by0 && y <= by1 && inside(x, y);
  }
  return hit;
}

/**
 * The new selection's mask (`mask`, changed): the shape's rows (replace), added to or removed from `before`.
 * @param {string} op  the shape's op
 * @param {Uint8Array} mask  the shape's rows
 * @param {?Uint8Array} before  the selection (null: none)
 * @param {string[]} ops  the contract's op names, in its order: a plain shape's (replace), Shift's, Alt's
 * @returns {Uint8Array}
 */
export function combine(op, mask, before, ops) {
  const [, add, remove] = ops;
  if (before && op === add) for (let i = 0; i < mask.length; i++) mask[i] |= before[i];
  else if (op === remove) for (let i = 0; i < mask.length; i++) mask[i] = before ? before[i] & !mask[i] : 0;
  return mask;
}

/**
 * @param {Uint8Array} mask
 * @returns {Int32Array} the rows it holds, in order
 */
export function rowsOf(mask) {
  let count = 0;
  for (let i = 0; i < mask.length; i++) count += mask[i];
  const rows = new Int32Array(count);
  for (let i = 0, k = 0; k < count; i++) if (mask[i]) rows[k++] = i;
  return rows;
}

/**
 * The pixels (row * nx + column) a line passes through, in order from its first point, by the rule and with the
 * arithmetic of latentcore/analysis/profile.py's line_cells: in grid steps (u, v) the segment is cut where it
 * crosses a pixel edge, each piece is in the pixel of its middle, those outside the grid left out.
 * @param {{x: number[], y: number[]}} line  from (x[0], y[0]) to (x[1], y[1])
 * @param {Grid} grid
 * @returns {number[]}
 */
export function lineCells(line, grid) {
  const {x0, y0, dx, dy, nx, ny} = grid;
  const u0 = (line.x[0] - x0) / dx + 0.5, u1 = (line.x[1] - x0) / dx + 0.5;
  const v0 = (line.y[0] - y0) / dy + 0.5, v1 = (line.y[1] - y0) / dy + 0.5;
  if (![u0, u1, v0, v1].every(Number.isFinite)) return [];
  const cuts = Float64Array.from([0, 1, ...crossings(u0, u1, nx), ...crossings(v0, v1, ny)]).sort(), cells = [];
  for (let i = 0; i + 1 < cuts.length; i++) {
    if (cuts[i + 1] === cuts[i]) continue;
    const t = (cuts[i] + cuts[i + 1]) / 2, c = Math.floor(u0 + t * (u1 - u0)), r = Math.floor(v0 + t * (v1 - v0));
    if (c < 0 || c >= nx || r < 0 || r >= ny || r * nx + c === cells.at(-1)) continue;
    cells.push(r * nx + c);
  }
  return cells;
}

function crossings(a, b, n) {
  // the t where a coordinate going from a to b crosses an integer k strictly between them, 0 <= k <= n
  const out = [], last = Math.min(n, Math.ceil(Math.max(a, b)) - 1);
  for (let k = Math.max(0, Math.floor(Math.min(a, b)) + 1); k <= last; k++) out.push((k - a) / (b - a));
  return out;
}

/**
 * @param {Int32Array} cell  each row's cell
 * @param {number} size  the grid's cells
 * @returns {Int32Array} the row drawn on each cell, -1 where none
 */
export function cellRows(cell, size) {
  const rows = new Int32Array(size).fill(-1);
  cell.forEach((c, i) => { rows[c] = i; });
  return rows;
}

/**
 * The rows on the pixels a line passes through, in order; a pixel without a row left out.
 * @param {{x: number[], y: number[]}} line
 * @param {Grid} grid
 * @param {Int32Array} rowAt  each pixel's row (cellRows)
 * @returns {Int32Array}
 */
export function lineRows(line, grid, rowAt) {
  return Int32Array.from(lineCells(line, grid).map((c) => rowAt[c]).filter((r) => r >= 0));
}

/**
 * A view as the server reads it (shapes.py's read_view): each range from low to high.
 * @param {{x0: number, x1: number, y0: number, y1: number}} view
 * @returns {{x0: number, x1: number, y0: number, y1: number}}
 */
export function viewOf(view) {
  return {x0: Math.min(view.x0, view.x1), x1: Math.max(view.x0, view.x1),
          y0: Math.min(view.y0, view.y1), y1: Math.max(view.y0, view.y1)};
}

/**
 * A lasso's path in at most `most` vertices, its ends kept (Visvalingam-Whyatt): the vertex whose triangle with its
 * neighbours has the least area goes first, again and again, in O(n log n).
 * @param {Point[]} path
 * @param {number} most
 * @returns {Point[]} `path` itself when it has no more than `most`
 */
export function simplify(path, most) {
  const n = path.length;
  if (n <= most) return path;
  const prev = new Int32Array(n), next = new Int32Array(n), area = new Float64Array(n), gone = new Uint8Array(n);
  const triangle = (i) => {
    const [ax, ay] = path[prev[i]], [bx, by] = path[i], [cx, cy] = path[next[i]];
    return Math.abs((bx - ax) * (cy - ay) - (cx - ax) * (by - ay)) / 2;
  };
  const queue = minHeap(3 * n);
  for (let i = 0; i < n; i++) { prev[i] = i - 1; next[i] = i + 1; }
  for (let i = 1; i < n - 1; i++) queue.push(area[i] = triangle(i), i);
  for (let left = n; left > most;) {
    const [a, i] = queue.pop();
    if (gone[i] || a !== area[i]) continue;  // gone, or its area changed since: a later entry holds it
    gone[i] = 1;
    left--;
    const p = prev[i], q = next[i];
    next[p] = q; prev[q] = p;
    for (const k of [p, q]) if (k > 0 && k < n - 1) queue.push(area[k] = Math.max(triangle(k), a), k);
  }
  return path.filter((_, i) => !gone[i]);
}

function minHeap(capacity) {
  // (key, item) pairs, the least key first
  const keys = new Float64Array(capacity), items = new Int32Array(capacity);
  let size = 0;
  const swap = (a, b) => {
    const key = keys[a], item = items[a];
    keys[a] = keys[b]; items[a] = items[b]; keys[b] = key; items[b] = item;
  };
  return {
    push(key, item) {
      let i = size++;
      keys[i] = key; items[i] = item;
      while (i > 0 && keys[(i - 1) >> 1] > keys[i]) { swap(i, (i - 1) >> 1); i = (i - 1) >> 1; }
    },
    pop() {
      const top = [keys[0], items[0]];
      size--;
      keys[0] = keys[size]; items[0] = items[size];
      for (let i = 0; ;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < size && keys[l] < keys[m]) m = l;
        if (r < size && keys[r] < keys[m]) m = r;
        if (m === i) return top;
        swap(i, m);
        i = m;
      }
    },
  };
}
