"""The plain command lines, read without importing argparse (which costs every cmng run ~4 ms).

A command's `add_arguments` runs against a `Recorder`, which keeps what argparse would be given.
`parse()` then reads the command line only where every token has one plain meaning: option names
spelt in full, a value after each option that takes one, the positionals in one run, every value
accepted by its type and choices, nothing missing and nothing in conflict. It returns exactly the
attributes argparse would set, or None for anything else (`--help`, an abbreviation, `--`, an error,
sub-commands, ...): then cmng builds the real argparse parser (at/cli/parser.py), which reads the
command line again and owns every message. tests/test_quickparse.py checks that the two agree.
"""
from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see at/__init__.py)
if TYPE_CHECKING:
    from collections.abc import Callable

VARIADIC = ("?", "*", "+")
_ACTIONS = ("store", "store_true", "store_false", "count", "help", "version")


class Defer(Exception):
    """The command uses something only argparse handles (e.g. sub-commands): always take the full parser."""


class Argument:
    """One `add_argument` call, as far as parsing needs it."""

    __slots__ = ("flags", "dest", "action", "nargs", "type", "choices", "default", "required", "group")

    def __init__(self, flags: tuple[str, ...], dest: str | None = None, action: str = "store", nargs: str | None = None,
                 type: Callable[[str], object] | None = None, choices: object = None, default: object = None,
                 required: bool = False, group: object = None, **_help: object) -> None:
        if action not in _ACTIONS or (nargs is not None and (flags[0].startswith("-") or nargs not in VARIADIC)):
            raise Defer(f"action {action!r} or nargs {nargs!r}")
        self.flags = flags
        if flags[0].startswith("-"):
            long = next((flag for flag in flags if flag.startswith("--")), flags[0])
            self.dest = dest or long.lstrip("-").replace("-", "_")
        else:
            self.dest = flags[0]
        self.action = action
        self.nargs = nargs
        self.type = type
        self.choices = choices
        self.default = {"store_true": False, "store_false": True}.get(action, default) if default is None else default
        self.required = required
        self.group = group

    @property
    def positional(self) -> bool:
        return not self.flags[0].startswith("-")

    def convert(self, text: str) -> object:
        """The value argparse would store; raises when argparse would refuse it."""
        value = self.type(text) if self.type is not None else text
        if self.choices is not None and value not in self.choices:
            raise ValueError(f"{value!r} is not a choice")
        return value


class Recorder:
    """Stands in for an `argparse.ArgumentParser` while a command adds its arguments."""

    def __init__(self) -> None:
        self.arguments: list[Argument] = [Argument(("-h", "--help"), action="help")]  # argparse adds it too
        self.defaults: dict[str, object] = {}
        self.exclusive: list[_Exclusive] = []

    def add_argument(self, *flags: str, **options: object) -> None:
        self.arguments.append(Argument(flags, **options))

    def add_argument_group(self, *args: object, **kwargs: object) -> Recorder:
        return self  # groups only arrange the help text

    def add_mutually_exclusive_group(self, required: bool = False) -> _Exclusive:
        group = _Exclusive(self, required)
        self.exclusive.append(group)
        return group

    def set_defaults(self, **defaults: object) -> None:
        self.defaults.update(defaults)

    def __getattr__(self, name: str) -> object:
        raise Defer(name)  # add_subparsers and anything else: the full parser only


class _Exclusive:
    def __init__(self, recorder: Recorder, required: bool) -> None:
        self.recorder = recorder
        self.required = required

    def add_argument(self, *flags: str, **options: object) -> None:
        self.recorder.arguments.append(Argument(flags, group=self, **options))


def _is_value(token: str) -> bool:
    """What argparse reads as a value or positional for sure: not an option-like token (`-` alone is a value)."""
    return token == "-" or not token.startswith("-")


def parse(recorder: Recorder, argv: list[str]) -> dict[str, object] | None:
    """The attributes argparse would set for `argv` (a command's own arguments), or None to let argparse decide."""
    by_flag = {flag: argument for argument in recorder.arguments for flag in argument.flags}
    values: dict[str, object] = {}
    seen: list[Argument] = []
    gaps: list[list[str]] = [[]]  # positional tokens, in runs between options
    index = 0
    while index < len(argv):
        token = argv[index]
        index += 1
        if _is_value(token):
            gaps[-1].append(token)
            continue
        name, equals, attached = token.partition("=") if token.startswith("--") else (token, "", "")
        argument = by_flag.get(name)
        if argument is None or argument.action in ("help", "version") or argument.nargs is not None:
            return None  # unknown, abbreviated, `--`, a negative number, help: argparse's to judge
        if argument.action == "store":
            if not equals:
                if index >= len(argv) or not _is_value(argv[index]):
                    return None
                attached = argv[index]
                index += 1
            elif attached == "--":  # argparse drops a `--` even from `--opt=--`
                return None
            try:
                values[argument.dest] = argument.convert(attached)
            except Exception:  # argparse words the refusal
                return None
        elif equals:
            return None
        elif argument.action == "count":
            values[argument.dest] = int(values.get(argument.dest, argument.default) or 0) + 1
        else:
            values[argument.dest] = argument.action == "store_true"
        seen.append(argument)
        if gaps[-1]:
            gaps.append([])
    if not _assign_positionals(recorder.arguments, [gap for gap in gaps if gap], values):
        return None
    for group in recorder.exclusive:
        given = {id(argument) for argument in seen if argument.group is group}
        if len(given) > 1 or (group.required and not given):
            return None
    if any(argument.required and argument not in seen for argument in recorder.arguments if not argument.positional):
        return None
    try:
        return _with_defaults(recorder, values, seen)
    except Exception:  # a text default its type refuses: argparse's message
        return None


def _assign_positionals(arguments: list[Argument], gaps: list[list[str]], values: dict[str, object]) -> bool:
    """Positionals from one run of tokens, as argparse matches them; False where argparse may differ or refuse."""
    positionals = [argument for argument in arguments if argument.positional]
    tokens = gaps[0] if gaps else []
    variadic = [argument for argument in positionals if argument.nargs is not None]
    fixed = len(positionals) - len(variadic)
    if len(gaps) > 1 or len(variadic) > 1:
        return False
    spare = len(tokens) - fixed
    if not variadic and spare != 0:
        return False
    if variadic and (spare < 1 or (variadic[0].nargs == "?" and spare != 1)):
        return False  # none for ? or *: argparse's default handling; too many for ?: an error
    position = 0
    for argument in positionals:
        count = spare if argument.nargs is not None else 1
        try:
            taken = [argument.convert(token) for token in tokens[position:position + count]]
        except Exception:
            return False
        values[argument.dest] = taken if argument.nargs in ("*", "+") else taken[0]
        position += count
    return True


def _with_defaults(recorder: Recorder, values: dict[str, object], seen: list[Argument]) -> dict[str, object]:
    result: dict[str, object] = {}
    for argument in recorder.arguments:
        if argument.action == "help":
            continue
        default = recorder.defaults.get(argument.dest, argument.default)
        if isinstance(default, str) and argument.type is not None and argument not in seen:
            default = argument.type(default)  # argparse converts a text default that was not overridden
        result[argument.dest] = default
    for dest, default in recorder.defaults.items():
        result.setdefault(dest, default)
    result.update(values)
    return result
