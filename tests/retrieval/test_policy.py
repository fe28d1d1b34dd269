"""One ranking policy, one facet table, no reaching into another module's private names.

The policy tests use a six-product catalog written here and the real search engine, so the
table of expectations can be read next to the products."""

from __future__ import annotations

import ast
import json
from dataclasses import fields
from pathlib import Path

import pytest

from assistant.core import Assistant
from assistant.language.understand import ParsedQuery
from assistant.retrieval.facets import (FACET_NAMES, FACETS, FILTER_FIELDS, RELAX_ORDER, Constraints, Filters,
                                        accepted, missed, satisfied)
from assistant.retrieval.policy import Candidates, RankingPolicy
from assistant.vision.photo_index import ATTRIBUTES
from catalog.schema import Product
from tests.shells.test_cli import run_cli

ROOT = Path(__file__).resolve().parents[2]
RUNTIME = [p for p in (ROOT / "assistant").rglob("*.py")] + list((ROOT / "evaluation").rglob("*.py"))
FIRST_PARTY = ("assistant", "evaluation", "catalog")

PRODUCTS = [  # position: title, type, colour, gender
    dict(id="p0", title="Canvas Backpack", category=["Bags", "Backpacks"], colors=["Blue"], gender="Unisex"),
    dict(id="p1", title="Leather Backpack", category=["Bags", "Backpacks"], colors=["Brown"], gender="Men"),
    dict(id="p2", title="Red Summer Dress", category=["Apparel", "Dresses"], colors=["Red"], gender="Women"),
    dict(id="p3", title="Red Tote", category=["Bags", "Totes"], colors=["Red"], gender="Women"),
    dict(id="p4", title="Blue Dress", category=["Apparel", "Dresses"], colors=["Blue"], gender="Women"),
    dict(id="p5", title="Black Watch", category=["Accessories", "Watches"], colors=["Black"], gender="Men"),
]


@pytest.fixture(scope="module")
def tiny(settings, tmp_path_factory):
    """(assistant, catalog name, catalog file) for the six products above, indexed with the real models."""
    path = tmp_path_factory.mktemp("tiny") / "tinyshop.jsonl"
    path.write_text("\n".join(json.dumps(p | {"price": 10.0 + i}) for i, p in enumerate(PRODUCTS)) + "\n")
    settings = settings.model_copy(update={"index_dir": path.parent / "indexes"})
    assistant = Assistant(settings, progress=False)
    return assistant, settings.register_path(str(path)), path


# ---------------------------------------------------------------------- one facet table
def test_constraints_hold_one_list_per_facet_of_the_table():
    facet_fields = [f.name for f in fields(Constraints) if f.name not in ("price_min", "price_max", "exclude")]
    assert facet_fields == [f.field for f in FACETS]
    assert {f.name for f in fields(Constraints)} <= {f.name for f in fields(ParsedQuery)}
    assert list(FILTER_FIELDS) == facet_fields and sorted(RELAX_ORDER) == sorted(facet_fields)
    assert ATTRIBUTES == tuple(f.name for f in FACETS if f.photo)


def test_cli_has_one_flag_per_facet_and_each_is_a_hard_filter(tiny):
    _, _, path = tiny
    values = {"category": "Totes", "color": "Red", "gender": "Women", "brand": "Nobrand",
              "occasion": "Never", "material": "Tin"}
    assert set(values) == set(FACET_NAMES)
    flags = [arg for facet in FACETS for arg in (f"--{facet.name}", values[facet.name])]
    proc = run_cli("search", "tote", "--catalog", str(path), "--json", *flags, index_dir=path.parent / "cli")
    assert proc.returncode == 0, proc.stderr
    shown = json.loads(proc.stdout)
    # no product has those brand/occasion/material values: they give way, the others hold
    assert shown["relaxed"] == ["occasions", "materials", "brands"]
    assert shown["filters"] == ["Totes", "Red", "Women"] and [r["id"] for r in shown["results"]] == ["p3"]


def _facet_lists(tree: ast.AST) -> list[int]:
    """Line numbers of literal lists of three or more facets: a tuple/list/set of their names or
    fields, or a dict from names to fields (per-facet settings keyed by name are not lists)."""
    names = set(FACET_NAMES) | set(FILTER_FIELDS)

    def named(node) -> bool:
        return isinstance(node, ast.Constant) and node.value in names
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            hits = sum(map(named, node.elts))
        elif isinstance(node, ast.Dict):
            hits = sum(named(k) and named(v) for k, v in zip(node.keys, node.values))
        else:
            continue
        if hits >= 3:
            found.append(node.lineno)
    return found


