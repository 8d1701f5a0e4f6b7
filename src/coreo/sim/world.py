"""The generative model: households of customers living through the scenario's days.

Each unit (a household, or a fraud ring in ``fraud.py``) is simulated on its own with a
generator seeded from the scenario seed and the unit number, so output is reproducible and
units could be generated in parallel. Time runs in weeks; within a week a customer's hazard
and rates are constant (piecewise-constant hazards are exact under this scheme), and
events are placed on days and hours drawn from weekly and daily profiles.

What is latent (never in the observed files): price sensitivity, engagement and its decay,
service sensitivity, channel preference, order rate, frustration, the churn decision and
the future. What is observed: the Segment messages, the ERP/POS/newsletter exports and the
service contacts. ``docs/simulator.md`` describes every step.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Protocol

from coreo.sim import people
from coreo.sim.agents import Agent, build_agents
from coreo.sim.catalog import Catalog, Store, build_catalog, build_stores
from coreo.sim.events import Clock, Device
from coreo.sim.permute import Permutation
from coreo.sim.scenario import Scenario

__all__ = ["CONSENT_PURPOSES", "Outputs", "Person", "World", "poisson"]

CONSENT_PURPOSES = (
    "analytics",
    "personalisation",
    "marketing_email",
    "marketing_sms",
    "marketing_push",
)

_LOCALES = {"de": "de-CH", "fr": "fr-CH", "it": "it-CH", "en": "en-CH"}
# Day-of-week weights (Monday first). Stores close on Sundays in most of Switzerland.
_ONLINE_DAYS = tuple(itertools.accumulate((1.0, 0.95, 0.95, 1.0, 1.05, 1.1, 1.25)))
_STORE_DAYS = tuple(itertools.accumulate((0.9, 0.9, 0.95, 1.1, 1.25, 1.9, 0.0)))
_ONLINE_HOUR_WEIGHTS = (0.3, 0.15, 0.1, 0.08, 0.08, 0.15, 0.4, 0.9, 1.1, 1.0, 1.0, 1.1,
                        1.3, 1.2, 1.0, 1.0, 1.1, 1.3, 1.6, 2.0, 2.3, 2.2, 1.6, 0.8)  # fmt: skip
_ONLINE_HOURS = tuple(itertools.accumulate(_ONLINE_HOUR_WEIGHTS))
_STORE_HOURS = tuple(
    itertools.accumulate(
        (0.0,) * 8 + (0.5, 0.9, 1.1, 1.2, 1.3, 1.1, 1.1, 1.2, 1.5, 1.8, 1.4, 0.3) + (0.0,) * 4
    )
)
_HOURS = tuple(range(24))
_WEEKDAYS = tuple(range(7))


def _last_sunday(year: int, month: int) -> date:
    last = date(year, month + 1, 1) - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - 6) % 7)


def _summer_time(day: date) -> bool:
    """Central European Summer Time: last Sunday of March to last Sunday of October."""
    return _last_sunday(day.year, 3) <= day < _last_sunday(day.year, 10)


def poisson(rng: random.Random, lam: float) -> int:
    """Draw from Poisson(lam) (Knuth for small lam, a rounded normal for large)."""
    if lam <= 0:
        return 0
    if lam > 40:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


class Outputs(Protocol):
    """Where a unit's observed records and ground truth go."""

    def event(self, ms: int, message: dict[str, Any]) -> None: ...
    def pos(self, ms: int, row: dict[str, Any]) -> None: ...
    def erp(self, row: dict[str, Any]) -> None: ...
    def newsletter(self, row: dict[str, Any]) -> None: ...
    def contact(self, ms: int, observed: dict[str, Any], truth: dict[str, Any]) -> None: ...
    def person(self, row: dict[str, Any]) -> None: ...
    def identifier(self, kind: str, value: str, person_id: str, shared: bool) -> None: ...


