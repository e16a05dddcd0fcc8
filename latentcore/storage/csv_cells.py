"""CSV cells that a spreadsheet would run as formulas, neutralised (OWASP's "CSV injection" advice).

A text cell that begins with `=`, `+`, `-`, `@`, a tab or a carriage return is written with a leading `'`: a
label such as `=HYPERLINK(...)` from a collaborator then shows as text in the owner's spreadsheet instead of
running. A cell that already begins with `'`s before such a character gets one more, so that `restored` gives
back every text exactly (a labels CSV written by the app reads back to the same labels). Only text is touched:
numbers (a negative float) are written as they are. JSON outputs keep the raw text.

- `neutralised(text)`: one cell;
- `neutralised_table(table)`: a DataFrame's text columns and column names, for `to_csv`;
- `neutralised_arrow(table)`: a pyarrow Table's string columns (and categorical ones' categories), for Arrow's CSV
  writer;
- `write_arrow(table, out)`: a DataFrame as CSV with Arrow's writer, neutralised;
- `restored(values)`: a Series of cells read back from such a CSV;
- `quoting(table)`: the `to_csv` quoting that keeps every text cell whole: every text cell quoted when one holds a
  carriage return (a label's last character, say), since Python's csv module quotes only the characters of the line
  terminator and an unquoted CR ends the row for every reader.
"""
from __future__ import annotations

import csv
import re

import numpy as np
import pandas as pd

FORMULA_START = r"^'*[=+\-@\t\r]"  # what a spreadsheet may take for a formula, behind any quotes we added
_FORMULA_START = re.compile(FORMULA_START)
_NEUTRALISED = re.compile(r"^'+[=+\-@\t\r]")


def neutralised(text):
    """`'` + text when a spreadsheet could take it for a formula; anything that is not text as it is."""
    return "'" + text if isinstance(text, str) and _FORMULA_START.match(text) else text


def neutralised_table(table: pd.DataFrame) -> pd.DataFrame:
    """A copy with every text cell and column name neutralised; numeric columns are left alone."""
    out = table.rename(columns=neutralised)
    for position, column in enumerate(out.columns):
        values = out.iloc[:, position]
        if isinstance(values.dtype, pd.CategoricalDtype):
            out.isetitem(position, values.cat.rename_categories(neutralised))
        elif values.dtype == object or pd.api.types.is_string_dtype(values.dtype):
            out.isetitem(position, _neutralised_column(values))
    return out


def _neutralised_column(values: pd.Series) -> pd.Series:
    """Each distinct cell looked at once: a million rows of a few labels cost a factorisation."""
    try:
        codes, distinct = pd.factorize(values)
    except TypeError:  # unhashable cells (lists): one at a time
        return values.map(neutralised)
    fixed = np.array([neutralised(value) for value in distinct], dtype=object)
    if all(a is b for a, b in zip(fixed, distinct)):
        return values
    return pd.Series(np.where(codes >= 0, fixed[np.maximum(codes, 0)], values.to_numpy(object)),
                     index=values.index, name=values.name, dtype=object)


def neutralised_arrow(table):
    """A pyarrow Table with its string columns neutralised (vectorised: a million labels in milliseconds), and the
    categories of its dictionary (categorical) columns."""
    import pyarrow as pa

    for position, field in enumerate(table.schema):
        column = table.column(position)
        if _is_text(field.type):
            table = table.set_column(position, field, _neutralised_arrow_text(column))
        elif pa.types.is_dictionary(field.type) and _is_text(field.type.value_type):
            chunks = [pa.DictionaryArray.from_arrays(chunk.indices, _neutralised_arrow_text(chunk.dictionary))
                      for chunk in column.chunks]
            table = table.set_column(position, field, pa.chunked_array(chunks, field.type))
    return table.rename_columns([neutralised(name) for name in table.column_names])


def _is_text(arrow_type) -> bool:
    import pyarrow as pa

    return pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type)


def _neutralised_arrow_text(values):
    import pyarrow as pa
    import pyarrow.compute as pc

    risky = pc.fill_null(pc.match_substring_regex(values, FORMULA_START), False)
    quoted = pc.binary_join_element_wise(pa.scalar("'", values.type), values, pa.scalar("", values.type))
    return pc.if_else(risky, quoted, values)


def write_arrow(table: pd.DataFrame, out) -> None:
    """`table` as CSV on the binary stream `out`, with Arrow's writer: a million rows in a fraction of a second
    (pandas' `to_csv` 2-3 s). Text neutralised and quoted where it needs it, numbers written to round-trip (2.0
    as 2), the header unquoted as every other CSV here."""
    import pyarrow as pa
    import pyarrow.csv as arrow_csv

    arrow_table = neutralised_arrow(pa.Table.from_pandas(table, preserve_index=False))
    out.write((",".join(arrow_table.column_names) + "\n").encode())
    arrow_csv.write_csv(arrow_table, out, arrow_csv.WriteOptions(include_header=False, quoting_style="needed"))


def restored(values: pd.Series) -> pd.Series:
    """Cells read back from a neutralised CSV: the `'` that `neutralised` added is taken off again."""
    text = values.astype(str)
    added = text.str.match(_NEUTRALISED.pattern, na=False)
    return text.where(~added, text.str.slice(1)) if added.any() else values


def quoting(table: pd.DataFrame) -> int:
    """csv.QUOTE_NONNUMERIC when a text cell or column name holds a CR, else csv.QUOTE_MINIMAL (see the module doc)."""
    names = [str(name) for name in table.columns]
    texts = (pd.unique(table[name].astype(str)) for name in table.columns
             if table[name].dtype == object or pd.api.types.is_string_dtype(table[name].dtype))
    has_cr = any("\r" in name for name in names) or any(any("\r" in text for text in values) for values in texts)
    return csv.QUOTE_NONNUMERIC if has_cr else csv.QUOTE_MINIMAL
