"""Phrase tables for :mod:`coreo.sim.conversations` (German, French, Italian, English).

Pure data: per language, one :class:`IntentText` per contact intent (several paraphrase
frames for the core request, detail sentences, e-mail subjects, and noun phrases the agent
uses for the topic) and one :class:`LanguageText` with everything that does not depend on
the intent (greetings, context sentences, emotion and urgency sentences, follow-ups,
spoken fillers, code-switching material, agent phrases in three empathy tiers).

Templates use ``str.format`` slots. Fact slots, which a template may only use when the
caller supplied the fact: ``{order}``, ``{product}``, ``{amount}`` (already formatted, no
currency), ``{store}``, ``{days}``. Always-available slots: ``{name}`` (customer's first
name), ``{agent}`` (agent's first name), ``{deadline}``, ``{topic}`` (agent phrases only).

Agent tables are *tiered*: index 0 is curt and formulaic, 1 neutral, 2 empathic.
Plain ASCII apostrophes and quotes only (no typographic look-alikes).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["INTENT_TEXT", "LANGUAGE_TEXT", "IntentText", "LanguageText", "Tiered"]

Tiered = tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class IntentText:
    """Intent-specific customer material and the agent's noun phrases for the topic."""

    core: tuple[str, ...]  # the request itself: paraphrase frames
    detail: tuple[str, ...]  # optional supporting sentence
    subject: tuple[str, ...]  # e-mail subject lines
    topic: tuple[str, ...]  # agent: object of "I'll check ..." (accusative in German)


@dataclass(frozen=True, slots=True)
class LanguageText:
    """Intent-independent material for one language."""

    greet_formal: tuple[str, ...]
    greet_casual: tuple[str, ...]
    phone_open: tuple[str, ...]  # the customer's first words on the phone
    context: dict[str, tuple[str, ...]]  # keyed by fact: order/product/store/days/amount/none
    polite: tuple[str, ...]
    annoyed: tuple[str, ...]
    angry: tuple[str, ...]
    urgency_low: tuple[str, ...]
    urgency_medium: tuple[str, ...]
    urgency_high: tuple[str, ...]
    deadlines: tuple[str, ...]
    close_chat: tuple[str, ...]
    signoff: tuple[str, ...]  # e-mail sign-off with {name}
    fu_info: tuple[str, ...]  # follow-up giving a fact
    fu_noinfo: tuple[str, ...]
    fu_ack: tuple[str, ...]
    fu_unresolved: tuple[str, ...]
    fu_escalate: tuple[str, ...]
    email_followup: tuple[str, ...]
    fillers: tuple[str, ...]
    cs_pre: tuple[str, ...]  # foreign word put before a sentence
    cs_post: tuple[str, ...]  # foreign phrase put after the message
    cs_subs: tuple[tuple[str, str], ...]  # (native, foreign) substitutions
    cs_sentences: tuple[str, ...]  # sentences that speakers of *other* languages borrow
    subject_generic: tuple[str, ...]
    subject_urgent: tuple[str, ...]
    subject_angry: tuple[str, ...]
    agent_names: tuple[str, ...]
    a_ack: Tiered
    a_sorry: Tiered
    a_action: Tiered
    a_ask_order: Tiered
    a_ask_detail: Tiered
    a_thanks_info: Tiered
    a_wait: Tiered
    a_promise: Tiered
    a_escalated: Tiered
    a_close: Tiered
    a_email_greet: Tiered
    a_email_sign: Tiered
    a_phone_open: Tiered


_I = IntentText

# ---------------------------------------------------------------------------------------------
# German (Swiss Standard German: "ss" instead of "ß", occasional Swiss words)
# ---------------------------------------------------------------------------------------------

_DE_INTENTS: dict[str, IntentText] = {
    "delivery_status": _I(
        core=(
            "Wo bleibt meine Bestellung {order}?",
            "Mein Paket ist immer noch nicht angekommen.",
            "Können Sie mir sagen, wann meine Lieferung kommt?",
            "Die Sendungsverfolgung zeigt seit {days} Tagen keinen neuen Status.",
            "Ich habe noch keine Lieferung erhalten, obwohl sie angekündigt war.",
            "Wann wird die Bestellung {order} endlich geliefert?",
            "Laut Tracking sollte das Paket längst da sein, ist es aber nicht.",
        ),
        detail=(
            "Die Post hat auch nichts in den Briefkasten gelegt.",
            "Im Tracking steht seit Tagen nur 'in Zustellung'.",
            "Ich war den ganzen Tag zu Hause, kein Paket, niemand hat geklingelt.",
            "Die Lieferung war für letzte Woche angekündigt.",
        ),
        subject=(
            "Wo ist meine Lieferung?",
            "Lieferstatus Bestellung {order}",
            "Paket nicht angekommen",
        ),
        topic=("den Lieferstatus", "die Sendungsverfolgung Ihres Pakets"),
    ),
    "delivery_damaged": _I(
        core=(
            "Das Paket ist beschädigt bei mir angekommen.",
            "Der Artikel {product} war beim Auspacken kaputt.",
            "Die Ware aus der Lieferung {order} war defekt, die Schachtel war eingedrückt.",
            "Beim Öffnen habe ich gesehen, dass {product} zerbrochen ist.",
            "Die Lieferung kam völlig ramponiert an, der Inhalt ist beschädigt.",
            "Ein Teil der Lieferung ist beschädigt angekommen.",
        ),
        detail=(
            "Ich habe Fotos vom Karton gemacht.",
            "Die Verpackung war schon aussen nass und eingerissen.",
            "Ich hätte gerne einen Ersatz für die beschädigte Ware.",
            "Der Pöstler hat das Paket einfach vor die Tür geworfen.",
        ),
        subject=("Beschädigte Lieferung", "Ware kaputt angekommen", "Transportschaden {order}"),
        topic=("den Transportschaden", "die beschädigte Lieferung"),
    ),
    "return_request": _I(
        core=(
            "Ich möchte {product} zurückschicken.",
            "Wie kann ich einen Artikel retournieren?",
            "Ich würde gerne die Bestellung {order} retournieren.",
            "Der Artikel passt nicht, ich möchte ihn zurückschicken.",
            "Kann ich die Ware auch in der Filiale retournieren?",
            "Bitte senden Sie mir eine Etikette für die Retoure.",
            "Wie funktioniert die Retoure bei Ihnen?",
        ),
        detail=(
            "Die Grösse ist leider zu klein.",
            "Die Farbe sieht in echt ganz anders aus.",
            "Die Originalverpackung habe ich noch.",
            "Ich habe es nur einmal anprobiert.",
            "Wie lange habe ich Zeit für die Rücksendung?",
        ),
        subject=("Retoure", "Rücksendung {order}", "Artikel zurückgeben"),
        topic=("Ihre Retoure", "die Rücksendung"),
    ),
    "refund_status": _I(
        core=(
            "Wann bekomme ich mein Geld zurück?",
            "Ich warte seit {days} Tagen auf die Rückerstattung.",
            "Die Rückerstattung von CHF {amount} ist noch nicht auf meinem Konto.",
            "Ich habe die Ware retourniert, aber noch keine Gutschrift erhalten.",
            "Wie ist der Stand der Rückerstattung für {order}?",
            "Wurde die Rückerstattung schon ausgelöst?",
        ),
        detail=(
            "Das Paket ist laut Tracking längst bei Ihnen angekommen.",
            "Auf meiner Kreditkartenabrechnung sehe ich keine Rückerstattung.",
            "Sie haben mir eine Rückerstattung innert 5 Tagen versprochen.",
        ),
        subject=("Rückerstattung", "Gutschrift fehlt", "Wo bleibt mein Geld?"),
        topic=("den Stand Ihrer Rückerstattung", "die Gutschrift"),
    ),
    "payment_failed": _I(
        core=(
            "Meine Zahlung wurde abgelehnt.",
            "Ich kann im Webshop nicht bezahlen, es kommt immer eine Fehlermeldung.",
            "Die Zahlung mit TWINT funktioniert nicht.",
            "Beim Bezahlen von CHF {amount} bricht der Vorgang jedes Mal ab.",
            "Ich wollte die Bestellung {order} bezahlen, aber die Zahlung ist fehlgeschlagen.",
            "Warum geht meine Zahlung nicht durch?",
        ),
        detail=(
            "Die Karte ist gültig und gedeckt.",
            "Ich habe es schon mit zwei verschiedenen Karten versucht.",
            "In der App kommt nur 'Zahlung fehlgeschlagen'.",
            "Bei anderen Shops funktioniert die Karte problemlos.",
        ),
        subject=("Zahlung fehlgeschlagen", "Problem beim Bezahlen", "Zahlung abgelehnt"),
        topic=("das Zahlungsproblem", "die fehlgeschlagene Zahlung"),
    ),
    "double_charge": _I(
        core=(
            "Mir wurde der Betrag doppelt abgebucht.",
            "Sie haben CHF {amount} zweimal von meiner Karte belastet.",
            "Auf meiner Abrechnung erscheint die Bestellung {order} zweimal.",
            "Ich wurde für eine Bestellung zweimal belastet.",
            "Die Zahlung wurde doppelt ausgeführt, bitte erstatten Sie einen Betrag zurück.",
            "Warum habe ich zwei identische Belastungen auf dem Konto?",
        ),
        detail=(
            "Ich habe nur einmal auf 'Bezahlen' geklickt.",
            "Beide Buchungen haben das gleiche Datum.",
            "Die Bank sagt, ich soll mich bei Ihnen melden.",
        ),
        subject=("Doppelte Belastung", "Zweimal abgebucht", "Doppelzahlung {order}"),
        topic=("die doppelte Belastung", "die Doppelbuchung"),
    ),
    "cancel_order": _I(
        core=(
            "Ich möchte meine Bestellung {order} stornieren.",
            "Bitte stornieren Sie meine letzte Bestellung.",
            "Kann ich die Bestellung noch stornieren?",
            "Ich habe aus Versehen bestellt und möchte die Bestellung stornieren.",
            "Bitte streichen Sie {product} aus meiner Bestellung, ich brauche es nicht mehr.",
            "Ist es noch möglich, die Bestellung vor dem Versand zu stornieren?",
        ),
        detail=(
            "Ich habe den Artikel anderswo günstiger gefunden.",
            "Ich habe versehentlich zweimal bestellt.",
            "Die Lieferzeit ist mir zu lang.",
            "Bitte bestätigen Sie mir die Stornierung.",
        ),
        subject=("Stornierung", "Bestellung {order} stornieren", "Storno"),
        topic=("die Stornierung", "Ihre Stornierungsanfrage"),
    ),
    "cancel_account": _I(
        core=(
            "Ich möchte mein Kundenkonto löschen.",
            "Bitte kündigen Sie meine Kundenkarte und mein Konto.",
            "Wie kann ich mein Alpenmarkt-Konto schliessen?",
            "Ich will kein Kundenkonto mehr bei Ihnen haben.",
            "Bitte deaktivieren Sie mein Konto per sofort.",
            "Ich möchte meine Mitgliedschaft beenden.",
        ),
        detail=(
            "Ich nutze das Konto seit Jahren nicht mehr.",
            "Ich ziehe ins Ausland.",
            "Meine restlichen Punkte brauche ich nicht.",
        ),
        subject=("Konto kündigen", "Kontolöschung", "Kündigung Kundenkonto"),
        topic=("die Schliessung Ihres Kontos", "die Kündigung Ihres Kundenkontos"),
    ),
    "complaint_product": _I(
        core=(
            "{product} ist nach zwei Wochen schon kaputt gegangen.",
            "Ich bin mit der Qualität von {product} sehr unzufrieden.",
            "Das Produkt hält nicht, was es verspricht.",
            "Der Reissverschluss ist nach einmal Tragen gerissen.",
            "Die Qualität ist wirklich miserabel für diesen Preis.",
            "Das Material ist ganz anders als auf den Fotos.",
        ),
        detail=(
            "Für diesen Preis erwarte ich mehr.",
            "Ich habe es genau nach Anleitung benutzt.",
            "Die Nähte lösen sich schon auf.",
        ),
        subject=("Reklamation", "Mangelhafte Qualität", "Beschwerde über {product}"),
        topic=("Ihre Reklamation zum Produkt", "die Qualitätsbeanstandung"),
    ),
    "complaint_service": _I(
        core=(
            "Ich wurde in Ihrer Filiale in {store} sehr unfreundlich bedient.",
            "Der Kundendienst hat mir bisher überhaupt nicht geholfen.",
            "Ich möchte mich über Ihr Personal beschweren.",
            "Niemand vom Kundendienst antwortet auf meine E-Mails.",
            "Die Verkäuferin war ausgesprochen unhöflich zu mir.",
            "Ich hänge jedes Mal ewig in der Warteschleife.",
        ),
        detail=(
            "An der Kasse musste ich 20 Minuten warten.",
            "Das Personal hat mich einfach stehen lassen.",
            "Mir wurde ein Rückruf versprochen, es kam aber nichts.",
        ),
        subject=("Beschwerde Kundendienst", "Unfreundliche Bedienung", "Schlechter Service"),
        topic=("Ihre Rückmeldung zu unserem Service", "Ihre Beschwerde"),
    ),
    "product_question": _I(
        core=(
            "Ist {product} wasserdicht?",
            "Können Sie mir sagen, welche Masse {product} hat?",
            "Ich hätte eine Frage zu einem Produkt aus Ihrem Sortiment.",
            "Eignet sich {product} auch für Kinder?",
            "Aus welchem Material ist der Artikel gemacht?",
            "Gibt es das Produkt auch in einer anderen Farbe?",
            "Passt das Zubehör auch an mein Velo?",
        ),
        detail=(
            "Auf der Website finde ich dazu keine Angaben.",
            "Ich möchte es als Geschenk kaufen.",
            "Ich brauche es für eine Tour in den Bergen.",
        ),
        subject=("Frage zu {product}", "Produktfrage", "Frage zu einem Artikel"),
        topic=("die Produktinformationen", "die Angaben des Herstellers"),
    ),
    "stock_availability": _I(
        core=(
            "Ist {product} in der Filiale in {store} an Lager?",
            "Wann ist {product} wieder an Lager?",
            "Der Artikel ist online ausverkauft, haben Sie ihn im Laden noch an Lager?",
            "Bekommen Sie {product} wieder an Lager?",
            "Kann ich den Artikel in {store} reservieren, falls er verfügbar ist?",
            "Ist das Produkt noch verfügbar oder ausverkauft?",
        ),
        detail=(
            "In der App steht 'nicht verfügbar'.",
            "Ich würde es gerne diese Woche abholen, falls es verfügbar ist.",
            "Ich brauche die Grösse M, ist die noch an Lager?",
        ),
        subject=("Verfügbarkeit {product}", "Wieder an Lager?", "Lagerbestand"),
        topic=("den Lagerbestand", "die Verfügbarkeit in unseren Filialen"),
    ),
    "loyalty_points": _I(
        core=(
            "Mir fehlen Punkte auf meiner Kundenkarte.",
            "Meine letzten Einkäufe wurden nicht auf der Kundenkarte gutgeschrieben.",
            "Wie viele Punkte habe ich momentan auf der Kundenkarte?",
            "Für den Einkauf von CHF {amount} habe ich keine Punkte bekommen.",
            "Ich habe in {store} eingekauft, aber die Punkte sind nicht erschienen.",
            "Wann verfallen meine Punkte?",
        ),
        detail=(
            "Ich habe die Karte an der Kasse sicher gezeigt.",
            "In der App stehen immer noch die alten Punkte.",
            "Ich habe die Quittung noch.",
        ),
        subject=("Fehlende Punkte", "Kundenkarte Punkte", "Treuepunkte"),
        topic=("Ihr Punktekonto", "die Gutschrift der Treuepunkte"),
    ),
    "voucher_problem": _I(
        core=(
            "Mein Gutschein funktioniert nicht.",
            "Der Gutscheincode wird im Warenkorb nicht akzeptiert.",
            "Mein Geschenkgutschein über CHF {amount} wird als ungültig angezeigt.",
            "Der Rabattcode wurde bei der Bestellung {order} nicht abgezogen.",
            "Beim Einlösen des Gutscheins kommt eine Fehlermeldung.",
            "Warum kann ich meinen Gutschein nicht einlösen?",
        ),
        detail=(
            "Der Gutschein ist laut Karte noch bis Ende Jahr gültig.",
            "Ich habe den Code mehrmals abgetippt.",
            "Ich habe ihn zum Geburtstag bekommen.",
        ),
        subject=("Gutschein ungültig", "Problem mit Gutscheincode", "Rabattcode"),
        topic=("den Gutschein", "Ihren Gutscheincode"),
    ),
    "address_change": _I(
        core=(
            "Ich möchte meine Lieferadresse ändern.",
            "Wir zügeln nächsten Monat, bitte ändern Sie meine Adresse.",
            "Kann ich die Adresse für die Bestellung {order} noch anpassen?",
            "Bei der Bestellung habe ich eine falsche Adresse angegeben.",
            "Bitte aktualisieren Sie meine Adresse im Kundenkonto.",
            "Ich bin umgezogen und die Post kommt noch an die alte Adresse.",
        ),
        detail=(
            "Die neue Adresse ist Bahnhofstrasse 12, 8001 Zürich.",
            "Im Konto kann ich die Adresse nicht selbst ändern.",
            "Die Hausnummer ist falsch.",
        ),
        subject=("Adressänderung", "Neue Adresse", "Falsche Lieferadresse"),
        topic=("die Adressänderung", "Ihre Adressdaten"),
    ),
    "login_problem": _I(
        core=(
            "Ich kann mich nicht in mein Konto einloggen.",
            "Das Zurücksetzen des Passworts funktioniert nicht.",
            "Die App sagt immer 'Login fehlgeschlagen'.",
            "Ich bekomme keinen SMS-Code aufs Natel.",
            "Mein Konto ist gesperrt, ich komme nicht mehr rein.",
            "Ich habe mein Passwort vergessen und die E-Mail zum Zurücksetzen kommt nicht an.",
        ),
        detail=(
            "Ich habe die App schon neu installiert.",
            "Im Browser geht es auch nicht.",
            "Ich verwende sicher die richtige E-Mail-Adresse.",
        ),
        subject=("Login geht nicht", "Passwort vergessen", "Konto gesperrt"),
        topic=("den Zugang zu Ihrem Konto", "das Login-Problem"),
    ),
    "fraud_report": _I(
        core=(
            "In meinem Konto sind Bestellungen, die ich nicht gemacht habe.",
            "Jemand hat mit meinem Konto eingekauft, das ist Betrug.",
            "Auf meiner Karte ist eine Belastung von CHF {amount}, die ich nicht kenne.",
            "Ich glaube, mein Konto wurde gehackt, das ist Betrug.",
            "Die Bestellung {order} stammt nicht von mir, das ist Betrug.",
            "Ich habe eine verdächtige E-Mail im Namen von Alpenmarkt bekommen.",
        ),
        detail=(
            "Ich habe meine Karte bereits sperren lassen.",
            "Die Lieferadresse ist mir völlig unbekannt.",
            "Mein Passwort wurde ohne mein Wissen geändert.",
        ),
        subject=("Betrug", "Verdächtige Bestellung", "Konto gehackt"),
        topic=("den Betrugsverdacht", "die verdächtigen Aktivitäten"),
    ),
    "data_protection_request": _I(
        core=(
            "Ich möchte wissen, welche Daten Sie über mich gespeichert haben.",
            "Gemäss Datenschutzgesetz verlange ich Auskunft über meine Daten.",
            "Bitte löschen Sie alle meine Personendaten.",
            "Ich widerrufe meine Einwilligung zur Datenbearbeitung.",
            "Geben Sie meine Daten an Dritte weiter?",
            "Ich möchte eine Kopie aller Daten, die Sie über mich haben.",
        ),
        detail=(
            "Ich beziehe mich auf das revidierte DSG.",
            "Bitte bestätigen Sie die Löschung schriftlich.",
            "Ich will keine personalisierte Werbung mehr.",
        ),
        subject=("Auskunftsbegehren DSG", "Datenschutz", "Löschung meiner Daten"),
        topic=("Ihr Auskunftsbegehren", "Ihre Datenschutzanfrage"),
    ),
    "invoice_request": _I(
        core=(
            "Können Sie mir eine Rechnung für die Bestellung {order} schicken?",
            "Ich brauche eine Quittung mit ausgewiesener MwSt.",
            "Bitte senden Sie mir eine Kopie der Rechnung.",
            "Ich benötige die Rechnung über CHF {amount} für meine Buchhaltung.",
            "Wo finde ich die Rechnung im Kundenkonto?",
            "Die Rechnung muss auf meine Firma ausgestellt werden.",
        ),
        detail=(
            "Mein Arbeitgeber braucht den Beleg für die Spesen.",
            "Im Konto finde ich nur einen Lieferschein.",
            "Am liebsten als PDF.",
        ),
        subject=("Rechnung", "Kopie der Rechnung", "Rechnung für {order}"),
        topic=("die Rechnung", "eine Rechnungskopie"),
    ),
    "warranty_repair": _I(
        core=(
            "{product} ist defekt und noch unter Garantie.",
            "Ich möchte einen Garantiefall melden.",
            "Können Sie {product} reparieren lassen?",
            "Der Artikel funktioniert nicht mehr, die Garantie läuft aber noch.",
            "Wie lange dauert eine Reparatur bei Ihnen?",
            "Kann ich das Gerät in {store} zur Reparatur abgeben?",
            "Ich brauche einen Termin für die Garantiereparatur.",
        ),
        detail=(
            "Ich habe die Quittung noch.",
            "Ich habe es vor acht Monaten gekauft.",
            "Es lässt sich plötzlich nicht mehr einschalten.",
        ),
        subject=("Garantiefall", "Reparatur", "Garantie {product}"),
        topic=("Ihren Garantiefall", "die Reparatur"),
    ),
    "store_opening_hours": _I(
        core=(
            "Wie lange hat die Filiale in {store} heute offen?",
            "Haben Sie am Sonntag offen?",
            "Was sind die Öffnungszeiten in {store}?",
            "Ist der Laden über Ostern offen?",
            "Bis wann haben Sie am Samstag offen?",
            "Wann öffnet die Filiale in {store} am Morgen?",
        ),
        detail=(
            "Auf Google stehen andere Öffnungszeiten als auf Ihrer Website.",
            "Ich möchte etwas abholen, bevor Sie schliessen.",
            "Ich komme erst nach der Arbeit, haben Sie dann noch offen?",
            "Kann man dort auch parkieren?",
        ),
        subject=("Öffnungszeiten", "Öffnungszeiten {store}", "Sonntagsverkauf"),
        topic=("die Öffnungszeiten", "die Öffnungszeiten der Filiale"),
    ),
    "newsletter_unsubscribe": _I(
        core=(
            "Bitte nehmen Sie mich aus dem Newsletter.",
            "Ich möchte keine Werbe-E-Mails mehr erhalten.",
            "Der Abmeldelink im Newsletter funktioniert nicht.",
            "Wie kann ich mich vom Newsletter abmelden?",
            "Hören Sie bitte auf, mir jeden Tag Werbung zu schicken.",
            "Ich bekomme immer noch Newsletter, obwohl ich mich abgemeldet habe.",
        ),
        detail=(
            "Ich bekomme fast täglich E-Mails von Ihnen.",
            "Auch die SMS-Werbung möchte ich nicht mehr.",
            "Ich habe mich schon zweimal abgemeldet.",
        ),
        subject=("Newsletter abmelden", "Keine Werbung mehr", "Abmeldung"),
        topic=("die Abmeldung vom Newsletter", "Ihre Newsletter-Einstellungen"),
    ),
}

