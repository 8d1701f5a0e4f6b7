"""A customer's life, week by week: sessions, orders, campaigns, service contacts, churn.

Within a week every rate and the churn hazard are constant; they change between weeks as
engagement decays, bad service experiences accumulate and competitor offers arrive. Events
after the observed period are not written: they only count towards the ground truth of
future orders and value.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Iterator
from typing import Any

from coreo.sim import conversations, people
from coreo.sim.agents import resolve_contact
from coreo.sim.events import SECOND as _SECOND
from coreo.sim.events import Device, Messages, new_id
from coreo.sim.world import Outputs, Person, World, poisson

__all__ = ["ORDER_INTENTS", "Life"]

ORDER_INTENTS: tuple[tuple[str, float], ...] = (
    ("delivery_status", 0.3),
    ("delivery_damaged", 0.08),
    ("return_request", 0.2),
    ("refund_status", 0.1),
    ("payment_failed", 0.07),
    ("double_charge", 0.04),
    ("cancel_order", 0.08),
    ("invoice_request", 0.07),
    ("warranty_repair", 0.06),
)
BACKGROUND_INTENTS: tuple[tuple[str, float], ...] = (
    ("product_question", 0.22),
    ("stock_availability", 0.12),
    ("loyalty_points", 0.12),
    ("voucher_problem", 0.08),
    ("login_problem", 0.1),
    ("complaint_product", 0.08),
    ("complaint_service", 0.06),
    ("store_opening_hours", 0.1),
    ("fraud_report", 0.03),
    ("data_protection_request", 0.03),
    ("newsletter_unsubscribe", 0.03),
    ("address_change", 0.03),
)
_ORDER_INTENT_NAMES = tuple(i for i, _ in ORDER_INTENTS)
_ORDER_INTENT_CUM = tuple(itertools.accumulate(w for _, w in ORDER_INTENTS))
STORE_INTENTS: tuple[tuple[str, float], ...] = (
    ("return_request", 0.45),
    ("warranty_repair", 0.3),
    ("complaint_product", 0.15),
    ("invoice_request", 0.1),
)
_STORE_INTENT_NAMES = tuple(i for i, _ in STORE_INTENTS)
_STORE_INTENT_CUM = tuple(itertools.accumulate(w for _, w in STORE_INTENTS))
_BACKGROUND_NAMES = tuple(i for i, _ in BACKGROUND_INTENTS)
_BACKGROUND_CUM = tuple(itertools.accumulate(w for _, w in BACKGROUND_INTENTS))
_HIGH_URGENCY = frozenset({"fraud_report", "payment_failed", "double_charge", "login_problem"})
_LOW_URGENCY = frozenset(
    {"store_opening_hours", "product_question", "newsletter_unsubscribe", "invoice_request"}
)
_PLEASANT = frozenset({"product_question", "store_opening_hours", "stock_availability"})
_SEARCHES = ("rucksack", "winterjacke", "raclette", "kopfhörer", "velo", "grill", "zelt", "lampe")
_PAYMENTS = ("card", "twint", "postfinance", "invoice", "paypal")
_STORE_PAYMENTS = ("card", "twint", "cash")
_SUBJECTS: dict[str, tuple[str, ...]] = {
    "de": (
        "Neu eingetroffen: Ihre Herbst-Favoriten",
        "Nur diese Woche: 20 % auf Outdoor",
        "Bereit für den Winter?",
        "Ihre Treuepunkte warten",
        "Grill-Saison: unsere Tipps",
    ),
    "fr": (
        "Nouveautés : vos favoris d'automne",
        "Cette semaine seulement : 20 % sur l'outdoor",
        "Prêt pour l'hiver ?",
        "Vos points fidélité vous attendent",
        "Saison des grillades : nos conseils",
    ),
    "it": (
        "Novità: i vostri preferiti d'autunno",
        "Solo questa settimana: 20 % sull'outdoor",
        "Pronti per l'inverno?",
        "I vostri punti fedeltà vi aspettano",
        "Stagione del grill: i nostri consigli",
    ),
    "en": (
        "Just in: your autumn favourites",
        "This week only: 20% off outdoor",
        "Ready for winter?",
        "Your loyalty points are waiting",
        "Barbecue season: our tips",
    ),
}


class Life:
    """Simulates one person from acquisition to the end of the future horizon."""

    def __init__(
        self,
        world: World,
        rng: random.Random,
        messages: Messages,
        person: Person,
        outputs: Outputs,
        *,
        group_id: str | None,
        unit: int,
        orders: Iterator[int],
    ) -> None:
        self.world = world
        self.rng = rng
        self.msg = messages
        self.p = person
        self.out = outputs
        self.group_id = group_id
        self.unit = unit
        self.orders = orders
        self.offer_until = -1.0
        self.pending: list[tuple[float, str, int, dict[str, Any]]] = []  # contacts to happen
        self.esp_context: dict[str, Any] = {
            "library": {"name": "alpenmail-connector", "version": "2.3.0"},
            "traits": {"email": person.email},
        }

    # -- the week loop -------------------------------------------------------------------

    def run(self) -> None:
        world, p, rng = self.world, self.p, self.rng
        churn_cfg = world.scenario.churn
        # Calibrated so that an average customer's realised yearly churn is ``yearly_rate``:
        # divide out the mean effect of competitor offers (share of time under an offer)
        # and of fading engagement (about +8 % over a year, measured).
        offer_share = min(1.0, churn_cfg.competitor_offer_rate * 60 / 365)
        mean_multiplier = (1 + offer_share * (churn_cfg.competitor_offer_multiplier - 1)) * 1.08
        base_hazard = -math.log(1 - churn_cfg.yearly_rate) / 365.0 / mean_multiplier
        self._schedule_life_changes()
        first_week = max(0, math.floor(p.acquired / 7))
        last_week = math.ceil(world.horizon_end / 7)
        if p.acquired >= 0:
            self._sign_up(p.acquired)
        eng0 = p.engagement
        for week in range(first_week, last_week):
            start = week * 7.0
            if p.churned is None:
                hazard = base_hazard * churn_cfg.bad_service_multiplier ** min(p.bad_contacts, 4)
                if start < self.offer_until:
                    hazard *= churn_cfg.competitor_offer_multiplier
                # 1 at the initial engagement, higher as it fades, lower (not below 0.3) above.
                hazard *= max(0.3, 1 + 0.8 * (1 - p.engagement / max(eng0, 1e-6)))
                begin = max(start, p.acquired)  # the acquisition week counts from acquisition
                exposure = start + 7 - begin
                if rng.random() < 1 - math.exp(-hazard * exposure):
                    p.churned = begin + rng.random() * exposure
                    if rng.random() < 0.25:
                        self.pending.append(
                            (max(p.churned - rng.random() * 3, p.acquired), "cancel_account", 0, {})
                        )
            alive_until = p.churned if p.churned is not None else world.horizon_end
            self._campaigns(week)
            if start < alive_until:
                self._shop(week, alive_until)
                if rng.random() < churn_cfg.competitor_offer_rate * 7 / 365:
                    self.offer_until = start + 60
                background = world.scenario.service.background_contacts_per_year * 7 / 365
                for _ in range(poisson(rng, background)):
                    t = start + rng.random() * 7
                    intent = rng.choices(_BACKGROUND_NAMES, cum_weights=_BACKGROUND_CUM)[0]
                    self.pending.append((t, intent, 0, {}))
            self._life_changes(start)
            self._service(start + 7)
            p.engagement *= math.exp(-p.engagement_decay)

    def _observed(self, t: float) -> bool:
        return 0 <= t < self.world.end

    def _note(self, kind: str, value: str, shared: bool = False) -> None:
        self.p.note(self.out, kind, value, shared)

    # -- identity moments ---------------------------------------------------------------

    def _traits(self) -> dict[str, Any]:
        p = self.p
        traits: dict[str, Any] = {
            "email": p.email,
            "firstName": p.first,
            "lastName": p.last,
            "language": p.language,
            "address": {
                "street": p.address.line(),
                "postalCode": p.address.postcode,
                "city": p.address.city,
                "country": "CH",
            },
        }
        if self.rng.random() < 0.5:
            phone = people.phone_variant(self.rng, p.phone)
            traits["phone"] = phone
            self._note("phone", phone)
        if p.loyalty_card and p.card_linked:
            traits["loyaltyCard"] = p.loyalty_card
        return traits

    def _sign_up(self, t: float) -> None:
        p, rng = self.p, self.rng
        if not p.registered or not self._observed(t):
            return
        device = self._pick_online_device()
        self._page(t, device, None, "Sign Up", "/konto/registrieren", "Konto erstellen")
        t += 40 * _SECOND
        context = device.context | {"consent": {"categoryPreferences": dict(p.consent)}}
        if rng.random() < 0.3:
            self.msg.alias(t, device, device.anonymous_id, p.user_id or "")
        self.msg.identify(
            t, device, p.user_id, self._traits() | {"createdAt": self.world.clock.iso(t)}, context
        )
        self.msg.track(t + _SECOND, device, p.user_id, "Signed Up", {"method": "email"}, context)
        device.current_user = p.user_id
        if self.group_id is not None:
            self.msg.group(
                t + 2 * _SECOND, device, p.user_id or "", self.group_id, {"name": f"{p.last} AG"}
            )

    # -- shopping -----------------------------------------------------------------------

    def _pick_online_device(self) -> Device:
        p, rng = self.p, self.rng
        web, app, _ = p.channel_weights
        apps = [d for d in p.devices if d.is_app]
        if apps and rng.random() < app / (web + app + 1e-9):
            return apps[0]
        browsers = [d for d in p.devices if not d.is_app]
        return rng.choice(browsers) if browsers else p.devices[0]

    def _shop(self, week: int, alive_until: float) -> None:
        world, p, rng = self.world, self.p, self.rng
        factor = world.season_of_week(week) * (p.engagement / 0.55) * 7
        orders = poisson(rng, p.order_rate * factor)
        extra = world.scenario.purchases.sessions_per_order - 1
        browses = poisson(rng, p.order_rate * factor * extra * (1 - p.channel_weights[2]))
        for _ in range(orders):
            in_store = rng.random() < p.channel_weights[2]
            t = world.place(rng, week, store=in_store)
            if t < max(alive_until, 0) and t >= p.acquired:
                if in_store:
                    self._store_order(t)
                else:
                    self._online_session(t, convert=True)
        for _ in range(browses):
            t = world.place(rng, week, store=False)
            if t < alive_until and t >= p.acquired:
                self._online_session(t, convert=False)

    def _basket(self) -> tuple[list[dict[str, Any]], float]:
        rng, catalog = self.rng, self.world.catalog
        items = 1 + poisson(rng, self.world.scenario.purchases.basket_items - 1)
        lines, total = [], 0.0
        for _ in range(items):
            product = catalog.pick(rng)
            quantity = 1 if rng.random() < 0.85 else 2
            total += product.price * quantity
            lines.append(
                {
                    "product_id": product.id,
                    "sku": product.sku,
                    "name": product.name,
                    "category": product.category,
                    "brand": product.brand,
                    "price": product.price,
                    "quantity": quantity,
                }
            )
        return lines, round(total, 2)

    def _count_order(self, t: float, total: float) -> None:
        p = self.p
        if t >= self.world.end:
            p.future_orders += 1
            p.future_value = round(p.future_value + total, 2)
        elif t >= 0:
            p.orders += 1
            p.value = round(p.value + total, 2)
        p.engagement = min(1.0, p.engagement + 0.01)

    def _store_order(self, t: float) -> None:
        p, rng = self.p, self.rng
        lines, total = self._basket()
        self._count_order(t, total)
        if not self._observed(t):
            return
        store = self.world.home_store(p.canton.code, int(p.id[1:]))
        if rng.random() < 0.2:
            store = rng.choice(self.world.stores)
        card = p.loyalty_card if p.loyalty_card and rng.random() < 0.85 else ""
        ms = self.world.clock.ms(t)
        self.out.pos(
            ms,
            {
                "transaction_id": f"T{store.id}-{new_id(rng)[:8].upper()}",
                "store_id": store.id,
                # Tills write Swiss local time without a zone, as real POS exports do.
                "timestamp": self.world.clock.iso_ms(
                    ms + self.world.utc_offset_hours(int(t)) * 3_600_000
                )[:19],
                "loyalty_card": card,
                "items": sum(line["quantity"] for line in lines),
                "skus": "|".join(line["sku"] for line in lines),
                "total_chf": f"{total:.2f}",
                "payment_method": rng.choice(_STORE_PAYMENTS),
            },
        )
        self._maybe_order_contact(t, None, lines, total, in_store=True)

    def _page(
        self, t: float, device: Device, uid: str | None, name: str, path: str, title: str
    ) -> None:
        if device.is_app:
            self.msg.screen(t, device, uid, name)
        else:
            self.msg.page(t, device, uid, name, path, title)

    def _online_session(
        self, t: float, *, convert: bool, campaign: dict[str, Any] | None = None
    ) -> None:
        p, rng, msg = self.p, self.rng, self.msg
        lines: list[dict[str, Any]] = []
        total = 0.0
        if convert:
            lines, total = self._basket()
            self._count_order(t, total)
        if not self._observed(t):
            return
        device = self._pick_online_device()
        if not device.is_app and not device.shared and rng.random() < 0.03:
            device.reset_cookie(rng)  # cookies lost: a new anonymousId, logged out
            device.current_user = None
        context = device.context
        if campaign is not None:
            context = context | {"campaign": campaign}
        # The SDK keeps the last identified user (on a shared device: whoever logged in last).
        uid = device.current_user
        logs_in = (
            p.registered
            and uid != p.user_id
            and (convert or rng.random() < self.world.scenario.identity.login_probability)
        )
        tracked = p.consent.get("analytics", False)  # consent manager: no analytics otherwise
        step = 0.0

        def tick(seconds: float) -> float:
            nonlocal step
            step += seconds * (0.5 + rng.random())
            return t + step * _SECOND

        if tracked:
            self._page(tick(1), device, uid, "Home", "/", "Alpenmarkt")
        if logs_in:
            uid = p.user_id
            msg.identify(tick(20), device, uid, self._traits(), context)
            device.current_user = uid
        elif convert and uid != p.user_id:
            uid = None  # guest checkout (or a shared device's other user, who logs out)
        if tracked and rng.random() < 0.4:
            msg.track(
                tick(15),
                device,
                uid,
                "Products Searched",
                {"query": rng.choice(_SEARCHES)},
                context,
            )
        viewed = lines[:] if lines else []
        for _ in range(1 + poisson(rng, 1.5)):
            product = self.world.catalog.pick(rng)
            viewed.append(
                {
                    "product_id": product.id,
                    "sku": product.sku,
                    "name": product.name,
                    "category": product.category,
                    "brand": product.brand,
                    "price": product.price,
                    "quantity": 1,
                }
            )
        for item in viewed if tracked else ():
            self._page(
                tick(20), device, uid, "Product", f"/p/{item['product_id'].lower()}", item["name"]
            )
            msg.track(tick(2), device, uid, "Product Viewed", item | {"currency": "CHF"}, context)
        if not convert:
            if tracked and viewed and rng.random() < 0.25:
                msg.track(
                    tick(30), device, uid, "Product Added", viewed[0] | {"currency": "CHF"}, context
                )
            return
        order_id = self.world.order_id(self.unit, next(self.orders), t)
        for item in lines if tracked else ():
            msg.track(tick(25), device, uid, "Product Added", item | {"currency": "CHF"}, context)
        if tracked:
            msg.track(
                tick(30),
                device,
                uid,
                "Checkout Started",
                {"order_id": order_id, "value": total, "currency": "CHF", "products": lines},
                context,
            )
        shipping = 0.0 if total >= 50 else 7.9
        payment = rng.choice(_PAYMENTS)
        if tracked:
            msg.track(
                tick(40),
                device,
                uid,
                "Payment Info Entered",
                {"order_id": order_id, "payment_method": payment},
                context,
            )
        properties: dict[str, Any] = {
            "order_id": order_id,
            "total": round(total + shipping, 2),
            "revenue": total,
            "shipping": shipping,
            "tax": round(total * 0.081 / 1.081, 2),
            "currency": "CHF",
            "payment_method": payment,
            "products": lines,
        }
        if uid is None:
            properties["email"] = p.email  # guest checkout
        msg.track(tick(20), device, uid, "Order Completed", properties, context)
        self._maybe_order_contact(t, order_id, lines, total)

    # -- campaigns ----------------------------------------------------------------------

    def _campaigns(self, week: int) -> None:
        p, world = self.p, self.world
        for t, channel, campaign in world.campaigns.get(week, ()):
            if t < p.acquired or t >= world.horizon_end:
                continue
            if channel == "email" and p.consent.get("marketing_email"):
                self._email(t, campaign)
            elif channel == "push" and p.consent.get("marketing_push"):
                self._push(t, campaign)
            elif channel == "sms" and p.consent.get("marketing_sms") and self._observed(t):
                self._sms(t, campaign)

    def _sms(self, t: float, campaign: str) -> None:
        anonymous, uid = self._newsletter_ids()
        message: dict[str, Any] = {
            "type": "track",
            "event": "SMS Delivered",
            "properties": {"campaign_id": campaign},
            "context": {
                "library": {"name": "alpenmail-connector", "version": "2.3.0"},
                "traits": {"phone": self.p.phone},
            },
        }
        if anonymous is not None:
            message["anonymousId"] = anonymous
        if uid is not None:
            message["userId"] = uid
        self.msg._emit(t, message)

    def _newsletter_ids(self) -> tuple[str | None, str | None]:
        p = self.p
        if p.user_id is not None:
            return None, p.user_id
        self._note("newsletter:subscriber_id", p.newsletter_id or "")
        return p.newsletter_id, None

    def _email(self, t: float, campaign: str) -> None:
        p, rng, msg = self.p, self.rng, self.msg
        p.emails_received += 1
        alive = p.churned is None or t < p.churned
        observed = self._observed(t)
        anonymous, uid = self._newsletter_ids()
        subjects = _SUBJECTS[p.language]
        props = {
            "campaign_id": campaign,
            "email_id": f"{campaign}-{new_id(rng)[:8]}",
            "email_subject": subjects[int(campaign.rsplit("-", 1)[1]) % len(subjects)],
        }

        def send(at: float, event: str) -> None:
            if observed:
                message: dict[str, Any] = {
                    "type": "track",
                    "event": event,
                    "properties": props,
                    "context": self.esp_context,
                }
                if anonymous is not None:
                    message["anonymousId"] = anonymous
                if uid is not None:
                    message["userId"] = uid
                msg._emit(at, message)

        send(t, "Email Delivered")
        open_chance = (0.12 + 0.5 * p.engagement) * (1.0 if alive else 0.2)
        if rng.random() >= open_chance:
            return
        opened = t + rng.expovariate(1 / 0.4)
        send(opened, "Email Opened")
        if alive and rng.random() < 0.3 * p.engagement:
            clicked = opened + rng.uniform(5, 120) * _SECOND
            send(clicked, "Email Link Clicked")
            if p.registered or p.channel_weights[2] < 0.9:
                campaign_ctx = {"name": campaign, "source": "newsletter", "medium": "email"}
                self._online_session(
                    clicked + 10 * _SECOND, convert=rng.random() < 0.15, campaign=campaign_ctx
                )
        # People unsubscribe from a mail they opened; fatigue and low engagement raise the
        # chance. Per received mail it is opt_out_per_email * fatigue * (1.5 - engagement).
        fatigue = 1 + p.emails_received / 80
        chance = self.world.scenario.consent.opt_out_per_email * fatigue * (1.5 - p.engagement)
        if rng.random() < min(1.0, chance / open_chance):
            left = opened + rng.uniform(10, 300) * _SECOND
            p.unsubscribed = left
            p.consent["marketing_email"] = False
            send(left, "Unsubscribed")
            if observed and p.registered and rng.random() < 0.5:
                device = self._pick_online_device()
                ctx = device.context | {"consent": {"categoryPreferences": dict(p.consent)}}
                self.msg.track(
                    left + 30 * _SECOND,
                    device,
                    p.user_id,
                    "Segment Consent Preference Updated",
                    {},
                    ctx,
                )
            if rng.random() < 0.1:
                self.pending.append((left + rng.uniform(0, 3), "newsletter_unsubscribe", 0, {}))

    def _push(self, t: float, campaign: str) -> None:
        p, rng = self.p, self.rng
        apps = [d for d in p.devices if d.is_app]
        if not apps or not self._observed(t):
            return
        device = apps[0]
        uid = device.current_user
        self.msg.track(
            t,
            device,
            uid,
            "Push Notification Received",
            {"campaign": {"id": campaign}},
            device.context,
        )
        alive = p.churned is None or t < p.churned
        if alive and rng.random() < 0.08 + 0.2 * p.engagement:
            self.msg.track(
                t + rng.uniform(30, 3600) * _SECOND,
                device,
                uid,
                "Push Notification Tapped",
                {"campaign": {"id": campaign}},
                device.context,
            )

    # -- life changes -------------------------------------------------------------------

    def _schedule_life_changes(self) -> None:
        p, rng, identity = self.p, self.rng, self.world.scenario.identity
        p.original_address, p.original_last = p.address, p.last
        start = max(p.acquired, 0.0)
        if rng.random() < identity.move_rate and start < self.world.end:
            p.moved = rng.uniform(start, self.world.end)
        if rng.random() < identity.name_change_rate and start < self.world.end:
            p.renamed = rng.uniform(start, self.world.end)
        self._moved_done = p.moved is None
        self._renamed_done = p.renamed is None

    def _life_changes(self, week_start: float) -> None:
        p, rng = self.p, self.rng
        week_end = week_start + 7
        changed_at: float | None = None
        if not self._moved_done and p.moved is not None and p.moved < week_end:
            self._moved_done = True
            canton = p.canton if rng.random() < 0.7 else people.pick_canton(rng)
            p.address = people.pick_address(rng, canton)
            changed_at = p.moved
            if rng.random() < 0.3:
                self.pending.append((p.moved + rng.uniform(0, 10), "address_change", 0, {}))
        if not self._renamed_done and p.renamed is not None and p.renamed < week_end:
            self._renamed_done = True
            p.last = people.married_name(rng, p.last, p.language)
            changed_at = p.renamed
        alive = p.churned is None or (changed_at is not None and changed_at < p.churned)
        if changed_at is not None and p.registered and alive and self._observed(changed_at + 0.5):
            device = self._pick_online_device()
            self.msg.identify(changed_at + 0.5, device, p.user_id, self._traits(), device.context)

    # -- service ------------------------------------------------------------------------

    def _maybe_order_contact(
        self,
        t: float,
        order_id: str | None,
        lines: list[dict[str, Any]],
        total: float,
        *,
        in_store: bool = False,
    ) -> None:
        p, rng = self.p, self.rng
        rate = self.world.scenario.service.contacts_per_order * (0.5 + p.service_sensitivity)
        if in_store:
            rate *= 0.4  # nothing to deliver: only returns, warranty and complaints
        if rng.random() < rate:
            if in_store:
                intent = rng.choices(_STORE_INTENT_NAMES, cum_weights=_STORE_INTENT_CUM)[0]
            else:
                intent = rng.choices(_ORDER_INTENT_NAMES, cum_weights=_ORDER_INTENT_CUM)[0]
            facts = {
                "order_id": order_id,
                "product": lines[0]["name"] if lines else None,
                "amount": total,
                "ordered": t,
            }
            self.pending.append((t + rng.uniform(1, 12), intent, 0, facts))

    def _service(self, until: float) -> None:
        if not self.pending:
            return
        due = sorted((item for item in self.pending if item[0] < until), key=lambda item: item[:3])
        self.pending = [item for item in self.pending if item[0] >= until]
        for t, intent, repeat, facts in due:
            if t < self.p.acquired or t >= self.world.horizon_end:
                continue
            if self.p.churned is not None and t > self.p.churned + 14:
                continue
            self._contact(t, intent, repeat, facts)

    def _contact(self, t: float, intent: str, repeat: int, facts: dict[str, Any]) -> None:
        p, rng, world = self.p, self.rng, self.world
        cfg = world.scenario.service
        young = p.age_band in ("18-24", "25-34", "35-44")
        channel = rng.choices(
            ("chat", "email", "phone"), weights=(0.5 if young else 0.2, 0.3, 0.2 if young else 0.5)
        )[0]
        if channel != "email":  # chat and phone only while the service centre is open
            t = world.business_hours(rng, t)
        waiting = int(t - facts.get("ordered", t)) if facts else 0
        frustration = min(
            1.0,
            max(
                0.0,
                0.1
                + 0.55 * p.service_sensitivity
                + 0.25 * repeat
                + 0.1 * (intent.startswith("complaint"))
                + rng.gauss(0, 0.1),
            ),
        )
        if intent in _HIGH_URGENCY or frustration > 0.8:
            urgency = "high"
        elif intent in _LOW_URGENCY and frustration < 0.5:
            urgency = "low"
        else:
            urgency = "medium"
        if frustration > 0.55 or intent.startswith("complaint"):
            sentiment = "negative"
        elif frustration < 0.3 and intent in _PLEASANT:
            sentiment = "positive"
        else:
            sentiment = "neutral"
        outcome = resolve_contact(
            rng,
            world.agents,
            intent=intent,
            language=p.language,
            channel=channel,
            frustration=frustration,
            repeat=repeat > 0,
        )
        agent = next(a for a in world.agents if a.id == outcome.agent_id)
        turns = 1 if channel == "email" else 1 + poisson(rng, 0.8 + 2.5 * frustration)
        if channel == "phone":
            turns = max(2, turns)
        transcript = conversations.compose(
            rng,
            intent=intent,
            language=p.language,
            channel=channel,
            frustration=frustration,
            urgency=urgency,
            facts=conversations.Facts(
                first_name=p.first,
                order_id=facts.get("order_id"),
                product=facts.get("product"),
                amount_chf=facts.get("amount"),
                days_waiting=max(0, waiting) or None,
            ),
            customer_turns=min(turns, 8),
            agent_empathy=agent.empathy,
            typo_rate=cfg.typo_rate,
            code_switch_rate=cfg.code_switch_rate,
        )
        bad = not outcome.resolved or (outcome.csat is not None and outcome.csat <= 2)
        if bad:
            p.bad_contacts += 1  # drives the churn hazard, observed or not
            if self._observed(t):
                p.bad_contacts_observed += 1
        if not outcome.resolved and repeat < 2 and rng.random() < 0.7:
            self.pending.append((t + rng.uniform(1, 5), intent, repeat + 1, facts))
        if not self._observed(t):
            return
        p.contacts += 1
        contact_id = f"C-{new_id(rng)[:18]}"
        queue = rng.expovariate(
            1 / (40 if channel == "chat" else 240 if channel == "phone" else 14_400)
        )
        at = t + queue * _SECOND
        observed_turns = []
        # Chat and phone: the conversation is the handling time; frustrated customers answer
        # faster. E-mail: each reply waits in the queue.
        weights = [
            rng.expovariate(1.0) * (1 - 0.5 * frustration if turn.speaker == "customer" else 1)
            for turn in transcript.turns
        ]
        total_weight = sum(weights) or 1.0
        for turn, weight in zip(transcript.turns, weights, strict=True):
            if channel == "email":
                gap = queue * weight / total_weight
            else:
                gap = outcome.handle_seconds * weight / total_weight
            at += gap * _SECOND
            observed_turns.append(
                {"speaker": turn.speaker, "text": turn.text, "at": world.clock.iso(at)}
            )
        customer: dict[str, str] = {}
        if channel == "email":
            customer["email"] = (
                p.email if rng.random() > 0.2 else people.email_variant(rng, p.email)
            )
            self._note("email", customer["email"])
        elif channel == "phone":
            customer["phone"] = people.phone_variant(rng, p.phone)
            self._note("phone", customer["phone"])
        elif p.user_id is not None:
            customer["user_id"] = p.user_id
        else:  # the chat widget asks guests for their e-mail address
            customer["email"] = p.email
            self._note("email", p.email)
        observed = {
            "contact_id": contact_id,
            "channel": channel,
            "started_at": world.clock.iso(t),
            "queue_seconds": round(queue),
            "locale": p.locale,
            "customer": customer,
            "agent_id": outcome.agent_id,
            "subject": transcript.subject,
            "turns": observed_turns,
            "messages": sum(1 for turn in transcript.turns if turn.speaker == "customer"),
            "resolved": outcome.resolved,
            "transfers": outcome.transfers,
            "handle_seconds": outcome.handle_seconds,
            "csat": outcome.csat,
        }
        truth = {
            "contact_id": contact_id,
            "person_id": p.id,
            "intent": intent,
            "sentiment": sentiment,
            "urgency": urgency,
            "frustration": round(frustration, 3),
            "language": p.language,
            "code_switched": transcript.code_switched,
            "typos": transcript.typos,
            "repeat": repeat,
            "language_match": outcome.language_match,
            "skill_match": outcome.skill_match,
        }
        self.out.contact(world.clock.ms(t), observed, truth)
        closed = at + rng.uniform(30, 120) * _SECOND  # wrap-up after the last turn
        if p.user_id is not None and self._observed(closed):
            self.msg.track(
                closed,
                None,
                p.user_id,
                "Service Contact Closed",
                {
                    "contact_id": contact_id,
                    "channel": channel,
                    "resolved": outcome.resolved,
                    "transfers": outcome.transfers,
                    "handle_seconds": outcome.handle_seconds,
                    "csat": outcome.csat,
                },
                {"library": {"name": "alpendesk", "version": "1.8.2"}},
            )
