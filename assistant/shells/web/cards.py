"""Product cards, the product detail, the compare table and facet choices as the page shows them:
HTML escaped, photos by opaque URL. Cards are focusable (Enter or a click opens the detail, see
panels/results.py); products that share a title say what tells them apart."""

from __future__ import annotations

import html
from collections import defaultdict

from catalog.schema import Product

from assistant.retrieval.search import SearchResponse
from assistant.shells.web.served_images import PRODUCT_IMAGES

PLACEHOLDER = ("data:image/svg+xml;utf8,<svg xmlns='http://www.w3.org/2000/svg' width='160' height='160'>"
               "<rect width='100%25' height='100%25' fill='%23eef0f3'/><text x='50%25' y='52%25' "
               "font-size='14' text-anchor='middle' fill='%23889'>no photo</text></svg>")
EMPTY = "<div class='cards-empty'>No products to show yet.</div>"
MAX_COMPARE = 4


def e(text: object) -> str:
    return html.escape(str(text), quote=True)


def image_url(path: str) -> str:
    """The card's photo URL, escaped for the page; the placeholder when there is none."""
    return e(PRODUCT_IMAGES.photo_url(path) or PLACEHOLDER)


def _meta(p: Product) -> str:
    """The line under a card's title: price, type and brand, those the catalog has."""
    price = f"<span class='price'>{e(p.price_text())}</span>" if p.price is not None else ""
    return " · ".join(part for part in (price, e(p.leaf_category), e(p.brand)) if part)


def _facts(p: Product) -> list[tuple[str, str]]:
    """Every attribute of a product as (label, value), the record's fields first."""
    facts = [("Price", p.price_text() or ""), ("Brand", p.brand), ("Colour", ", ".join(p.colors)),
             ("Material", p.material), ("For", p.gender), ("Occasion", p.occasion),
             ("Category", " › ".join(p.category)),
             ("Rating", f"{p.rating:g} out of 5" + (f" ({p.rating_count} ratings)" if p.rating_count else "")
              if p.rating is not None else "")]
    facts += [(k[:1].upper() + k[1:], v) for k, v in p.attributes.items()]
    facts.append(("Item number", p.id))
    return [(k, str(v)) for k, v in facts if v not in ("", None)]


def distinguishers(products: list[Product]) -> dict[str, str]:
    """For products that share a title, a short note telling them apart: the first field whose
    values differ within the group (colour, brand, price, an attribute), else the item number."""
    groups: dict[str, list[Product]] = defaultdict(list)
    for p in products:
        groups[" ".join(p.title.split()).lower()].append(p)
    notes: dict[str, str] = {}
    for group in (g for g in groups.values() if len(g) > 1):
        for label, value in [("", lambda p: ", ".join(p.colors)), ("", lambda p: p.brand),
                             ("", lambda p: p.price_text() or ""), ("For ", lambda p: p.gender),
                             ("", lambda p: p.occasion), ("", lambda p: p.material)]:
            values = [value(p) for p in group]
            if all(values) and len(set(values)) == len(values):
                notes.update({p.id: f"{label}{v}" for p, v in zip(group, values)})
                break
        else:
            notes.update({p.id: f"item {p.id}" for p in group})
    return notes


def your_photo(thumbnail: str | None) -> str:
    """The shopper's own photo, kept on the page beside the results it found (a data URL)."""
    if not thumbnail:
        return ""
    return (f"<div class='your-photo'><img src='{e(thumbnail)}' alt='Your photo'/>"
            "<span>Results for your photo</span></div>")


