"""Free-text address matching against the standard address registry (DESIGN §4 flow 5).

Text is normalised (full/half width, Chinese numerals, 号/栋/幢/单元/室 variants) and fuzzy-matched
with rapidfuzz among the addresses of one community (or station), returning scored candidates.
"""
from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass

from rapidfuzz import fuzz, process
from sqlalchemy import select

from app.extensions import db
from app.models import Address

CN_DIGITS = {"零": 0, "〇": 0, "○": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5,
             "六": 6, "七": 7, "八": 8, "九": 9}
CN_UNITS = {"十": 10, "百": 100, "千": 1000}
_CN_NUMBER = re.compile(r"[零〇○一二两三四五六七八九十百千]+")
_VARIANTS = [
    (re.compile(r"(号楼|栋|座|楼栋)"), "幢"),
    (re.compile(r"(\d+)楼(?=\d+单元|\d+室|\d)"), r"\1幢"),  # "3楼2单元" as building
    (re.compile(r"(单元|门洞)"), "单元"),
    (re.compile(r"(号房|房间|房|户)$"), "室"),
    (re.compile(r"(层|楼)(?=\d+室)"), "层"),
]
_NOISE = re.compile(r"[\s\-_#,，。.、/\\()（）]+")
AUTO_ACCEPT_SCORE = 92.0  # best candidate at or above this, and clearly ahead, fixes the address
CLEAR_LEAD = 4.0


def _cn_to_int(text: str) -> int:
    if all(c in CN_DIGITS for c in text):  # digit by digit: 二〇一 → 201
        return int("".join(str(CN_DIGITS[c]) for c in text))
    total, current = 0, 0
    for c in text:
        if c in CN_DIGITS:
            current = CN_DIGITS[c]
        else:
            total += (current or 1) * CN_UNITS[c]
            current = 0
    return total + current


def normalise_address(text: str) -> str:
    """Canonical address text for matching: half-width, Arabic numerals, one spelling per unit."""
    folded = "".join(
        chr(ord(c) - 0xFEE0) if 0xFF01 <= ord(c) <= 0xFF5E else (" " if c == "\u3000" else c)
        for c in (text or "")
    )
    folded = _NOISE.sub("", folded).lower()
    folded = _CN_NUMBER.sub(lambda m: str(_cn_to_int(m.group())), folded)
    for pattern, replacement in _VARIANTS:
        folded = pattern.sub(replacement, folded)
    return folded


@dataclass(frozen=True)
class Candidate:
    address_id: int
    full_text: str
    score: float

    def as_dict(self) -> dict:
        return {"address_id": self.address_id, "full_text": self.full_text,
                "score": round(self.score, 1)}


class _ScopeCache:
    """Normalised texts per community/station, shared by the jobs of one worker process."""

    def __init__(self, ttl: float = 300.0, max_scopes: int = 256):
        self.ttl, self.max_scopes = ttl, max_scopes
        self._data: dict[tuple, tuple[float, dict[int, str], dict[int, str]]] = {}
        self._lock = threading.Lock()

    def get(self, scope: tuple) -> tuple[dict[int, str], dict[int, str]]:
        now = time.monotonic()
        with self._lock:
            hit = self._data.get(scope)
            if hit and now - hit[0] < self.ttl:
                return hit[1], hit[2]
        kind, scope_id = scope
        column = Address.community_id if kind == "community" else Address.station_id
        rows = db.session.execute(
            select(Address.id, Address.full_text, Address.aliases)
            .where(column == scope_id, Address.status == "active")
        ).all()
        normalised: dict[int, str] = {}
        full: dict[int, str] = {}
        for address_id, full_text, aliases in rows:
            full[address_id] = full_text
            normalised[address_id] = normalise_address(full_text)
            for i, alias in enumerate(aliases or []):
                # Aliases compete under a derived key and are folded back to their address.
                normalised[-(address_id * 100 + i + 1)] = normalise_address(alias)
        with self._lock:
            if len(self._data) >= self.max_scopes:
                self._data.pop(next(iter(self._data)))
            self._data[scope] = (now, normalised, full)
        return normalised, full

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


scope_cache = _ScopeCache()


def match_address(text: str, *, community_id: int | None = None,
                  station_id: int | None = None, limit: int = 5) -> list[Candidate]:
    """Best standard-address candidates for free text within a community (or station)."""
    if community_id is None and station_id is None:
        raise ValueError("match_address needs a community or a station to search within")
    query = normalise_address(text)
    if not query:
        return []
    scope = ("community", community_id) if community_id is not None else ("station", station_id)
    normalised, full = scope_cache.get(scope)
    results = process.extract(query, normalised, scorer=fuzz.ratio, limit=limit * 3,
                              score_cutoff=50)
    best: dict[int, float] = {}
    for _choice, score, key in results:
        address_id = key if key > 0 else (-key) // 100
        best[address_id] = max(best.get(address_id, 0.0), score)
    ranked = sorted(best.items(), key=lambda kv: -kv[1])[:limit]
    return [Candidate(address_id, full[address_id], score) for address_id, score in ranked]


def decisive(candidates: list[Candidate]) -> Candidate | None:
    """The candidate to accept without an officer: high score and clearly ahead of the next."""
    if not candidates or candidates[0].score < AUTO_ACCEPT_SCORE:
        return None
    if len(candidates) > 1 and candidates[0].score - candidates[1].score < CLEAR_LEAD:
        return None
    return candidates[0]
