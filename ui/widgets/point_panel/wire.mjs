// The wire format (wire.py writes it): a panel's binary message (a uint32 header length, the JSON header with the
// contract and each array's type, offset and count, then the arrays), the positions of its rows as Python computes
// them, and the selection a group's overlay carries (rows, or a bit field in the contract's bit order).

export const TYPES = {u8: Uint8Array, u16: Uint16Array, i32: Int32Array, f32: Float32Array};

export function parse(bytes) {
  const buffer = bytes.slice().buffer;  // aligned copy: typed-array views need aligned offsets
  const length = new DataView(buffer).getUint32(0, true);
  const header = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, 4, length)));
  const align = header.contract.align, base = Math.ceil((4 + length) / align) * align, arrays = {};
  for (const [name, type, offset, count] of header.arrays) arrays[name] = new TYPES[type](buffer, base + offset, count);
  return {header, arrays};
}

export function positions({header, arrays}) {
  // the coordinates (float64) every selection is resolved over, as wire.py's positions computes them
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

export function decodeMask(data) {
  // the selection Python holds (wire.py's selection_message) as a mask over the group's rows; null: none
  if (!data.count) return null;
  const mask = new Uint8Array(data.n);
  if (data.rows) for (const r of data.rows) mask[r] = 1;
  else {
    const bits = Uint8Array.from(atob(data.bits), (c) => c.charCodeAt(0)), little = data.bit_order === "little";
    for (let i = 0; i < data.n; i++) mask[i] = (bits[i >> 3] >> (little ? i & 7 : 7 - (i & 7))) & 1;
  }
  return mask;
}
