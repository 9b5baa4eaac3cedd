"""What people say to smart devices, generated for the text pool (seeded, deterministic).

Five generators, each a pure function of its seed and of packaged word lists:

* :func:`command_utterances` expands the English sentence templates of Home Assistant's voice
  intents (PyPI ``home-assistant-intents``: "turn on the kitchen lights", "next track",
  "set a timer for ten minutes", "what's the weather like") with the template language's own
  lists, and fills the slots a real home would supply (rooms, devices, foods, artists, places)
  from WordNet (Debian ``wordnet-base``): hyponyms of *room*, *home appliance*, *lamp*...,
  restricted to lemmas that occur in WordNet's sense-tagged corpus (common words).
* :func:`number_utterances`: cardinals, ordinals, decimals, digit strings, percentages,
  temperatures, amounts of money and quantities with units.
* :func:`time_date_utterances`: clock times ("half past seven", "seven oh five"), durations,
  weekdays, dates and years, alone or inside a request ("wake me up at six thirty").
* :func:`spelling_utterances`: words spelled letter by letter ("c a t") and letter-digit codes.
* :func:`isolated_word_utterances`: one word alone: a common noun, a letter name or a number
  (what a keyword, picture or spelling app hears; sentence-trained models turn these into
  near-misses such as "coat" -> "court").

Numbers are spelled the way :func:`memasr.data.tokenizer.normalize_text` spells digits
(num2words, without "and"), except years, which are read as people say them ("nineteen
ninety nine"). Every utterance is lower-case words, so ``normalize_text`` leaves it unchanged.
"""
from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
from num2words import num2words

from memasr.data.tokenizer import normalize_text
from memasr.errors import InputError

WORDNET_DIR = Path("/usr/share/wordnet")
LETTERS = "abcdefghijklmnopqrstuvwxyz"
_ISOLATED_NUMBERS = 21  # isolated_word_utterances draws the numbers zero to twenty


@lru_cache(maxsize=None)
def spell_number(n: int, ordinal: bool = False) -> str:
    """12 -> "twelve", ordinal 21 -> "twenty first" (normalize_text's spelling of digits)."""
    return normalize_text(f"{n}{_ordinal_suffix(n) if ordinal else ''}")


def _ordinal_suffix(n: int) -> str:
    if 10 <= n % 100 <= 20:
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")


@lru_cache(maxsize=None)
def spell_year(year: int) -> str:
    """1999 -> "nineteen ninety nine", 2008 -> "two thousand eight" (as years are read)."""
    return normalize_text(num2words(year, lang="en", to="year")).replace(" and ", " ")


# ------------------------------------------------------------------------------ WordNet word lists