_DE = LanguageText(
    greet_formal=(
        "Sehr geehrte Damen und Herren",
        "Guten Tag",
        "Grüezi",
        "Sehr geehrtes Alpenmarkt-Team",
        "Guten Tag zusammen",
    ),
    greet_casual=("Hallo", "Hoi", "Grüezi", "Hallo zusammen", "Hoi zäme", "Guten Tag", "Sali"),
    phone_open=(
        "Ja, grüezi.",
        "Ja hallo, hier ist {name}.",
        "Grüezi, {name} am Apparat.",
        "Hallo, ja, guten Tag.",
        "Ja, hallo.",
        "Grüezi mitenand.",
    ),
    context={
        "order": (
            "Es geht um meine Bestellung {order}.",
            "Ich habe bei Ihnen bestellt, Bestellnummer {order}.",
            "Betrifft Bestellung {order}.",
            "Meine Bestellnummer ist {order}.",
            "Bestellung {order}:",
        ),
        "product": (
            "Es geht um den Artikel {product}.",
            "Betrifft: {product}.",
            "Artikel: {product}.",
        ),
        "store": (
            "Ich war kürzlich in Ihrer Filiale in {store}.",
            "Es geht um Ihre Filiale in {store}.",
            "Ich kaufe meistens in {store} ein.",
        ),
        "days": (
            "Ich warte jetzt seit {days} Tagen.",
            "Das Ganze dauert schon {days} Tage.",
            "Ich habe mich schon vor {days} Tagen gemeldet.",
        ),
        "amount": (
            "Es geht um einen Betrag von CHF {amount}.",
            "Betrag: CHF {amount}.",
            "Es handelt sich um CHF {amount}.",
        ),
        "none": (
            "Ich habe ein Anliegen.",
            "Ich hätte eine Frage.",
            "Kurze Frage.",
            "Ich wende mich mit folgendem Anliegen an Sie.",
            "Ich bin seit Jahren Kunde bei Ihnen.",
        ),
    },
    polite=(
        "Vielen Dank für Ihre Hilfe.",
        "Besten Dank im Voraus.",
        "Ich danke Ihnen für Ihre Unterstützung.",
        "Merci vielmal für Ihre Bemühungen.",
        "Ich bin sonst immer sehr zufrieden mit Ihnen.",
    ),
    annoyed=(
        "Das ist schon etwas ärgerlich.",
        "Ich bin ehrlich gesagt enttäuscht.",
        "Ich habe mich deswegen schon einmal gemeldet.",
        "Langsam werde ich ungeduldig.",
        "Das sollte eigentlich nicht passieren.",
    ),
    angry=(
        "Das ist jetzt SCHON WIEDER passiert!",
        "So geht das wirklich nicht!",
        "Ich bin extrem verärgert!",
        "Das ist das dritte Mal, dass ich mich melde!",
        "Wenn das nicht sofort gelöst wird, kündige ich meine Kundenkarte!",
        "Ich werde nie wieder bei Alpenmarkt bestellen!",
        "Sonst gehe ich definitiv zur Konkurrenz!",
        "Das ist eine FRECHHEIT!",
        "Unglaublich, schon wieder das gleiche Theater!",
    ),
    urgency_low=("Es eilt nicht.", "Kein Stress.", "Wenn Sie mal Zeit haben."),
    urgency_medium=(
        "Ich wäre froh um eine baldige Antwort.",
        "Könnten Sie sich bitte bald melden?",
        "Ich brauche das eigentlich bis {deadline}.",
        "Eine rasche Rückmeldung wäre super.",
    ),
    urgency_high=(
        "Es ist dringend!",
        "DRINGEND: Ich brauche das bis {deadline}!",
        "Bitte melden Sie sich noch heute, es eilt sehr.",
        "Das muss sofort erledigt werden.",
        "Ich brauche dringend bis {deadline} eine Lösung.",
    ),
    deadlines=("morgen", "Freitag", "Ende Woche", "übermorgen", "Montag"),
    close_chat=("danke", "merci", "Danke im Voraus.", "Merci vielmal!", "Danke schön."),
    signoff=(
        "Freundliche Grüsse\n{name}",
        "Liebe Grüsse\n{name}",
        "Beste Grüsse, {name}",
        "Gruss\n{name}",
        "Merci und Gruss\n{name}",
    ),
    fu_info=(
        "Die Bestellnummer ist {order}.",
        "{order}",
        "Es ist die Bestellung {order}.",
        "Bestellnummer: {order}",
        "Es geht um {product}.",
        "Der Betrag war CHF {amount}.",
        "Es war in der Filiale in {store}.",
    ),
    fu_noinfo=(
        "Die Nummer habe ich gerade nicht zur Hand.",
        "Keine Ahnung, die Mail finde ich nicht mehr.",
        "Die habe ich leider nicht mehr.",
    ),
    fu_ack=(
        "Ok, danke.",
        "Alles klar.",
        "Und wie lange dauert das?",
        "Gut, ich warte.",
        "Muss ich sonst noch etwas machen?",
        "Ok.",
    ),
    fu_unresolved=(
        "Das hilft mir leider nicht weiter.",
        "Das habe ich schon versucht.",
        "Und was heisst das jetzt konkret?",
        "Das ist keine Lösung.",
        "Das haben Sie mir letztes Mal auch gesagt.",
    ),
    fu_escalate=(
        "Hallo??",
        "Ist da noch jemand?",
        "Ich warte immer noch!",
        "Das dauert ja ewig.",
        "Antwortet hier noch jemand??",
        "Ich will jetzt mit einem Vorgesetzten sprechen!",
        "Ich kündige mein Konto, wenn das so weitergeht!",
    ),
    email_followup=(
        "Ich melde mich nochmals wegen meines Anliegens.",
        "Leider habe ich noch immer keine Lösung erhalten.",
        "Bezugnehmend auf Ihre Antwort:",
        "Danke für Ihre Antwort.",
    ),
    fillers=("ähm", "äh", "also", "eben", "halt", "genau", "ja"),
    cs_pre=("sorry", "ok", "anyway", "bon", "voilà", "comunque"),
    cs_post=("merci beaucoup", "grazie mille", "thanks", "ciao"),
    cs_subs=(("Entschuldigung", "Sorry"), ("Termin", "rendez-vous"), ("Vielen Dank", "Thanks")),
    cs_sentences=(
        "Merci vielmal für Ihre Hilfe.",
        "Das wäre super.",
        "Ich hoffe, das ist verständlich.",
        "Das ist wirklich mühsam.",
        "Bitte so schnell wie möglich.",
    ),
    subject_generic=("Anfrage", "Bestellung {order}", "Frage", "Problem", "Kundendienst"),
    subject_urgent=("DRINGEND: ", "Dringend - ", "Eilt: "),
    subject_angry=("Reklamation: ", "!!! ", "Schon wieder: "),
    agent_names=("Laura", "Marco", "Sandra", "Reto", "Nicole", "Jonas"),
    a_ack=(
        ("Danke.", "Anfrage erhalten.", "Ok."),
        ("Danke für Ihre Nachricht.", "Vielen Dank für Ihre Anfrage."),
        (
            "Vielen Dank, dass Sie sich bei uns melden, {name}.",
            "Danke, {name}, gut dass Sie uns schreiben.",
        ),
    ),
    a_sorry=(
        (),
        ("Das tut mir leid.", "Entschuldigen Sie die Unannehmlichkeiten."),
        (
            "Das tut mir wirklich sehr leid, {name}.",
            "Ich verstehe Ihren Ärger sehr gut und entschuldige mich dafür.",
            "Ich kann absolut nachvollziehen, dass Sie verärgert sind.",
        ),
    ),
    a_action=(
        ("Wir prüfen {topic}.", "Wir schauen {topic} an."),
        ("Ich prüfe {topic}.", "Ich schaue mir {topic} an."),
        (
            "Ich kümmere mich persönlich um {topic}.",
            "Ich schaue mir {topic} sofort genau an, damit wir gemeinsam eine Lösung finden.",
        ),
    ),
    a_ask_order=(
        ("Bestellnummer?", "Bestellnummer angeben."),
        ("Können Sie mir bitte die Bestellnummer nennen?",),
        ("Damit ich Ihnen schnell helfen kann, {name}: Hätten Sie die Bestellnummer für mich?",),
    ),
    a_ask_detail=(
        ("Details?", "Mehr Infos bitte."),
        ("Können Sie das Problem etwas genauer beschreiben?",),
        ("Erzählen Sie mir gerne etwas mehr, damit ich genau verstehe, was passiert ist.",),
    ),
    a_thanks_info=(
        ("Ok.", "Erhalten."),
        ("Danke für die Angaben.",),
        ("Herzlichen Dank für die Angaben, {name}.",),
    ),
    a_wait=(
        ("Moment.", "Bitte warten."),
        ("Einen Moment bitte, ich schaue nach.",),
        ("Danke für Ihre Geduld, {name}, ich schaue gleich nach.",),
    ),
    a_promise=(
        ("Antwort folgt innert 3 Arbeitstagen.", "Ticket erstellt.", "Weitergeleitet."),
        (
            "Ich habe Ihr Anliegen an die zuständige Abteilung weitergeleitet.",
            "Sie erhalten innert 2 Arbeitstagen eine Rückmeldung.",
        ),
        (
            "Ich melde mich spätestens morgen persönlich bei Ihnen, versprochen.",
            "Ich bleibe an Ihrem Fall dran und halte Sie auf dem Laufenden.",
        ),
    ),
    a_escalated=(
        ("In Bearbeitung.", "Bitte Geduld."),
        ("Entschuldigen Sie die Wartezeit.",),
        ("Es tut mir leid, dass Sie so lange warten mussten, {name}. Ich bin jetzt für Sie da.",),
    ),
    a_close=(
        ("Sonst noch etwas?", "Gruss."),
        ("Kann ich sonst noch etwas für Sie tun?", "Einen schönen Tag noch."),
        (
            "Ich wünsche Ihnen trotz allem einen schönen Tag, {name}.",
            "Danke für Ihr Verständnis, {name}, und einen schönen Tag!",
        ),
    ),
    a_email_greet=(("Guten Tag",), ("Guten Tag", "Grüezi"), ("Grüezi {name}", "Hallo {name}")),
    a_email_sign=(
        ("Alpenmarkt Kundendienst",),
        ("Freundliche Grüsse\n{agent}\nAlpenmarkt Kundendienst",),
        ("Herzliche Grüsse\n{agent}\nIhr Alpenmarkt Kundendienst",),
    ),
    a_phone_open=(
        ("Alpenmarkt, Kundendienst.",),
        ("Alpenmarkt Kundendienst, {agent} am Apparat. Wie kann ich helfen?",),
        (
            "Grüezi, hier ist {agent} vom Alpenmarkt Kundendienst. "
            "Schön, dass Sie anrufen, wie kann ich Ihnen helfen?",
        ),
    ),
)

