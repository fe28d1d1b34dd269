"""The catalog's own vocabulary (categories, colours, brands, genders, occasions, materials),
plus everyday synonyms mapped onto it, so query understanding speaks the store's language."""

from __future__ import annotations

from collections import Counter, defaultdict
import numpy as np
from dataclasses import dataclass, field
from functools import cached_property
from typing import Iterable

from catalog.schema import Product

from assistant.language.text import stem, words
from assistant.retrieval.facets import FACET_NAMES, FACETS, product_values

GENERIC_PARTS = frozenset("and or of the with set gift free accessory accessories other good goods "
                          "personal care home wear item".split())

# Everyday words -> catalog values they may stand for (kept only if the catalog has the value).
SYNONYMS: dict[str, dict[str, list[str]]] = {
    "color": {
        "gray": ["grey", "gray"], "grey": ["grey", "gray", "light gray", "dark gray"],
        "light grey": ["light gray", "grey"], "dark grey": ["dark gray", "charcoal", "grey"], "navy": ["navy blue", "blue"], "crimson": ["red"], "scarlet": ["red"],
        "wine": ["burgundy", "maroon"], "burgundy": ["burgundy", "maroon"], "golden": ["gold"],
        "violet": ["purple", "lavender"], "lilac": ["lavender", "purple"], "ivory": ["off white", "cream"],
        "offwhite": ["off white"], "camel": ["tan", "beige", "brown"], "chocolate": ["coffee brown", "brown"],
        "charcoal": ["charcoal", "grey"], "multicolor": ["multi"], "multicolour": ["multi"],
        "colourful": ["multi"], "colorful": ["multi"], "aqua": ["turquoise blue", "teal"],
        "turquoise": ["turquoise blue", "teal"], "sky blue": ["blue"], "light blue": ["blue"],
        "dark blue": ["navy blue", "blue"], "royal blue": ["blue"], "rose": ["pink"], "fuchsia": ["magenta", "pink"],
        "khaki": ["khaki", "olive"], "army green": ["olive", "green"], "mint": ["green", "sea green"],
        "stainless steel": ["steel", "silver"], "metallic": ["metallic", "silver"], "nude": ["skin", "beige"],
        "blush": ["pink", "peach"], "coral": ["peach", "orange"], "mustard": ["mustard", "yellow"],
        "ochre": ["mustard", "yellow"], "rust": ["rust", "orange"], "plum": ["purple"], "mauve": ["mauve", "purple"],
        # other languages (colour words shoppers type most)
        "negro": ["black"], "negra": ["black"], "noir": ["black"], "noire": ["black"], "schwarz": ["black"],
        "黑": ["black"], "黑色": ["black"], "blanco": ["white"], "blanca": ["white"], "blanc": ["white"],
        "blanche": ["white"], "weiss": ["white"], "白": ["white"], "白色": ["white"], "rojo": ["red"],
        "roja": ["red"], "rouge": ["red"], "rot": ["red"], "红": ["red"], "红色": ["red"], "azul": ["blue"],
        "bleu": ["blue"], "blau": ["blue"], "蓝": ["blue"], "蓝色": ["blue"], "verde": ["green"], "vert": ["green"],
        "grun": ["green"], "绿": ["green"], "绿色": ["green"], "gris": ["grey"], "grau": ["grey"], "灰": ["grey"],
        "灰色": ["grey"], "rosa": ["pink"], "rose clair": ["pink"], "粉": ["pink"], "粉色": ["pink"],
        "amarillo": ["yellow"], "jaune": ["yellow"], "gelb": ["yellow"], "黄": ["yellow"], "黄色": ["yellow"],
        "marron": ["brown"], "braun": ["brown"], "棕": ["brown"], "棕色": ["brown"], "咖啡色": ["brown"],
        "morado": ["purple"], "violeta": ["purple"], "紫": ["purple"], "紫色": ["purple"],
        "naranja": ["orange"], "橙": ["orange"], "橙色": ["orange"], "plata": ["silver"], "plateado": ["silver"],
        "argent": ["silver"], "银": ["silver"], "银色": ["silver"], "dorado": ["gold"], "oro": ["gold"],
        "金色": ["gold"], "beis": ["beige"], "米色": ["beige"],
        # more everyday shade names -> the nearest catalog colours
        "jet black": ["black"], "onyx": ["black"], "ebony": ["black"], "snow white": ["white"],
        "optic white": ["white"], "ecru": ["cream", "off white"],
        "cobalt": ["blue"], "sapphire": ["blue"], "azure": ["blue"], "denim blue": ["blue"], "indigo": ["navy blue", "blue"],
        "midnight blue": ["navy blue"], "emerald": ["green"], "forest green": ["green"], "bottle green": ["green"],
        "sage": ["olive", "green"], "lime": ["fluorescent green", "green"], "neon green": ["fluorescent green"],
        "ruby": ["red"], "cherry": ["red"], "oxblood": ["maroon", "burgundy"], "hot pink": ["pink", "magenta"],
        "baby pink": ["pink"], "salmon": ["peach", "pink"], "apricot": ["peach", "orange"], "tangerine": ["orange"],
        "lemon": ["yellow"], "gunmetal": ["grey", "steel"], "heather grey": ["grey melange", "grey"],
        "marl": ["grey melange"], "melange": ["grey melange"], "slate": ["grey", "charcoal"],
        "sand": ["beige", "khaki"], "oatmeal": ["beige", "cream"],
        "cognac": ["tan", "brown"], "chestnut": ["brown"], "mocha": ["coffee brown", "brown"],
        "espresso": ["coffee brown", "brown"], "rose gold": ["copper", "gold", "pink"], "champagne": ["gold", "beige"],
    },
    "gender": {
        "men": ["men"], "mens": ["men"], "man": ["men"], "male": ["men"], "him": ["men"], "his": ["men"],
        "gents": ["men"], "gent": ["men"], "guys": ["men"], "guy": ["men"], "gentlemen": ["men"],
        "husband": ["men"], "boyfriend": ["men"], "dad": ["men"], "father": ["men"],
        "women": ["women"], "womens": ["women"], "woman": ["women"], "ladies": ["women"], "lady": ["women"],
        "female": ["women"], "her": ["women"], "she": ["women"], "wife": ["women"], "girlfriend": ["women"],
        "mom": ["women"], "mother": ["women"], "womans": ["women"],
        "boys": ["boys"], "boy": ["boys"], "son": ["boys"], "girls": ["girls"], "girl": ["girls"],
        "daughter": ["girls"], "kids": ["boys", "girls"], "kid": ["boys", "girls"], "children": ["boys", "girls"],
        "child": ["boys", "girls"], "unisex": ["unisex"],
        "hombre": ["men"], "hombres": ["men"], "mujer": ["women"], "mujeres": ["women"], "homme": ["men"],
        "femme": ["women"], "herren": ["men"], "damen": ["women"], "男": ["men"], "男士": ["men"],
        "男款": ["men"], "女": ["women"], "女士": ["women"], "女款": ["women"],
        "gentleman": ["men"], "fellas": ["men"], "lads": ["men"], "womenswear": ["women"], "menswear": ["men"],
        "toddler": ["boys", "girls"], "infant": ["boys", "girls"], "baby": ["boys", "girls"], "teen": ["boys", "girls"],
    },
    "occasion": {
        "office": ["formal"], "work": ["formal"], "business": ["formal"], "wedding": ["ethnic", "party"],
        "traditional": ["ethnic"], "festive": ["ethnic"], "gym": ["sports"], "running": ["sports"],
        "workout": ["sports"], "training": ["sports"], "sport": ["sports"], "sporty": ["sports"],
        "athletic": ["sports"], "everyday": ["casual"], "daily": ["casual"], "party": ["party"],
        "interview": ["formal"], "meeting": ["formal"], "corporate": ["formal"], "evening": ["party"],
        "night out": ["party"], "festival": ["ethnic"], "diwali": ["ethnic"], "jogging": ["sports"],
        "yoga": ["sports"], "hiking": ["sports"], "trekking": ["sports"], "weekend": ["casual"],
    },
    "category": {
        "sneaker": ["casual shoes", "sports shoes", "sneakers"], "trainer": ["sports shoes", "sneakers"],
        "running shoe": ["sports shoes", "running shoes"], "tee": ["tshirts"], "tshirt": ["tshirts"],
        "polo": ["tshirts"], "purse": ["handbags", "wallets", "clutches"], "pocketbook": ["handbags"],
        "tote": ["handbags"], "specs": ["sunglasses"], "shades": ["sunglasses"], "goggles": ["sunglasses"],
        "pant": ["trousers"], "chinos": ["trousers"], "slacks": ["trousers"], "denim": ["jeans"],
        "jumper": ["sweaters"], "pullover": ["sweaters"], "cardigan": ["sweaters"], "hoodie": ["sweatshirts"],
        "hoody": ["sweatshirts"], "slipper": ["flip flops"], "slides": ["flip flops"], "chappal": ["flip flops", "sandals"],
        "pump": ["heels"], "stiletto": ["heels"], "high heel": ["heels"], "wristwatch": ["watches"],
        "timepiece": ["watches"], "rucksack": ["backpacks", "rucksacks"], "schoolbag": ["backpacks"],
        "billfold": ["wallets"], "cap": ["caps"], "hat": ["caps", "hat"], "undies": ["briefs"],
        "underwear": ["briefs", "trunk", "innerwear vests", "bra", "boxers"], "vest": ["innerwear vests"],
        "fragrance": ["perfume and body mist", "fragrance gift set", "deodorant"], "cologne": ["perfume and body mist"],
        "scent": ["perfume and body mist"], "gown": ["dresses"], "frock": ["dresses"], "joggers": ["track pants"],
        "sweatpants": ["track pants"], "trackpants": ["track pants"], "blazer": ["jackets"], "coat": ["jackets"],
        "necktie": ["ties"], "muffler": ["mufflers", "scarves"], "stole": ["stoles", "scarves"],
        "couch": ["sofas", "sofas & couches"], "settee": ["sofas"], "loveseat": ["sofas"],
        "lamp": ["lamps", "table lamps", "floor lamps"], "carpet": ["rugs", "area rugs"], "cushion": ["accent pillows", "pillows"],
        "duvet": ["bedding"], "comforter": ["bedding"], "quilt": ["bedding"],
        "zapatos": ["shoes"], "zapatillas": ["sports shoes", "casual shoes"], "camisa": ["shirts"],
        "camiseta": ["tshirts"], "reloj": ["watches"], "bolso": ["handbags"], "vestido": ["dresses"],
        "chaqueta": ["jackets"], "gafas de sol": ["sunglasses"], "tacones": ["heels"], "sac": ["handbags"],
        "sac a main": ["handbags"], "montre": ["watches"], "chaussures": ["shoes"], "robe": ["dresses"],
        "鞋": ["shoes"], "鞋子": ["shoes"], "运动鞋": ["sports shoes"], "手表": ["watches"], "表": ["watches"],
        "手提包": ["handbags"], "包": ["handbags"], "裙子": ["dresses", "skirts"], "连衣裙": ["dresses"],
        "衬衫": ["shirts"], "t恤": ["tshirts"], "高跟鞋": ["heels"], "太阳镜": ["sunglasses"], "墨镜": ["sunglasses"],
        "夹克": ["jackets"], "牛仔裤": ["jeans"], "沙发": ["sofas"], "钱包": ["wallets"], "背包": ["backpacks"],
        # more everyday product words (UK / US / Indian English) -> catalog types
        "loafer": ["casual shoes", "formal shoes"], "moccasin": ["casual shoes", "formal shoes"],
        "espadrille": ["casual shoes"], "plimsoll": ["casual shoes"], "boat shoe": ["casual shoes"],
        "canvas shoe": ["casual shoes"], "kicks": ["casual shoes", "sports shoes"], "slip on": ["casual shoes"],
        "runner": ["sports shoes"], "jogging shoe": ["sports shoes"], "athletic shoe": ["sports shoes"],
        "gym shoe": ["sports shoes"], "cleats": ["sports shoes"],
        "brogue": ["formal shoes"], "oxford": ["formal shoes"], "derby": ["formal shoes"], "wingtip": ["formal shoes"],
        "dress shoe": ["formal shoes"], "office shoe": ["formal shoes"], "monk strap": ["formal shoes"],
        "wedge": ["heels"], "platform": ["heels"], "kitten heel": ["heels"], "ballerina": ["flats"],
        "ballet pump": ["flats"], "ballet flat": ["flats"], "mule": ["flats", "heels"], "flat shoe": ["flats"],
        "juttis": ["flats"], "jutti": ["flats"], "mojari": ["flats", "casual shoes"], "floaters": ["sports sandals", "sandals"],
        "blouse": ["tops", "shirts"], "camisole": ["tops"], "cami": ["tops"], "tank top": ["tops"],
        "crop top": ["tops"], "button down": ["shirts"], "button up": ["shirts"], "dress shirt": ["shirts"],
        "polo shirt": ["tshirts"], "tee shirt": ["tshirts"], "graphic tee": ["tshirts"], "crew neck": ["tshirts", "sweaters"],
        "knitwear": ["sweaters"], "woolly": ["sweaters"], "sweatshirt": ["sweatshirts"],
        "hooded": ["sweatshirts", "jackets"], "windbreaker": ["jackets"], "windcheater": ["jackets"],
        "parka": ["jackets"], "anorak": ["jackets"], "raincoat": ["jackets", "rain jacket"], "bomber": ["jackets"],
        "puffer": ["jackets"], "overcoat": ["jackets"], "khakis": ["trousers"],
        "jegging": ["leggings", "jeggings"], "pyjamas": ["lounge pants", "night suits", "lounge shorts", "nightdress"],
        "pajamas": ["lounge pants", "night suits", "lounge shorts", "nightdress"], "pjs": ["lounge pants", "night suits"],
        "nightwear": ["loungewear and nightwear", "nightdress", "night suits"], "sleepwear": ["loungewear and nightwear", "nightdress", "night suits"],
        "loungewear": ["loungewear and nightwear"], "nightie": ["nightdress"], "nightgown": ["nightdress"],
        "brassiere": ["bra"], "bralette": ["bra"], "lingerie": ["bra", "briefs"], "knickers": ["briefs"],
        "panties": ["briefs"], "trunks": ["trunk"], "boxer": ["boxers", "trunk"], "boxer short": ["boxers", "trunk"], "undershirt": ["innerwear vests"],
        "singlet": ["innerwear vests"], "pantyhose": ["stockings"], "hosiery": ["stockings", "socks"],
        "nylons": ["stockings"], "shoulder bag": ["handbags"], "hand bag": ["handbags"], "satchel": ["handbags", "messenger bag"],
        "crossbody": ["handbags", "messenger bag"], "sling bag": ["handbags", "messenger bag"], "hobo bag": ["handbags"],
        "knapsack": ["backpacks", "rucksacks"], "daypack": ["backpacks", "rucksacks"], "back pack": ["backpacks"],
        "duffle": ["duffel bag"], "holdall": ["duffel bag"], "gym bag": ["duffel bag"], "travel bag": ["duffel bag"],
        "evening bag": ["clutches"], "card holder": ["wallets"], "cardholder": ["wallets"], "money clip": ["wallets"],
        "aviator": ["sunglasses"], "wayfarer": ["sunglasses"], "cuff link": ["cufflinks"], "bow tie": ["ties"],
        "baseball hat": ["caps"], "beanie": ["caps", "hat"], "mitten": ["gloves"], "brolly": ["umbrellas"],
        "parasol": ["umbrellas"], "body spray": ["deodorant", "perfume and body mist"], "deo": ["deodorant"],
        "antiperspirant": ["deodorant"], "roll on": ["deodorant"], "eau de toilette": ["perfume and body mist"],
        "eau de parfum": ["perfume and body mist"], "perfume": ["perfume and body mist"], "scarf": ["scarves", "stoles", "mufflers"],
        "jewelry": ["jewellery", "necklace and chains", "bracelet", "earrings", "pendant", "ring", "bangle"],
        "pendant": ["necklace and chains", "pendant"], "chain": ["necklace and chains"], "bangle": ["bangle", "bracelet"],
        "sundress": ["dresses"], "maxi": ["dresses", "skirts"], "tracksuit bottom": ["track pants"],
        "jogging bottom": ["track pants"], "jogger": ["track pants"], "jogging suit": ["tracksuits"],
        "phone case": ["mobile pouch"], "phone pouch": ["mobile pouch"], "laptop sleeve": ["laptop bag"],
        "computer bag": ["laptop bag"], "bolero": ["shrug"], "hairband": ["headband"], "hair band": ["headband"],
        "soccer ball": ["footballs"],
    },
    "material": {
        "wooden": ["wood", "oak", "walnut"], "wood": ["wood", "oak", "walnut"], "metal": ["steel", "metal", "iron"],
        "leatherette": ["faux leather"], "faux leather": ["faux leather"], "woolen": ["wool"], "woollen": ["wool"],
        "silk": ["silk"], "suede": ["suede"], "cuero": ["leather"], "cuir": ["leather"], "皮": ["leather"],
        "真皮": ["leather"], "algodon": ["cotton"], "coton": ["cotton"], "棉": ["cotton"],
    },
}


