"""One household: who its customers are, their devices, and their lives week by week."""

from __future__ import annotations

import itertools
import math
import random
from typing import Any

from coreo.sim import people
from coreo.sim.events import Device, Messages, make_device
from coreo.sim.lifecycle import Life
from coreo.sim.world import Outputs, Person, World, poisson

__all__ = ["simulate_household"]

_GENDERS = ("f", "m", "x")
_GENDER_CUM = (0.505, 0.99, 1.0)
_BUSINESS_SHARE = 0.03


def _ean13(body12: str) -> str:
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body12))
    return body12 + str((10 - total % 10) % 10)


def _make_person(
    world: World,
    rng: random.Random,
    number: int,
    household: str,
    canton: people.Canton,
    address: people.Address,
    language: str,
    family_name: str | None,
) -> Person:
    scenario = world.scenario
    gender = rng.choices(_GENDERS, cum_weights=_GENDER_CUM)[0]
    age_band = people.pick_age_band(rng)
    first, last = people.person_name(rng, language, gender)
    if family_name is not None and rng.random() < 0.7:
        last = family_name
    young = age_band in ("18-24", "25-34", "35-44")
    web = rng.gammavariate(2.0, 1.0)
    app = rng.gammavariate(1.4 if young else 0.5, 1.0)
    store_shape = 4 * scenario.purchases.store_share / (1 - scenario.purchases.store_share + 1e-9)
    store = rng.gammavariate(max(store_shape, 0.05), 1.0)
    total = web + app + store
    shape = scenario.purchases.heterogeneity
    rate = rng.gammavariate(shape, scenario.purchases.orders_per_year / shape) / 365.0
    if rng.random() < scenario.acquisition.existing_share:
        acquired = -rng.uniform(1, 3 * 365)
    else:
        acquired = _acquisition_day(world, rng)
    store_weight = store / total
    registered = rng.random() < (0.97 - 0.75 * store_weight)
    return Person(
        newsletter_id=world.newsletter_id(number),
        id=f"P{number:07d}",
        household=household,
        language=language,
        canton=canton,
        address=address,
        age_band=age_band,
        gender=gender,
        birth_date=people.birth_date(rng, age_band, scenario.start.year).isoformat(),
        first=first,
        last=last,
        # The suffix keeps addresses unique; it is a keyed permutation of the person number.
        email=people.email_address(rng, first, last, taken=world.email_number(number)),
        phone=world.phone(number),
        price_sensitivity=rng.betavariate(2, 2),
        engagement=rng.betavariate(2.5, 2),
        engagement_decay=math.exp(rng.gauss(math.log(0.004), 0.6)),
        service_sensitivity=rng.betavariate(2, 3),
        channel_weights=(web / total, app / total, store_weight),
        order_rate=rate,
        acquired=acquired,
        registered=registered,
        user_id=world.user_id(number) if registered else None,
    )


def _acquisition_day(world: World, rng: random.Random) -> float:
    """A day in the observed period, denser in the high season (rejection sampling)."""
    peak = 1.0 + world.scenario.acquisition.seasonality
    while True:
        t = rng.uniform(0, world.end)
        if rng.random() * peak <= world.season(t):
            return t


def _give_devices(
    world: World, rng: random.Random, person: Person, ip: str, gpc: bool, shared: Device | None
) -> None:
    web, app, _ = person.channel_weights
    count = max(1, min(5, 1 + poisson(rng, world.scenario.identity.devices_per_person - 1)))
    platforms: list[str] = []
    if app > 0.15 or rng.random() < app * 3:
        platforms.append(rng.choice(("ios", "ios", "android")))
    while len(platforms) < count:
        platforms.append("desktop" if rng.random() < 0.55 else "mobile_web")
    if web > 0 and not any(p in ("desktop", "mobile_web") for p in platforms):
        platforms.append("desktop")
    for platform in platforms:
        device = make_device(rng, platform, ip=ip, locale=person.locale, gpc=gpc)
        device.users.append(person.id)
        person.devices.append(device)
    if shared is not None:
        shared.users.append(person.id)
        person.devices.append(shared)