# ---------------------------------------------------------------------------------------------
# French (Suisse romande: "natel", "se parquer", "septante" style)
# ---------------------------------------------------------------------------------------------

_FR_INTENTS: dict[str, IntentText] = {
    "delivery_status": _I(
        core=(
            "Où en est ma commande {order}?",
            "Mon colis n'est toujours pas arrivé.",
            "Pouvez-vous me dire quand ma livraison va arriver?",
            "Le suivi n'affiche plus rien depuis {days} jours.",
            "Je n'ai toujours rien reçu alors que la livraison était annoncée.",
            "Quand est-ce que la commande {order} sera enfin livrée?",
            "D'après le suivi, le paquet devrait être là depuis longtemps.",
        ),
        detail=(
            "La Poste n'a rien laissé dans ma boîte aux lettres.",
            "Le suivi indique seulement 'en cours de livraison' depuis des jours.",
            "J'étais à la maison toute la journée, personne n'a sonné.",
            "La livraison était prévue pour la semaine passée.",
        ),
        subject=("Où est ma livraison?", "Suivi de la commande {order}", "Colis pas reçu"),
        topic=("le statut de votre livraison", "le suivi de votre colis"),
    ),
    "delivery_damaged": _I(
        core=(
            "Le colis est arrivé abîmé.",
            "L'article {product} était cassé quand je l'ai déballé.",
            "La marchandise de la commande {order} est arrivée endommagée, le carton était écrasé.",
            "En ouvrant le paquet, j'ai vu que {product} est cassé.",
            "La livraison est arrivée dans un état lamentable, le contenu est endommagé.",
            "Une partie de la livraison est arrivée endommagée.",
        ),
        detail=(
            "J'ai pris des photos du carton.",
            "L'emballage était déjà mouillé et déchiré.",
            "J'aimerais recevoir un article de remplacement.",
            "Le livreur a simplement jeté le paquet devant la porte.",
        ),
        subject=("Livraison endommagée", "Article arrivé cassé", "Dommage de transport {order}"),
        topic=("le dommage de transport", "la livraison endommagée"),
    ),
    "return_request": _I(
        core=(
            "Je souhaite renvoyer {product}.",
            "Comment est-ce que je peux retourner un article?",
            "J'aimerais retourner la commande {order}.",
            "L'article ne me va pas, je voudrais le retourner.",
            "Est-ce que je peux aussi rapporter l'article en magasin?",
            "Merci de m'envoyer une étiquette pour le retour.",
            "Comment fonctionne le retour chez vous?",
        ),
        detail=(
            "La taille est malheureusement trop petite.",
            "La couleur est très différente en vrai.",
            "J'ai encore l'emballage d'origine.",
            "Je ne l'ai essayé qu'une seule fois.",
            "Combien de temps ai-je pour le retour?",
        ),
        subject=("Retour", "Retour de la commande {order}", "Renvoyer un article"),
        topic=("votre retour", "le renvoi de l'article"),
    ),
    "refund_status": _I(
        core=(
            "Quand est-ce que je serai remboursé?",
            "J'attends mon remboursement depuis {days} jours.",
            "Le remboursement de CHF {amount} n'est toujours pas sur mon compte.",
            "J'ai renvoyé la marchandise mais je n'ai reçu aucun crédit.",
            "Où en est le remboursement pour {order}?",
            "Est-ce que le remboursement a déjà été lancé?",
        ),
        detail=(
            "Selon le suivi, le colis est chez vous depuis longtemps.",
            "Je ne vois aucun remboursement sur le relevé de ma carte de crédit.",
            "Vous m'aviez promis un remboursement sous 5 jours.",
        ),
        subject=("Remboursement", "Crédit manquant", "Où est mon argent?"),
        topic=("l'état de votre remboursement", "le crédit sur votre compte"),
    ),
    "payment_failed": _I(
        core=(
            "Mon paiement a été refusé.",
            "Je n'arrive pas à payer sur le webshop, il y a toujours un message d'erreur.",
            "Le paiement avec TWINT ne fonctionne pas.",
            "Le paiement de CHF {amount} s'interrompt à chaque fois.",
            "Je voulais payer la commande {order}, mais le paiement a échoué.",
            "Pourquoi est-ce que mon paiement ne passe pas?",
        ),
        detail=(
            "La carte est valable et approvisionnée.",
            "J'ai déjà essayé avec deux cartes différentes.",
            "Dans l'application, il est juste écrit 'paiement échoué'.",
            "Sur d'autres sites la carte fonctionne sans problème.",
        ),
        subject=("Paiement échoué", "Problème de paiement", "Paiement refusé"),
        topic=("le problème de paiement", "le paiement échoué"),
    ),
    "double_charge": _I(
        core=(
            "J'ai été débité deux fois.",
            "Vous avez prélevé CHF {amount} deux fois sur ma carte.",
            "La commande {order} apparaît deux fois sur mon relevé.",
            "On m'a facturé deux fois la même commande.",
            "Le paiement a été effectué en double, merci de rembourser un des montants.",
            "Pourquoi ai-je deux débits identiques sur mon compte?",
        ),
        detail=(
            "Je n'ai cliqué qu'une seule fois sur 'Payer'.",
            "Les deux débits ont la même date.",
            "Ma banque m'a dit de vous contacter.",
        ),
        subject=("Double débit", "Débité deux fois", "Paiement en double {order}"),
        topic=("le double débit", "le paiement en double"),
    ),
    "cancel_order": _I(
        core=(
            "Je souhaite annuler ma commande {order}.",
            "Merci d'annuler ma dernière commande.",
            "Est-ce que je peux encore annuler la commande?",
            "J'ai commandé par erreur et je voudrais annuler la commande.",
            "Merci de retirer {product} de ma commande, je n'en ai plus besoin.",
            "Est-il encore possible d'annuler avant l'expédition?",
        ),
        detail=(
            "J'ai trouvé l'article moins cher ailleurs.",
            "J'ai commandé deux fois par erreur.",
            "Le délai de livraison est trop long pour moi.",
            "Merci de me confirmer l'annulation.",
        ),
        subject=("Annulation", "Annuler la commande {order}", "Annulation de commande"),
        topic=("l'annulation", "votre demande d'annulation"),
    ),
    "cancel_account": _I(
        core=(
            "Je souhaite supprimer mon compte client.",
            "Merci de résilier ma carte de fidélité et mon compte.",
            "Comment est-ce que je peux fermer mon compte Alpenmarkt?",
            "Je ne veux plus de compte chez vous.",
            "Merci de désactiver mon compte avec effet immédiat.",
            "Je voudrais mettre fin à mon adhésion.",
        ),
        detail=(
            "Je n'utilise plus le compte depuis des années.",
            "Je déménage à l'étranger.",
            "Je n'ai pas besoin de mes points restants.",
        ),
        subject=("Résiliation du compte", "Suppression du compte", "Fermer mon compte"),
        topic=("la fermeture de votre compte", "la résiliation de votre compte client"),
    ),
    "complaint_product": _I(
        core=(
            "{product} s'est déjà cassé après deux semaines.",
            "Je suis très déçu de la qualité de {product}.",
            "Le produit ne tient pas ses promesses.",
            "La fermeture éclair s'est déchirée après une seule utilisation.",
            "La qualité est vraiment médiocre pour ce prix.",
            "Le matériau n'a rien à voir avec les photos.",
        ),
        detail=(
            "Pour ce prix, je m'attends à mieux.",
            "Je l'ai utilisé exactement selon la notice.",
            "Les coutures se défont déjà.",
        ),
        subject=("Réclamation", "Qualité insuffisante", "Réclamation concernant {product}"),
        topic=("votre réclamation sur le produit", "le défaut de qualité"),
    ),
    "complaint_service": _I(
        core=(
            "J'ai été très mal reçu dans votre magasin de {store}.",
            "Le service client ne m'a toujours pas aidé.",
            "Je souhaite me plaindre de votre personnel.",
            "Personne au service client ne répond à mes e-mails.",
            "La vendeuse a été particulièrement impolie avec moi.",
            "J'attends à chaque fois une éternité au téléphone.",
        ),
        detail=(
            "J'ai dû attendre 20 minutes à la caisse.",
            "Le personnel m'a simplement laissé planté là.",
            "On m'avait promis de me rappeler, mais rien.",
        ),
        subject=("Plainte service client", "Accueil désagréable", "Mauvais service"),
        topic=("votre retour sur notre service", "votre plainte"),
    ),
    "product_question": _I(
        core=(
            "Est-ce que {product} est imperméable?",
            "Pouvez-vous me donner les dimensions de {product}?",
            "J'ai une question sur un produit de votre assortiment.",
            "Est-ce que {product} convient aussi aux enfants?",
            "En quelle matière est fait cet article?",
            "Est-ce que le produit existe dans une autre couleur?",
            "Est-ce que l'accessoire est compatible avec mon vélo?",
        ),
        detail=(
            "Je ne trouve aucune information sur le site.",
            "Je voudrais l'offrir en cadeau.",
            "J'en ai besoin pour une randonnée en montagne.",
        ),
        subject=("Question sur {product}", "Question produit", "Renseignement sur un article"),
        topic=("les informations sur le produit", "les indications du fabricant"),
    ),
    "stock_availability": _I(
        core=(
            "Est-ce que {product} est disponible au magasin de {store}?",
            "Quand est-ce que {product} sera de nouveau en stock?",
            "L'article est épuisé en ligne, est-ce que vous l'avez encore en magasin?",
            "Est-ce que {product} sera à nouveau disponible en stock?",
            "Est-ce que je peux réserver l'article à {store} s'il est en stock?",
            "Le produit est-il encore disponible?",
        ),
        detail=(
            "Dans l'application, c'est marqué 'non disponible'.",
            "J'aimerais passer le chercher cette semaine s'il est disponible.",
            "J'ai besoin de la taille M, elle est encore en stock?",
        ),
        subject=("Disponibilité {product}", "De nouveau en stock?", "Stock"),
        topic=("le stock", "la disponibilité dans nos magasins"),
    ),
    "loyalty_points": _I(
        core=(
            "Il me manque des points sur ma carte de fidélité.",
            "Mes derniers achats n'ont pas été crédités sur ma carte client.",
            "Combien de points de fidélité est-ce que j'ai actuellement?",
            "Je n'ai reçu aucun point pour mon achat de CHF {amount}.",
            "J'ai fait des achats à {store}, mais les points n'apparaissent pas.",
            "Quand est-ce que mes points de fidélité expirent?",
        ),
        detail=(
            "J'ai bien présenté ma carte à la caisse.",
            "L'application affiche toujours l'ancien solde.",
            "J'ai encore le ticket de caisse.",
        ),
        subject=("Points manquants", "Points carte de fidélité", "Points de fidélité"),
        topic=("votre compte de points", "le crédit des points de fidélité"),
    ),
    "voucher_problem": _I(
        core=(
            "Mon bon d'achat ne fonctionne pas.",
            "Le code promo n'est pas accepté dans le panier.",
            "J'ai une carte cadeau de CHF {amount}, mais elle est indiquée comme non valable.",
            "Le code de réduction n'a pas été déduit sur la commande {order}.",
            "Un message d'erreur apparaît quand j'utilise mon bon.",
            "Pourquoi je n'arrive pas à utiliser mon bon?",
        ),
        detail=(
            "Le bon est valable jusqu'à la fin de l'année.",
            "J'ai retapé le code plusieurs fois.",
            "Je l'ai reçu pour mon anniversaire.",
        ),
        subject=("Bon non valable", "Problème avec le code promo", "Code de réduction"),
        topic=("le bon d'achat", "votre code promo"),
    ),
    "address_change": _I(
        core=(
            "Je souhaite modifier mon adresse de livraison.",
            "Nous déménageons le mois prochain, merci de changer mon adresse.",
            "Est-ce que je peux encore modifier l'adresse de la commande {order}?",
            "J'ai indiqué une mauvaise adresse lors de la commande.",
            "Merci de mettre à jour mon adresse dans mon compte client.",
            "J'ai déménagé et le courrier arrive encore à l'ancienne adresse.",
        ),
        detail=(
            "La nouvelle adresse est Rue du Lac 12, 1003 Lausanne.",
            "Je ne peux pas changer l'adresse moi-même dans le compte.",
            "Le numéro de rue est faux.",
        ),
        subject=("Changement d'adresse", "Nouvelle adresse", "Mauvaise adresse de livraison"),
        topic=("le changement d'adresse", "vos données d'adresse"),
    ),
    "login_problem": _I(
        core=(
            "Je n'arrive pas à me connecter à mon compte.",
            "La réinitialisation du mot de passe ne fonctionne pas.",
            "L'application affiche toujours 'connexion échouée'.",
            "Je ne reçois pas le code SMS sur mon natel.",
            "Mon compte est bloqué, je ne peux plus me connecter.",
            "J'ai oublié mon mot de passe et l'e-mail de réinitialisation n'arrive pas.",
        ),
        detail=(
            "J'ai déjà réinstallé l'application.",
            "Ça ne marche pas non plus dans le navigateur.",
            "J'utilise bien la bonne adresse e-mail.",
        ),
        subject=("Connexion impossible", "Mot de passe oublié", "Compte bloqué"),
        topic=("l'accès à votre compte", "le problème de connexion"),
    ),
    "fraud_report": _I(
        core=(
            "Il y a des commandes dans mon compte que je n'ai pas passées.",
            "Quelqu'un a fait des achats avec mon compte, c'est une fraude.",
            "Il y a un débit de CHF {amount} sur ma carte que je ne reconnais pas.",
            "Je crois que mon compte a été piraté, c'est de la fraude.",
            "La commande {order} ne vient pas de moi, c'est une fraude.",
            "J'ai reçu un e-mail suspect au nom d'Alpenmarkt.",
        ),
        detail=(
            "J'ai déjà fait bloquer ma carte.",
            "L'adresse de livraison m'est totalement inconnue.",
            "Mon mot de passe a été changé sans que je le sache.",
        ),
        subject=("Fraude", "Commande suspecte", "Compte piraté"),
        topic=("la suspicion de fraude", "les activités suspectes"),
    ),
    "data_protection_request": _I(
        core=(
            "Je souhaite savoir quelles données vous avez enregistrées sur moi.",
            "Selon la loi sur la protection des données, je demande l'accès à mes données.",
            "Merci d'effacer toutes mes données personnelles.",
            "Je retire mon consentement au traitement de mes données.",
            "Est-ce que vous transmettez mes données à des tiers?",
            "Je voudrais une copie de toutes les données que vous détenez sur moi.",
        ),
        detail=(
            "Je me réfère à la nouvelle LPD.",
            "Merci de confirmer la suppression par écrit.",
            "Je ne veux plus de publicité personnalisée.",
        ),
        subject=("Demande d'accès LPD", "Protection des données", "Suppression de mes données"),
        topic=("votre demande d'accès", "votre demande concernant la protection des données"),
    ),
    "invoice_request": _I(
        core=(
            "Pouvez-vous m'envoyer une facture pour la commande {order}?",
            "J'ai besoin d'une quittance avec la TVA.",
            "Merci de m'envoyer une copie de la facture.",
            "J'ai besoin de la facture de CHF {amount} pour ma comptabilité.",
            "Où est-ce que je trouve la facture dans mon compte?",
            "La facture doit être établie au nom de mon entreprise.",
        ),
        detail=(
            "Mon employeur a besoin du justificatif pour les frais.",
            "Dans le compte, je ne trouve que le bulletin de livraison.",
            "En PDF, s'il vous plaît.",
        ),
        subject=("Facture", "Copie de la facture", "Facture pour {order}"),
        topic=("la facture", "une copie de la facture"),
    ),
    "warranty_repair": _I(
        core=(
            "{product} est défectueux et encore sous garantie.",
            "Je souhaite déclarer un cas de garantie.",
            "Pouvez-vous faire réparer {product}?",
            "L'article ne fonctionne plus, la garantie est encore valable.",
            "Combien de temps prend une réparation chez vous?",
            "Est-ce que je peux déposer l'appareil à {store} pour une réparation?",
            "J'ai besoin d'un rendez-vous pour la réparation sous garantie.",
        ),
        detail=(
            "J'ai encore le ticket de caisse.",
            "Je l'ai acheté il y a huit mois.",
            "Il ne s'allume tout simplement plus.",
        ),
        subject=("Cas de garantie", "Réparation", "Garantie {product}"),
        topic=("votre cas de garantie", "la réparation"),
    ),
    "store_opening_hours": _I(
        core=(
            "Jusqu'à quelle heure le magasin de {store} est-il ouvert aujourd'hui?",
            "Est-ce que le magasin est ouvert le dimanche?",
            "Quels sont les horaires d'ouverture à {store}?",
            "Le magasin est-il ouvert pendant Pâques?",
            "Jusqu'à quelle heure êtes-vous ouverts le samedi?",
            "À quelle heure ouvre le magasin de {store} le matin?",
        ),
        detail=(
            "Sur Google, les horaires d'ouverture ne sont pas les mêmes que sur votre site.",
            "Je voudrais venir chercher quelque chose avant la fermeture.",
            "Je ne peux venir qu'après le travail, vous êtes encore ouverts?",
            "Est-ce qu'on peut se parquer devant le magasin?",
        ),
        subject=("Horaires d'ouverture", "Horaires {store}", "Ouverture le dimanche"),
        topic=("les horaires d'ouverture", "les horaires du magasin"),
    ),
    "newsletter_unsubscribe": _I(
        core=(
            "Merci de me retirer de la newsletter.",
            "Je ne veux plus recevoir d'e-mails publicitaires.",
            "Le lien de désinscription dans la newsletter ne fonctionne pas.",
            "Comment est-ce que je peux me désabonner de la newsletter?",
            "Arrêtez s'il vous plaît de m'envoyer de la publicité tous les jours.",
            "Je reçois toujours la newsletter alors que je me suis désinscrit.",
        ),
        detail=(
            "Je reçois des e-mails de votre part presque tous les jours.",
            "Je ne veux plus non plus de publicité par SMS.",
            "Je me suis déjà désinscrit deux fois.",
        ),
        subject=("Désinscription newsletter", "Plus de publicité", "Désabonnement"),
        topic=("la désinscription de la newsletter", "vos préférences de newsletter"),
    ),
}

