"""Text pool sources: spoken-command generators, template expansion, caps, composition."""
from __future__ import annotations

import re

import numpy as np
import pytest

from memasr.data import text, utterances
from memasr.data.tokenizer import normalize_text
from memasr.data.utterances import (SlotWords, TemplateExpander, agree_plurals, parse_template, spell_number,
                                    spell_year)
from memasr.errors import InputError

HAVE_WORDNET = (text.WORDNET_DIR / "data.noun").is_file()
needs_wordnet = pytest.mark.skipif(not HAVE_WORDNET, reason="Debian wordnet-base not installed")

SLOTS = SlotWords(area=["kitchen", "living room"], name=["desk lamp"], floor=["first floor"], food=["milk"],
                  artist=["bach"], place=["school"], genre=["jazz"], kin=["mother"], words=["cat", "dog"])
INTENTS = {  # the shape of home_assistant_intents.get_intents("en"), small
    "skip_words": ["please", "can you"],
    "expansion_rules": {"turn": "(turn|switch)", "the": "(the|my)"},
    "lists": {"brightness": {"range": {"from": 0, "to": 100}},
              "color": {"values": [{"in": "red", "out": "red"}, {"in": "1/2", "out": 30}, "blue"]}},
    "intents": {
        "HassTurnOn": {"data": [{"sentences": ["<turn> on [<the>] {area} light[s]", "(lights;on)"]}]},
        "HassLightSet": {"data": [{"sentences": ["set {name} to {brightness}%", "make it {color}"]}]},
        "HassUnknown": {"data": [{"sentences": ["call {nobody_knows}"]}]},
    },
}


def test_clean_sentence_length_bounds_per_source():
    assert text.clean_sentence("Stop!") is None  # prose default: at least 3 words
    assert text.clean_sentence("Stop!", min_words=1) == "stop"
    assert text.clean_sentence("next song please now", min_words=1, max_words=3) is None
    assert text.clean_passage("Lights on. Stop.", min_words=1) == ["lights on stop"]


def test_parse_template_syntax():
    rng = np.random.default_rng(0)
    expander = TemplateExpander.from_intents(INTENTS, SLOTS)
    node = parse_template("<turn> on [<the>] {area} light[s]")
    draws = {" ".join(expander.sample(node, rng).split()) for _ in range(200)}
    assert "turn on the kitchen lights" in draws and "switch on living room light" in draws
    assert all(re.fullmatch(r"(turn|switch) on ((the|my) )?(kitchen|living room) lights?", d) for d in draws)
    perm = {expander.sample(parse_template("(lights;on)"), rng) for _ in range(50)}
    assert perm == {"lights on", "on lights"}
    with pytest.raises(utterances.TemplateError):
        parse_template("(unclosed|group")
    with pytest.raises(utterances.TemplateError):
        parse_template("stray ) here")


def test_command_utterances_deterministic_spoken_and_skip_unknown_slots():
    first = list(utterances.command_utterances(seed=3, per_template=20, intents=INTENTS, slots=SLOTS))
    assert first == list(utterances.command_utterances(seed=3, per_template=20, intents=INTENTS, slots=SLOTS))
    assert first != list(utterances.command_utterances(seed=4, per_template=20, intents=INTENTS, slots=SLOTS))
    assert len(first) == 4 * 20  # the template with an unknown slot is skipped
    assert all(normalize_text(s) == s for s in first)
    assert any(re.fullmatch(r"(please |can you )?set desk lamp to [a-z ]+ percent", s) for s in first)
    colors = {s.split()[-1] for s in first if "make it" in s}
    assert colors == {"red", "blue"}  # "1/2" would be read digit by digit: left out


def test_spelled_numbers_follow_the_tokenizer():
    assert spell_number(1999) == normalize_text("1999") == "one thousand nine hundred ninety nine"
    assert spell_number(21, ordinal=True) == normalize_text("21st") == "twenty first"
    assert spell_year(1999) == "nineteen ninety nine"
    assert spell_year(2008) == "two thousand eight"
    assert agree_plurals("set a timer for fourteen hour") == "set a timer for fourteen hours"
    assert agree_plurals("one minute") == "one minute"
    assert agree_plurals("a five minute timer") == "a five minute timer"


@pytest.mark.parametrize("make", [utterances.number_utterances, utterances.time_date_utterances])
def test_number_and_time_generators(make):
    out = list(make(seed=1, count=400))
    assert out == list(make(seed=1, count=400)) and len(out) == 400
    assert all(s and normalize_text(s) == s and not any(c.isdigit() for c in s) for s in out)
    assert len(set(out)) > 150