def test_search_photo_understanding_and_cli_read_the_facet_table():
    """The places that used to declare the facet list each (search.py twice, understand.py,
    vocabulary.py, photo_index.py, the CLI) now read `FACETS`."""
    readers = [*(ROOT / "assistant" / "retrieval").glob("*.py"), ROOT / "assistant" / "vision" / "photo_index.py",
               ROOT / "assistant" / "language" / "understand.py", ROOT / "assistant" / "language" / "vocabulary.py",
               ROOT / "assistant" / "shells" / "cli" / "main.py"]
    table = ROOT / "assistant" / "retrieval" / "facets.py"
    listed = {str(p.relative_to(ROOT)): lines for p in readers if p != table
              if (lines := _facet_lists(ast.parse(p.read_text())))}
    assert listed == {}
    # the check does see the lists that were there before
    assert _facet_lists(ast.parse('FACETS = ("category", "color", "brand", "gender")')) == [1]
    assert _facet_lists(ast.parse('F = {"category": "categories", "color": "colors", "brand": "brands"}')) == [1]


# ---------------------------------------------------------------------- private names
def _private_uses(path: Path) -> list[str]:
    """`from first_party import _name` anywhere; `obj._name` on anything but self/cls."""
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in FIRST_PARTY:
            out += [f"{node.lineno}: import {a.name}" for a in node.names
                    if a.name.startswith("_") and not a.name.startswith("__")]
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__") \
                and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")):
            out.append(f"{node.lineno}: .{node.attr}")
    return out


def test_no_module_uses_another_modules_private_names():
    imports = {str(p.relative_to(ROOT)): [u for u in _private_uses(p) if "import" in u] for p in RUNTIME}
    assert {k: v for k, v in imports.items() if v} == {}
    ranking = [*(ROOT / "assistant" / "retrieval").glob("*.py"), ROOT / "assistant" / "vision" / "photo_index.py"]
    assert {str(p.relative_to(ROOT)): u for p in ranking if (u := _private_uses(p))} == {}


# ---------------------------------------------------------------------- gender inclusion
def test_a_unisex_product_meets_a_wish_for_any_gender_everywhere():
    unisex = Product(**PRODUCTS[0])
    for gender in ("Men", "Women", "Boys", "Girls"):
        assert accepted("gender", [gender]) == {gender, "Unisex"}
    assert accepted("gender", ["Unisex"]) == {"Unisex"} and accepted("color", ["Blue"]) == {"Blue"}
    women = Filters(genders=["Women"])
    assert satisfied(unisex, women) == ["Unisex"] and missed(unisex, women) == []
    policy = RankingPolicy([Product(**p) for p in PRODUCTS])
    assert policy.mask(women).tolist() == [True, False, True, True, True, False]
    assert policy.weight(unisex, women) == policy.weight(None, women)


def test_gave_way_names_only_what_the_top_result_misses(tiny):
    """'red backpack for women': no red backpack for women; the closest is the blue unisex one.
    Only the colour gave way: a unisex backpack is for women too (it used to report gender)."""
    assistant, name, _ = tiny
    response = assistant.search("red backpack for women", catalog=name, k=3)
    top = response.results[0]
    assert response.exact_total == 0 and top.product.id == "p0"
    assert top.missed_attributes == ["Red"]
    assert response.relaxed == ["colors"]


# ---------------------------------------------------------------------- the policy's steps
def test_plan_relaxes_facets_in_the_table_order_and_keeps_price_hard():
    policy = RankingPolicy([Product(**p, price=10.0 + i) for i, p in enumerate(PRODUCTS)])
    plan = policy.plan(Filters(categories=["Watches"], colors=["Red"], genders=["Women"], price_max=20.0),
                       Filters())
    # nothing is a red women's watch: colour gives way before gender, gender before type
    assert plan.relaxed == ["colors", "genders"] and plan.hard.categories == ["Watches"]
    assert plan.hard_mask.tolist() == [False] * 5 + [True] and plan.pools == [plan.hard_mask]
    impossible = policy.plan(Filters(price_max=1.0), Filters(colors=["Red"]))
    assert impossible.relaxed == [] and not impossible.hard_mask.any()
    prefer = policy.plan(Filters(), Filters(categories=["Dresses"], colors=["Red"]))
    assert [m.tolist() for m in prefer.pools[:2]] == [[False, False, True, False, False, False],
                                                      [False, False, True, False, True, False]]
    assert prefer.pools[2] is None  # no hard filter: the last pool is the whole catalog


def test_order_puts_typed_then_the_very_item_then_preferences_then_score():
    policy = RankingPolicy([Product(**p) for p in PRODUCTS])
    plan = policy.plan(Filters(), Filters(categories=["Dresses"], colors=["Blue"]), Filters(colors=["Blue"]))
    score = {0: 0.9, 1: 0.8, 2: 0.7, 3: 0.95, 4: 0.1, 5: 0.99}
    # typed blue first (p4 blue dress, p0 blue backpack), then p5 the very item, then dresses, then score
    assert policy.order(Candidates(score, first={5}), plan) == [4, 0, 5, 2, 3, 1]
    assert policy.order(Candidates(score), policy.plan(Filters(), Filters())) == [5, 3, 0, 1, 2, 4]
