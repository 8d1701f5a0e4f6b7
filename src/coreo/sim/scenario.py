"""The scenario: every knob of the simulated company, with the documented defaults.

A scenario is a pydantic model so that a YAML or TOML file is validated with readable
errors; every field has a description (``docs/simulator.md`` is written from them). The
default scenario is "Alpenmarkt", a Swiss omnichannel retailer.
"""

from __future__ import annotations

import tomllib
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from coreo.errors import InvalidInputError

__all__ = [
    "AcquisitionConfig",
    "ChurnConfig",
    "ConsentConfig",
    "FraudConfig",
    "IdentityConfig",
    "MarketingConfig",
    "PurchaseConfig",
    "Scenario",
    "ServiceConfig",
    "load_scenario",
]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AcquisitionConfig(_Section):
    existing_share: float = Field(
        0.45, ge=0, le=1, description="Share of customers already acquired before day 0."
    )
    seasonality: float = Field(
        0.35, ge=0, le=0.9, description="Amplitude of the yearly cycle (peak in late November)."
    )


class PurchaseConfig(_Section):
    orders_per_year: float = Field(
        5.0, gt=0, le=200, description="Mean orders per year of a live, average customer."
    )
    heterogeneity: float = Field(
        1.4,
        gt=0,
        description="Gamma shape of the per-customer order rate (lower: more unequal).",
    )
    sessions_per_order: float = Field(
        4.0, ge=1, le=30, description="Browsing sessions per order (conversion funnel depth)."
    )
    store_share: float = Field(
        0.3, ge=0, le=1, description="Mean share of orders placed in a store rather than online."
    )
    basket_items: float = Field(2.2, ge=1, le=20, description="Mean items per order.")


class ChurnConfig(_Section):
    yearly_rate: float = Field(
        0.22,
        gt=0,
        lt=1,
        description="Share of average live customers who churn within a year, all else equal.",
    )
    bad_service_multiplier: float = Field(
        1.8,
        ge=1,
        description="Hazard multiplier per unresolved or badly rated service contact.",
    )
    competitor_offer_rate: float = Field(
        1.0, ge=0, description="Competitor offers reaching a customer per year (Poisson)."
    )
    competitor_offer_multiplier: float = Field(
        1.6, ge=1, description="Hazard multiplier for 60 days after a competitor offer."
    )
    horizon_days: int = Field(
        180, ge=30, le=730, description="Days simulated after the end for the future ground truth."
    )


class IdentityConfig(_Section):
    household_size_weights: tuple[float, float, float, float] = Field(
        (0.42, 0.33, 0.15, 0.10),
        description="Weights of households with 1, 2, 3 and 4 customers.",
    )
    devices_per_person: float = Field(
        1.8, ge=1, le=6, description="Mean personal devices (browsers, phones) per customer."
    )
    shared_device_share: float = Field(
        0.45,
        ge=0,
        le=1,
        description="Share of multi-person households that also use one shared device.",
    )
    login_probability: float = Field(
        0.55, ge=0, le=1, description="Chance that a web session of a registered customer logs in."
    )
    loyalty_card_share: float = Field(
        0.6, ge=0, le=1, description="Share of customers with a loyalty card."
    )
    loyalty_unlinked_share: float = Field(
        0.35,
        ge=0,
        le=1,
        description="Share of loyalty cards never linked to the online account or ERP record.",
    )
    erp_duplicate_share: float = Field(
        0.12, ge=0, le=1, description="Share of customers with a second ERP master record."
    )
    erp_typo_rate: float = Field(
        0.08, ge=0, le=1, description="Chance per name/street field of an ERP record of a typo."
    )
    move_rate: float = Field(
        0.08, ge=0, le=1, description="Share of customers who move during the period."
    )
    name_change_rate: float = Field(
        0.02, ge=0, le=1, description="Share of customers whose last name changes."
    )
    email_variant_rate: float = Field(
        0.15,
        ge=0,
        le=1,
        description="Chance that a system other than the webshop records a variant of the e-mail.",
    )


class ConsentConfig(_Section):
    email_opt_in: float = Field(0.62, ge=0, le=1, description="Opt-in to e-mail at sign-up.")
    sms_opt_in: float = Field(0.18, ge=0, le=1, description="Opt-in to SMS at sign-up.")
    push_opt_in: float = Field(0.45, ge=0, le=1, description="Opt-in to push (app users).")
    analytics_opt_in: float = Field(0.8, ge=0, le=1, description="Consent to analytics.")
    personalisation_opt_in: float = Field(
        0.55, ge=0, le=1, description="Consent to personalisation (profiling)."
    )
    opt_out_per_email: float = Field(
        0.004,
        ge=0,
        le=1,
        description="Chance that a received newsletter makes the customer unsubscribe; rises "
        "with mail fatigue.",
    )
    gpc_share: float = Field(
        0.06,
        ge=0,
        le=1,
        description="Share of customers whose browser sends Global Privacy Control.",
    )