def render_cards(response: SearchResponse | None, photo: str | None = None, summary: bool = True,
                 said: str | None = None) -> str:
    """The cards; `said` is the assistant's last reply, repeated above them on a phone (where the
    page scrolls to the results, away from the chat)."""
    said_html = f"<p class='said'>{e(said)}</p>" if said else ""
    if response is None or not response.results:
        return your_photo(photo) + EMPTY
    notes = distinguishers([r.product for r in response.results])
    cards = []
    for r in response.results:
        p = r.product
        note = f" <span class='tell-apart'>({e(notes[p.id])})</span>" if p.id in notes else ""
        title = f"{p.title} ({notes[p.id]})" if p.id in notes else p.title
        cards.append(
            f"<div class='card' data-product-id='{e(p.id)}' tabindex='0' role='button' "
            f"aria-label='{r.rank}. {e(title)}: open details'>"
            f"<img src='{image_url(p.image)}' alt='{e(p.title)}' loading='lazy'/>"
            f"<div class='title'>{r.rank}. {e(p.title)}{note}</div>"
            f"<div class='meta'>{_meta(p)}</div>"
            f"<div class='why'>{e(r.why)}</div></div>")
    if not summary:
        return "<div class='cards'>" + "".join(cards) + "</div>"
    shown = len(response.results)
    summary = (f"Showing {shown} of {response.total} match{'' if response.total == 1 else 'es'}"
               if response.total > shown else f"{shown} product{'' if shown == 1 else 's'}")
    return (said_html + your_photo(photo) + f"<p class='results-summary'>{summary}. Press Enter or click a card for details.</p>"
            "<div class='cards'>" + "".join(cards) + "</div>")


def render_detail(p: Product | None, note: str = "", in_compare: bool = False) -> str:
    """One product's detail: a large photo, every attribute, the price when the catalog has one,
    and the "More like this" / "Add to compare" / "Close" actions (data-action, panels/results.py)."""
    if p is None:
        return ""
    rows = "".join(f"<tr><th scope='row'>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in _facts(p))
    price = (f"<p class='detail-price'>{e(p.price_text())}</p>" if p.price is not None
             else "<p class='detail-price none'>This catalog lists no price for it.</p>")
    desc = f"<p class='detail-desc'>{e(p.description)}</p>" if p.description else ""
    title = e(p.title) + (f" <span class='tell-apart'>({e(note)})</span>" if note else "")
    compare = ("In compare ✓" if in_compare else "Add to compare")
    return (f"<section class='detail' data-product-id='{e(p.id)}' aria-label='Product details'>"
            f"<img class='detail-photo' src='{image_url(p.image)}' alt='{e(p.title)}'/>"
            f"<div class='detail-body'><h3 tabindex='-1'>{title}</h3>{price}{desc}"
            f"<table class='attrs'>{rows}</table><div class='detail-actions'>"
            f"<button type='button' data-action='more' data-id='{e(p.id)}'>More like this</button>"
            f"<button type='button' data-action='compare' data-id='{e(p.id)}'>{compare}</button>"
            f"<button type='button' data-action='close' data-id='{e(p.id)}'>Close</button>"
            "</div></div></section>")


def render_compare(products: list[Product]) -> str:
    """Products side by side: numbered columns with a thumbnail, rows for the fields any has."""
    if not products:
        return ""
    notes = distinguishers(products)
    head = "".join(f"<th scope='col'><span class='num'>{i}</span><img src='{image_url(p.image)}' alt=''/>"
                   f"<span class='ctitle'>{e(p.title)}</span>"
                   + (f"<span class='tell-apart'>({e(notes[p.id])})</span>" if p.id in notes else "")
                   + f"<button type='button' data-action='uncompare' data-id='{e(p.id)}' "
                   f"aria-label='Remove {i} from compare'>Remove</button></th>"
                   for i, p in enumerate(products, 1))
    facts = [dict(_facts(p)) for p in products]
    labels = list(dict.fromkeys(k for f in facts for k in f))
    body = "".join(f"<tr><th scope='row'>{e(k)}</th>" + "".join(f"<td>{e(f.get(k, '—'))}</td>" for f in facts)
                   + "</tr>" for k in labels)
    return (f"<section class='compare-panel' aria-label='Compare'><h3>Compare ({len(products)})</h3>"
            f"<div class='compare-scroll'><table class='compare'><thead><tr><th></th>{head}</tr></thead>"
            f"<tbody>{body}</tbody></table></div>"
            "<button type='button' data-action='clear-compare' data-id=''>Clear compare</button></section>")


def facet_choices(response: SearchResponse | None) -> list[str]:
    if response is None:
        return []
    active = set(response.filters.describe())
    return [f"{facet}: {value} ({n})" for facet, values in response.facets.items()
            for value, n in values if value not in active and n < response.total][:24]


def chips_of(response: SearchResponse | None) -> list[str]:
    """The active-filter chips: a text search's filters, or a photo search's filters + preferences."""
    if response is None:
        return []
    if response.mode == "photo":
        from assistant.vision.photo_index import photo_chips

        return photo_chips(response)
    return response.filters.describe()
