"""The `:` command line (k9s): `:redis`, `:logs hub`, `:scenario play`, `:q`. Pure: text in, a Command out.

Screens are named by their mode name or an alias; `:logs`, `:scenario` and `:up`/`:down` take an
argument. What can be typed is listed by `words()` (completion) and `help_lines()` (the `?` screen).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from spotctl.tui.modes import MODES

ALIASES = {
    "services": ("svc", "ps"), "redis": ("keys",), "rabbit": ("rabbitmq", "rmq", "queues"),
    "kafka": ("topics",), "jobs": ("bullmq", "bull"), "scenarios": ("guide",), "hub": ("ws",),
    "pg": ("postgres", "sql"), "docs": ("mongo", "mongodb", "documents"), "load": ("locust",),
    "metrics": ("prom",), "alerts": ("alert",),
}
VERBS = {  # verb -> (argument, what it does)
    "logs": ("SERVICE", "live tail of a service's log"),
    "scenario": ("NAME", "open a guided scenario"),
    "up": ("SERVICE", "start a service"),
    "down": ("SERVICE", "stop a service (asks first)"),
    "help": ("", "the keys of this screen"),
    "q": ("", "quit"),
}
QUIT = ("q", "quit", "q!", "exit")


@dataclass(frozen=True)
class Command:
    verb: str  # "screen", "logs", "scenario", "up", "down", "help", "quit"
    arg: str = ""


class CommandError(ValueError):
    """Text that is no command; the message says what is known."""


def screen_names() -> dict[str, str]:
    """Every name a screen answers to (its mode name and aliases) -> the mode name."""
    names = {m.name: m.name for m in MODES}
    for mode, aliases in ALIASES.items():
        if mode in names:
            names.update(dict.fromkeys(aliases, mode))
    return names


def unique_prefix(word: str, choices: Iterable[str]) -> str:
    """`word` itself if it is a choice, else the one choice it starts (k9s: `:red` is `:redis`)."""
    options = set(choices)
    if word in options:
        return word
    found = sorted({c for c in options if c.startswith(word)})
    return found[0] if len(found) == 1 else word


def parse(text: str, services: Sequence[str] = (), scenarios: Sequence[str] = ()) -> Command:
    """`redis` -> screen redis; `logs hub` -> logs of hub; a unique prefix will do (`:red`, `:logs h`);
    unknown words and arguments are refused."""
    word, _, arg = text.strip().lstrip(":").strip().partition(" ")
    word, arg = word.lower(), arg.strip()
    if not word:
        raise CommandError("type a screen (redis, hub, ...), logs SERVICE, scenario NAME or q")
    if word in QUIT:
        return Command("quit")
    if word in ("help", "?"):
        return Command("help")
    screens = screen_names()
    word = unique_prefix(word, [*screens, *VERBS, "log", "scenarios"] if not arg else [*VERBS, "log"])
    if word in screens and not arg:
        return Command("screen", screens[word])
    if word in ("logs", "log", "up", "down"):
        verb = "logs" if word == "log" else word
        return Command(verb, _known(arg, services, "service", f":{verb} SERVICE"))
    if word in ("scenario", "scenarios") and arg:
        return Command("scenario", _known(arg, scenarios, "scenario", ":scenario NAME"))
    known = ", ".join(sorted(m.name for m in MODES))
    raise CommandError(f"no command {word!r}; screens: {known}; also logs, scenario, up, down, q")


def _known(arg: str, choices: Sequence[str], what: str, usage: str) -> str:
    if not arg:
        raise CommandError(f"{usage}: name the {what}")
    arg = unique_prefix(arg, choices)
    if choices and arg not in choices:
        raise CommandError(f"no {what} {arg!r}; known: {', '.join(choices)}")
    return arg


def words(services: Iterable[str] = (), scenarios: Iterable[str] = ()) -> list[str]:
    """Everything that can be typed, for completion."""
    out = [*screen_names(), "q", "help"]
    out += [f"logs {s}" for s in services] + [f"up {s}" for s in services] + [f"down {s}" for s in services]
    out += [f"scenario {s}" for s in scenarios]
    return out


def help_lines() -> list[tuple[str, str]]:
    """(what to type, what it does) for the help screen."""
    rows = [(f":{m.name}" + (f" (:{', :'.join(ALIASES.get(m.name, ()))})" if ALIASES.get(m.name) else ""),
             f"{m.title} screen") for m in MODES]
    rows += [(f":{verb} {arg}".rstrip(), does) for verb, (arg, does) in VERBS.items()]
    return rows