@dataclass(slots=True)
class Person:
    """One real customer: who they are, what drives them (latent), what they leave behind."""

    id: str
    household: str
    language: str
    canton: people.Canton
    address: people.Address
    age_band: str
    gender: str
    birth_date: str
    first: str
    last: str
    email: str
    phone: str
    # latent traits
    price_sensitivity: float
    engagement: float
    engagement_decay: float  # per week
    service_sensitivity: float
    channel_weights: tuple[float, float, float]  # web, app, store
    order_rate: float  # orders per day while alive, at engagement 1
    acquired: float  # day (negative: before the observed period)
    registered: bool
    user_id: str | None
    devices: list[Device] = field(default_factory=list)
    loyalty_card: str | None = None
    card_linked: bool = True
    erp_numbers: list[str] = field(default_factory=list)
    consent: dict[str, bool] = field(default_factory=dict)
    newsletter_id: str | None = None
    # outcomes
    churned: float | None = None
    bad_contacts: int = 0
    orders: int = 0
    value: float = 0.0
    future_orders: int = 0
    future_value: float = 0.0
    emails_received: int = 0
    contacts: int = 0
    moved: float | None = None
    renamed: float | None = None
    original_address: people.Address | None = None
    original_last: str | None = None
    fraud_ring: str | None = None
    unsubscribed: float | None = None
    initial_email_opt_in: bool = False
    initial_consent: dict[str, bool] = field(default_factory=dict)
    gpc: bool = False
    bad_contacts_observed: int = 0
    noted: dict[tuple[str, str], None] = field(default_factory=dict)

    def note(self, outputs: Outputs, kind: str, value: str, shared: bool = False) -> None:
        """Record in the ground truth that ``value`` identifies this person (once)."""
        key = (kind, value)
        if value and key not in self.noted:
            self.noted[key] = None
            outputs.identifier(kind, value, self.id, shared)

    def truth(self, world: World) -> dict[str, Any]:
        """The person's ground-truth row (never ingested)."""
        clock = world.clock
        web, app, store = self.channel_weights
        return {
            "person_id": self.id,
            "household_id": self.household,
            "fraud_ring": self.fraud_ring or "",
            "language": self.language,
            "canton": self.canton.code,
            "age_band": self.age_band,
            "gender": self.gender,
            "birth_date": self.birth_date,
            "price_sensitivity": round(self.price_sensitivity, 4),
            "engagement_final": round(self.engagement, 4),
            "service_sensitivity": round(self.service_sensitivity, 4),
            "channel_web": round(web, 4),
            "channel_app": round(app, 4),
            "channel_store": round(store, 4),
            "orders_per_year": round(self.order_rate * 365, 3),
            "acquired_at": clock.iso(self.acquired)[:10],
            "registered": self.registered,
            "churned_at": clock.iso(self.churned)[:10] if self.churned is not None else "",
            "churned_in_period": self.churned is not None and self.churned < world.end,
            "orders_observed": self.orders,
            "value_observed": round(self.value, 2),
            "future_orders": self.future_orders,
            "future_value": round(self.future_value, 2),
            "bad_contacts": self.bad_contacts_observed,
            "contacts": self.contacts,
            "gpc": self.gpc,
            **{f"consent_{k}": self.initial_consent.get(k, False) for k in CONSENT_PURPOSES},
            "email_subscribed_at_end": self.consent.get("marketing_email", False),
            "moved_at": clock.iso(self.moved)[:10] if self.moved is not None else "",
            "renamed_at": clock.iso(self.renamed)[:10] if self.renamed is not None else "",
        }

    @property
    def locale(self) -> str:
        return _LOCALES[self.language]


