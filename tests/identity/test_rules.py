"""Identity rules: where identifiers are read, how e-mail addresses are keyed, placeholders,
and setting the rules through the API and the CLI."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from typer.testing import CliRunner

from coreo.audit.models import AuditEntry
from coreo.auth.models import Workspace
from coreo.cli import app as cli_app
from coreo.config import get_settings
from coreo.db import Database, utcnow
from coreo.errors import InvalidInputError
from coreo.identity import service
from coreo.identity.identifiers import Identifier, identifiers_of
from coreo.identity.models import Profile, ProfileIdentity
from coreo.identity.rules import DEFAULT_RULES, IdentityRules, email_key, load_rules
from coreo.privacy.sealing import seal_stored
from coreo.sim.people import EMAIL_VARIANT_KINDS, email_variant
from tests.cli.test_cli import assert_one_line_error, coreo
from tests.helpers import assert_problem, identity_graph
from tests.identity.conftest import Feed, message

_LOCAL = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_-", min_size=1, max_size=12)
_DOMAINS = st.sampled_from(["gmail.com", "googlemail.com", "bluewin.ch", "outlook.com", "gmx.ch"])


def _typed(found: list[Identifier], kind: str) -> list[str]:
    return [i.value for i in found if i.type == kind]


# -- keys ---------------------------------------------------------------------------------------


@given(parts=st.lists(_LOCAL, min_size=1, max_size=3), domain=_DOMAINS, tag=st.none() | _LOCAL)
def test_a_mailbox_key_is_stable_and_ignores_case_blanks_and_the_sub_address(
    parts: list[str], domain: str, tag: str | None
) -> None:
    plain = f"{'.'.join(parts)}@{domain}"
    key = email_key(plain)
    assert key is not None and email_key(key) == key  # keying a key changes nothing
    written = f"  {'.'.join(parts).upper()}{'+' + tag if tag else ''}@{domain.title()}\n"
    assert email_key(written) == key
    if domain in ("gmail.com", "googlemail.com"):  # one mailbox, dots or not, either domain
        assert key == f"{''.join(parts)}@gmail.com"
    else:  # elsewhere dots make a different mailbox
        assert key == plain


@pytest.mark.parametrize("kind", EMAIL_VARIANT_KINDS)
def test_every_variant_the_simulator_writes_keys_to_the_same_mailbox(kind: str) -> None:
    rng = random.Random(7)
    for address in ("anna.meier@gmail.com", "luca.rossi@outlook.com", "ch.weber@bluewin.ch"):
        assert email_key(email_variant(rng, address, kind=kind)) == email_key(address)


def test_exact_keys_only_trim_and_lower_case() -> None:
    assert email_key(" Anna.Meier+shop@GMAIL.com ", mailbox=False) == "anna.meier+shop@gmail.com"
    exact = IdentityRules.model_validate({**_dumped(), "email_key": "exact"})
    found = identifiers_of(message("identify", traits={"email": "a.b@googlemail.com"}), exact)
    assert _typed(found, "email") == ["a.b@googlemail.com"]


@pytest.mark.parametrize(
    "text",
    [
        "anna",
        "@example.ch",
        "anna@",
        "an na@example.ch",
        " ",
        '"anna+x"@example.ch',  # a quoted local part
        "a@@example.ch",
        "<anna@example.ch>",
        "mailto:anna@example.ch",
        "anna@example.ch,ben@example.ch",
        "an\u200bna@example.ch",  # an invisible character
    ],
)
def test_what_is_not_an_address_is_no_identifier(text: str) -> None:
    assert email_key(text) is None
    found = identifiers_of(message("identify", userId="u", traits={"email": text}))
    assert _typed(found, "email") == []


def test_an_international_domain_is_one_key_in_unicode_and_in_ascii() -> None:
    assert email_key("Anna@Bücher.ch") == email_key("anna@xn--bcher-kva.ch")
    assert email_key("anna@bücher.ch") == "anna@xn--bcher-kva.ch"


def test_placeholders_are_not_read_and_the_list_is_the_workspaces() -> None:
    placeholder = message("identify", anonymousId="c", traits={"email": "NoEmail@Example.com"})
    assert _typed(identifiers_of(placeholder), "email") == []
    own = IdentityRules.model_validate(
        {**_dumped(), "ignore": {"email": ["kasse@shop.ch"], "loyalty_card": ["0000"]}}
    )
    shop = message("identify", traits={"email": "kasse+1@shop.ch", "loyaltyCard": "0000"})
    assert identifiers_of(shop, own) == []  # the till's address, keyed, and its dummy card
    assert _typed(identifiers_of(shop), "email") == ["kasse@shop.ch"]
    assert _typed(identifiers_of(placeholder, own), "email") == ["noemail@example.com"]


# -- sources ------------------------------------------------------------------------------------


def test_a_guest_checkout_email_is_read_from_order_completed_only() -> None:
    order = message(event="Order Completed", anonymousId="c", properties={"email": "a@b.ch"})
    referral = message(event="Referral Sent", anonymousId="c", properties={"email": "f@b.ch"})
    assert _typed(identifiers_of(order), "email") == ["a@b.ch"]
    assert _typed(identifiers_of(referral), "email") == []  # a friend's address, not ours


def test_the_loyalty_card_is_read_from_identify_traits_and_context_traits() -> None:
    identify = message("identify", userId="u", traits={"loyaltyCard": 2990000000017})
    track = message(context={"traits": {"loyaltyCard": " 2990000000017 "}}, anonymousId="p")
    assert _typed(identifiers_of(identify), "loyalty_card") == ["2990000000017"]
    assert _typed(identifiers_of(track), "loyalty_card") == ["2990000000017"]
    # identify traits are the person's; a track call's own traits are not read
    assert _typed(identifiers_of(message(traits={"email": "x@y.ch"})), "email") == []


def test_sources_given_replace_the_defaults() -> None:
    rules = IdentityRules.model_validate(
        {
            **_dumped(),
            "sources": [
                {
                    "field": "properties.customer.number",
                    "type": "erp_customer_no",
                    "calls": ["track"],
                    "events": ["Invoice Paid"],
                }
            ],
        }
    )
    paid = message(
        event="Invoice Paid", anonymousId="c", properties={"customer": {"number": "K-17"}}
    )
    assert _typed(identifiers_of(paid, rules), "erp_customer_no") == ["K-17"]
    login = message("identify", userId="u", traits={"email": "a@b.ch"})
    assert _typed(identifiers_of(login, rules), "email") == []  # default source gone
    assert _typed(identifiers_of(login), "email") == ["a@b.ch"]


@pytest.mark.parametrize(
    ("document", "fragment"),
    [
        ("types: {}", "the rules must name user_id"),
        ("sources: [{field: userId, type: user_id}]", "sources.0.field: String should"),
        ("sources: [{field: traits.x, type: Bad-Type}]", "sources.0.type"),
        ("sources: [{field: traits.x, type: x, calls: [group]}]", "sources.0.calls.0"),
        ("email_key: fuzzy", "email_key"),
        (
            "types: {user_id: {priority: 10}, anonymous_id: {priority: 5, device: true}}",
            "anonymous_id is a device: its priority (5) must be above user_id's (10)",
        ),
        ("ignore: {Email: [x]}", "ignore.Email.[key]"),
        ("colour: blue", "colour: Extra inputs are not permitted"),
        ("[1, 2]", "expected a mapping"),
        ("types: [", "not valid YAML (line 1)"),
    ],
)
def test_bad_rules_are_refused_in_one_line(document: str, fragment: str) -> None:
    base = yaml.safe_dump({"types": _dumped()["types"]})
    text = document if document.startswith(("types", "[")) else f"{base}{document}"
    with pytest.raises(InvalidInputError) as raised:
        load_rules(text)
    assert fragment in raised.value.message and "\n" not in raised.value.message


def _dumped() -> dict[str, Any]:
    return DEFAULT_RULES.model_dump(mode="json")


# -- in the graph -------------------------------------------------------------------------------


def test_rules_put_through_the_service_apply_to_the_next_events(
    feed: Feed, database: Database, tenant: Any
) -> None:
    first, second = feed(
        message("identify", 0, userId="u1", traits={"email": "a@b.ch"}),
        message(at=1, event="Invoice Paid", anonymousId="c9", properties={"email": "a@b.ch"}),
    )
    assert first != second  # Invoice Paid is no source by default
    document = _dumped()
    document["sources"].append(
        {
            "field": "properties.email",
            "type": "email",
            "calls": ["track"],
            "events": ["Invoice Paid"],
        }
    )
    with database.transaction() as session:
        service.put_rules(
            session, tenant.workspace_id, IdentityRules.model_validate(document), actor="test"
        )
    (third,) = feed(
        message(at=2, event="Invoice Paid", anonymousId="c10", properties={"email": "A@B.ch"})
    )
    assert third == first


# -- API ----------------------------------------------------------------------------------------


def test_the_api_shows_sets_and_resets_the_rules(
    client: TestClient, tenant: Any, database: Database, feed: Feed
) -> None:
    shown = client.get("/v1/identity/rules", headers=tenant.admin)
    assert shown.status_code == 200, shown.text
    assert shown.json()["default"] is True and shown.json()["version"] == 0
    assert IdentityRules.model_validate(shown.json()["rules"]) == DEFAULT_RULES
    rules = shown.json()["rules"]
    rules["email_key"] = "exact"
    rules["types"]["email"]["max_per_profile"] = 2
    put = client.put("/v1/identity/rules", headers=tenant.admin, json=rules)
    assert put.status_code == 200, put.text
    assert put.json()["version"] == 1 and put.json()["default"] is False
    assert put.json()["updated_by"].startswith("key:")
    again = client.get("/v1/identity/rules", headers=tenant.admin).json()
    assert again["rules"]["email_key"] == "exact" and again["version"] == 1
    # the resolver uses them: exact keys keep the sub-address
    (pid,) = feed(message("identify", userId="u", traits={"email": "a+x@gmail.com"}))
    found = client.get("/v1/profiles/lookup?email=A%2Bx@gmail.com", headers=tenant.admin)
    assert found.status_code == 200 and found.json()["id"] == pid
    missing = client.get("/v1/profiles/lookup?email=a@gmail.com", headers=tenant.admin)
    assert_problem(missing, 404, "not-found")
    reset = client.delete("/v1/identity/rules", headers=tenant.admin)
    assert reset.status_code == 200 and reset.json()["default"] is True
    with database.transaction(write=False) as session:
        actions = session.scalars(
            select(AuditEntry.action).where(AuditEntry.action.like("identity.rules%"))
        ).all()
    assert actions == ["identity.rules_changed", "identity.rules_reset"]


def test_lookup_keys_the_address_as_the_rules_do(
    client: TestClient, tenant: Any, feed: Feed
) -> None:
    (pid,) = feed(message("identify", userId="u", traits={"email": "anna.meier@gmail.com"}))
    for variant in ("Anna.Meier+shop@googlemail.com", "annameier@gmail.com"):
        found = client.get("/v1/profiles/lookup", params={"email": variant}, headers=tenant.admin)
        assert found.status_code == 200 and found.json()["id"] == pid
    bad = client.get("/v1/profiles/lookup", params={"email": "anna"}, headers=tenant.admin)
    assert_problem(bad, 422, "validation-failed")


def _stored_by_an_older_version(database: Database, workspace_id: str, **held: list[str]) -> None:
    """Profiles (name → their addresses) as a version before mailbox keys stored them:
    keyed by the lower-cased address, in clear."""
    with database.transaction() as session:
        now = utcnow()
        for name, addresses in held.items():
            session.add(Profile(id=f"prf_{name}", workspace_id=workspace_id, created_at=now,
                                updated_at=now))  # fmt: skip
            session.flush()
            for address in addresses:
                session.add(ProfileIdentity(workspace_id=workspace_id, type="email",
                                            value=address, profile_id=f"prf_{name}",
                                            first_seen=now, last_seen=now, users=[],
                                            shared=False))  # fmt: skip


def test_addresses_stored_before_mailbox_keys_are_keyed_by_mailbox_on_upgrade(
    client: TestClient, tenant: Any, database: Database, feed: Feed
) -> None:
    """The upgrade (``seal_stored``) re-keys them: found by any variant, and a new event
    with a variant joins its person. Two rows of one person fold into one; two people the
    mailbox rules now call one are left apart (no merge without an event)."""
    ws = tenant.workspace_id
    _stored_by_an_older_version(
        database,
        ws,
        anna=["anna.meier+shop@gmail.com", "annameier@gmail.com"],
        eve=["eve.smith+news@googlemail.com"],
        carl=["c.arl@gmail.com"],
        dora=["carl@gmail.com"],
        ben=["ben@x.ch"],
        fay=["f.a.y+one@gmail.com", "fay+two@googlemail.com"],  # one new key, in one chunk
    )
    assert seal_stored(database) == {
        "profile_identities": 8,
        "email identifiers re-keyed": 2,
        "email identifiers folded": 2,
        "email identifiers kept apart": 1,
    }
    assert seal_stored(database) == {"email identifiers kept apart": 1}  # nothing else left

    def lookup(address: str) -> str:
        found = client.get("/v1/profiles/lookup", params={"email": address}, headers=tenant.admin)
        assert found.status_code == 200, found.text
        return str(found.json()["id"])

    assert lookup("Eve.Smith@gmail.com") == lookup("evesmith+x@googlemail.com") == "prf_eve"
    assert lookup("anna.meier@gmail.com") == "prf_anna"
    assert lookup("ben@x.ch") == "prf_ben"
    graph = identity_graph(database, ws)
    assert graph == {
        "email:annameier@gmail.com": "prf_anna",
        "email:evesmith@gmail.com": "prf_eve",
        "email:c.arl@gmail.com": "prf_carl",  # apart, under its old key
        "email:carl@gmail.com": "prf_dora",
        "email:ben@x.ch": "prf_ben",
        "email:fay@gmail.com": "prf_fay",
    }
    (eve,) = feed(message("identify", userId="eve-1", traits={"email": "EveSmith@gmail.com"}))
    assert eve == "prf_eve"  # joined, no new profile


def test_switching_email_keys_to_mailbox_re_keys_the_stored_addresses(
    database: Database, tenant: Any, feed: Feed
) -> None:
    ws = tenant.workspace_id
    exact = DEFAULT_RULES.model_copy(update={"email_key": "exact"})
    with database.transaction() as session:
        service.put_rules(session, ws, exact, actor="test")
    first, second = feed(
        message("identify", userId="x-1", traits={"email": "X.Y+tag@gmail.com"}),
        message("identify", userId="z-1", traits={"email": "zz@x.ch"}),
    )
    assert identity_graph(database, ws)["email:x.y+tag@gmail.com"] == first
    with database.transaction() as session:
        service.put_rules(session, ws, DEFAULT_RULES, actor="test")
    graph = identity_graph(database, ws)
    assert {k: v for k, v in graph.items() if k.startswith("email:")} == {
        "email:xy@gmail.com": first,
        "email:zz@x.ch": second,
    }
    (again,) = feed(message("identify", anonymousId="c-9", traits={"email": "x.y@gmail.com"}))
    assert again == first


def test_changing_the_rules_needs_an_admin_key_and_valid_rules(
    client: TestClient, tenant: Any
) -> None:
    created = client.post(
        "/v1/keys",
        headers=tenant.admin,
        json={"name": "crm", "scopes": ["profiles:read", "profiles:write"]},
    )
    crm = tenant.bearer(created.json()["token"])
    assert client.get("/v1/identity/rules", headers=crm).status_code == 200
    assert_problem(client.put("/v1/identity/rules", headers=crm, json=_dumped()), 403, "forbidden")
    assert_problem(client.delete("/v1/identity/rules", headers=crm), 403, "forbidden")
    bad = client.put("/v1/identity/rules", headers=tenant.admin, json={"types": {}})
    assert_problem(bad, 422, "validation-failed")
    wrong = {**_dumped(), "sources": [{"field": "userId", "type": "user_id"}]}
    assert_problem(
        client.put("/v1/identity/rules", headers=tenant.admin, json=wrong),
        422,
        "validation-failed",
    )
    assert client.get("/v1/identity/rules", headers=tenant.admin).json()["default"] is True


# -- CLI ----------------------------------------------------------------------------------------


def test_cli_shows_applies_and_resets_the_rules(tmp_path: Path) -> None:
    home = tmp_path / "home"
    runner = CliRunner()
    env = {"COREO_HOME": str(home), "COLUMNS": "200"}
    assert runner.invoke(cli_app, ["init"], env=env).exit_code == 0
    shown = runner.invoke(cli_app, ["identity", "rules", "show"], env=env)
    assert shown.exit_code == 0, shown.output
    document = yaml.safe_load(shown.stdout)
    assert IdentityRules.model_validate(document) == DEFAULT_RULES
    document["email_key"] = "exact"
    path = tmp_path / "rules.yml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    applied = runner.invoke(cli_app, ["identity", "rules", "apply", str(path)], env=env)
    assert applied.exit_code == 0, applied.output
    assert "version 1" in applied.output and "e-mail keyed exact" in applied.output
    database = Database.from_settings(get_settings(home=home))
    with database.transaction(write=False) as session:
        ws = session.scalars(select(Workspace.id)).one()
        assert service.rules_for(session, ws).email_key == "exact"
    database.dispose()
    reset = runner.invoke(cli_app, ["identity", "rules", "reset"], env=env)
    assert reset.exit_code == 0 and "default identity rules" in reset.output
    path.write_text("types: {email: {}}\n", encoding="utf-8")
    assert_one_line_error(
        coreo(home, "identity", "rules", "apply", str(path)), "rules.yml", "must name user_id"
    )
    assert_one_line_error(
        coreo(home, "identity", "rules", "apply", str(tmp_path / "nope.yml")), "cannot read"
    )