def test_time_phrases_read_as_spoken():
    out = set(utterances.time_date_utterances(seed=0, count=3000))
    assert {"half past seven", "noon", "tomorrow"} <= out or any(s.startswith("quarter to") for s in out)
    assert any(re.fullmatch(r"(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve) oh "
                            r"(one|two|three|four|five|six|seven|eight|nine)", s) for s in out)
    assert any(re.fullmatch(r"(january|february|march|april|may|june|july|august|september|october|november|"
                            r"december) [a-z]+(st|nd|rd|th) [a-z ]+", s) for s in out)


def test_spelling_utterances():
    out = list(utterances.spelling_utterances(seed=0, count=300, words=["cat", "house"]))
    assert "c a t" in out or "h o u s e" in out
    singles = [s for s in out if all(len(w) == 1 for w in s.split())]
    assert singles and all(re.fullmatch(r"[a-z]( [a-z])*", s) for s in singles)


def test_isolated_word_utterances_are_one_word_letters_numbers_and_nouns():
    out = list(utterances.isolated_word_utterances(seed=0, count=2000, words=["cat", "house"]))
    assert out == list(utterances.isolated_word_utterances(seed=0, count=2000, words=["cat", "house"]))
    assert out != list(utterances.isolated_word_utterances(seed=1, count=2000, words=["cat", "house"]))
    assert all(len(s.split()) == 1 and normalize_text(s) == s for s in out)
    letters = [s for s in out if len(s) == 1]
    assert set(letters) == set(utterances.LETTERS)  # every letter, drawn with repeats
    assert 0.2 < len(letters) / len(out) < 0.3
    assert {"cat", "house", "zero", "twenty"} <= set(out)
    assert set(out) - {"cat", "house"} == utterances.closed_word_set()
    with pytest.raises(InputError):
        next(utterances.isolated_word_utterances(letter_share=0.8, number_share=0.3))


@needs_wordnet
def test_short_commands_are_one_to_four_words():
    out = list(utterances.short_command_utterances(seed=0, count=500))
    assert out and all(1 <= len(s.split()) <= 4 and normalize_text(s) == s for s in out)
    assert "stop" in out


@needs_wordnet
def test_wordnet_word_lists():
    words = utterances.wordnet_slot_words()
    assert {"kitchen", "bedroom", "bathroom"} <= set(words.area)
    assert "dishwasher" in words.name and "mother" in words.kin
    assert len(words.food) > 100 and len(words.words) > 1000


def test_capped_subset_is_stable():
    sentences = [f"sentence number {i}" for i in range(100)]
    kept = text._capped(sentences, 30)
    assert len(kept) == 30 and kept == [s for s in sentences if s in set(kept)]
    grown = text._capped(sentences + [f"another one {i}" for i in range(100)], 60)
    assert len(set(kept) - set(grown)) < 30  # a sentence's fate depends on its own hash
    assert text._capped(sentences, None) == sentences


def test_spoken_sources_registered_and_missing_source_names_package(monkeypatch, tmp_path):
    spoken = [n for n in text.SOURCES if text._SOURCES[n].kind == "spoken"]
    assert {"commands", "short-commands", "numbers", "times-dates", "spelling"} == set(spoken)
    assert all(text._SOURCES[n].min_words == 1 for n in spoken)
    monkeypatch.setattr(text, "GNOME_HELP_DIR", tmp_path / "nope")
    with pytest.raises(InputError, match="gnome-user-docs"):
        text.load_text_pool(("gnome-help",), cache_dir=tmp_path)


def test_pool_composition_counts_sources(tmp_path):
    rows = text.pool_composition(("numbers", "times-dates"))
    assert [r["source"] for r in rows] == ["numbers", "times-dates"]
    assert rows[0]["sentences"] == text._SOURCES["numbers"].cap
    assert sum(r["share"] for r in rows) == pytest.approx(1.0)
    assert all(r["mean_words"] == pytest.approx(r["words"] / r["sentences"]) for r in rows)
    pool = text.load_text_pool(("numbers", "times-dates"), cache_dir=tmp_path)
    assert len(pool) == sum(r["sentences"] for r in rows)
    assert pool == text.load_text_pool(("numbers", "times-dates"), cache_dir=tmp_path)  # cached, same order
