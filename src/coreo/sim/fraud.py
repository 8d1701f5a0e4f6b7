"""Fraud rings: bursts of synthetic identities that order high-value goods to drop addresses.

The signals a fraud model can find are the ones real rings leave: many accounts created
within minutes from one device and IP, throw-away e-mail addresses, a shared shipping
address, payment cards from another country, and "impossible travel" (a log-in from a
Swiss address and one from abroad minutes apart). Every ring member is labelled in the
ground truth (``fraud_ring``); nothing in the observed data says so.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

from coreo.sim import people
from coreo.sim.events import SECOND, Messages, make_device
from coreo.sim.world import Outputs, Person, World

__all__ = ["fraud_rings", "simulate_ring"]

_DOMAINS = ("mailbox-now.net", "quickmail.top", "inboxfast.io", "gmail.com", "outlook.com")
_COUNTRIES = ("NG", "RO", "BR", "UA", "VN", "US", "GB")
_MINUTE = 60 * SECOND


def fraud_rings(world: World) -> Iterator[tuple[int, int]]:
    """Yield (ring number, ring size) until the scenario's share of synthetic identities."""
    cfg = world.scenario.fraud
    target = round(world.scenario.customers * cfg.ring_share)
    rng = random.Random(f"rings:{world.scenario.seed}")
    made, number = 0, 0
    while made < target:
        size = min(rng.randint(*cfg.ring_size), target - made)
        number += 1
        yield number, size
        made += size


def simulate_ring(world: World, number: int, size: int, outputs: Outputs) -> None:
    """Simulate one ring and write its events, records and labels."""
    rng = world.unit_rng("ring", number)
    messages = Messages(rng, world.clock, outputs.event)
    ring = f"R{number:04d}"
    start = rng.uniform(0, max(world.end - 10, 0.5))
    ip, country = people.foreign_ip(rng)
    language = rng.choice(people.LANGUAGES)
    device = make_device(
        rng, rng.choice(("desktop", "android")), ip=ip, locale=f"{language}-CH", gpc=False
    )
    device.shared = True
    canton = people.pick_canton(rng)
    drop = people.pick_address(rng, canton)
    electronics = world.catalog.by_category["electronics"]
    unit = 1_500_000 + number  # order numbers share the space of households (< 1,000,000)
    counter = 0
    t = start
    for member in range(size):
        t += rng.uniform(0.5, 6) * _MINUTE  # a burst: one account every few minutes
        gender = rng.choice(("f", "m"))
        first, last = people.person_name(rng, rng.choice(people.LANGUAGES), gender)
        local = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(9))
        email = f"{local}@{rng.choice(_DOMAINS)}"
        user_id = world.user_id(2_000_000 + number * 100 + member)
        person_id = f"X{number:05d}{member:02d}"
        device.users.append(person_id)
        address = drop if rng.random() < 0.8 else people.pick_address(rng, canton)
        traits: dict[str, Any] = {
            "email": email,
            "firstName": first,
            "lastName": last,
            "address": {
                "street": address.line(),
                "postalCode": address.postcode,
                "city": address.city,
                "country": "CH",
            },
        }
        messages.identify(t, device, user_id, traits | {"createdAt": world.clock.iso(t)})
        messages.track(t + SECOND, device, user_id, "Signed Up", {"method": "email"})
        # Impossible travel: the same account from a Swiss connection minutes later.
        if rng.random() < 0.5:
            swiss = device.context | {"ip": people.swiss_ip(rng)}
            messages.identify(t + rng.uniform(5, 30) * _MINUTE, device, user_id, {}, swiss)
        value, orders = 0.0, 0
        for order in range(rng.randint(1, 3)):
            at = t + (order + 1) * rng.uniform(0.02, 2.0)
            if at >= world.end:
                break
            product = rng.choice(electronics)
            quantity = rng.randint(1, 3)
            total = round(product.price * quantity, 2)
            value += total
            orders += 1
            counter += 1
            messages.track(
                at,
                device,
                user_id,
                "Order Completed",
                {
                    "order_id": world.order_id(unit, counter, at),
                    "total": total,
                    "revenue": total,
                    "currency": "CHF",
                    "payment_method": "card",
                    "payment_country": country,
                    "shipping_address": {
                        "street": drop.line(),
                        "postalCode": drop.postcode,
                        "city": drop.city,
                    },
                    "products": [
                        {
                            "product_id": product.id,
                            "sku": product.sku,
                            "name": product.name,
                            "category": product.category,
                            "price": product.price,
                            "quantity": quantity,
                        }
                    ],
                },
            )
        synthetic = Person(
            id=person_id,
            household=ring,
            language=language,
            canton=canton,
            address=address,
            age_band="25-34",
            gender=gender,
            birth_date="",
            first=first,
            last=last,
            email=email,
            phone="",
            price_sensitivity=0.0,
            engagement=0.0,
            engagement_decay=0.0,
            service_sensitivity=0.0,
            channel_weights=(1.0, 0.0, 0.0),
            order_rate=0.0,
            acquired=t,
            registered=True,
            user_id=user_id,
            fraud_ring=ring,
            value=round(value, 2),
            orders=orders,
        )
        outputs.identifier("user_id", user_id, person_id, False)
        outputs.identifier("email", email, person_id, False)
        outputs.person(synthetic.truth(world))
    for person_id in device.users:
        for anonymous_id in device.anonymous_ids:
            outputs.identifier("anonymous_id", anonymous_id, person_id, True)
        if device.device_id:
            outputs.identifier("device_id", device.device_id, person_id, True)