class WordNet:
    """The noun hierarchy of Debian's WordNet 3.0 files, enough to list the hyponyms of a sense."""

    def __init__(self, root: Path = WORDNET_DIR) -> None:
        index, data = root / "index.noun", root / "data.noun"
        if not index.is_file() or not data.is_file():
            raise InputError(f"WordNet is missing ({index}): install the Debian package 'wordnet-base'")
        self.senses: dict[str, list[str]] = {}  # lemma -> synset offsets, most frequent first
        self.tagged: set[str] = set()  # lemmas seen in the sense-tagged corpus: common words
        for line in index.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith(" "):
                continue
            parts = line.split()
            n_ptr = int(parts[3])
            tagsense_cnt = int(parts[5 + n_ptr])
            self.senses[parts[0]] = parts[6 + n_ptr:]
            if tagsense_cnt > 0:
                self.tagged.add(parts[0])
        self.words: dict[str, list[str]] = {}
        self.hyponyms: dict[str, list[str]] = {}
        self.instances: dict[str, list[str]] = {}  # named individuals: composers, buildings
        for line in data.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith(" "):
                continue
            fields = line.split(" | ", 1)[0].split()
            offset, n_words = fields[0], int(fields[3], 16)
            self.words[offset] = [fields[4 + 2 * i] for i in range(n_words)]
            pos = 4 + 2 * n_words
            n_ptr = int(fields[pos])
            ptrs = fields[pos + 1: pos + 1 + 4 * n_ptr]
            self.hyponyms[offset] = [ptrs[i + 1] for i in range(0, len(ptrs), 4) if ptrs[i] == "~"]
            self.instances[offset] = [ptrs[i + 1] for i in range(0, len(ptrs), 4) if ptrs[i] == "~i"]

    def synonyms(self, lemma: str, sense: int = 1) -> list[str]:
        """The words of ``lemma``'s ``sense``-th noun synset ("mother": ma, mom, mum...)."""
        offsets = self.senses.get(lemma, [])
        if len(offsets) < sense:
            return []
        return sorted({normalize_text(w.replace("_", " ")) for w in self.words.get(offsets[sense - 1], [])})

    def below(self, lemma: str, sense: int = 1, depth: int = 3, common_only: bool = True,
              instances: bool = True) -> list[str]:
        """Lemmas of the hyponyms (and instances) of ``lemma``'s ``sense``-th noun sense, down to
        ``depth`` levels, as words.

        ``common_only`` keeps lemmas that WordNet's tagged corpus has seen (or capitalized
        names, for instances such as composers). Sorted, so the list is deterministic.
        """
        offsets = self.senses.get(lemma, [])
        if len(offsets) < sense:
            return []
        seen, stack, out = set(), [(offsets[sense - 1], 0)], set()
        while stack:
            off, level = stack.pop()
            if off in seen:
                continue
            seen.add(off)
            if level < depth:
                stack.extend((h, level + 1) for h in self.hyponyms.get(off, []))
                if instances:
                    stack.extend((h, level + 1) for h in self.instances.get(off, []))
            for word in self.words.get(off, []):
                word = re.sub(r"\(.*\)$", "", word)  # "(a)" / "(p)" adjective markers
                if common_only and word.lower() not in self.tagged and not word[:1].isupper():
                    continue
                text = normalize_text(word.replace("_", " "))
                if text and text.count(" ") < 3 and not any(c.isdigit() for c in word):
                    out.add(text)
        return sorted(out)


@dataclass(frozen=True)
class SlotWords:
    """Fillers for the slots that a real home supplies (not in the templates' own lists)."""

    area: list[str]
    name: list[str]
    floor: list[str]
    food: list[str]
    artist: list[str]
    place: list[str]
    genre: list[str]
    kin: list[str] = field(default_factory=list)  # people one calls: mother, mom, sister...
    words: list[str] = field(default_factory=list)  # common words, for spelling

    @classmethod
    def from_wordnet(cls, wn: WordNet) -> "SlotWords":
        def union(*parts: tuple[str, int]) -> list[str]:
            return sorted({w for lemma, sense in parts for w in wn.below(lemma, sense)})

        floors = [f"{spell_number(i, ordinal=True)} floor" for i in range(1, 11)]
        floors += ["ground floor", "top floor", "upstairs", "downstairs", "basement", "attic"]
        food = union(("foodstuff", 2), ("dish", 2), ("beverage", 1), ("edible_fruit", 1), ("vegetable", 1))
        words = sorted(w for w in wn.tagged if w.isalpha() and w.islower() and 2 <= len(w) <= 8)
        return cls(
            area=sorted(set(wn.below("room", 1, depth=1)) - {"room"}),
            name=union(("home_appliance", 1), ("lamp", 1), ("fan", 1), ("loudspeaker", 1), ("heater", 1),
                       ("television_receiver", 1), ("lock", 1), ("door", 1), ("window", 1)),
            floor=floors,
            food=food,
            artist=union(("musician", 1), ("singer", 1), ("composer", 1), ("rock_group", 1)),
            place=union(("building", 1), ("shop", 1)),
            genre=union(("popular_music", 1), ("musical_genre", 1)),
            kin=sorted({w for lemma, sense in _RELATIVE_SENSES
                        for w in wn.below(lemma, sense, depth=1, instances=False) + wn.synonyms(lemma, sense)
                        if w.count(" ") < 1}),
            words=words,
        )

    def for_slot(self, slot: str) -> list[str]:
        """Fillers of a template slot or wildcard list; empty if this generator has none."""
        table = {"area": self.area, "name": self.name, "floor": self.floor, "shopping_list_item": self.food,
                 "todo_list_item": self.food, "timer_name": self.food, "search_query": self.artist + self.genre,
                 "zone": self.place}
        return table.get(slot, [])