class MarketingConfig(_Section):
    newsletters_per_week: float = Field(
        1.5, ge=0, le=14, description="E-mail campaigns sent per week to opted-in customers."
    )
    push_per_week: float = Field(1.0, ge=0, le=14, description="Push campaigns per week.")
    sms_per_month: float = Field(1.0, ge=0, le=30, description="SMS campaigns per month.")


class ServiceConfig(_Section):
    contacts_per_order: float = Field(
        0.12, ge=0, le=3, description="Service contacts per order (delivery, returns, ...)."
    )
    background_contacts_per_year: float = Field(
        0.3, ge=0, le=20, description="Service contacts per year not caused by an order."
    )
    agents: int = Field(40, ge=1, le=2000, description="Service agents.")
    typo_rate: float = Field(0.02, ge=0, le=0.3, description="Per-word typo rate in messages.")
    code_switch_rate: float = Field(
        0.12, ge=0, le=1, description="Chance that a contact mixes in another language."
    )


class FraudConfig(_Section):
    ring_share: float = Field(
        0.004,
        ge=0,
        le=0.2,
        description="Fraudulent identities as a share of customers (grouped into rings).",
    )
    ring_size: tuple[int, int] = Field(
        (4, 15), description="Smallest and largest number of synthetic identities in a ring."
    )


class Scenario(BaseModel):
    """A whole simulated company. Every field has a default: an empty file is the default
    world, and a file may set any subset."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field("Alpenmarkt", description="The fictional retailer's name.")
    seed: int = Field(42, ge=0, description="Seed: the same seed gives the same output.")
    customers: int = Field(
        10_000, ge=100, le=1_000_000, description="Customers (real people) to simulate."
    )
    days: int = Field(365, ge=1, le=3650, description="Days of observed history.")
    start: date = Field(date(2025, 1, 1), description="Calendar date of day 0.")
    stores: int = Field(20, ge=1, le=500, description="Physical stores.")
    products: int = Field(400, ge=20, le=50_000, description="Products in the catalogue.")
    acquisition: AcquisitionConfig = AcquisitionConfig()
    purchases: PurchaseConfig = PurchaseConfig()
    churn: ChurnConfig = ChurnConfig()
    identity: IdentityConfig = IdentityConfig()
    consent: ConsentConfig = ConsentConfig()
    marketing: MarketingConfig = MarketingConfig()
    service: ServiceConfig = ServiceConfig()
    fraud: FraudConfig = FraudConfig()

    @model_validator(mode="after")
    def _check(self) -> Scenario:
        low, high = self.fraud.ring_size
        if not 1 <= low <= high:
            raise ValueError("fraud.ring_size must be (smallest, largest) with 1 <= smallest")
        if sum(self.identity.household_size_weights) <= 0:
            raise ValueError("identity.household_size_weights must not all be zero")
        return self


def _describe(error: ValidationError) -> str:
    parts = []
    for item in error.errors():
        where = ".".join(str(p) for p in item["loc"]) or "scenario"
        parts.append(f"{where}: {item['msg'].removeprefix('Value error, ')}")
    return "; ".join(parts)


def load_scenario(path: Path | None = None, **overrides: Any) -> Scenario:
    """Load a YAML (.yml/.yaml) or TOML (.toml) scenario file, then apply ``overrides``.

    Raises:
        InvalidInputError: one line naming the file and every bad field.
    """
    data: dict[str, Any] = {}
    if path is not None:
        try:
            text = path.read_text(encoding="utf-8")
            loaded = tomllib.loads(text) if path.suffix == ".toml" else yaml.safe_load(text)
        except OSError as error:
            raise InvalidInputError(f"cannot read scenario {path}: {error.strerror}") from None
        except (tomllib.TOMLDecodeError, yaml.YAMLError) as error:
            reason = " ".join(str(error).split())
            raise InvalidInputError(f"scenario {path} is not valid: {reason}") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise InvalidInputError(f"scenario {path} must be a mapping of settings")
        data = dict(loaded or {})
    data.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return Scenario.model_validate(data)
    except ValidationError as error:
        where = f"scenario {path}" if path is not None else "scenario"
        raise InvalidInputError(f"invalid {where}: {_describe(error)}") from None
