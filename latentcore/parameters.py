"""An analysis's parameters, each declared once (as scikit-learn's `_parameter_constraints` declares an estimator's):
the command's option, the app's widget, the job's field and the report's record all read the one declaration.

    KAM_ORDER = Parameter("kam_order", "KAM order", 1, "the kernel's neighbours ...", choices=(1, 2, 3),
                          words=lambda order: f"{order} ({2 * order * (order + 1)} neighbours)")
    MAPS = Parameters("orientation_maps", (BOUNDARY_DEG, KAM_ORDER))
    values = MAPS(kam_order=2)      a `Values`: every parameter checked, the others at their default; frozen and
                                    hashable (a job's fields, a cache's key); values.kam_order == 2
    values.record()                 {"boundary_deg": 5.0, "kam_order": 2}: the report's `parameters`
    MAPS.from_args(args)            the values of a command's options (`cli.options.add_parameters` adds them)
    KAM_ORDER.check(8)              InputError: kam_order must be one of 1, 2, 3, got 8: choose one of them

A parameter's type is its default's: a float or an int is a number from `low` to `high` (both included; an int a
whole one), a bool a switch, a tuple of three numbers a direction (finite, not all 0), and with `choices` one of
them, each said in words by `words`. Its `name` is the report's key and the job's field; the command's option is
`--` + the name with dashes (`option`), so the command line's error boundary names the option of a message that
opens with the name (`cli.named_options`).
"""
from __future__ import annotations

import dataclasses
import math
from typing import Callable

from .errors import InputError

AXES = "xyz"  # a direction's components, in the sample frame