def _ves_forms(key: str) -> list[str]:
    """The other number of a key's last word where the plural stemmer cannot undo it:
    "scarve" (scarves) <-> "scarf", "knive" (knives) <-> "knife", "shelve" <-> "shelf"."""
    head, _, last = key.rpartition(" ")
    if last.endswith("ve"):
        alternatives = [last[:-2] + "f", last[:-2] + "fe"]
    elif last.endswith("fe"):
        alternatives = [last[:-2] + "ve"]
    elif last.endswith("f"):
        alternatives = [last[:-1] + "ve"]
    else:
        return []
    return [f"{head} {a}".strip() for a in alternatives]


def phrase_key(text: str) -> str:
    """Folded, stemmed form used to compare phrases ("Men's Shoes" -> "men shoe")."""
    return " ".join(stem(w) for w in words(text))


@dataclass
class Vocabulary:
    """Canonical facet values seen in a catalog, and phrase -> (facet, values) lookups."""

    values: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    phrases: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    heads: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    parts: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    known_words: set[str] = field(default_factory=set)
    ancestors: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))

    @classmethod
    def from_products(cls, products: Iterable[Product]) -> "Vocabulary":
        vocab = cls()
        for p in products:
            for facet in FACETS:  # every level of the category path is a value
                for value in product_values(p, facet):
                    vocab.values[facet.name][value] += 1
            if p.category:
                vocab.ancestors[p.category[-1]].update(p.category)
            vocab.known_words.update(words(p.search_text()))
        vocab._index()
        return vocab

    def _index(self) -> None:
        table: dict[str, list[tuple[str, str]]] = defaultdict(list)
        canonical: dict[str, dict[str, str]] = {f: {} for f in FACET_NAMES}
        for facet in FACET_NAMES:
            for value in self.values[facet]:
                key = phrase_key(value)
                if key:
                    canonical[facet][key] = value
                    table[key].append((facet, value))
        for value in self.values["category"]:  # a head word stands for every type it ends
            tokens = phrase_key(value).split()
            if len(tokens) > 1 and tokens[-1] not in GENERIC_PARTS:
                self.heads[tokens[-1]].add(value)
                for token in tokens[:-1]:  # "perfume" names "Perfume and Body Mist"
                    if token not in GENERIC_PARTS:
                        self.parts[token].add(value)
        for facet, synonyms in SYNONYMS.items():
            for word, targets in synonyms.items():
                key = phrase_key(word) or word
                for target in targets:
                    value = canonical[facet].get(phrase_key(target) or target)
                    if value and (facet, value) not in table[key]:
                        table[key].append((facet, value))
        genders = {phrase_key(g) for g in self.values["gender"]}
        for key, hits in table.items():  # "Men" as a category level is the gender, not a type
            if any(f == "gender" for f, _ in hits):
                table[key] = [(f, v) for f, v in hits if not (f == "category" and phrase_key(v) in genders)]
        self.phrases = dict(table)

    def lookup(self, key: str) -> list[tuple[str, str]]:
        """(facet, value) pairs a phrase key names; a bare head word ("shoe") names its types."""
        found = list(self.phrases.get(key, []))
        for form in ([] if found else _ves_forms(key)):  # "scarf" finds "Scarves", "shelves" "Shelf"
            found = list(self.phrases.get(form, []))
            if found:
                break
        if not found and key in self.heads:
            found = [("category", v) for v in sorted(self.heads[key])]
        if not found and key in self.parts:
            found = [("category", v) for v in sorted(self.parts[key])]
        return found

    @cached_property
    def two_word_neighbours(self) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
        """For two-word keys: first word -> the second words it takes, and second word -> the
        first words before it, for mending a phrase with one misspelt word ("dress shaes")."""
        after: dict[str, list[str]] = defaultdict(list)
        before: dict[str, list[str]] = defaultdict(list)
        for key in self.phrases:
            parts = key.split()
            if len(parts) == 2:
                after[parts[0]].append(parts[1])
                before[parts[1]].append(parts[0])
        return dict(after), dict(before)

    def frequency(self, key: str) -> int:
        """How many products carry the values a key names (breaks ties between typo guesses)."""
        return sum(self.values[facet][value] for facet, value in self.lookup(key))

    def single_word_forms(self) -> dict[str, str]:
        """Spelling forms (stem and plural) of one-word keys, for fuzzy matching of typos."""
        keys = set(self.phrases) | set(self.heads) | set(self.parts)
        forms: dict[str, str] = {}
        for key in keys:
            if " " not in key and len(key) >= 4:
                forms.setdefault(key, key)
                forms.setdefault(key + "s", key)
        return forms


