"""Product cards and facet choices as the page shows them: HTML escaped, photos by opaque URL."""

from __future__ import annotations

import html

from assistant.retrieval.search import SearchResponse
from assistant.shells.web.served_images import PRODUCT_IMAGES

PLACEHOLDER = ("data:image/svg+xml;utf8,<svg xmlns='http://www.w3.org/2000/svg' width='160' height='160'>"
               "<rect width='100%25' height='100%25' fill='%23eef0f3'/><text x='50%25' y='52%25' "
               "font-size='14' text-anchor='middle' fill='%23889'>no photo</text></svg>")


def image_url(path: str) -> str:
    """The card's photo URL, escaped for the page; the placeholder when there is none."""
    return html.escape(PRODUCT_IMAGES.photo_url(path) or PLACEHOLDER, quote=True)


def render_cards(response: SearchResponse | None) -> str:
    if response is None or not response.results:
        return "<div class='cards-empty'>No products to show yet.</div>"
    cards = []
    for r in response.results:
        p = r.product
        price = f"<span class='price'>${p.price:,.2f}</span> · " if p.price is not None else ""
        cards.append(
            f"<div class='card' data-product-id='{html.escape(p.id)}'>"
            f"<img src='{image_url(p.image)}' alt='{html.escape(p.title)}' loading='lazy'/>"
            f"<div class='title'>{r.rank}. {html.escape(p.title)}</div>"
            f"<div class='meta'>{price}{html.escape(p.leaf_category)}"
            f"{' · ' + html.escape(p.brand) if p.brand else ''}</div>"
            f"<div class='why'>{html.escape(r.why)}</div></div>")
    return "<div class='cards'>" + "".join(cards) + "</div>"


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