def _consent(world: World, rng: random.Random, person: Person, gpc: bool) -> None:
    """Consent at sign-up. People whose browser sends GPC opt in far less to profiling and
    marketing (the signal says what they want)."""
    c = world.scenario.consent
    has_app = any(d.is_app for d in person.devices)
    wary = 0.3 if gpc else 1.0
    person.gpc = gpc
    person.consent = {
        "necessary": True,
        "analytics": rng.random() < c.analytics_opt_in * (0.7 if gpc else 1.0),
        "personalisation": rng.random() < c.personalisation_opt_in * wary,
        "marketing_email": rng.random() < c.email_opt_in * wary,
        "marketing_sms": rng.random() < c.sms_opt_in * wary,
        "marketing_push": has_app and rng.random() < c.push_opt_in * wary,
    }
    person.initial_consent = dict(person.consent)
    person.initial_email_opt_in = person.consent["marketing_email"]


def simulate_household(world: World, number: int, members: list[int], outputs: Outputs) -> None:
    """Simulate one household of customers and write everything it leaves behind."""
    rng = world.unit_rng("household", number)
    messages = Messages(rng, world.clock, outputs.event)
    household = f"H{number:07d}"
    canton = people.pick_canton(rng)
    address = people.pick_address(rng, canton)
    language = people.pick_language(rng, canton)
    ip = people.swiss_ip(rng)
    gpc = rng.random() < world.scenario.consent.gpc_share
    shared: Device | None = None
    if len(members) > 1 and rng.random() < world.scenario.identity.shared_device_share:
        shared = make_device(
            rng, rng.choice(("tablet", "desktop")), ip=ip, locale=f"{language}-CH", gpc=gpc
        )
        shared.shared = True
    family: str | None = None
    persons = []
    for member in members:
        lang = language if rng.random() < 0.85 else people.pick_language(rng, canton)
        person = _make_person(world, rng, member, household, canton, address, lang, family)
        family = family or person.last
        _give_devices(world, rng, person, ip, gpc, shared)
        _consent(world, rng, person, gpc)
        _loyalty(world, rng, person, member)
        persons.append(person)
    group_id = world.group_id(number) if rng.random() < _BUSINESS_SHARE else None
    orders = itertools.count(1)  # the household's order counter (unique order numbers)
    for person in persons:
        Life(
            world, rng, messages, person, outputs, group_id=group_id, unit=number, orders=orders
        ).run()
    for person in persons:
        _write_records(world, rng, person, outputs)


def _loyalty(world: World, rng: random.Random, person: Person, number: int) -> None:
    identity = world.scenario.identity
    store_weight = person.channel_weights[2]
    if rng.random() < min(1.0, identity.loyalty_card_share * (0.6 + store_weight * 1.6)):
        person.loyalty_card = _ean13(world.loyalty_body(number))
        person.card_linked = rng.random() >= identity.loyalty_unlinked_share


def _erp_row(
    world: World,
    rng: random.Random,
    person: Person,
    number: str,
    *,
    source: str,
    messy: bool,
    address: people.Address,
    last: str,
    created: float,
    updated: float,
    card: str | None,
    with_contact: bool = True,
) -> dict[str, Any]:
    identity = world.scenario.identity
    first = person.first
    street = address.street
    if messy:
        first, last = people.name_variant(rng, first, last)
    if rng.random() < identity.erp_typo_rate:
        last = people.typo(rng, last)
    if rng.random() < identity.erp_typo_rate:
        first = people.typo(rng, first)
    if rng.random() < identity.erp_typo_rate:
        street = people.typo(rng, street)
    email = person.email if with_contact else ""
    if email and (messy or rng.random() < identity.email_variant_rate):
        email = people.email_variant(rng, email)
    phone = person.phone if with_contact and rng.random() < 0.8 else ""
    if phone:
        phone = people.phone_variant(rng, phone)
    birth = person.birth_date if rng.random() < (0.6 if messy else 0.85) else ""
    clock = world.clock
    return {
        "customer_no": number,
        "source_system": source,
        "salutation": _salutation(person),
        "first_name": first,
        "last_name": last,
        "birth_date": birth,
        "street": street,
        "house_no": address.house_no,
        "postcode": address.postcode,
        "city": address.city,
        "country": "CH",
        "email": email,
        "phone": phone,
        "loyalty_card": card or "",
        "language": person.language,
        "created_at": clock.iso(created)[:10],
        "updated_at": clock.iso(updated)[:10],
    }


_SALUTATIONS = {
    "de": ("Frau", "Herr"),
    "fr": ("Madame", "Monsieur"),
    "it": ("Signora", "Signor"),
    "en": ("Ms", "Mr"),
}