@dataclasses.dataclass(frozen=True)
class Parameter:
    """One parameter as every place names and checks it."""

    name: str  # the report's key, the job's field; `--name-with-dashes` on the command line
    label: str  # the app's widget
    default: object
    help: str  # a phrase: the option's help; the widget's as a sentence (`sentence`)
    low: float | None = None  # a number's range, both ends included
    high: float | None = None
    unit: str = ""  # of a number: "degrees", "points"
    choices: tuple = ()
    words: Callable[[object], str] | None = None  # a choice in words: "2 (12 neighbours)"
    step: float | None = None  # the widget's step for a number

    @property
    def kind(self) -> str:
        """"choice", "bool", "vector" (a direction: three numbers), "int" or "float": the default's type."""
        if self.choices:
            return "choice"
        if isinstance(self.default, bool):
            return "bool"
        if isinstance(self.default, tuple):
            return "vector"
        return "int" if isinstance(self.default, int) else "float"

    @property
    def option(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def sentence(self) -> str:
        """The help as a sentence: the app's widgets' help."""
        return self.help[0].upper() + self.help[1:] + "."

    def said(self, value) -> str:
        """A value in words: a choice by `words`, a direction as [1 0 0], a number plainly (8.66, 1,000)."""
        if self.kind == "choice":
            return self.words(value) if self.words else str(value)
        if self.kind == "vector":
            return "[" + " ".join(plain(v) for v in value) + "]"
        return str(value).lower() if isinstance(value, bool) else plain(value)

    def as_text(self, value) -> str:
        """A value as the command line takes it: 5, 8.66, 1,0,0 for a direction."""
        if self.kind in ("vector", "float", "int"):
            return ",".join(plain(v).replace(",", "") for v in (value if self.kind == "vector" else [value]))
        return str(value)

    @property
    def allowed(self) -> str:
        """What the parameter takes, in words: the option's help and the messages say it."""
        if self.kind == "choice":
            return "one of " + ", ".join(self.said(c) for c in self.choices)
        if self.kind == "vector":
            return "three numbers x,y,z, not all 0"
        if self.kind == "bool":
            return "on or off"
        return f"from {plain(self.low)} to {plain(self.high)} {self.unit}".rstrip()

    def parse(self, text: str):
        """The option's text in the parameter's type, or the text itself where it is not of it (then `check`
        refuses it with the parameter's own message)."""
        if self.kind == "choice" and any(str(c) == text for c in self.choices):
            return next(c for c in self.choices if str(c) == text)
        try:
            if self.kind == "vector":
                return tuple(float(part) for part in text.split(","))
            number = float(text)
            return int(number) if number.is_integer() else number
        except ValueError:
            return text

    def check(self, value):
        """`value` in the parameter's type, or an InputError naming the parameter, what it takes and what was given."""
        shown = _shown(value)
        if self.kind == "choice":
            for choice in self.choices:
                if _same_choice(value, choice):
                    return choice
            raise InputError(f"{self.name} must be one of {', '.join(map(str, self.choices))}, got {shown}: choose "
                             "one of them")
        if self.kind == "bool":
            if type(value).__name__ in ("bool", "bool_"):
                return bool(value)
            raise InputError(f"{self.name} must be true or false, got {shown}: give one of them")
        if self.kind == "vector":
            return self._direction(value, shown)
        return self._number(value, shown)

    def _number(self, value, shown: str):
        whole = self.kind == "int"
        number = _float(value)
        if not (math.isfinite(number) and self.low <= number <= self.high and (not whole or number.is_integer())):
            raise InputError(f"{self.name} must be {'a whole' if whole else 'a'} number {self.allowed}, got {shown}: "
                             "give one in that range")
        return int(number) if whole else number

    def _direction(self, value, shown: str) -> tuple[float, float, float]:
        try:
            numbers = tuple(_float(v) for v in value)
        except TypeError:
            numbers = ()
        if len(numbers) != 3 or not all(map(math.isfinite, numbers)) or not any(numbers):
            raise InputError(f"{self.name} must be three finite numbers x,y,z, not all 0, got {shown}: give a "
                             "direction such as 1,0,0")
        return numbers


def _shown(value) -> str:
    """A value given, in a message: a text quoted, a whole float without its .0 (the command's -1, not -1.0)."""
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return ",".join(map(_shown, value)) if isinstance(value, (tuple, list)) else str(value)


def _float(value) -> float:
    """A real number's value; NaN for anything else (a bool, a text), which no range holds."""
    if isinstance(value, (bool, str, bytes)) or type(value).__name__ == "bool_":
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _same_choice(value, choice) -> bool:
    """`value` is `choice` (2 and 2.0 alike; True never 1, a text never a number)."""
    if isinstance(value, bool) != isinstance(choice, bool) or isinstance(value, str) != isinstance(choice, str):
        return False
    try:
        return bool(value == choice)
    except (TypeError, ValueError):  # an array
        return False


def plain(value) -> str:
    """1,000,000 and 8.66, not 1e+06 and 8.660254037844387."""
    value = float(value)
    return f"{int(value):,}" if value.is_integer() else f"{value:.3g}"


@dataclasses.dataclass(frozen=True)
class Values:
    """One checked set of a group's values (made by `Parameters`): frozen and hashable, each value an attribute
    (`values.kam_order`), carried whole through jobs and caches as a `Roi` is."""

    group: str
    items: tuple[tuple[str, object], ...]

    def __getattr__(self, name: str):
        for key, value in self.__dict__.get("items", ()):
            if key == name:
                return value
        raise AttributeError(f"{self.__dict__.get('group')} has no parameter {name!r}")

    def as_dict(self) -> dict:
        return dict(self.items)

    def record(self) -> dict:
        """The report's `parameters` entry: each value by its name, a direction as a list."""
        return {name: list(value) if isinstance(value, tuple) else value for name, value in self.items}


@dataclasses.dataclass(frozen=True)
class Parameters:
    """The parameters of one analysis, in the order the help and the widgets show them."""

    name: str
    members: tuple[Parameter, ...]

    def __iter__(self):
        return iter(self.members)

    def __contains__(self, parameter) -> bool:
        return parameter in self.members

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.members)

    def __call__(self, **given) -> Values:
        """The group's values: those `given`, each checked, the others at their default."""
        unknown = sorted(set(given) - set(self.names))
        if unknown:
            raise InputError(f"{unknown[0]} is not a parameter of the {self.name}: give those of "
                             f"{', '.join(self.names)}")
        return Values(self.name, tuple((p.name, p.check(given.get(p.name, p.default))) for p in self.members))

    def from_args(self, args) -> Values:
        """The values of a command's options (`cli.options.add_parameters`), checked before any work."""
        return self(**{p.name: getattr(args, p.name) for p in self.members})

    def from_record(self, record: dict) -> Values:
        """The values a report's `parameters` recorded (`Values.record`), the group's others at their default."""
        return self(**{name: record[name] for name in self.names if name in record})


def joined(name: str, *groups) -> Parameters:
    """A group of the parameters of `groups` (groups or parameters), each once, in their order."""
    members = []
    for group in groups:
        for parameter in (group,) if isinstance(group, Parameter) else group:
            if parameter not in members:
                members.append(parameter)
    return Parameters(name, tuple(members))