_FR = LanguageText(
    greet_formal=("Madame, Monsieur", "Bonjour", "Chère équipe Alpenmarkt", "Mesdames, Messieurs"),
    greet_casual=("Bonjour", "Salut", "Bonsoir", "Bonjour à tous", "Coucou"),
    phone_open=(
        "Oui, bonjour.",
        "Allô, bonjour, c'est {name}.",
        "Oui bonjour, {name} à l'appareil.",
        "Bonjour, oui.",
        "Allô?",
    ),
    context={
        "order": (
            "C'est au sujet de ma commande {order}.",
            "J'ai passé commande chez vous, numéro {order}.",
            "Concerne la commande {order}.",
            "Mon numéro de commande est {order}.",
            "Commande {order}:",
        ),
        "product": (
            "C'est au sujet de l'article {product}.",
            "Concerne: {product}.",
            "Article: {product}.",
        ),
        "store": (
            "Je suis passé récemment dans votre magasin de {store}.",
            "C'est au sujet de votre magasin de {store}.",
            "Je fais généralement mes achats à {store}.",
        ),
        "days": (
            "J'attends depuis {days} jours.",
            "Ça dure déjà depuis {days} jours.",
            "Je vous ai déjà écrit il y a {days} jours.",
        ),
        "amount": (
            "Il s'agit d'un montant de CHF {amount}.",
            "Montant: CHF {amount}.",
            "Il s'agit de CHF {amount}.",
        ),
        "none": (
            "J'ai une demande.",
            "J'aurais une question.",
            "Petite question.",
            "Je m'adresse à vous pour la raison suivante.",
            "Je suis client chez vous depuis des années.",
        ),
    },
    polite=(
        "Merci beaucoup pour votre aide.",
        "Merci d'avance.",
        "Je vous remercie pour votre soutien.",
        "Je vous remercie de votre compréhension.",
        "D'habitude je suis toujours très satisfait.",
    ),
    annoyed=(
        "C'est quand même un peu agaçant.",
        "Franchement, je suis déçu.",
        "Je vous ai déjà contacté à ce sujet.",
        "Je commence à perdre patience.",
        "Ça ne devrait pas arriver.",
    ),
    angry=(
        "C'est ENCORE une fois la même chose!",
        "C'est inacceptable!",
        "Je suis extrêmement fâché!",
        "C'est la troisième fois que je vous contacte!",
        "Si ce n'est pas réglé immédiatement, je résilie ma carte de fidélité!",
        "Je ne commanderai plus jamais chez Alpenmarkt!",
        "Sinon je vais chez la concurrence!",
        "C'est INADMISSIBLE!",
        "Incroyable, encore le même cirque!",
    ),
    urgency_low=("Ce n'est pas urgent.", "Rien ne presse.", "Quand vous aurez le temps."),
    urgency_medium=(
        "Je serais content d'avoir une réponse rapide.",
        "Pourriez-vous me répondre bientôt?",
        "J'en aurais besoin d'ici {deadline}.",
        "Une réponse rapide serait super.",
    ),
    urgency_high=(
        "C'est urgent!",
        "URGENT: j'en ai besoin d'ici {deadline}!",
        "Merci de me répondre aujourd'hui encore, c'est très urgent.",
        "Il faut régler ça tout de suite.",
        "J'ai absolument besoin d'une solution d'ici {deadline}.",
    ),
    deadlines=("demain", "vendredi", "la fin de la semaine", "après-demain", "lundi"),
    close_chat=("merci", "Merci d'avance.", "Merci beaucoup!", "merci bien"),
    signoff=(
        "Meilleures salutations\n{name}",
        "Cordialement\n{name}",
        "Bien à vous, {name}",
        "Salutations\n{name}",
        "Merci et bonne journée\n{name}",
    ),
    fu_info=(
        "Le numéro de commande est {order}.",
        "{order}",
        "C'est la commande {order}.",
        "Numéro de commande: {order}",
        "C'est au sujet de {product}.",
        "Le montant était de CHF {amount}.",
        "C'était au magasin de {store}.",
    ),
    fu_noinfo=(
        "Je n'ai pas le numéro sous la main.",
        "Aucune idée, je ne retrouve plus l'e-mail.",
        "Je ne l'ai malheureusement plus.",
    ),
    fu_ack=(
        "Ok, merci.",
        "D'accord.",
        "Et ça prend combien de temps?",
        "Bon, j'attends.",
        "Je dois faire autre chose?",
        "Ok.",
    ),
    fu_unresolved=(
        "Ça ne m'aide pas vraiment.",
        "J'ai déjà essayé ça.",
        "Et concrètement, ça veut dire quoi?",
        "Ce n'est pas une solution.",
        "Vous m'avez déjà dit ça la dernière fois.",
    ),
    fu_escalate=(
        "Allô?",
        "Il y a quelqu'un?",
        "J'attends toujours!",
        "C'est interminable.",
        "Quelqu'un va me répondre??",
        "Je veux parler à un responsable!",
        "Je résilie mon compte si ça continue!",
    ),
    email_followup=(
        "Je reviens vers vous concernant ma demande.",
        "Malheureusement je n'ai toujours pas de solution.",
        "Suite à votre réponse:",
        "Merci pour votre réponse.",
    ),
    fillers=("euh", "ben", "bon", "en fait", "du coup", "voilà"),
    cs_pre=("sorry", "ok", "genau", "also", "anyway", "comunque"),
    cs_post=("merci vielmal", "danke", "thanks", "grazie"),
    cs_subs=(("rendez-vous", "Termin"), ("désolé", "sorry"), ("D'accord", "Ok")),
    cs_sentences=(
        "Merci beaucoup pour votre aide.",
        "Ce serait super.",
        "J'espère que c'est clair.",
        "C'est vraiment pénible.",
        "Le plus vite possible svp.",
    ),
    subject_generic=("Demande", "Commande {order}", "Question", "Problème", "Service client"),
    subject_urgent=("URGENT: ", "Urgent - ", "Pressant: "),
    subject_angry=("Réclamation: ", "!!! ", "Encore une fois: "),
    agent_names=("Léa", "Julien", "Camille", "Nicolas", "Chloé", "Mathieu"),
    a_ack=(
        ("Merci.", "Demande reçue.", "Ok."),
        ("Merci pour votre message.", "Merci beaucoup pour votre demande."),
        (
            "Merci beaucoup de nous avoir contactés, {name}.",
            "Merci {name}, vous avez bien fait de nous écrire.",
        ),
    ),
    a_sorry=(
        (),
        ("Je suis désolé.", "Veuillez excuser ce désagrément."),
        (
            "Je suis vraiment désolé, {name}.",
            "Je comprends tout à fait votre frustration et je vous présente nos excuses.",
            "Je comprends parfaitement votre agacement.",
        ),
    ),
    a_action=(
        ("Nous vérifions {topic}.", "On regarde {topic}."),
        ("Je vérifie {topic}.", "Je regarde {topic}."),
        (
            "Je m'occupe personnellement de vérifier {topic}.",
            "Je regarde {topic} tout de suite en détail pour trouver une solution avec vous.",
        ),
    ),
    a_ask_order=(
        ("Numéro de commande?", "Indiquez le numéro de commande."),
        ("Pouvez-vous me donner le numéro de commande, s'il vous plaît?",),
        ("Pour pouvoir vous aider rapidement, {name}, auriez-vous le numéro de commande?",),
    ),
    a_ask_detail=(
        ("Détails?", "Plus d'infos svp."),
        ("Pouvez-vous décrire le problème un peu plus précisément?",),
        ("N'hésitez pas à m'en dire un peu plus, pour que je comprenne bien ce qui s'est passé.",),
    ),
    a_thanks_info=(
        ("Ok.", "Reçu."),
        ("Merci pour ces informations.",),
        ("Merci beaucoup pour ces précisions, {name}.",),
    ),
    a_wait=(
        ("Un moment.", "Patientez."),
        ("Un instant s'il vous plaît, je regarde.",),
        ("Merci pour votre patience, {name}, je regarde tout de suite.",),
    ),
    a_promise=(
        ("Réponse sous 3 jours ouvrables.", "Ticket créé.", "Transmis."),
        (
            "J'ai transmis votre demande au service compétent.",
            "Vous recevrez une réponse sous 2 jours ouvrables.",
        ),
        (
            "Je vous recontacte personnellement au plus tard demain, c'est promis.",
            "Je suis votre dossier de près et je vous tiens au courant.",
        ),
    ),
    a_escalated=(
        ("En cours de traitement.", "Merci de patienter."),
        ("Excusez l'attente.",),
        ("Je suis désolé que vous ayez dû attendre si longtemps, {name}. Je suis là pour vous.",),
    ),
    a_close=(
        ("Autre chose?", "Salutations."),
        ("Puis-je faire autre chose pour vous?", "Bonne journée."),
        (
            "Je vous souhaite malgré tout une belle journée, {name}.",
            "Merci pour votre compréhension, {name}, et bonne journée!",
        ),
    ),
    a_email_greet=(("Bonjour",), ("Bonjour", "Madame, Monsieur"), ("Bonjour {name}",)),
    a_email_sign=(
        ("Service client Alpenmarkt",),
        ("Meilleures salutations\n{agent}\nService client Alpenmarkt",),
        ("Avec mes meilleures salutations\n{agent}\nVotre service client Alpenmarkt",),
    ),
    a_phone_open=(
        ("Alpenmarkt, service client.",),
        ("Service client Alpenmarkt, {agent} à l'appareil. Comment puis-je vous aider?",),
        (
            "Bonjour, ici {agent} du service client Alpenmarkt. "
            "Merci de votre appel, comment puis-je vous aider?",
        ),
    ),
)