@lru_cache(maxsize=1)
def wordnet_slot_words() -> SlotWords:
    return SlotWords.from_wordnet(WordNet())


# ------------------------------------------------------------------------------ template language


class TemplateError(ValueError):
    """A Home Assistant template this expander cannot read (skipped, not fatal)."""


# Node kinds: ("text", str), ("seq", [nodes]), ("alt", [nodes]), ("perm", [nodes]),
# ("rule", name), ("slot", list name)
Node = tuple


def parse_template(text: str) -> Node:
    """Parse Home Assistant's sentence template syntax (hassil): ``(a|b)`` alternatives,
    ``[x]`` optional, ``(a;b)`` any order, ``<rule>`` expansion rules, ``{list}``/``{list:slot}``."""
    node, pos = _parse_alternatives(text, 0, "")
    if pos != len(text):
        raise TemplateError(f"unbalanced template: {text!r}")
    return node


def _parse_alternatives(text: str, pos: int, close: str) -> tuple[Node, int]:
    alts, perm, seq, buf = [], [], [], []

    def flush() -> None:
        if buf:
            seq.append(("text", "".join(buf)))
            buf.clear()

    while pos < len(text):
        c = text[pos]
        if c in ")]":
            if c != close:
                raise TemplateError(f"unexpected {c!r} in {text!r}")
            break
        if c in "([":
            flush()
            inner, pos = _parse_alternatives(text, pos + 1, ")" if c == "(" else "]")
            seq.append(("alt", [inner, ("text", "")]) if c == "[" else inner)
            continue
        elif c in "<{":
            flush()
            end = text.find(">" if c == "<" else "}", pos)
            if end < 0:
                raise TemplateError(f"unclosed {c!r} in {text!r}")
            name = text[pos + 1:end].split(":")[0].strip()
            seq.append(("rule" if c == "<" else "slot", name))
            pos = end
        elif c == "|" and close:
            flush()
            alts.append(("seq", seq))
            seq = []
        elif c == ";" and close:
            flush()
            perm.append(("seq", seq))
            seq = []
        else:
            buf.append(c)
        pos += 1
    else:
        if close:
            raise TemplateError(f"unclosed group in {text!r}")
    flush()
    if perm:
        perm.append(("seq", seq))
        alts.append(("perm", perm))
    else:
        alts.append(("seq", seq))
    node = alts[0] if len(alts) == 1 else ("alt", alts)
    return node, pos + (1 if close else 0)


