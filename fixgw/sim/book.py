"""Orders and the price-time priority book of one market (pure core).

Both products use one book per market in the price the wire speaks: on event
contracts that is the YES price, so a Sell at p (= buy NO at 1 - p) is an ask at
p and a Buy at p crosses every resting Sell priced at or below p. Margin is the
same plain bid/ask book in dollars. Trades print at the resting order's price.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from zoneinfo import ZoneInfo

from fixgw.models.fix import OrdStatus, Party, SelfTradePrevention, Side, TimeInForce, subtrader_of

ZERO = Decimal(0)
TICK = Decimal("0.0001")  # event subpenny grid and margin tick alike
ET = ZoneInfo("America/New_York")


@dataclass(frozen=True)
class Flags:
    """What a session's Logon asked for; every report is shaped by its own session's flags."""

    skip_pending: bool = False  # 21011
    always_new: bool = False  # 21026
    ioc_cancel_report: bool = False  # 21007
    preserve_qty: bool = False  # 21008
    use_expired: bool = False  # 21012
    cancel_on_disconnect: bool = False  # 8013
    cents: bool = False  # no 21005 on an event session: prices are whole cents


@dataclass
class Order:
    """A live or finished order. ``session``/``flags`` follow the last session that changed it."""

    order_id: str
    account: str
    session: str | None
    flags: Flags
    cl_ord_id: str
    symbol: str
    side: Side
    price: Decimal
    requested_qty: Decimal  # the last 38 the client sent (reported when 21008=Y)
    leaves: Decimal
    seq: int  # time priority: lower is earlier
    tif: TimeInForce | None = None
    expire_at: dt.datetime | None = None
    post_only: bool = False
    stp: SelfTradePrevention | None = None
    subaccount: int = 0
    alloc_account: int | None = None
    group_id: str | None = None
    cum: Decimal = ZERO
    notional: Decimal = ZERO  # sum of LastQty * LastPx, for AvgPx
    status: OrdStatus = OrdStatus.NEW
    acked: bool = False  # a 39=0 or a fill has been reported
    parties: tuple[Party, ...] = ()  # 453 as the order carried it (FCM: the sub-trader), echoed on reports

    @property
    def subtrader(self) -> str | None:
        return subtrader_of(self.parties)

    @property
    def owner(self) -> str:
        """Whose book a fill lands in: the account, or ``account/sub-trader`` for an FCM order."""
        return owner(self.account, self.subtrader)

    @property
    def live(self) -> bool:
        return self.status in (OrdStatus.NEW, OrdStatus.PARTIALLY_FILLED)

    @property
    def avg_px(self) -> Decimal:
        return (self.notional / self.cum).quantize(TICK) if self.cum else ZERO

    def fill(self, qty: Decimal, price: Decimal) -> None:
        self.cum += qty
        self.leaves -= qty
        self.notional += qty * price
        self.status = OrdStatus.FILLED if self.leaves == 0 else OrdStatus.PARTIALLY_FILLED


def owner(account: str, subtrader: str | None = None) -> str:
    """The ledger's name for an account, or for one FCM sub-trader of it."""
    return account if subtrader is None else f"{account}/{subtrader}"


def crosses(side: Side, price: Decimal, resting: Decimal) -> bool:
    """Would an incoming order at ``price`` trade with a resting opposite order at ``resting``?"""
    return resting <= price if side is Side.BUY else resting >= price


class Book:
    """Bids best-first (high price, then early seq); asks best-first (low price, then early seq)."""

    def __init__(self) -> None:
        self.bids: list[Order] = []
        self.asks: list[Order] = []

    def side(self, side: Side) -> list[Order]:
        return self.bids if side is Side.BUY else self.asks

    def opposite(self, side: Side) -> list[Order]:
        return self.asks if side is Side.BUY else self.bids

    def add(self, order: Order) -> None:
        rows = self.side(order.side)
        key = _key(order)
        i = len(rows)
        while i > 0 and _key(rows[i - 1]) > key:
            i -= 1
        rows.insert(i, order)

    def remove(self, order: Order) -> None:
        rows = self.side(order.side)
        for i, o in enumerate(rows):
            if o is order:
                del rows[i]
                return

    def best(self, side: Side) -> Order | None:
        rows = self.side(side)
        return rows[0] if rows else None

    def crossing(self, side: Side, price: Decimal) -> list[Order]:
        """Resting opposite orders an incoming order at ``price`` would reach, in priority order."""
        out = []
        for o in self.opposite(side):
            if not crosses(side, price, o.price):
                break
            out.append(o)
        return out

    def crossed(self) -> bool:
        return bool(self.bids and self.asks and self.bids[0].price >= self.asks[0].price)


def _key(o: Order) -> tuple[Decimal, int]:
    return (-o.price if o.side is Side.BUY else o.price, o.seq)


def taker_fee(product: str, qty: Decimal, price: Decimal) -> Decimal:
    """Event: 7% of q*p*(1-p) rounded up to the cent; margin: 2 bp of notional up to $0.0001."""
    if product == "event":
        return (Decimal("0.07") * qty * price * (1 - price)).quantize(Decimal("0.01"), ROUND_CEILING)
    return (Decimal("0.0002") * qty * price).quantize(TICK, ROUND_CEILING)


def valid_price(product: str, price: Decimal) -> bool:
    if not price.is_finite() or price % TICK != 0:
        return False
    return ZERO < price < 1 if product == "event" else price > 0


CENT = Decimal("0.01")


def on_tick(product: str, price: Decimal | None, flags: Flags) -> bool:
    """A limit price the session's units can carry and the market's grid accepts."""
    return price is not None and valid_price(product, price) and not (flags.cents and price % CENT)


def valid_qty(qty: Decimal) -> bool:
    return qty.is_finite() and qty > 0 and qty == qty.to_integral_value()


def fillable(order: Order, reach: list[Order]) -> Decimal:
    """What an order could fill right now (for FOK), stopping where self-trade prevention stops it."""
    total = ZERO
    for o in reach:
        if o.account == order.account:
            if order.stp is SelfTradePrevention.MAKER:
                continue
            break
        total += o.leaves
    return total


def day_end(now: dt.datetime) -> dt.datetime:
    """Day orders live until 23:59:59.999 Eastern on the day they were placed."""
    local = now.astimezone(ET)
    return local.replace(hour=23, minute=59, second=59, microsecond=999000).astimezone(dt.timezone.utc)