# ---------------------------------------------------------------------------------------------
# Italian (Svizzera italiana: "natel", "bucalettere")
# ---------------------------------------------------------------------------------------------

_IT_INTENTS: dict[str, IntentText] = {
    "delivery_status": _I(
        core=(
            "Dov'è finito il mio ordine {order}?",
            "Il mio pacco non è ancora arrivato.",
            "Mi può dire quando arriverà la mia consegna?",
            "Il tracking non si aggiorna da {days} giorni.",
            "Non ho ancora ricevuto nulla, anche se la consegna era annunciata.",
            "Quando verrà finalmente consegnato l'ordine {order}?",
            "Secondo il tracking il pacco doveva arrivare da tempo.",
        ),
        detail=(
            "La Posta non ha lasciato niente nella bucalettere.",
            "Nel tracking c'è scritto solo 'in consegna' da giorni.",
            "Ero a casa tutto il giorno, nessuno ha suonato.",
            "La consegna era prevista per la settimana scorsa.",
        ),
        subject=("Dov'è la mia consegna?", "Stato dell'ordine {order}", "Pacco non arrivato"),
        topic=("lo stato della consegna", "il tracking del suo pacco"),
    ),
    "delivery_damaged": _I(
        core=(
            "Il pacco è arrivato danneggiato.",
            "L'articolo {product} era rotto quando l'ho disimballato.",
            "La merce dell'ordine {order} è arrivata danneggiata, la scatola era schiacciata.",
            "Aprendo il pacco ho visto che {product} è rotto.",
            "La consegna è arrivata in pessime condizioni, il contenuto è danneggiato.",
            "Una parte della consegna è arrivata danneggiata.",
        ),
        detail=(
            "Ho fatto delle foto della scatola.",
            "L'imballaggio era già bagnato e strappato.",
            "Vorrei ricevere un articolo sostitutivo.",
            "Il corriere ha semplicemente lasciato il pacco davanti alla porta.",
        ),
        subject=("Consegna danneggiata", "Articolo arrivato rotto", "Danno di trasporto {order}"),
        topic=("il danno di trasporto", "la consegna danneggiata"),
    ),
    "return_request": _I(
        core=(
            "Vorrei fare il reso di {product}.",
            "Come posso fare un reso?",
            "Vorrei restituire l'ordine {order}.",
            "L'articolo non mi va bene, vorrei fare il reso.",
            "Posso restituire l'articolo anche in negozio?",
            "Mi può mandare un'etichetta per il reso?",
            "Come funziona il reso da voi?",
        ),
        detail=(
            "La taglia purtroppo è troppo piccola.",
            "Il colore dal vivo è molto diverso.",
            "Ho ancora l'imballaggio originale.",
            "L'ho provato solo una volta.",
            "Quanto tempo ho per il reso?",
        ),
        subject=("Reso", "Reso dell'ordine {order}", "Restituire un articolo"),
        topic=("il suo reso", "la restituzione dell'articolo"),
    ),
    "refund_status": _I(
        core=(
            "Quando riceverò il rimborso?",
            "Aspetto il rimborso da {days} giorni.",
            "Il rimborso di CHF {amount} non è ancora sul mio conto.",
            "Ho rispedito la merce ma non ho ricevuto nessun accredito.",
            "A che punto è il rimborso per {order}?",
            "Il rimborso è già stato avviato?",
        ),
        detail=(
            "Secondo il tracking il pacco è da voi da tempo.",
            "Sull'estratto della carta di credito non vedo nessun rimborso.",
            "Mi avevate promesso un rimborso entro 5 giorni.",
        ),
        subject=("Rimborso", "Accredito mancante", "Dove sono i miei soldi?"),
        topic=("lo stato del suo rimborso", "l'accredito sul suo conto"),
    ),
    "payment_failed": _I(
        core=(
            "Il mio pagamento è stato rifiutato.",
            "Non riesco a pagare nel webshop, compare sempre un messaggio di errore.",
            "Il pagamento con TWINT non funziona.",
            "Il pagamento di CHF {amount} si interrompe ogni volta.",
            "Volevo pagare l'ordine {order}, ma il pagamento non è andato a buon fine.",
            "Perché il pagamento non passa?",
        ),
        detail=(
            "La carta è valida e coperta.",
            "Ho già provato con due carte diverse.",
            "Nell'app c'è scritto solo 'pagamento non riuscito'.",
            "Su altri siti la carta funziona senza problemi.",
        ),
        subject=("Pagamento non riuscito", "Problema di pagamento", "Pagamento rifiutato"),
        topic=("il problema di pagamento", "il pagamento non riuscito"),
    ),
    "double_charge": _I(
        core=(
            "Mi avete addebitato l'importo due volte.",
            "Avete addebitato CHF {amount} due volte sulla mia carta.",
            "L'ordine {order} compare due volte sul mio estratto conto.",
            "Mi è stato addebitato due volte lo stesso ordine.",
            "Il pagamento è stato eseguito due volte, per favore rimborsate un importo.",
            "Perché ho due addebiti identici sul conto?",
        ),
        detail=(
            "Ho cliccato solo una volta su 'Paga'.",
            "I due addebiti hanno la stessa data.",
            "La banca mi ha detto di contattarvi.",
        ),
        subject=("Doppio addebito", "Addebitato due volte", "Pagamento doppio {order}"),
        topic=("il doppio addebito", "il pagamento doppio"),
    ),
    "cancel_order": _I(
        core=(
            "Vorrei annullare il mio ordine {order}.",
            "Per favore annullate il mio ultimo ordine.",
            "Posso ancora annullare l'ordine?",
            "Ho ordinato per sbaglio e vorrei annullare l'ordine.",
            "Per favore togliete {product} dal mio ordine, non mi serve più.",
            "È ancora possibile annullare l'ordine prima della spedizione?",
        ),
        detail=(
            "Ho trovato l'articolo a meno altrove.",
            "Ho ordinato due volte per errore.",
            "I tempi di consegna sono troppo lunghi per me.",
            "Vi prego di confermarmi l'annullamento.",
        ),
        subject=("Annullamento", "Annullare l'ordine {order}", "Storno ordine"),
        topic=("l'annullamento", "la sua richiesta di annullamento"),
    ),
    "cancel_account": _I(
        core=(
            "Vorrei cancellare il mio conto cliente.",
            "Per favore disdite la mia carta fedeltà e il mio conto.",
            "Come posso chiudere il mio conto Alpenmarkt?",
            "Non voglio più avere un conto da voi.",
            "Per favore disattivate il mio conto con effetto immediato.",
            "Vorrei terminare la mia iscrizione.",
        ),
        detail=(
            "Non uso più il conto da anni.",
            "Mi trasferisco all'estero.",
            "I punti rimanenti non mi servono.",
        ),
        subject=("Disdetta del conto", "Cancellazione conto", "Chiudere il mio conto"),
        topic=("la chiusura del suo conto", "la disdetta del suo conto cliente"),
    ),
    "complaint_product": _I(
        core=(
            "{product} si è già rotto dopo due settimane.",
            "Sono molto insoddisfatto della qualità di {product}.",
            "Il prodotto non mantiene quello che promette.",
            "La cerniera si è rotta dopo un solo utilizzo.",
            "La qualità è davvero scadente per questo prezzo.",
            "Il materiale è completamente diverso dalle foto.",
        ),
        detail=(
            "Per questo prezzo mi aspetto di più.",
            "L'ho usato esattamente secondo le istruzioni.",
            "Le cuciture si stanno già scucendo.",
        ),
        subject=("Reclamo", "Qualità scadente", "Reclamo su {product}"),
        topic=("il suo reclamo sul prodotto", "il difetto di qualità"),
    ),
    "complaint_service": _I(
        core=(
            "Sono stato trattato molto male nel vostro negozio di {store}.",
            "Il servizio clienti finora non mi ha aiutato.",
            "Vorrei lamentarmi del vostro personale.",
            "Nessuno del servizio clienti risponde alle mie e-mail.",
            "La commessa è stata davvero scortese con me.",
            "Ogni volta resto un'eternità in attesa al telefono.",
        ),
        detail=(
            "Alla cassa ho dovuto aspettare 20 minuti.",
            "Il personale mi ha semplicemente ignorato.",
            "Mi avevano promesso di richiamarmi, ma niente.",
        ),
        subject=("Reclamo servizio clienti", "Personale scortese", "Pessimo servizio"),
        topic=("il suo riscontro sul nostro servizio", "il suo reclamo"),
    ),
    "product_question": _I(
        core=(
            "{product} è impermeabile?",
            "Mi può dire le dimensioni di {product}?",
            "Avrei una domanda su un prodotto del vostro assortimento.",
            "{product} va bene anche per i bambini?",
            "Di che materiale è fatto l'articolo?",
            "Il prodotto esiste anche in un altro colore?",
            "L'accessorio è compatibile con la mia bici?",
        ),
        detail=(
            "Sul sito non trovo nessuna informazione.",
            "Vorrei regalarlo.",
            "Mi serve per un'escursione in montagna.",
        ),
        subject=("Domanda su {product}", "Domanda sul prodotto", "Informazioni su un articolo"),
        topic=("le informazioni sul prodotto", "i dati del produttore"),
    ),
    "stock_availability": _I(
        core=(
            "{product} è disponibile nel negozio di {store}?",
            "Quando sarà di nuovo disponibile {product}?",
            "L'articolo online è esaurito, lo avete ancora in negozio?",
            "{product} sarà di nuovo disponibile in magazzino?",
            "Posso riservare l'articolo a {store} se è disponibile?",
            "Il prodotto è ancora ordinabile?",
        ),
        detail=(
            "Nell'app c'è scritto 'non disponibile'.",
            "Vorrei ritirarlo questa settimana, se è disponibile.",
            "Mi serve la taglia M, è ancora disponibile?",
        ),
        subject=("Disponibilità {product}", "Di nuovo disponibile?", "Scorte in magazzino"),
        topic=("le scorte in magazzino", "la disponibilità nei nostri negozi"),
    ),
    "loyalty_points": _I(
        core=(
            "Mi mancano dei punti sulla carta fedeltà.",
            "Gli ultimi acquisti non sono stati accreditati sulla mia carta cliente.",
            "Quanti punti fedeltà ho al momento?",
            "Per l'acquisto di CHF {amount} non ho ricevuto nessun punto.",
            "Ho fatto acquisti a {store}, ma i punti non compaiono.",
            "Quando scadono i miei punti fedeltà?",
        ),
        detail=(
            "Alla cassa ho sicuramente mostrato la carta.",
            "Nell'app c'è ancora il vecchio saldo punti.",
            "Ho ancora lo scontrino.",
        ),
        subject=("Punti mancanti", "Punti carta fedeltà", "Punti fedeltà"),
        topic=("il suo conto punti", "l'accredito dei punti fedeltà"),
    ),
    "voucher_problem": _I(
        core=(
            "Il mio buono non funziona.",
            "Il codice sconto non viene accettato nel carrello.",
            "Ho un buono regalo da CHF {amount}, ma risulta non valido.",
            "Il codice sconto non è stato detratto dall'ordine {order}.",
            "Quando provo a usare il buono compare un errore.",
            "Perché non riesco a usare il mio buono?",
        ),
        detail=(
            "Il buono è valido fino alla fine dell'anno.",
            "Ho ridigitato il codice più volte.",
            "L'ho ricevuto per il mio compleanno.",
        ),
        subject=("Buono non valido", "Problema con il codice sconto", "Codice sconto"),
        topic=("il buono", "il suo codice sconto"),
    ),
    "address_change": _I(
        core=(
            "Vorrei cambiare il mio indirizzo di consegna.",
            "Il mese prossimo traslochiamo, per favore cambiate il mio indirizzo.",
            "Posso ancora modificare l'indirizzo dell'ordine {order}?",
            "Nell'ordine ho indicato un indirizzo sbagliato.",
            "Per favore aggiornate il mio indirizzo nel conto cliente.",
            "Mi sono trasferito e la posta arriva ancora al vecchio indirizzo.",
        ),
        detail=(
            "Il nuovo indirizzo è Via Nassa 12, 6900 Lugano.",
            "Nel conto non riesco a cambiare l'indirizzo da solo.",
            "Il numero civico è sbagliato.",
        ),
        subject=("Cambio di indirizzo", "Nuovo indirizzo", "Indirizzo di consegna sbagliato"),
        topic=("il cambio di indirizzo", "i suoi dati di indirizzo"),
    ),
    "login_problem": _I(
        core=(
            "Non riesco ad accedere al mio conto.",
            "Il ripristino della password non funziona.",
            "L'app dice sempre 'accesso non riuscito'.",
            "Non ricevo il codice SMS sul natel.",
            "Il mio conto è bloccato, non riesco più a entrare.",
            "Ho dimenticato la password e l'e-mail per reimpostarla non arriva.",
        ),
        detail=(
            "Ho già reinstallato l'app.",
            "Anche dal browser non funziona.",
            "Uso sicuramente l'indirizzo e-mail giusto.",
        ),
        subject=("Accesso impossibile", "Password dimenticata", "Conto bloccato"),
        topic=("l'accesso al suo conto", "il problema di accesso"),
    ),
    "fraud_report": _I(
        core=(
            "Nel mio conto ci sono ordini che non ho fatto io.",
            "Qualcuno ha fatto acquisti con il mio conto, è una truffa.",
            "Sulla mia carta c'è un addebito di CHF {amount} che non riconosco.",
            "Credo che il mio conto sia stato hackerato, è una truffa.",
            "L'ordine {order} non l'ho fatto io, è una truffa.",
            "Ho ricevuto un'e-mail sospetta a nome di Alpenmarkt.",
        ),
        detail=(
            "Ho già fatto bloccare la carta.",
            "L'indirizzo di consegna mi è del tutto sconosciuto.",
            "La mia password è stata cambiata a mia insaputa.",
        ),
        subject=("Truffa", "Ordine sospetto", "Conto hackerato"),
        topic=("il sospetto di frode", "le attività sospette"),
    ),
    "data_protection_request": _I(
        core=(
            "Vorrei sapere quali dati avete salvato su di me.",
            "Ai sensi della legge sulla protezione dei dati chiedo l'accesso ai miei dati.",
            "Per favore cancellate tutti i miei dati personali.",
            "Revoco il mio consenso al trattamento dei dati.",
            "Trasmettete i miei dati a terzi?",
            "Vorrei una copia di tutti i dati che avete su di me.",
        ),
        detail=(
            "Mi riferisco alla nuova LPD.",
            "Vi prego di confermare la cancellazione per iscritto.",
            "Non voglio più pubblicità personalizzata.",
        ),
        subject=("Richiesta di accesso LPD", "Protezione dei dati", "Cancellazione dei miei dati"),
        topic=("la sua richiesta di accesso", "la sua richiesta sulla protezione dei dati"),
    ),
    "invoice_request": _I(
        core=(
            "Mi può mandare una fattura per l'ordine {order}?",
            "Mi serve una ricevuta con l'IVA.",
            "Per favore mandatemi una copia della fattura.",
            "Ho bisogno della fattura di CHF {amount} per la contabilità.",
            "Dove trovo la fattura nel conto cliente?",
            "La fattura deve essere intestata alla mia ditta.",
        ),
        detail=(
            "Il mio datore di lavoro ha bisogno del giustificativo per le spese.",
            "Nel conto trovo solo la bolla di consegna.",
            "In PDF per favore.",
        ),
        subject=("Fattura", "Copia della fattura", "Fattura per {order}"),
        topic=("la fattura", "una copia della fattura"),
    ),
    "warranty_repair": _I(
        core=(
            "{product} è difettoso ed è ancora in garanzia.",
            "Vorrei segnalare un caso di garanzia.",
            "Potete far riparare {product}?",
            "L'articolo non funziona più, la garanzia è ancora valida.",
            "Quanto tempo ci vuole per una riparazione?",
            "Posso portare l'apparecchio a {store} per la riparazione?",
            "Mi serve un appuntamento per la riparazione in garanzia.",
        ),
        detail=(
            "Ho ancora lo scontrino.",
            "L'ho comprato otto mesi fa.",
            "Non si accende più.",
        ),
        subject=("Caso di garanzia", "Riparazione", "Garanzia {product}"),
        topic=("il suo caso di garanzia", "la riparazione"),
    ),
    "store_opening_hours": _I(
        core=(
            "Fino a che ora è aperto oggi il negozio di {store}?",
            "Il negozio è aperto la domenica?",
            "Quali sono gli orari di apertura a {store}?",
            "Il negozio è aperto a Pasqua?",
            "Fino a che ora siete aperti il sabato?",
            "A che ora apre il negozio di {store} la mattina?",
        ),
        detail=(
            "Su Google gli orari di apertura sono diversi da quelli sul vostro sito.",
            "Vorrei ritirare qualcosa prima della chiusura.",
            "Posso venire solo dopo il lavoro, siete ancora aperti?",
            "Si può parcheggiare vicino al negozio?",
        ),
        subject=("Orari di apertura", "Orari {store}", "Apertura domenicale"),
        topic=("gli orari di apertura", "gli orari del negozio"),
    ),
    "newsletter_unsubscribe": _I(
        core=(
            "Per favore toglietemi dalla newsletter.",
            "Non voglio più ricevere e-mail pubblicitarie.",
            "Il link per disiscriversi dalla newsletter non funziona.",
            "Come posso disiscrivermi dalla newsletter?",
            "Smettete per favore di mandarmi pubblicità ogni giorno.",
            "Ricevo ancora la newsletter anche se mi sono disiscritto.",
        ),
        detail=(
            "Ricevo vostre e-mail quasi ogni giorno.",
            "Non voglio più nemmeno la pubblicità via SMS.",
            "Mi sono già disiscritto due volte.",
        ),
        subject=("Disiscrizione newsletter", "Basta pubblicità", "Disiscrizione"),
        topic=("la disiscrizione dalla newsletter", "le sue preferenze per la newsletter"),
    ),
}

