"""The offers a dispatcher has made and not yet forgotten, and how it numbers them.

Every quote that ends in an :class:`~matching.Offer` is kept as a :class:`Quote` (the request,
the offer, the stops and where the ride would go: a :class:`QuotedInsertion`) until the offer is
booked, or expires unbooked and the next quote forgets it (a busy server quotes hundreds of times
a second). A forgotten offer's id still reads as expired, not as unknown: the numbers of the
offers forgotten here form one range, all made by this book.

Offer ids are ``offer-<number>-<16 hex digits>``: the number counts up (:attr:`OpenOffers.last_number`
is persisted, so no number is given twice, even across restarts); the suffix is random
(:mod:`secrets`, 64 bits), so that nobody can guess another rider's offer.
"""

from __future__ import annotations

import re
import secrets
from collections import deque
from collections.abc import Container
from dataclasses import dataclass

from .errors import ConflictError, NotFoundError
from .model import Offer, Request
from .service_area import StopPair

#: The ids of offers: ``offer-<number>-<random suffix>`` (ids of older versions have no suffix).
_OFFER_NUMBER = re.compile(r"offer-([0-9]{1,18})(?:-[0-9a-f]{1,32})?")


def offer_number(offer_id: str) -> int | None:
    """The sequence number in an offer id of a dispatcher (None if ``offer_id`` is not one)."""
    match = _OFFER_NUMBER.fullmatch(offer_id)
    return int(match[1]) if match else None


@dataclass(frozen=True)
class QuotedInsertion:
    """Where a quote put its ride, and the limits it was quoted with: booking the offer at once
    (:meth:`Dispatcher.quote_and_book <matching.dispatcher.Dispatcher.quote_and_book>`) inserts it
    there without searching again.

    ``pickup_idx`` and ``dropoff_idx`` are as :func:`routing.alns.insert_nodes` takes them: the
    pickup lands at position ``pickup_idx`` of the vehicle's new route and the drop-off at
    ``dropoff_idx + 1`` (position 0 is the vehicle's start)."""

    vehicle: int
    pickup_idx: int
    dropoff_idx: int
    max_ride_s: int  # the longest ride allowed (ServiceParams.max_ride_s of the direct time)
    earliest_pickup_s: int  # the requested time, or now if that is later


@dataclass
class Quote:
    """An offer made, with what booking it needs; ``booked_ride`` is the ride once booked."""

    request: Request
    offer: Offer
    stops: StopPair
    insertion: QuotedInsertion
    booked_ride: str | None = None

    @property
    def vehicle(self) -> int:
        """The vehicle the offer was made for."""
        return self.insertion.vehicle


class OpenOffers:
    """The offers made and not forgotten, by id (see the module docstring)."""

    def __init__(self) -> None:
        self._quotes: dict[str, Quote] = {}
        # Offers in the order made: (valid until, number, id).
        self._queue: deque[tuple[int, int, str]] = deque()
        # The first and the last number of the offers forgotten so far.
        self._forgotten: tuple[int, int] | None = None
        #: number of the last offer made (offer ids are never reused, also across restores)
        self.last_number = 0

    def __len__(self) -> int:
        return len(self._quotes)

    def next_id(self) -> str:
        """A new offer id: ``offer-<n>-<16 hex digits>``, ``n`` the next :attr:`last_number`."""
        self.last_number += 1
        return f"offer-{self.last_number}-{secrets.token_hex(8)}"

    def add(self, quote: Quote) -> None:
        """Keep ``quote``, whose offer has the id :meth:`next_id` gave last."""
        offer = quote.offer
        self._quotes[offer.offer_id] = quote
        self._queue.append((offer.valid_until_s, self.last_number, offer.offer_id))

    def get(self, offer_id: str) -> Quote:
        """The quote behind ``offer_id``; ConflictError if it expired and was forgotten, else NotFoundError."""
        quote = self._quotes.get(offer_id)
        if quote is not None:
            return quote
        number = offer_number(offer_id)
        forgotten = self._forgotten
        if number is not None and forgotten is not None and forgotten[0] <= number <= forgotten[1]:
            raise ConflictError(f"offer {offer_id} expired")
        raise NotFoundError("offer", offer_id)

    def forget_expired(self, now_s: int) -> None:
        """Drop the offers that expired before ``now_s`` without being booked."""
        queue = self._queue
        while queue and queue[0][0] < now_s:
            _, number, offer_id = queue.popleft()
            quote = self._quotes.get(offer_id)
            if quote is not None and quote.booked_ride is None:
                del self._quotes[offer_id]
                first = number if self._forgotten is None else self._forgotten[0]
                self._forgotten = (first, number)

    def adopt(self, other: OpenOffers, rides: Container[str]) -> None:
        """Take over ``other``'s open offers and numbering (a rebuilt dispatcher takes over from
        the one it replaces): its offers not booked, and those booked as one of ``rides``."""
        self.last_number = max(self.last_number, other.last_number)
        for offer_id, quote in other._quotes.items():
            if quote.booked_ride is None or quote.booked_ride in rides:
                self._quotes.setdefault(offer_id, quote)
        self._queue = deque(item for item in other._queue if item[2] in self._quotes)
        self._forgotten = other._forgotten