class World:
    """Everything shared by the units: catalogue, stores, agents, the campaign calendar."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.clock = Clock(scenario.start)
        self._start_day_of_year = scenario.start.timetuple().tm_yday
        self._offsets: dict[int, int] = {}
        self.catalog: Catalog = build_catalog(scenario.seed, scenario.products)
        cities = sorted(
            ((pc, city, c.code, c.weight) for c in people.CANTONS for pc, city in c.cities[:1]),
            key=lambda item: -item[3],
        )
        self.stores: tuple[Store, ...] = build_stores(
            scenario.seed, scenario.stores, [(pc, city, code) for pc, city, code, _ in cities]
        )
        self.agents: tuple[Agent, ...] = build_agents(scenario.seed, scenario.service.agents)
        self.end = float(scenario.days)
        self.horizon_end = self.end + scenario.churn.horizon_days
        self.campaigns = self._campaign_calendar()
        seed = scenario.seed
        email_space = 10 ** len(str(4 * scenario.customers))
        self._ids = {
            "erp": Permutation(f"{seed}:erp", 900_000_000),
            "phone": Permutation(f"{seed}:phone", 50_000_000),
            "user": Permutation(f"{seed}:user", 10**9),
            "card": Permutation(f"{seed}:card", 10**8),
            "newsletter": Permutation(f"{seed}:newsletter", 10**8),
            "company": Permutation(f"{seed}:company", 10**7),
            "email": Permutation(f"{seed}:email", email_space),
            "order": Permutation(f"{seed}:order", 10**11),
            "store": Permutation(f"{seed}:store", 10**7),
        }
        self._stores_by_canton: dict[str, tuple[Store, ...]] = {}
        for store in self.stores:
            self._stores_by_canton[store.canton] = (
                *self._stores_by_canton.get(store.canton, ()),
                store,
            )
        weeks = math.ceil(self.horizon_end / 7) + 1
        self._season_by_week = tuple(self.season(week * 7 + 3.5) for week in range(weeks))

    def _campaign_calendar(self) -> dict[int, list[tuple[float, str, str]]]:
        """Campaign sends by week: (day, channel, campaign id). Same for every customer."""
        rng = random.Random(f"campaigns:{self.scenario.seed}")
        m = self.scenario.marketing
        weekly = {"email": m.newsletters_per_week, "push": m.push_per_week}
        weekly["sms"] = m.sms_per_month * 12 / 52
        calendar: dict[int, list[tuple[float, str, str]]] = {}
        weeks = math.ceil(self.horizon_end / 7)
        number = 0
        for week in range(weeks):
            sends = []
            for channel in ("email", "push", "sms"):
                for _ in range(poisson(rng, weekly[channel])):
                    number += 1
                    day = week * 7 + rng.randrange(7) + (rng.choice((8, 10, 17, 19)) / 24)
                    sends.append((day, channel, f"{channel}-{number:05d}"))
            calendar[week] = sorted(sends)
        return calendar

    def season_of_week(self, week: int) -> float:
        return self._season_by_week[min(week, len(self._season_by_week) - 1)]

    def season(self, t: float) -> float:
        """Demand multiplier on day ``t``: yearly cycle peaking in late November."""
        day_of_year = (self._start_day_of_year + t) % 365.25
        amplitude = self.scenario.acquisition.seasonality
        return 1.0 + amplitude * math.cos(2 * math.pi * (day_of_year - 330) / 365.25)

    def erp_number(self, person_number: int, record: int = 0) -> str:
        """A nine-digit customer number; unrelated to the person or their other records."""
        return f"{100_000_000 + self._ids['erp'](person_number * 10 + record):09d}"

    def phone(self, person_number: int) -> str:
        value = self._ids["phone"](person_number)
        return f"+417{5 + value // 10_000_000}{value % 10_000_000:07d}"

    def user_id(self, identity_number: int) -> str:
        return f"u{self._ids['user'](identity_number):09d}"

    def loyalty_body(self, person_number: int) -> str:
        return f"2990{self._ids['card'](person_number):08d}"

    def newsletter_id(self, person_number: int) -> str:
        return f"nl-{self._ids['newsletter'](person_number):08d}"

    def group_id(self, household_number: int) -> str:
        return f"company-{self._ids['company'](household_number):07d}"

    def email_number(self, person_number: int) -> int:
        """A number that makes a person's e-mail address unique (shown as a suffix)."""
        return self._ids["email"](person_number)

    def order_id(self, unit_number: int, counter: int, t: float) -> str:
        """A unique order number from the unit and its own order counter."""
        year = self.clock.date(t).year
        return f"AM-{year}-{self._ids['order'](unit_number * 10_000 + counter % 10_000):011d}"

    def home_store(self, canton: str, person_number: int) -> Store:
        """A store in the customer's canton when there is one, else a large one."""
        local = self._stores_by_canton.get(canton) or self.stores[:5]
        return local[self._ids["store"](person_number) % len(local)]

    def place(self, rng: random.Random, week: int, *, store: bool) -> float:
        """A moment in ``week``: weekday and local hour from the online or store profile,
        returned in UTC days (Swiss time is UTC+1, UTC+2 in summer)."""
        start_weekday = self.clock.start.weekday()
        days_cum, hours_cum = (
            (_STORE_DAYS, _STORE_HOURS) if store else (_ONLINE_DAYS, _ONLINE_HOURS)
        )
        weekday = rng.choices(_WEEKDAYS, cum_weights=days_cum)[0]
        day = week * 7 + (weekday - start_weekday) % 7
        hour = rng.choices(_HOURS, cum_weights=hours_cum)[0]
        return day + (hour + rng.random() - self.utc_offset_hours(day)) / 24

    def business_hours(self, rng: random.Random, t: float) -> float:
        """The first moment at or after ``t`` that the service centre is open (Mon-Sat
        08:00-20:00 Swiss time), plus a random wait into the opening hours."""
        day = math.floor(t)
        for _ in range(8):
            weekday = (self.clock.start.weekday() + day) % 7
            offset = self.utc_offset_hours(day) / 24
            opens, closes = day + 8 / 24 - offset, day + 20 / 24 - offset
            if weekday != 6 and t < closes:
                start = max(t, opens)
                return start + rng.random() * min(2 / 24, closes - start)
            day += 1
        return t

    def utc_offset_hours(self, day: int) -> int:
        """Hours Swiss local time is ahead of UTC on ``day`` (EU daylight saving rules)."""
        cached = self._offsets.get(day)
        if cached is None:
            date = self.clock.start + timedelta(days=day)
            cached = 2 if _summer_time(date) else 1
            self._offsets[day] = cached
        return cached

    def households(self) -> Iterator[tuple[int, list[int]]]:
        """Yield (household number, customer numbers) until the scenario's customers exist."""
        rng = random.Random(f"households:{self.scenario.seed}")
        weights = tuple(itertools.accumulate(self.scenario.identity.household_size_weights))
        made, number = 0, 0
        while made < self.scenario.customers:
            size = min(
                rng.choices((1, 2, 3, 4), cum_weights=weights)[0], self.scenario.customers - made
            )
            number += 1
            yield number, list(range(made + 1, made + size + 1))
            made += size

    def unit_rng(self, kind: str, number: int) -> random.Random:
        return random.Random(f"{kind}:{self.scenario.seed}:{number}")