_IT = LanguageText(
    greet_formal=("Gentili signore e signori", "Buongiorno", "Spettabile team Alpenmarkt", "Salve"),
    greet_casual=("Ciao", "Buongiorno", "Salve", "Buonasera", "Ciao a tutti"),
    phone_open=(
        "Sì, buongiorno.",
        "Pronto, buongiorno, sono {name}.",
        "Sì, salve, sono {name}.",
        "Pronto?",
        "Buongiorno, sì.",
    ),
    context={
        "order": (
            "Si tratta del mio ordine {order}.",
            "Ho fatto un ordine da voi, numero {order}.",
            "Riguarda l'ordine {order}.",
            "Il mio numero d'ordine è {order}.",
            "Ordine {order}:",
        ),
        "product": (
            "Si tratta dell'articolo {product}.",
            "Riguarda: {product}.",
            "Articolo: {product}.",
        ),
        "store": (
            "Di recente sono stato nel vostro negozio di {store}.",
            "Si tratta del vostro negozio di {store}.",
            "Di solito faccio acquisti a {store}.",
        ),
        "days": (
            "Aspetto da {days} giorni.",
            "La cosa va avanti già da {days} giorni.",
            "Vi ho già scritto {days} giorni fa.",
        ),
        "amount": (
            "Si tratta di un importo di CHF {amount}.",
            "Importo: CHF {amount}.",
            "Si tratta di CHF {amount}.",
        ),
        "none": (
            "Ho una richiesta.",
            "Avrei una domanda.",
            "Una domanda veloce.",
            "Vi scrivo per il seguente motivo.",
            "Sono vostro cliente da anni.",
        ),
    },
    polite=(
        "Grazie mille per l'aiuto.",
        "Grazie in anticipo.",
        "Vi ringrazio per il supporto.",
        "Grazie per la comprensione.",
        "Di solito sono sempre molto soddisfatto.",
    ),
    annoyed=(
        "È un po' fastidioso.",
        "Sinceramente sono deluso.",
        "Vi ho già contattato per questo.",
        "Comincio a perdere la pazienza.",
        "Non dovrebbe succedere.",
    ),
    angry=(
        "È successo ANCORA una volta!",
        "Così non va proprio!",
        "Sono estremamente arrabbiato!",
        "È la terza volta che vi contatto!",
        "Se non viene risolto subito, disdico la carta fedeltà!",
        "Non ordinerò mai più da Alpenmarkt!",
        "Altrimenti vado dalla concorrenza!",
        "È una VERGOGNA!",
        "Incredibile, ancora una volta la stessa storia!",
    ),
    urgency_low=("Non è urgente.", "Nessuna fretta.", "Quando avete tempo."),
    urgency_medium=(
        "Sarei contento di ricevere presto una risposta.",
        "Potreste rispondermi a breve?",
        "Mi servirebbe entro {deadline}.",
        "Una risposta veloce sarebbe ottima.",
    ),
    urgency_high=(
        "È urgente!",
        "URGENTE: mi serve entro {deadline}!",
        "Rispondetemi subito, per favore, è molto urgente.",
        "Va risolto subito.",
        "Ho assolutamente bisogno di una soluzione entro {deadline}.",
    ),
    deadlines=("domani", "venerdì", "la fine della settimana", "dopodomani", "lunedì"),
    close_chat=("grazie", "Grazie in anticipo.", "Grazie mille!", "grazie ciao"),
    signoff=(
        "Cordiali saluti\n{name}",
        "Distinti saluti\n{name}",
        "Saluti, {name}",
        "Grazie e buona giornata\n{name}",
        "Un saluto\n{name}",
    ),
    fu_info=(
        "Il numero d'ordine è {order}.",
        "{order}",
        "È l'ordine {order}.",
        "Numero d'ordine: {order}",
        "Si tratta di {product}.",
        "L'importo era di CHF {amount}.",
        "Era nel negozio di {store}.",
    ),
    fu_noinfo=(
        "Non ho il numero sottomano.",
        "Non lo so, non trovo più l'e-mail.",
        "Purtroppo non ce l'ho più.",
    ),
    fu_ack=(
        "Ok, grazie.",
        "Va bene.",
        "E quanto ci vuole?",
        "Bene, aspetto.",
        "Devo fare ancora qualcosa?",
        "Ok.",
    ),
    fu_unresolved=(
        "Questo non mi aiuta.",
        "L'ho già provato.",
        "E in concreto cosa significa?",
        "Questa non è una soluzione.",
        "Me l'avete già detto l'ultima volta.",
    ),
    fu_escalate=(
        "Pronto??",
        "C'è qualcuno?",
        "Sto ancora aspettando!",
        "Ci vuole un'eternità.",
        "Qualcuno mi risponde??",
        "Voglio parlare con un responsabile!",
        "Se continua così chiudo il conto!",
    ),
    email_followup=(
        "Vi riscrivo riguardo alla mia richiesta.",
        "Purtroppo non ho ancora ricevuto una soluzione.",
        "Facendo seguito alla vostra risposta:",
        "Grazie per la risposta.",
    ),
    fillers=("allora", "ehm", "cioè", "praticamente", "insomma", "diciamo"),
    cs_pre=("sorry", "ok", "also", "genau", "anyway", "bon"),
    cs_post=("merci", "danke", "thanks", "merci vielmal"),
    cs_subs=(("appuntamento", "Termin"), ("Grazie mille", "Merci vielmal"), ("Va bene", "Ok")),
    cs_sentences=(
        "Grazie mille per l'aiuto.",
        "Sarebbe perfetto.",
        "Spero che sia chiaro.",
        "È davvero una seccatura.",
        "Il prima possibile per favore.",
    ),
    subject_generic=("Richiesta", "Ordine {order}", "Domanda", "Problema", "Servizio clienti"),
    subject_urgent=("URGENTE: ", "Urgente - ", "Subito: "),
    subject_angry=("Reclamo: ", "!!! ", "Ancora una volta: "),
    agent_names=("Chiara", "Luca", "Giulia", "Marco", "Sara", "Matteo"),
    a_ack=(
        ("Grazie.", "Richiesta ricevuta.", "Ok."),
        ("Grazie per il messaggio.", "Grazie mille per la richiesta."),
        (
            "Grazie di cuore per averci contattato, {name}.",
            "Grazie {name}, ha fatto bene a scriverci.",
        ),
    ),
    a_sorry=(
        (),
        ("Mi dispiace.", "Ci scusiamo per l'inconveniente."),
        (
            "Mi dispiace davvero molto, {name}.",
            "Capisco benissimo la sua frustrazione e le chiedo scusa.",
            "Capisco perfettamente il suo disappunto.",
        ),
    ),
    a_action=(
        ("Verifichiamo {topic}.", "Controlliamo {topic}."),
        ("Verifico {topic}.", "Controllo {topic}."),
        (
            "Mi occupo personalmente di verificare {topic}.",
            "Controllo subito {topic} nel dettaglio per trovare una soluzione insieme a lei.",
        ),
    ),
    a_ask_order=(
        ("Numero d'ordine?", "Indicare il numero d'ordine."),
        ("Mi può indicare il numero d'ordine, per favore?",),
        ("Per aiutarla subito, {name}, avrebbe il numero d'ordine?",),
    ),
    a_ask_detail=(
        ("Dettagli?", "Più informazioni per favore."),
        ("Può descrivere il problema in modo più preciso?",),
        ("Mi racconti pure qualcosa in più, così capisco bene cosa è successo.",),
    ),
    a_thanks_info=(
        ("Ok.", "Ricevuto."),
        ("Grazie per le informazioni.",),
        ("Grazie mille per i dettagli, {name}.",),
    ),
    a_wait=(
        ("Un momento.", "Attendere."),
        ("Un attimo per favore, controllo.",),
        ("Grazie per la pazienza, {name}, controllo subito.",),
    ),
    a_promise=(
        ("Risposta entro 3 giorni lavorativi.", "Ticket creato.", "Inoltrato."),
        (
            "Ho inoltrato la richiesta al reparto competente.",
            "Riceverà una risposta entro 2 giorni lavorativi.",
        ),
        (
            "La ricontatto personalmente al più tardi domani, promesso.",
            "Seguo il suo caso da vicino e la tengo aggiornata.",
        ),
    ),
    a_escalated=(
        ("In elaborazione.", "Attendere prego."),
        ("Mi scusi per l'attesa.",),
        ("Mi dispiace che abbia dovuto aspettare così tanto, {name}. Sono qui per lei.",),
    ),
    a_close=(
        ("Altro?", "Saluti."),
        ("Posso fare altro per lei?", "Buona giornata."),
        (
            "Le auguro comunque una bella giornata, {name}.",
            "Grazie per la comprensione, {name}, e buona giornata!",
        ),
    ),
    a_email_greet=(
        ("Buongiorno",),
        ("Buongiorno", "Gentile cliente"),
        ("Gentile {name}", "Buongiorno {name}"),
    ),
    a_email_sign=(
        ("Servizio clienti Alpenmarkt",),
        ("Cordiali saluti\n{agent}\nServizio clienti Alpenmarkt",),
        ("Con i più cordiali saluti\n{agent}\nIl suo servizio clienti Alpenmarkt",),
    ),
    a_phone_open=(
        ("Alpenmarkt, servizio clienti.",),
        ("Servizio clienti Alpenmarkt, sono {agent}. Come posso aiutarla?",),
        (
            "Buongiorno, sono {agent} del servizio clienti Alpenmarkt. "
            "Grazie per la chiamata, come posso aiutarla?",
        ),
    ),
)