def _salutation(person: Person) -> str:
    if person.gender == "x":
        return ""
    female, male = _SALUTATIONS[person.language]
    return female if person.gender == "f" else male


def _write_records(world: World, rng: random.Random, person: Person, outputs: Outputs) -> None:
    """ERP master records, newsletter row, identifiers and the person's ground truth."""
    number = int(person.id[1:])
    identity = world.scenario.identity
    life_end = min(world.end, person.churned if person.churned is not None else world.end)
    created = max(person.acquired, -3 * 365.0)
    first_address = person.original_address or person.address
    first_last = person.original_last or person.last
    records: list[dict[str, Any]] = []
    if person.registered or (person.loyalty_card and person.card_linked):
        record = 0
        main_card = person.loyalty_card if person.card_linked else None
        updated_in_place = rng.random() < 0.5
        address = person.address if updated_in_place else first_address
        last = person.last if updated_in_place else first_last
        changes = [t for t in (person.moved, person.renamed) if t is not None]
        updated = max(changes) if updated_in_place and changes else created
        records.append(
            _erp_row(
                world,
                rng,
                person,
                world.erp_number(number, record),
                source="webshop" if person.registered else "store",
                messy=False,
                address=address,
                last=last,
                created=created,
                updated=updated,
                card=main_card,
            )
        )
        if changes and not updated_in_place:
            record += 1
            records.append(
                _erp_row(
                    world,
                    rng,
                    person,
                    world.erp_number(number, record),
                    source="callcenter",
                    messy=False,
                    address=person.address,
                    last=person.last,
                    created=max(changes),
                    updated=max(changes),
                    card=None,
                )
            )
        if rng.random() < identity.erp_duplicate_share:
            record += 1
            when = rng.uniform(created, max(created, life_end))
            records.append(
                _erp_row(
                    world,
                    rng,
                    person,
                    world.erp_number(number, record),
                    source="store",
                    messy=True,
                    address=first_address,
                    last=first_last,
                    created=when,
                    updated=when,
                    card=None,
                )
            )
    if person.loyalty_card and not person.card_linked:
        # The card was issued at a till: a thin record of its own, never linked online.
        when = created
        records.append(
            _erp_row(
                world,
                rng,
                person,
                world.erp_number(number, 9),
                source="store",
                messy=True,
                address=first_address,
                last=first_last,
                created=when,
                updated=when,
                card=person.loyalty_card,
                with_contact=rng.random() < 0.4,
            )
        )
    for row in records:
        outputs.erp(row)
        person.note(outputs, "erp:customer_no", row["customer_no"], False)
        if row["email"]:
            person.note(outputs, "email", row["email"], False)
        if row["phone"]:
            person.note(outputs, "phone", row["phone"], False)
    if person.initial_email_opt_in:
        _write_newsletter(world, rng, person, outputs)
    if person.loyalty_card:
        person.note(outputs, "loyalty_card", person.loyalty_card, False)
    person.note(outputs, "email", person.email, False)
    person.note(outputs, "phone", person.phone, False)
    if person.user_id:
        person.note(outputs, "user_id", person.user_id, False)
    for device in person.devices:
        for anonymous_id in device.anonymous_ids:
            person.note(outputs, "anonymous_id", anonymous_id, device.shared)
        if device.device_id:
            person.note(outputs, "device_id", device.device_id, device.shared)
    outputs.person(person.truth(world))


def _write_newsletter(world: World, rng: random.Random, person: Person, outputs: Outputs) -> None:
    email = person.email
    if rng.random() < world.scenario.identity.email_variant_rate:
        email = people.email_variant(rng, email)
    subscribed = max(person.acquired, -3 * 365.0)
    unsubscribed = person.unsubscribed if person.unsubscribed is not None else None
    if subscribed >= world.end:
        return
    outputs.newsletter(
        {
            "subscriber_id": person.newsletter_id,
            "email": email,
            "first_name": person.first,
            "language": person.language,
            "status": "unsubscribed"
            if unsubscribed is not None and unsubscribed < world.end
            else "subscribed",
            "subscribed_at": world.clock.iso(subscribed)[:10],
            "unsubscribed_at": world.clock.iso(unsubscribed)[:10]
            if unsubscribed is not None and unsubscribed < world.end
            else "",
            "source": "webshop" if person.registered else "store",
        }
    )
    person.note(outputs, "newsletter:subscriber_id", person.newsletter_id or "")
    person.note(outputs, "email", email, False)
