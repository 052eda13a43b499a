"""What an order can be changed to: the store's catalogue of gemstones, metals and sizes.

The order backend validates change requests against it; the NLU data's lookup tables and
synonyms are generated from it (`bot nlu sync`), so there is one list to maintain.
"""

from __future__ import annotations

GEMSTONES: tuple[str, ...] = (
    "diamond",
    "moissanite",
    "sapphire",
    "ruby",
    "emerald",
    "aquamarine",
    "morganite",
    "amethyst",
    "alexandrite",
    "tourmaline",
)

METALS: tuple[str, ...] = ("white gold", "yellow gold", "rose gold", "platinum")

# Other ways shoppers write a catalogue value -> the catalogue value.
SYNONYMS: dict[str, str] = {
    "rosegold": "rose gold",
    "pink gold": "rose gold",
    "red gold": "rose gold",
    "rose": "rose gold",
    "whitegold": "white gold",
    "white": "white gold",
    "yellowgold": "yellow gold",
    "yellow": "yellow gold",
    "gold": "yellow gold",
    "plat": "platinum",
    "platnium": "platinum",
    "platinium": "platinum",
    "diamonds": "diamond",
    "saphire": "sapphire",
    "sapphires": "sapphire",
    "rubies": "ruby",
    "emeralds": "emerald",
    "moissanites": "moissanite",
    "moisanite": "moissanite",
}

# US ring sizes offered, in half sizes.
RING_SIZES: tuple[str, ...] = tuple(
    f"{whole}{'.5' if half else ''}" for whole in range(3, 14) for half in (0, 1)
)[:-1]


def ring_size_range() -> str:
    """The sizes offered, as a shopper reads them: "3 to 13"."""
    return f"{RING_SIZES[0]} to {RING_SIZES[-1]}"