# ---------------------------------------------------------------------------------------------
# English (expats and tourists; British spelling)
# ---------------------------------------------------------------------------------------------

_EN_INTENTS: dict[str, IntentText] = {
    "delivery_status": _I(
        core=(
            "Where is my order {order}?",
            "My parcel still hasn't arrived.",
            "Can you tell me when my delivery will arrive?",
            "The tracking hasn't updated in {days} days.",
            "I still haven't received anything even though the delivery was announced.",
            "When will order {order} finally be delivered?",
            "According to the tracking the parcel should have been here ages ago.",
        ),
        detail=(
            "The post didn't leave anything in my letterbox.",
            "The tracking just says 'out for delivery' for days now.",
            "I was home all day and nobody rang the bell.",
            "Delivery was scheduled for last week.",
        ),
        subject=("Where is my delivery?", "Status of order {order}", "Parcel not received"),
        topic=("the delivery status", "the tracking of your parcel"),
    ),
    "delivery_damaged": _I(
        core=(
            "The parcel arrived damaged.",
            "The {product} was broken when I unpacked it.",
            "The goods in order {order} arrived damaged, the box was crushed.",
            "When I opened the package I saw that the {product} is broken.",
            "The delivery arrived in a terrible state, the contents are damaged.",
            "Part of the delivery arrived damaged.",
        ),
        detail=(
            "I took photos of the box.",
            "The packaging was already wet and torn.",
            "I would like a replacement.",
            "The courier just dumped the parcel in front of the door.",
        ),
        subject=("Damaged delivery", "Item arrived broken", "Transport damage {order}"),
        topic=("the transport damage", "the damaged delivery"),
    ),
    "return_request": _I(
        core=(
            "I would like to return the {product}.",
            "How can I return an item?",
            "I'd like to return order {order}.",
            "The item doesn't fit, I want to return it.",
            "Can I also return the item in a store?",
            "Please send me a return label.",
            "How do returns work with you?",
        ),
        detail=(
            "Unfortunately the size is too small.",
            "The colour looks completely different in real life.",
            "I still have the original packaging.",
            "I only tried it on once.",
            "How long do I have to return it?",
        ),
        subject=("Return", "Return of order {order}", "Returning an item"),
        topic=("your return", "the return of the item"),
    ),
    "refund_status": _I(
        core=(
            "When will I get my money back?",
            "I've been waiting for my refund for {days} days.",
            "The refund of CHF {amount} is still not in my account.",
            "I sent the goods back but haven't received any credit.",
            "What's the status of my refund for {order}?",
            "Has the refund been issued yet?",
        ),
        detail=(
            "According to the tracking you received the parcel long ago.",
            "I can't see any refund on my credit card statement.",
            "You promised me a refund within 5 days.",
        ),
        subject=("Refund", "Missing credit", "Where is my money?"),
        topic=("the status of your refund", "the credit to your account"),
    ),
    "payment_failed": _I(
        core=(
            "My payment was declined.",
            "I can't pay in the webshop, I keep getting an error message.",
            "Paying with TWINT doesn't work.",
            "The payment of CHF {amount} keeps aborting.",
            "I wanted to pay for order {order}, but the payment failed.",
            "Why won't my payment go through?",
        ),
        detail=(
            "The card is valid and has enough funds.",
            "I already tried two different cards.",
            "The app just says 'payment failed'.",
            "The card works fine on other sites.",
        ),
        subject=("Payment failed", "Problem paying", "Payment declined"),
        topic=("the payment problem", "the failed payment"),
    ),
    "double_charge": _I(
        core=(
            "I was charged twice.",
            "You took CHF {amount} from my card twice.",
            "Order {order} shows up twice on my statement.",
            "I was billed twice for the same order.",
            "The payment went through twice, please refund one of them.",
            "Why do I have two identical charges on my account?",
        ),
        detail=(
            "I only clicked 'Pay' once.",
            "Both charges have the same date.",
            "My bank told me to contact you.",
        ),
        subject=("Double charge", "Charged twice", "Duplicate payment {order}"),
        topic=("the double charge", "the duplicate payment"),
    ),
    "cancel_order": _I(
        core=(
            "I want to cancel my order {order}.",
            "Please cancel my last order.",
            "Can I still cancel the order?",
            "I ordered by mistake and want to cancel the order.",
            "Please remove the {product} from my order, I don't need it anymore.",
            "Is it still possible to cancel before it ships?",
        ),
        detail=(
            "I found the item cheaper elsewhere.",
            "I accidentally ordered twice.",
            "The delivery time is too long for me.",
            "Please confirm the cancellation.",
        ),
        subject=("Cancellation", "Cancel order {order}", "Order cancellation"),
        topic=("the cancellation", "your cancellation request"),
    ),
    "cancel_account": _I(
        core=(
            "I want to delete my customer account.",
            "Please cancel my loyalty card and my account.",
            "How can I close my Alpenmarkt account?",
            "I don't want an account with you anymore.",
            "Please deactivate my account with immediate effect.",
            "I would like to end my membership.",
        ),
        detail=(
            "I haven't used the account in years.",
            "I'm moving abroad.",
            "I don't need my remaining points.",
        ),
        subject=("Close account", "Account deletion", "Cancel my account"),
        topic=("the closure of your account", "the cancellation of your customer account"),
    ),
    "complaint_product": _I(
        core=(
            "The {product} already broke after two weeks.",
            "I'm very unhappy with the quality of the {product}.",
            "The product doesn't live up to its promises.",
            "The zip tore after using it once.",
            "The quality is really poor for this price.",
            "The material is nothing like the photos.",
        ),
        detail=(
            "For this price I expect more.",
            "I used it exactly according to the instructions.",
            "The seams are already coming apart.",
        ),
        subject=("Complaint", "Poor quality", "Complaint about the {product}"),
        topic=("your product complaint", "the quality issue"),
    ),
    "complaint_service": _I(
        core=(
            "I was treated very rudely in your {store} store.",
            "Customer service hasn't helped me so far.",
            "I want to complain about your staff.",
            "Nobody in customer service answers my emails.",
            "The sales assistant was extremely rude to me.",
            "Every time I'm stuck on hold forever.",
        ),
        detail=(
            "I had to wait 20 minutes at the till.",
            "The staff just left me standing there.",
            "I was promised a call back but nothing happened.",
        ),
        subject=("Complaint about customer service", "Rude staff", "Bad service"),
        topic=("your feedback on our service", "your complaint"),
    ),
    "product_question": _I(
        core=(
            "Is the {product} waterproof?",
            "Can you tell me the dimensions of the {product}?",
            "I have a question about a product in your range.",
            "Is the {product} suitable for children as well?",
            "What material is the item made of?",
            "Does the product come in another colour?",
            "Does the accessory fit my bike?",
        ),
        detail=(
            "I can't find any information on the website.",
            "I want to buy it as a gift.",
            "I need it for a hike in the mountains.",
        ),
        subject=("Question about the {product}", "Product question", "Question about an item"),
        topic=("the product information", "the manufacturer's details"),
    ),
    "stock_availability": _I(
        core=(
            "Is the {product} in stock at your {store} store?",
            "When will the {product} be back in stock?",
            "The item is sold out online, do you still have it in the shop?",
            "Will the {product} be available in stock again?",
            "Can I reserve the item in {store} if it's in stock?",
            "Is the product still available?",
        ),
        detail=(
            "The app says 'not available'.",
            "I'd like to pick it up this week if it's available.",
            "I need size M, is it still in stock?",
        ),
        subject=("Availability of the {product}", "Back in stock?", "Stock level"),
        topic=("the stock level", "the availability in our stores"),
    ),
    "loyalty_points": _I(
        core=(
            "Points are missing from my loyalty card.",
            "My last purchases weren't credited to my customer card.",
            "How many loyalty points do I have at the moment?",
            "I didn't get any points for my purchase of CHF {amount}.",
            "I shopped in {store} but the points don't show up.",
            "When do my loyalty points expire?",
        ),
        detail=(
            "I definitely showed my card at the till.",
            "The app still shows the old balance.",
            "I still have the receipt.",
        ),
        subject=("Missing points", "Loyalty card points", "Loyalty points"),
        topic=("your points account", "the crediting of your loyalty points"),
    ),
    "voucher_problem": _I(
        core=(
            "My voucher doesn't work.",
            "The voucher code isn't accepted in the basket.",
            "I have a gift card for CHF {amount}, but it shows as invalid.",
            "The discount code wasn't deducted on order {order}.",
            "I get an error message when I redeem the voucher.",
            "Why can't I redeem my voucher?",
        ),
        detail=(
            "The voucher is valid until the end of the year.",
            "I typed the code in several times.",
            "I got it for my birthday.",
        ),
        subject=("Voucher invalid", "Problem with voucher code", "Discount code"),
        topic=("the voucher", "your voucher code"),
    ),
    "address_change": _I(
        core=(
            "I'd like to change my delivery address.",
            "We're moving next month, please update my address.",
            "Can I still change the address for order {order}?",
            "I entered the wrong address when ordering.",
            "Please update my address in my customer account.",
            "I've moved and my mail still goes to the old address.",
        ),
        detail=(
            "The new address is Bahnhofstrasse 12, 8001 Zurich.",
            "I can't change the address myself in the account.",
            "The house number is wrong.",
        ),
        subject=("Change of address", "New address", "Wrong delivery address"),
        topic=("the address change", "your address details"),
    ),
    "login_problem": _I(
        core=(
            "I can't log in to my account.",
            "The password reset doesn't work.",
            "The app always says 'login failed'.",
            "I don't get the SMS code on my phone.",
            "My account is locked, I can't get in anymore.",
            "I forgot my password and the reset email never arrives.",
        ),
        detail=(
            "I already reinstalled the app.",
            "It doesn't work in the browser either.",
            "I'm definitely using the right email address.",
        ),
        subject=("Can't log in", "Forgot password", "Account locked"),
        topic=("access to your account", "the login problem"),
    ),
    "fraud_report": _I(
        core=(
            "There are orders in my account that I didn't place.",
            "Someone has been shopping with my account, this is fraud.",
            "There is a charge of CHF {amount} on my card that I don't recognise.",
            "I think my account has been hacked, this is fraud.",
            "Order {order} wasn't placed by me, this is fraud.",
            "I received a suspicious email in the name of Alpenmarkt.",
        ),
        detail=(
            "I've already had my card blocked.",
            "The delivery address is completely unknown to me.",
            "My password was changed without my knowledge.",
        ),
        subject=("Fraud", "Suspicious order", "Account hacked"),
        topic=("the suspected fraud", "the suspicious activity"),
    ),
    "data_protection_request": _I(
        core=(
            "I want to know what data you have stored about me.",
            "Under the data protection act I request access to my data.",
            "Please delete all my personal data.",
            "I withdraw my consent to the processing of my data.",
            "Do you pass my data on to third parties?",
            "I would like a copy of all the data you hold about me.",
        ),
        detail=(
            "I'm referring to the revised FADP.",
            "Please confirm the deletion in writing.",
            "I don't want personalised advertising anymore.",
        ),
        subject=("Data access request", "Data protection", "Deletion of my data"),
        topic=("your access request", "your data protection request"),
    ),
    "invoice_request": _I(
        core=(
            "Can you send me an invoice for order {order}?",
            "I need a receipt showing the VAT.",
            "Please send me a copy of the invoice.",
            "I need the invoice for CHF {amount} for my accounts.",
            "Where can I find the invoice in my account?",
            "The invoice needs to be made out to my company.",
        ),
        detail=(
            "My employer needs the receipt for expenses.",
            "I can only find the delivery note in my account.",
            "As a PDF please.",
        ),
        subject=("Invoice", "Copy of invoice", "Invoice for {order}"),
        topic=("the invoice", "a copy of the invoice"),
    ),
    "warranty_repair": _I(
        core=(
            "The {product} is faulty and still under warranty.",
            "I'd like to report a warranty claim.",
            "Can you have the {product} repaired?",
            "The item stopped working, the warranty is still valid.",
            "How long does a repair take with you?",
            "Can I drop off the device in {store} for repair?",
            "I need an appointment for the warranty repair.",
        ),
        detail=(
            "I still have the receipt.",
            "I bought it eight months ago.",
            "It just won't switch on anymore.",
        ),
        subject=("Warranty claim", "Repair", "Warranty for the {product}"),
        topic=("your warranty claim", "the repair"),
    ),
    "store_opening_hours": _I(
        core=(
            "How late is the {store} store open today?",
            "Is the store open on Sundays?",
            "What are the opening hours in {store}?",
            "Is the shop open over Easter?",
            "How late are you open on Saturday?",
            "What time does the {store} store open in the morning?",
        ),
        detail=(
            "Google shows different opening hours than your website.",
            "I want to pick something up before you close.",
            "I can only come after work, will you still be open?",
            "Is there parking near the store?",
        ),
        subject=("Opening hours", "Opening hours {store}", "Sunday opening"),
        topic=("the opening hours", "the store's opening hours"),
    ),
    "newsletter_unsubscribe": _I(
        core=(
            "Please take me off the newsletter.",
            "I don't want to receive advertising emails anymore.",
            "The unsubscribe link in the newsletter doesn't work.",
            "How can I unsubscribe from the newsletter?",
            "Please stop sending me adverts every day.",
            "I still get the newsletter even though I unsubscribed.",
        ),
        detail=(
            "I get emails from you almost every day.",
            "I don't want the SMS adverts anymore either.",
            "I've already unsubscribed twice.",
        ),
        subject=("Unsubscribe newsletter", "No more advertising", "Unsubscribe"),
        topic=("unsubscribing you from the newsletter", "your newsletter settings"),
    ),
}