@dataclass
class TemplateExpander:
    """Draws random sentences from Home Assistant templates (one language's intents JSON).

    ``lists`` maps a list name to its parsed values or to a sampler of a number range.
    """

    rules: dict[str, Node]
    lists: dict[str, list[Node] | Callable[[np.random.Generator], str]]
    slots: SlotWords

    @classmethod
    def from_intents(cls, intents: dict, slots: SlotWords) -> "TemplateExpander":
        rules = {k: parse_template(v) for k, v in intents.get("expansion_rules", {}).items()}
        lists: dict[str, list[Node] | Callable[[np.random.Generator], str]] = {}
        for name, spec in intents.get("lists", {}).items():
            if "values" in spec:
                raws = [v["in"] if isinstance(v, dict) else str(v) for v in spec["values"]]
                # "1/2" would be read digit by digit
                values = [parse_template(raw) for raw in raws if not any(ch.isdigit() for ch in raw)]
                if values:
                    lists[name] = values
            elif "range" in spec:
                lists[name] = _range_sampler(spec["range"])
        return cls(rules, lists, slots)

    def sample(self, node: Node, rng: np.random.Generator) -> str:
        kind, value = node
        if kind == "text":
            return value
        if kind == "seq":
            return "".join(self.sample(n, rng) for n in value)
        if kind == "alt":
            return self.sample(value[int(rng.integers(len(value)))], rng)
        if kind == "perm":
            order = rng.permutation(len(value))
            return " ".join(self.sample(value[i], rng) for i in order)
        if kind == "rule":
            if value not in self.rules:
                raise TemplateError(f"unknown rule <{value}>")
            return self.sample(self.rules[value], rng)
        entry = self.lists.get(value)
        if callable(entry):
            return entry(rng)
        if entry:
            return self.sample(entry[int(rng.integers(len(entry)))], rng)
        fillers = self.slots.for_slot(value)
        if not fillers:
            raise TemplateError(f"no words for slot {{{value}}}")
        return fillers[int(rng.integers(len(fillers)))]


