"""Widgets' values, which live in the session under the key their page gives them, and the default a page setting's
widget is drawn with.

A page setting's widget is drawn with `setting(key, default)` (a select box or radio: `setting_index`) as its
default, so that the browser shows the value the page computes with: a value the server chose (put back from the
workspace, taken from another tab, a default after the value was dropped) reaches the browser through the Session
State API, and the widget then has no default of its own (Streamlit warns of a widget given two values)."""
from __future__ import annotations

from . import store


def widget_value(key: str, default=None):
    """A widget's value as the session holds it (a point panel's messages, a slider's range...)."""
    return store.get(key, default)


def set_widget_value(key: str, value):
    """Set a widget's value before it is drawn (it shows this value)."""
    store.put(key, value)


def forget_widget(key: str):
    """Drop a widget's value: drawn next, it starts from its default."""
    store.pop(key)


def setting(key: str, default, offered=None, bounds=None):
    """The default to draw the widget of page setting `key` with, such that the browser shows the value
    the widget returns. A browser keeps showing its own value of a widget it shows whatever default a
    later run gives it, and sends that value back on the next run; so only the widget's own value is handed
    over as its default. Any other value (put back from the workspace in this run, a page that left the
    widget out or a reload; taken from another tab; written by a widget module; else `default`, the
    value having been dropped: new data, a cleared ROI) is written through the Session State API, which
    Streamlit sends to the browser, and the widget is drawn with no default of its own: None (False for
    a check box or toggle). A value the widget cannot take gives way to `default`: one not among
    `offered` (the options; for a list, each of its items) or outside `bounds` (low, high; for a range,
    both ends)."""
    held = store.has(key)
    current = store.get(key) if held else default
    value = _usable(current, default, offered, bounds)
    if held and not store.written_this_run(key) and _same(value, current):
        return value  # the widget's own value: the browser shows it
    store.put(key, value)
    return False if isinstance(default, bool) else None


def setting_index(key: str, default, options):
    """`setting` for a select box or radio drawn with `index=`: the position of its value among `options`,
    or None where the session holds the value it shows."""
    value = setting(key, default, options)
    return None if value is None else list(options).index(value)


def _same(a, b) -> bool:
    return type(a) is type(b) and a == b


def _usable(value, default, offered, bounds):
    """`value` in the form of the widget's `default` (`_like`), or `default` where the widget cannot take it."""
    if isinstance(default, tuple) and isinstance(value, (tuple, list)) and len(value) == len(default):
        value = tuple(_like(item, ref) for item, ref in zip(value, default))  # a range: JSON gave a list
    value = _like(value, default)
    items = list(value) if isinstance(value, (list, tuple)) else [value]
    if offered is not None and not all(item in list(offered) for item in items):
        return default
    if bounds is not None and not all(isinstance(item, (int, float)) and bounds[0] <= item <= bounds[1]
                                      for item in items):
        return default
    if isinstance(default, (bool, int, float, str)) and type(value) is not type(default):
        return default
    return value


def _like(value, default):
    """A number as JSON kept it (10 for 10.0) in the type of the widget's default (Streamlit refuses a mix)."""
    if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if type(default) is int and isinstance(value, float) and value.is_integer():
        return int(value)
    return value