_EN = LanguageText(
    greet_formal=(
        "Dear Sir or Madam",
        "Good morning",
        "Dear Alpenmarkt team",
        "Hello",
        "Good afternoon",
    ),
    greet_casual=("Hi", "Hello", "Hey", "Hi there", "Good morning"),
    phone_open=(
        "Yes, hello.",
        "Hi, this is {name}.",
        "Hello, yeah, it's {name} here.",
        "Hi, yes.",
        "Hello?",
    ),
    context={
        "order": (
            "This is about my order {order}.",
            "I placed an order with you, number {order}.",
            "Re order {order}.",
            "My order number is {order}.",
            "Order {order}:",
        ),
        "product": (
            "It's about the {product}.",
            "Re: {product}.",
            "Item: {product}.",
        ),
        "store": (
            "I was in your {store} store recently.",
            "It's about your store in {store}.",
            "I usually shop in {store}.",
        ),
        "days": (
            "I've been waiting for {days} days now.",
            "This has been going on for {days} days.",
            "I already contacted you {days} days ago.",
        ),
        "amount": (
            "It's about an amount of CHF {amount}.",
            "Amount: CHF {amount}.",
            "We're talking about CHF {amount}.",
        ),
        "none": (
            "I have a request.",
            "I have a question.",
            "Quick question.",
            "I'm writing to you about the following.",
            "I've been a customer of yours for years.",
        ),
    },
    polite=(
        "Thanks a lot for your help.",
        "Thanks in advance.",
        "I appreciate your support.",
        "Thank you for your understanding.",
        "Usually I'm very happy with you.",
    ),
    annoyed=(
        "This is a bit annoying.",
        "Honestly, I'm disappointed.",
        "I already contacted you about this.",
        "I'm starting to lose patience.",
        "This shouldn't happen.",
    ),
    angry=(
        "This is the THIRD time this has happened!",
        "This is simply unacceptable!",
        "I am extremely angry!",
        "This is the third time I'm contacting you!",
        "If this isn't sorted immediately I'm cancelling my loyalty card!",
        "I will never order from Alpenmarkt again!",
        "Otherwise I'm taking my business elsewhere!",
        "This is a DISGRACE!",
        "Unbelievable, the same nonsense all over again!",
    ),
    urgency_low=("No rush.", "It's not urgent.", "Whenever you have time."),
    urgency_medium=(
        "I'd appreciate a quick reply.",
        "Could you get back to me soon?",
        "I need this by {deadline}.",
        "A fast answer would be great.",
    ),
    urgency_high=(
        "This is urgent!",
        "URGENT: I need this by {deadline}!",
        "Please reply today, it's very urgent.",
        "This needs fixing asap.",
        "I absolutely need a solution by {deadline}.",
    ),
    deadlines=("tomorrow", "Friday", "the end of the week", "Monday", "the day after tomorrow"),
    close_chat=("thanks", "Thanks in advance.", "Thank you!", "thx"),
    signoff=(
        "Kind regards\n{name}",
        "Best regards\n{name}",
        "Thanks, {name}",
        "Regards\n{name}",
        "Cheers\n{name}",
    ),
    fu_info=(
        "The order number is {order}.",
        "{order}",
        "It's order {order}.",
        "Order number: {order}",
        "It's about the {product}.",
        "The amount was CHF {amount}.",
        "It was in the {store} store.",
    ),
    fu_noinfo=(
        "I don't have the number to hand.",
        "No idea, I can't find the email anymore.",
        "I'm afraid I don't have it anymore.",
    ),
    fu_ack=(
        "Ok, thanks.",
        "Alright.",
        "And how long will that take?",
        "Fine, I'll wait.",
        "Do I need to do anything else?",
        "Ok.",
    ),
    fu_unresolved=(
        "That doesn't really help me.",
        "I already tried that.",
        "And what does that mean in practice?",
        "That's not a solution.",
        "You told me that last time too.",
    ),
    fu_escalate=(
        "Hello??",
        "Anyone there?",
        "Still waiting?",
        "This is taking forever.",
        "Is anyone going to answer??",
        "I want to speak to a manager!",
        "I'll close my account if this goes on!",
    ),
    email_followup=(
        "I'm following up on my request.",
        "Unfortunately I still haven't had a solution.",
        "Regarding your reply:",
        "Thanks for your answer.",
    ),
    fillers=("um", "uh", "like", "you know", "so", "well"),
    cs_pre=("also", "genau", "bon", "allora", "voilà", "comunque"),
    cs_post=("merci", "danke", "grazie", "merci vielmal"),
    cs_subs=(("appointment", "Termin"), ("Thanks", "Merci"), ("Ok", "Va bene")),
    cs_sentences=(
        "Thanks a lot for your help.",
        "That would be great.",
        "Hope that makes sense.",
        "This is really annoying.",
        "Asap please.",
    ),
    subject_generic=("Request", "Order {order}", "Question", "Problem", "Customer service"),
    subject_urgent=("URGENT: ", "Urgent - ", "ASAP: "),
    subject_angry=("Complaint: ", "!!! ", "Again: "),
    agent_names=("Emma", "James", "Olivia", "Daniel", "Sophie", "Tom"),
    a_ack=(
        ("Thanks.", "Request received.", "Ok."),
        ("Thank you for your message.", "Thanks for getting in touch."),
        (
            "Thank you so much for reaching out, {name}.",
            "Thanks, {name}, I'm glad you contacted us.",
        ),
    ),
    a_sorry=(
        (),
        ("Sorry about that.", "We apologise for the inconvenience."),
        (
            "I'm truly sorry, {name}.",
            "I completely understand your frustration and I apologise.",
            "I can absolutely see why you're upset.",
        ),
    ),
    a_action=(
        ("We are checking {topic}.", "Checking {topic}."),
        ("I'll check {topic}.", "I'm looking into {topic}."),
        (
            "I'll personally look into {topic} for you.",
            "I'm looking into {topic} right now so we can sort this out together.",
        ),
    ),
    a_ask_order=(
        ("Order number?", "Provide order number."),
        ("Could you please give me your order number?",),
        ("So I can help you quickly, {name}, could you share your order number with me?",),
    ),
    a_ask_detail=(
        ("Details?", "More info please."),
        ("Could you describe the problem in a bit more detail?",),
        ("Feel free to tell me a bit more so I fully understand what happened.",),
    ),
    a_thanks_info=(
        ("Ok.", "Received."),
        ("Thanks for the details.",),
        ("Thank you so much for the details, {name}.",),
    ),
    a_wait=(
        ("One moment.", "Please wait."),
        ("One moment please, I'm checking.",),
        ("Thanks for your patience, {name}, I'm checking right now.",),
    ),
    a_promise=(
        ("Reply within 3 working days.", "Ticket created.", "Forwarded."),
        ("I've forwarded this to the responsible team.", "You'll hear back within 2 working days."),
        (
            "I'll get back to you personally by tomorrow at the latest, I promise.",
            "I'll stay on your case and keep you updated.",
        ),
    ),
    a_escalated=(
        ("Being processed.", "Please be patient."),
        ("Sorry for the wait.",),
        ("I'm so sorry you had to wait this long, {name}. I'm here for you.",),
    ),
    a_close=(
        ("Anything else?", "Regards."),
        ("Is there anything else I can do for you?", "Have a nice day."),
        (
            "I hope you still have a lovely day, {name}.",
            "Thanks for your understanding, {name}, and have a great day!",
        ),
    ),
    a_email_greet=(("Hello",), ("Hello", "Dear customer"), ("Dear {name}", "Hi {name}")),
    a_email_sign=(
        ("Alpenmarkt Customer Service",),
        ("Kind regards\n{agent}\nAlpenmarkt Customer Service",),
        ("Warm regards\n{agent}\nYour Alpenmarkt Customer Service",),
    ),
    a_phone_open=(
        ("Alpenmarkt, customer service.",),
        ("Alpenmarkt customer service, {agent} speaking. How can I help?",),
        (
            "Hello, this is {agent} from Alpenmarkt customer service. "
            "Thanks for calling, how can I help you today?",
        ),
    ),
)

INTENT_TEXT: dict[str, dict[str, IntentText]] = {
    "de": _DE_INTENTS,
    "fr": _FR_INTENTS,
    "it": _IT_INTENTS,
    "en": _EN_INTENTS,
}
LANGUAGE_TEXT: dict[str, LanguageText] = {"de": _DE, "fr": _FR, "it": _IT, "en": _EN}