def _range_sampler(spec: dict) -> Callable[[np.random.Generator], str]:
    lo, hi, step = int(spec["from"]), int(spec["to"]), int(spec.get("step", 1))

    def draw(rng: np.random.Generator) -> str:
        return spell_number(lo + step * int(rng.integers((hi - lo) // step + 1)))

    return draw


_COUNTED = ("hour", "minute", "second", "degree", "day", "week")


def agree_plurals(text: str) -> str:
    """"fourteen hour" -> "fourteen hours" (the templates leave the plural optional), but
    "five minute timer" stays: a count before a noun used as a modifier is singular."""
    words = text.split()
    for i, word in enumerate(words):
        if (word in _COUNTED and 0 < i and words[i - 1] in _NUMBER_WORDS and words[i - 1] != "one"
                and (i + 1 == len(words) or words[i + 1] != "timer")):
            words[i] = word + "s"
    return " ".join(words)


_NUMBER_WORDS = frozenset(" ".join(spell_number(n) for n in range(100)).split()) | {"hundred", "thousand"}


def _spoken_symbols(text: str) -> str:
    """Symbols the templates write that people say as words."""
    return text.replace("%", " percent ").replace("\u00b0", " degrees ")


def command_utterances(seed: int = 0, per_template: int = 12, intents: dict | None = None,
                       slots: SlotWords | None = None) -> Iterator[str]:
    """Spoken commands from every English Home Assistant intent template, ``per_template`` draws each.

    A template whose slot has no fillers is skipped. Home Assistant's skip words ("please",
    "can you") are prepended to a few draws, as people say them.
    """
    if intents is None:
        try:
            from home_assistant_intents import get_intents
        except ImportError:
            raise InputError("the PyPI package 'home-assistant-intents' is missing; pip install -e .") from None
        intents = get_intents("en")
    slots = slots or wordnet_slot_words()
    expander = TemplateExpander.from_intents(intents, slots)
    skip_words = [w for w in intents.get("skip_words", []) if w.split()[0] in ("please", "can", "could", "would")]
    rng = np.random.default_rng([seed, 1])
    for intent in sorted(intents.get("intents", {})):
        for block in intents["intents"][intent].get("data", []):
            for template in block.get("sentences", []):
                try:
                    node = parse_template(template)
                    draws = [expander.sample(node, rng) for _ in range(per_template)]
                except TemplateError:
                    continue
                for text in draws:
                    if skip_words and rng.random() < 0.1:
                        text = f"{skip_words[int(rng.integers(len(skip_words)))]} {text}"
                    yield agree_plurals(normalize_text(_spoken_symbols(text)))


# Verbs and answers a device hears on their own; objects come from WordNet (SlotWords).
_ALONE = ("stop", "pause", "play", "resume", "next", "skip", "back", "go back", "cancel", "yes", "no", "okay",
          "louder", "quieter", "mute", "unmute", "shuffle", "repeat", "help", "snooze", "dismiss", "continue",
          "undo", "answer", "hang up", "never mind", "thank you", "thanks", "good night", "good morning",
          "volume up", "volume down", "next song", "previous song", "next track", "play music", "stop music",
          "what time is it", "what's the weather", "lights on", "lights off", "turn it off", "turn it on")
_SWITCH = ("turn on", "turn off", "switch on", "switch off", "start", "stop", "open", "close", "lock", "unlock",
           "dim", "brighten", "check", "find", "show")
_RELATIVE_SENSES = (("mother", 1), ("father", 1), ("sister", 1), ("brother", 1), ("grandparent", 1),
                    ("child", 2), ("spouse", 1), ("friend", 1), ("aunt", 1), ("uncle", 1))


def short_command_utterances(seed: int = 0, count: int = 6000, slots: SlotWords | None = None) -> Iterator[str]:
    """Commands of one to four words: "stop", "kitchen lights off", "open the garage door",
    "play jazz", "call grandma", combining verbs with WordNet's rooms, devices, genres and kin."""
    slots = slots or wordnet_slot_words()
    rng = np.random.default_rng([seed, 5])

    def pick(options: Sequence[str]) -> str:
        return options[int(rng.integers(len(options)))]

    for _ in range(count):
        kind = int(rng.integers(7))
        if kind == 0:
            text = pick(_ALONE)
        elif kind == 1:
            text = f"{pick(_SWITCH)} {'the ' if rng.random() < 0.5 else ''}{pick(slots.name)}"
        elif kind == 2:
            text = f"{pick(slots.area)} {pick(('light', 'lights', 'lamp', 'fan', 'heater', 'speaker'))} " \
                   f"{pick(('on', 'off', 'up', 'down'))}"
        elif kind == 3:
            text = f"{pick(('play', 'play some', 'shuffle', 'put on'))} {pick(slots.genre + slots.artist)}"
        elif kind == 4:
            text = f"{pick(('call', 'text', 'message', 'ring', 'video call'))} {pick(slots.kin)}"
        elif kind == 5:
            text = f"{pick(slots.name)} {pick(('on', 'off', 'status', 'please'))}"
        else:
            text = f"{pick(('add', 'buy', 'order', 'find'))} {pick(slots.food)}"
        text = normalize_text(text)
        if len(text.split()) <= 4:
            yield text


# ------------------------------------------------------------------------------ numbers, times, dates

_UNITS = ("meter", "kilometer", "mile", "foot", "inch", "pound", "kilogram", "gram", "ounce", "liter",
          "gallon", "cup", "degree", "percent", "hour", "minute", "second", "day", "week", "month", "year",
          "calorie", "step", "point", "volt", "watt")


def _log_uniform_int(rng: np.random.Generator, hi: int) -> int:
    return int(np.exp(rng.uniform(0, np.log(hi + 1)))) - 1 + int(rng.integers(2))


def _plural(unit: str, n: int) -> str:
    if n == 1 or unit in ("percent",):
        return unit
    return {"foot": "feet", "inch": "inches"}.get(unit, unit + "s")


def number_utterances(seed: int = 0, count: int = 6000) -> Iterator[str]:
    """Numbers as people say them to a device: "forty two", "three point one four",
    "the twenty first", "five five five one two three four", "seventy two degrees"..."""
    rng = np.random.default_rng([seed, 2])
    for _ in range(count):
        kind = int(rng.integers(8))
        n = _log_uniform_int(rng, 1_000_000)
        if kind == 0:
            yield spell_number(n)
        elif kind == 1:
            yield f"the {spell_number(int(rng.integers(1, 101)), ordinal=True)}"
        elif kind == 2:
            yield normalize_text(f"{int(rng.integers(0, 1000))}.{int(rng.integers(0, 100))}")
        elif kind == 3:  # phone numbers, codes: digit by digit, zero often said "oh"
            zero = "oh" if rng.random() < 0.4 else "zero"
            digits = rng.integers(0, 10, int(rng.integers(3, 11)))
            yield " ".join(zero if d == 0 else spell_number(int(d)) for d in digits)
        elif kind == 4:
            yield f"{spell_number(int(rng.integers(0, 101)))} percent"
        elif kind == 5:
            yield f"{spell_number(int(rng.integers(-10, 110)) % 110)} degrees"
        elif kind == 6:
            dollars, cents = _log_uniform_int(rng, 10_000), int(rng.integers(0, 100))
            yield (f"{spell_number(dollars)} {_plural('dollar', dollars)}"
                   + (f" and {spell_number(cents)} {_plural('cent', cents)}" if cents and rng.random() < 0.5 else ""))
        else:
            unit, k = _UNITS[int(rng.integers(len(_UNITS)))], _log_uniform_int(rng, 500)
            yield f"{spell_number(k)} {_plural(unit, k)}"


def clock_time(rng: np.random.Generator) -> str:
    """A time of day as spoken: "seven thirty", "half past nine", "quarter to six", "noon"..."""
    hour, minute = int(rng.integers(1, 13)), int(rng.choice([0, 5, 10, 15, 20, 25, 30, 40, 45, 50, 55,
                                                               int(rng.integers(0, 60))]))
    style = int(rng.integers(6))
    h = spell_number(hour)
    if style == 0 or minute == 0:
        text = f"{h} o'clock" if rng.random() < 0.6 else h
    elif style == 1 and minute in (15, 30, 45):
        text = {15: f"quarter past {h}", 30: f"half past {h}",
                45: f"quarter to {spell_number(hour % 12 + 1)}"}[minute]
    elif style == 2 and minute <= 30:
        text = f"{spell_number(minute)} past {h}"
    elif style == 3 and minute > 30:
        text = f"{spell_number(60 - minute)} to {spell_number(hour % 12 + 1)}"
    elif style == 4 and minute < 10:
        text = f"{h} oh {spell_number(minute)}"
    else:
        text = f"{h} {spell_number(minute)}" if minute >= 10 else f"{h} oh {spell_number(minute)}"
    if rng.random() < 0.3:
        text += " " + ["in the morning", "in the afternoon", "in the evening", "at night", "tonight"][
            int(rng.integers(5))]
    if rng.random() < 0.05:
        text = ["noon", "midnight", "twelve noon"][int(rng.integers(3))]
    return text


def calendar_date(rng: np.random.Generator) -> str:
    """A date as spoken: "march third", "the twenty first of june", "monday", "june fifth twenty twenty four"."""
    month = calendar.month_name[int(rng.integers(1, 13))].lower()
    day = spell_number(int(rng.integers(1, 32)), ordinal=True)
    weekday = calendar.day_name[int(rng.integers(7))].lower()
    style = int(rng.integers(6))
    if style == 0:
        return f"{month} {day}"
    if style == 1:
        return f"the {day} of {month}"
    if style == 2:
        return [weekday, f"next {weekday}", f"this {weekday}", f"last {weekday}", f"on {weekday}"][int(rng.integers(5))]
    if style == 3:
        return f"{month} {day} {spell_year(int(rng.integers(1900, 2051)))}"
    if style == 4:
        return ["today", "tomorrow", "yesterday", "the day after tomorrow", "next week", "next month",
                "this weekend", f"in {month}"][int(rng.integers(8))]
    return spell_year(int(rng.integers(1700, 2100)))


def duration(rng: np.random.Generator) -> str:
    """A length of time as spoken: "twenty minutes", "one hour", "half an hour"."""
    n = _log_uniform_int(rng, 120) + 1
    unit = ["second", "minute", "hour", "day"][int(rng.integers(4))]
    return f"{spell_number(n)} {_plural(unit, n)}" if rng.random() < 0.85 else "half an hour"


_TIME_FRAMES = ("{t}", "at {t}", "set an alarm for {t}", "wake me up at {t}", "remind me at {t}",
                "it's {t}", "meet me at {t}", "alarm at {t}", "turn off the lights at {t}")
_DATE_FRAMES = ("{d}", "on {d}", "what day is {d}", "remind me {d}", "what's the weather {d}",
                "schedule it for {d}", "is {d} a holiday", "{d} at {t}")
_DURATION_FRAMES = ("{u}", "for {u}", "in {u}", "set a timer for {u}", "{u} timer", "remind me in {u}",
                    "snooze for {u}", "add {u}")


def time_date_utterances(seed: int = 0, count: int = 6000) -> Iterator[str]:
    """Times, dates and durations, bare (half of them) or inside a short request."""
    rng = np.random.default_rng([seed, 3])
    for _ in range(count):
        kind = int(rng.integers(3))
        frames = (_TIME_FRAMES, _DATE_FRAMES, _DURATION_FRAMES)[kind]
        frame = frames[0] if rng.random() < 0.5 else frames[int(rng.integers(len(frames)))]
        yield normalize_text(frame.format(t=clock_time(rng), d=calendar_date(rng), u=duration(rng)))


def spelling_utterances(seed: int = 0, count: int = 3000, words: list[str] | None = None) -> Iterator[str]:
    """Letters spoken one by one: spelled common words ("c a t"), with "that's" / "spelled"
    frames, and letter-digit codes ("b four seven k")."""
    words = words if words is not None else wordnet_slot_words().words
    rng = np.random.default_rng([seed, 4])
    for _ in range(count):
        style = int(rng.integers(4))
        if style < 2 and words:
            word = words[int(rng.integers(len(words)))]
            letters = " ".join(word)
            yield letters if style == 0 else [f"{word} {letters}", f"that's {letters}", f"it's spelled {letters}",
                                              f"{letters} {word}"][int(rng.integers(4))]
        elif style == 2:
            yield " ".join(LETTERS[i] for i in rng.integers(0, 26, int(rng.integers(1, 6))))
        else:
            code = [LETTERS[int(rng.integers(26))] if rng.random() < 0.5 else spell_number(int(rng.integers(10)))
                    for _ in range(int(rng.integers(2, 7)))]
            yield " ".join(code)


def closed_word_set() -> frozenset[str]:
    """The closed classes :func:`isolated_word_utterances` draws from: the 26 letter names and
    the numbers zero to twenty. A corpus puts them in every split (``every_split`` of
    :func:`memasr.data.synth.synthesize_corpus`), since a letter whose text hashes to test
    would otherwise never be heard alone in training."""
    return frozenset(LETTERS) | frozenset(spell_number(n) for n in range(_ISOLATED_NUMBERS))


def isolated_word_utterances(seed: int = 0, count: int = 6000, words: list[str] | None = None,
                             letter_share: float = 0.25, number_share: float = 0.1) -> Iterator[str]:
    """``count`` draws of one word spoken alone: a letter ("b") with probability
    ``letter_share``, a number from zero to twenty ("fourteen") with ``number_share``, else a
    common noun (WordNet's sense-tagged lemmas, as for spelling). Draws repeat, and
    ``memasr synth --text isolated-words`` keeps the repeats, so they weight what it synthesizes."""
    if not 0 <= letter_share <= 1 or not 0 <= number_share <= 1 - letter_share:
        raise InputError(f"letter_share {letter_share} and number_share {number_share} must be "
                         "probabilities that add up to at most 1")
    words = words if words is not None else wordnet_slot_words().words
    if not words and letter_share + number_share < 1:
        raise InputError("isolated_word_utterances needs a word list (install wordnet-base)")
    rng = np.random.default_rng([seed, 6])
    for _ in range(count):
        u = rng.random()
        if u < letter_share:
            yield LETTERS[int(rng.integers(26))]
        elif u < letter_share + number_share:
            yield spell_number(int(rng.integers(_ISOLATED_NUMBERS)))
        else:
            yield words[int(rng.integers(len(words)))]
