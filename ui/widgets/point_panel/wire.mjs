// The wire format (wire.py writes it): a panel's binary message (a uint32 header length, the JSON header with the
// contract and each array's type, offset and count, then the arrays), the positions of its rows as Python computes
// them, and the selection a group's overlay carries (rows, or a bit field in the contract's bit order).

/**
 * The protocol (contract.py's CONTRACT), as every header carries it: the names of the shapes and ops among it.
 * @typedef {{version: number, levels: number, align: number, mask_bit_order: string, nan_code: number,
 *   margin: {left: number, right: number, top: number, bottom: number}, shapes: string[], ops: string[],
 *   max_vertices: number, shape_keys: string[], scale_bar: {fraction: number, steps: number[]},
 *   in_order: string, codes_from_values: string, colour_steps: number}} Contract
 */
/**
 * A scan map's pixel grid (or a binned panel's cells): the centre of the first, the steps, the counts.
 * @typedef {{x0: number, y0: number, dx: number, dy: number, nx: number, ny: number}} Grid
 */
/**
 * A panel's header (element.py's draw and geometry.py write it): what every panel has, and some of what a kind has.
 * @typedef {{contract: Contract, key: string, group: string, kind: string, n: number, digest: string,
 *   x_range?: number[], y_range?: number[], grid?: Grid, y_down?: boolean, binned?: boolean, unit?: string,
 *   [more: string]: any}} Header
 */
/** @typedef {{[name: string]: Uint8Array | Uint16Array | Int32Array | Float32Array}} Arrays */
/** @typedef {{header: Header, arrays: Arrays}} Payload */

export const TYPES = {u8: Uint8Array, u16: Uint16Array, i32: Int32Array, f32: Float32Array};

/**
 * @param {Uint8Array} bytes  a panel's message, as wire.py's payload writes it
 * @returns {Payload}
 */
export function parse(bytes) {
  const buffer = bytes.slice().buffer;  // aligned copy: typed-array views need aligned offsets
  const length = new DataView(buffer).getUint32(0, true);
  const header = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, 4, length)));
  const align = header.contract.align, base = Math.ceil((4 + length) / align) * align, arrays = {};
  for (const [name, type, offset, count] of header.arrays) arrays[name] = new TYPES[type](buffer, base + offset, count);
  if (header[header.contract.in_order]) arrays.cell = Int32Array.from({length: header.n}, (_, i) => i);  // not sent
  if (header[header.contract.codes_from_values]) {  // not sent: made of the values
    arrays.codes = valueCodes(arrays.values, header.colorbar.low, header.colorbar.high, header.contract.colour_steps);
  }
  return {header, arrays};
}

/**
 * A continuous colour's codes of its values, as plots.py's continuous_codes makes them: from `low` (0) to `high`
 * (`steps`), beyond them the end codes, `steps + 1` where a value is not finite; halves rounded to even, as numpy's
 * rint. The same float64 operations in the same order give the same codes.
 * @param {Float32Array} values
 * @param {number} low
 * @param {number} high
 * @param {number} steps
 * @returns {Uint8Array}
 */
export function valueCodes(values, low, high, steps) {
  const span = (high - low) || 1, codes = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    codes[i] = Number.isFinite(v) ? roundHalfEven(Math.min(Math.max((v - low) / span, 0), 1) * steps) : steps + 1;
  }
  return codes;
}

function roundHalfEven(x) {
  const r = Math.round(x);  // halves up
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * The coordinates every selection is resolved over, as wire.py's positions computes them.
 * @param {Payload} payload
 * @returns {{x: Float64Array, y: Float64Array}}
 */
export function positions({header, arrays}) {
  const n = header.n, x = new Float64Array(n), y = new Float64Array(n);
  if (header.kind === "grid") {
    const g = header.grid;
    for (let i = 0; i < n; i++) {
      const cell = arrays.cell[i];
      x[i] = g.x0 + (cell % g.nx) * g.dx;
      y[i] = g.y0 + Math.floor(cell / g.nx) * g.dy;
    }
  } else {
    const [x0, x1] = header.x_range, [y0, y1] = header.y_range, levels = header.contract.levels;
    const sx = (x1 - x0) / levels, sy = (y1 - y0) / levels;
    for (let i = 0; i < n; i++) { x[i] = x0 + arrays.qx[i] * sx; y[i] = y0 + arrays.qy[i] * sy; }
  }
  return {x, y};
}

/**
 * The selection Python holds (wire.py's selection_message) as a mask over the group's rows.
 * @param {{n: number, count: number, rows?: number[], bits?: string, bit_order?: string}} data  an overlay
 * @returns {?Uint8Array} null: nothing selected
 */
export function decodeMask(data) {
  if (!data.count) return null;
  const mask = new Uint8Array(data.n);
  if (data.rows) for (const r of data.rows) mask[r] = 1;
  else {
    const bits = Uint8Array.from(atob(data.bits), (c) => c.charCodeAt(0)), little = data.bit_order === "little";
    for (let i = 0; i < data.n; i++) mask[i] = (bits[i >> 3] >> (little ? i & 7 : 7 - (i & 7))) & 1;
  }
  return mask;
}