class CategoryMatcher:
    """Names a product type from words the vocabulary does not know ("jogging shoes",
    "brassiere", "slacks"): the phrase's embedding is compared with each leaf category's
    prototype (its name's embedding plus the centroid of its products' embeddings)."""

    MIN_SCORE = 0.6
    TIE_MARGIN = 0.03

    def __init__(self, encoder, names: list[str], prototypes: np.ndarray) -> None:
        self.encoder, self.names, self.prototypes = encoder, names, prototypes
        self._cache: dict[str, list[tuple[str, float]]] = {}

    @classmethod
    def from_catalog(cls, encoder, products: list[Product], vectors: np.ndarray) -> "CategoryMatcher":
        names = sorted({p.category[-1] for p in products if p.category})
        if not names:  # a store export without categories: nothing to name, nothing to match
            return cls(encoder, [], np.zeros((0, vectors.shape[1]), dtype=np.float32))
        index = {n: i for i, n in enumerate(names)}
        centroids = np.zeros((len(names), vectors.shape[1]), dtype=np.float32)
        for p, v in zip(products, vectors):
            if p.category:
                centroids[index[p.category[-1]]] += v
        centroids /= np.maximum(np.linalg.norm(centroids, axis=1, keepdims=True), 1e-9)
        protos = centroids + encoder.encode_documents(names)
        protos /= np.maximum(np.linalg.norm(protos, axis=1, keepdims=True), 1e-9)
        return cls(encoder, names, protos.astype(np.float32))

    def match(self, phrase: str) -> list[tuple[str, float]]:
        """Categories whose prototype is close to the phrase (best first); empty if none is."""
        phrase = phrase.strip()
        if not phrase or not self.names:
            return []
        if phrase not in self._cache:
            scores = self.prototypes @ self.encoder.encode_queries([phrase])[0]
            best = float(scores.max())
            keep = np.flatnonzero(scores >= max(self.MIN_SCORE, best - self.TIE_MARGIN))
            self._cache[phrase] = sorted(((self.names[i], float(scores[i])) for i in keep),
                                         key=lambda x: -x[1])
            if len(self._cache) > 10_000:
                self._cache.pop(next(iter(self._cache)))
        return self._cache[phrase]
