"""Person-level raw material for the simulator: names, addresses, contact points, variants.

Everything here is a small, fast, seeded draw: each random function takes a
``random.Random`` as its first argument and uses nothing else (no global ``random``, no
clock, no ``hash()``, no iteration over sets of strings), so the same generator state gives
the same output in every process. The data are module-level tuples with precomputed
cumulative weights.

The *variant* functions (``email_variant``, ``phone_variant``, ``name_variant``, ``typo``,
``married_name``) produce the same fact written the way another system would record it;
the caller keeps the original as ground truth. IP prefixes are illustrative /16 blocks of
well-known Swiss and foreign access networks, not an authoritative geo-IP table.
"""

from __future__ import annotations

import datetime
import functools
import itertools
import math
import random
import re
import unicodedata
from bisect import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

__all__ = [
    "AGE_BANDS",
    "CANTONS",
    "EMAIL_VARIANT_KINDS",
    "LANGUAGES",
    "Address",
    "Canton",
    "birth_date",
    "email_address",
    "email_variant",
    "foreign_ip",
    "landline_number",
    "loyalty_card_number",
    "married_name",
    "mobile_number",
    "name_variant",
    "person_name",
    "phone_variant",
    "pick_address",
    "pick_age_band",
    "pick_canton",
    "pick_language",
    "swiss_ip",
    "typo",
]

_T = TypeVar("_T")

LANGUAGES: tuple[str, ...] = ("de", "fr", "it", "en")


def _cum(weights: Sequence[float]) -> tuple[float, ...]:
    return tuple(itertools.accumulate(weights))


def _pick(rng: random.Random, items: Sequence[_T], cum: Sequence[float]) -> _T:
    """``rng.choices(items, cum_weights=cum)[0]``, without the list."""
    return items[bisect(cum, rng.random() * cum[-1], 0, len(cum) - 1)]


def _zipf(n: int) -> tuple[float, ...]:
    """Cumulative weights for a list ordered by popularity (mild skew, top/bottom ~ 3x)."""
    return _cum([1.0 / math.sqrt(i + 8) for i in range(n)])


# --- cantons -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Canton:
    """A Swiss canton: main language, population share and (postcode, city) pairs."""

    code: str
    name: str
    language: str
    weight: float
    cities: tuple[tuple[str, str], ...]  # the first is the main city


# (code, name, language, population in thousands (2023), cities)
_CANTON_DATA: tuple[tuple[str, str, str, float, tuple[tuple[str, str], ...]], ...] = (
    ("ZH", "Zürich", "de", 1605, (("8001", "Zürich"), ("8004", "Zürich"), ("8005", "Zürich"),
        ("8032", "Zürich"), ("8050", "Zürich"), ("8055", "Zürich"), ("8400", "Winterthur"),
        ("8404", "Winterthur"), ("8600", "Dübendorf"), ("8610", "Uster"), ("8800", "Thalwil"),
        ("8810", "Horgen"), ("8820", "Wädenswil"), ("8953", "Dietikon"), ("8302", "Kloten"),
        ("8180", "Bülach"), ("8620", "Wetzikon ZH"), ("8700", "Küsnacht ZH"))),
    ("BE", "Bern", "de", 1063, (("3011", "Bern"), ("3014", "Bern"), ("3007", "Bern"),
        ("2502", "Biel/Bienne"), ("3600", "Thun"), ("3400", "Burgdorf"), ("3800", "Interlaken"),
        ("4900", "Langenthal"), ("3110", "Münsingen"), ("3072", "Ostermundigen"),
        ("3052", "Zollikofen"), ("2610", "Saint-Imier"))),
    ("LU", "Luzern", "de", 424, (("6003", "Luzern"), ("6004", "Luzern"), ("6020", "Emmenbrücke"),
        ("6010", "Kriens"), ("6030", "Ebikon"), ("6210", "Sursee"), ("6280", "Hochdorf"))),
    ("UR", "Uri", "de", 38, (("6460", "Altdorf UR"), ("6467", "Schattdorf"),
        ("6472", "Erstfeld"), ("6490", "Andermatt"))),
    ("SZ", "Schwyz", "de", 165, (("6430", "Schwyz"), ("8808", "Pfäffikon SZ"),
        ("8840", "Einsiedeln"), ("8853", "Lachen SZ"), ("6403", "Küssnacht am Rigi"))),
    ("OW", "Obwalden", "de", 39, (("6060", "Sarnen"), ("6064", "Kerns"), ("6072", "Sachseln"),
        ("6390", "Engelberg"))),
    ("NW", "Nidwalden", "de", 44, (("6370", "Stans"), ("6052", "Hergiswil NW"),
        ("6374", "Buochs"), ("6383", "Dallenwil"))),
    ("GL", "Glarus", "de", 42, (("8750", "Glarus"), ("8752", "Näfels"),
        ("8762", "Schwanden GL"), ("8867", "Niederurnen"))),
    ("ZG", "Zug", "de", 131, (("6300", "Zug"), ("6330", "Cham"), ("6340", "Baar"),
        ("6312", "Steinhausen"), ("6318", "Walchwil"))),
    ("FR", "Fribourg", "fr", 340, (("1700", "Fribourg"), ("1630", "Bulle"), ("3280", "Murten"),
        ("1680", "Romont FR"), ("3186", "Düdingen"), ("1470", "Estavayer-le-Lac"))),
    ("SO", "Solothurn", "de", 283, (("4500", "Solothurn"), ("4600", "Olten"),
        ("2540", "Grenchen"), ("4528", "Zuchwil"), ("4563", "Gerlafingen"))),
    ("BS", "Basel-Stadt", "de", 196, (("4051", "Basel"), ("4052", "Basel"), ("4053", "Basel"),
        ("4055", "Basel"), ("4056", "Basel"), ("4057", "Basel"), ("4058", "Basel"),
        ("4125", "Riehen"))),
    ("BL", "Basel-Landschaft", "de", 296, (("4410", "Liestal"), ("4102", "Binningen"),
        ("4123", "Allschwil"), ("4132", "Muttenz"), ("4133", "Pratteln"),
        ("4142", "Münchenstein"), ("4153", "Reinach BL"))),
    ("SH", "Schaffhausen", "de", 85, (("8200", "Schaffhausen"), ("8207", "Schaffhausen"),
        ("8212", "Neuhausen am Rheinfall"), ("8240", "Thayngen"))),
    ("AR", "Appenzell Ausserrhoden", "de", 56, (("9100", "Herisau"), ("9053", "Teufen AR"),
        ("9043", "Trogen"), ("9410", "Heiden"))),
    ("AI", "Appenzell Innerrhoden", "de", 16.5, (("9050", "Appenzell"), ("9057", "Weissbad"),
        ("9108", "Gonten"), ("9413", "Oberegg"))),
    ("SG", "St. Gallen", "de", 530, (("9000", "St. Gallen"), ("9008", "St. Gallen"),
        ("9500", "Wil SG"), ("8640", "Rapperswil"), ("9400", "Rorschach"), ("9470", "Buchs SG"),
        ("9200", "Gossau SG"), ("9230", "Flawil"))),
    ("GR", "Graubünden", "de", 203, (("7000", "Chur"), ("7270", "Davos Platz"),
        ("7500", "St. Moritz"), ("7302", "Landquart"), ("7130", "Ilanz"),
        ("7742", "Poschiavo"))),
    ("AG", "Aargau", "de", 719, (("5000", "Aarau"), ("5400", "Baden"), ("5430", "Wettingen"),
        ("5200", "Brugg AG"), ("5600", "Lenzburg"), ("4800", "Zofingen"),
        ("5610", "Wohlen AG"), ("4310", "Rheinfelden"))),
    ("TG", "Thurgau", "de", 292, (("8500", "Frauenfeld"), ("8280", "Kreuzlingen"),
        ("8580", "Amriswil"), ("9320", "Arbon"), ("8570", "Weinfelden"))),
    ("TI", "Ticino", "it", 356, (("6500", "Bellinzona"), ("6900", "Lugano"),
        ("6600", "Locarno"), ("6850", "Mendrisio"), ("6830", "Chiasso"), ("6612", "Ascona"),
        ("6648", "Minusio"), ("6710", "Biasca"))),
    ("VD", "Vaud", "fr", 836, (("1003", "Lausanne"), ("1004", "Lausanne"), ("1005", "Lausanne"),
        ("1007", "Lausanne"), ("1400", "Yverdon-les-Bains"), ("1800", "Vevey"),
        ("1820", "Montreux"), ("1110", "Morges"), ("1260", "Nyon"), ("1020", "Renens VD"),
        ("1860", "Aigle"), ("1530", "Payerne"))),
    ("VS", "Valais", "fr", 357, (("1950", "Sion"), ("1920", "Martigny"), ("3960", "Sierre"),
        ("1870", "Monthey"), ("3900", "Brig"), ("3930", "Visp"), ("3920", "Zermatt"))),
    ("NE", "Neuchâtel", "fr", 177, (("2000", "Neuchâtel"), ("2300", "La Chaux-de-Fonds"),
        ("2400", "Le Locle"), ("2034", "Peseux"), ("2016", "Cortaillod"))),
    ("GE", "Genève", "fr", 516, (("1201", "Genève"), ("1202", "Genève"), ("1203", "Genève"),
        ("1205", "Genève"), ("1206", "Genève"), ("1207", "Genève"), ("1227", "Carouge GE"),
        ("1217", "Meyrin"), ("1212", "Grand-Lancy"), ("1214", "Vernier"),
        ("1225", "Chêne-Bourg"), ("1290", "Versoix"))),
    ("JU", "Jura", "fr", 74, (("2800", "Delémont"), ("2900", "Porrentruy"),
        ("2350", "Saignelégier"), ("2854", "Bassecourt"))),
)  # fmt: skip

_POPULATION = sum(row[3] for row in _CANTON_DATA)
CANTONS: tuple[Canton, ...] = tuple(
    Canton(code, name, language, round(pop / _POPULATION, 5), cities)
    for code, name, language, pop, cities in _CANTON_DATA
)
_CANTON_CUM = _cum([c.weight for c in CANTONS])

# Share of customers by preferred language (de, fr, it, en). Italian speakers live all over
# the country; English stands for expats (many in Zurich, Zug, Basel, Geneva, Vaud).
_LANGUAGE_MIX = {
    "de": (0.86, 0.03, 0.05, 0.06),
    "fr": (0.05, 0.83, 0.04, 0.08),
    "it": (0.06, 0.01, 0.90, 0.03),
}
_CANTON_LANGUAGE_MIX = {
    "ZH": (0.82, 0.03, 0.06, 0.09),
    "ZG": (0.79, 0.02, 0.05, 0.14),
    "BS": (0.80, 0.04, 0.06, 0.10),
    "BE": (0.83, 0.08, 0.04, 0.05),
    "GR": (0.82, 0.01, 0.13, 0.04),
    "FR": (0.29, 0.64, 0.02, 0.05),
    "VS": (0.27, 0.65, 0.03, 0.05),
    "GE": (0.03, 0.76, 0.05, 0.16),
    "VD": (0.04, 0.84, 0.04, 0.08),
}
_LANGUAGE_CUM = {lang: _cum(mix) for lang, mix in _LANGUAGE_MIX.items()}
_CANTON_LANGUAGE_CUM = {code: _cum(mix) for code, mix in _CANTON_LANGUAGE_MIX.items()}

# Where a city's language differs from its canton's (street names follow the city).
_CITY_LANGUAGE = {
    "3280": "de",
    "3186": "de",
    "3900": "de",
    "3930": "de",
    "3920": "de",
    "2610": "fr",
    "7742": "it",
}


def pick_canton(rng: random.Random) -> Canton:
    """A canton, by population share."""
    return _pick(rng, CANTONS, _CANTON_CUM)


def pick_language(rng: random.Random, canton: Canton) -> str:
    """A resident's preferred language: mostly the canton's, ~7-10 % English overall."""
    cum = _CANTON_LANGUAGE_CUM.get(canton.code) or _LANGUAGE_CUM[canton.language]
    return _pick(rng, LANGUAGES, cum)


# --- addresses ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Address:
    """A postal address; ``canton`` is the canton code."""

    street: str
    house_no: str
    postcode: str
    city: str
    canton: str

    def line(self) -> str:
        """Street and number as written in Switzerland: ``"Bahnhofstrasse 12"``."""
        return f"{self.street} {self.house_no}"


_STREETS = {
    "de": (
        "Bahnhofstrasse", "Dorfstrasse", "Hauptstrasse", "Kirchweg", "Schulstrasse", "Seestrasse",
        "Bergstrasse", "Gartenstrasse", "Industriestrasse", "Rosenweg", "Lindenstrasse",
        "Birkenweg", "Feldstrasse", "Wiesenstrasse", "Poststrasse", "Oberdorfstrasse",
        "Mühlestrasse", "Kirchgasse", "Rainstrasse", "Bachstrasse", "Waldstrasse", "Sonnenweg",
        "Alpenstrasse", "Bernstrasse", "Zürcherstrasse", "Luzernerstrasse", "Weinbergstrasse",
        "Rütistrasse", "Grabenstrasse", "Ringstrasse", "Schützenstrasse", "Marktgasse",
        "Neugasse", "Höhenweg", "Sonnenbergstrasse", "Obstgartenweg", "Im Grund", "Lerchenweg",
        "Tannenweg", "Kapellenweg",
    ),
    "fr": (
        "Rue de la Gare", "Rue du Lac", "Chemin des Vignes", "Grand-Rue", "Avenue de la Gare",
        "Rue du Centre", "Chemin du Bois", "Route de Lausanne", "Route de Genève",
        "Rue du Marché", "Chemin des Fleurs", "Avenue des Alpes", "Rue de l'Église",
        "Chemin de la Forêt", "Rue du Temple", "Rue des Moulins", "Chemin des Crêts",
        "Rue du Château", "Avenue de France", "Chemin du Levant", "Rue des Écoles",
        "Chemin de Bellevue", "Route du Village", "Rue du Stand", "Avenue du Léman",
        "Rue de la Poste", "Chemin des Cerisiers", "Rue du Nord", "Rue de la Paix",
        "Impasse des Lilas", "Chemin des Pâquerettes", "Avenue de Beaulieu",
    ),
    "it": (
        "Via Cantonale", "Via San Gottardo", "Via Stazione", "Via alla Chiesa", "Via Principale",
        "Via dei Faggi", "Via Monte Ceneri", "Via Trevano", "Via Bellinzona", "Via Locarno",
        "Via Ceresio", "Via del Sole", "Via ai Ronchi", "Via Monte Brè", "Viale Stazione",
        "Via Centrale", "Via Municipio", "Via ai Orti", "Via alla Campagna", "Via dei Pini",
        "Via delle Scuole", "Via al Lago", "Via Nassa", "Piazza Indipendenza", "Via Motta",
        "Via Vignola", "Via dei Castagni", "Via Lugano",
    ),
}  # fmt: skip
_STREET_CUM = {lang: _zipf(len(streets)) for lang, streets in _STREETS.items()}
# House numbers 1..160, most buildings have small numbers.
_HOUSE_NUMBERS = tuple(str(n) for n in range(1, 161))
_HOUSE_CUM = _cum([math.exp(-n / 30) for n in range(1, 161)])


def pick_address(rng: random.Random, canton: Canton) -> Address:
    """A plausible address in ``canton``: real postcode and city, street in the city's language."""
    postcode, city = rng.choice(canton.cities)
    language = _CITY_LANGUAGE.get(postcode, canton.language)
    street = _pick(rng, _STREETS[language], _STREET_CUM[language])
    house_no = _pick(rng, _HOUSE_NUMBERS, _HOUSE_CUM)
    if rng.random() < 0.06:
        house_no += "abc"[rng.randrange(3)] if rng.random() < 0.9 else "A"
    return Address(street, house_no, postcode, city, canton.code)


# --- names -------------------------------------------------------------------------------

_FIRST_NAMES: dict[tuple[str, str], tuple[str, ...]] = {
    ("de", "f"): (
        "Anna", "Maria", "Sandra", "Nicole", "Andrea", "Barbara", "Claudia", "Daniela", "Monika",
        "Ursula", "Ruth", "Elisabeth", "Verena", "Susanne", "Brigitte", "Karin", "Silvia",
        "Christine", "Esther", "Regula", "Sarah", "Laura", "Lea", "Julia", "Lara", "Nina", "Jana",
        "Michelle", "Mia", "Emma", "Lena", "Hanna", "Sophie", "Lina", "Alina", "Selina",
        "Melanie", "Corinne", "Franziska", "Katharina", "Heidi", "Erika", "Margrit", "Rita",
        "Priska", "Jasmin", "Tamara", "Manuela", "Stefanie", "Jacqueline",
    ),
    ("de", "m"): (
        "Peter", "Hans", "Daniel", "Thomas", "Martin", "Andreas", "Christian", "Markus", "Stefan",
        "Michael", "Urs", "Beat", "Bruno", "Walter", "Werner", "Rolf", "Kurt", "Marco", "Reto",
        "Roger", "Patrick", "Simon", "David", "Lukas", "Luca", "Noah", "Leon", "Jonas", "Fabian",
        "Dominik", "Tobias", "Samuel", "Matthias", "Adrian", "Pascal", "Philipp", "Johannes",
        "Jürg", "Ueli", "Sebastian", "Florian", "René", "Roland", "Heinz", "Fritz", "Elias",
        "Nico", "Benjamin", "Raphael", "Alexander",
    ),
    ("fr", "f"): (
        "Marie", "Sophie", "Isabelle", "Nathalie", "Catherine", "Christine", "Anne", "Françoise",
        "Monique", "Sylvie", "Valérie", "Sandrine", "Céline", "Aurélie", "Camille", "Chloé",
        "Léa", "Manon", "Emma", "Julie", "Laura", "Sarah", "Mélanie", "Stéphanie", "Véronique",
        "Martine", "Danielle", "Josiane", "Geneviève", "Hélène", "Élodie", "Amélie",
        "Charlotte", "Zoé", "Inès", "Louise", "Alice", "Juliette", "Margaux", "Noémie", "Océane",
        "Lucie", "Pauline", "Claire", "Agnès", "Jacqueline", "Marie-Claude", "Anne-Laure",
    ),
    ("fr", "m"): (
        "Jean", "Pierre", "Philippe", "Michel", "Alain", "Jacques", "Daniel", "Christophe",
        "Nicolas", "Olivier", "Laurent", "Patrick", "Frédéric", "Stéphane", "Thierry", "Pascal",
        "Didier", "François", "Bernard", "Claude", "Yves", "Sébastien", "Julien", "Mathieu",
        "Alexandre", "Maxime", "Antoine", "Guillaume", "Hugo", "Lucas", "Louis", "Gabriel",
        "Théo", "Nathan", "Arthur", "Noé", "Raphaël", "Thomas", "Jérôme", "Cédric", "Grégoire",
        "Léo", "Benoît", "Jean-Pierre", "Jean-Marc", "Jean-Claude", "Marc-André",
    ),
    ("it", "f"): (
        "Maria", "Anna", "Francesca", "Chiara", "Giulia", "Sara", "Laura", "Paola", "Elena",
        "Silvia", "Alessandra", "Roberta", "Monica", "Daniela", "Cristina", "Federica",
        "Valentina", "Martina", "Alessia", "Giorgia", "Sofia", "Aurora", "Ginevra", "Alice",
        "Emma", "Greta", "Beatrice", "Camilla", "Noemi", "Letizia", "Rosa", "Carla", "Lucia",
        "Teresa", "Giovanna", "Antonella", "Patrizia", "Simona", "Michela", "Nicoletta",
        "Elisa", "Ilaria", "Marta", "Elisabetta",
    ),
    ("it", "m"): (
        "Marco", "Luca", "Andrea", "Giuseppe", "Giovanni", "Francesco", "Alessandro", "Matteo",
        "Lorenzo", "Davide", "Stefano", "Paolo", "Roberto", "Massimo", "Fabio", "Claudio",
        "Mario", "Sergio", "Franco", "Bruno", "Carlo", "Antonio", "Michele", "Simone", "Nicola",
        "Riccardo", "Gabriele", "Leonardo", "Tommaso", "Edoardo", "Filippo", "Mattia",
        "Samuele", "Diego", "Mauro", "Fabrizio", "Gianluca", "Pietro", "Enrico", "Alberto",
        "Emanuele", "Daniele", "Giorgio", "Renato", "Nicolò",
    ),
    ("en", "f"): (
        "Emily", "Sarah", "Jessica", "Emma", "Olivia", "Sophia", "Charlotte", "Amelia", "Hannah",
        "Rachel", "Rebecca", "Laura", "Jennifer", "Elizabeth", "Katherine", "Victoria", "Grace",
        "Chloe", "Lucy", "Megan", "Priya", "Ananya", "Mei", "Yuki", "Maria", "Ana", "Fatima",
        "Aisha", "Natalia", "Olga", "Elena", "Ingrid", "Ewa", "Zeynep", "Leila", "Lisa",
        "Claire", "Amanda", "Nicole", "Sofía", "Ayşe", "Agnieszka",
    ),
    ("en", "m"): (
        "James", "John", "Michael", "David", "Daniel", "Robert", "William", "Thomas",
        "Christopher", "Matthew", "Andrew", "Oliver", "Jack", "Harry", "George", "Benjamin",
        "Samuel", "Ryan", "Alexander", "Jonathan", "Rahul", "Arjun", "Wei", "Hiroshi", "Carlos",
        "Miguel", "Luis", "Ahmed", "Omar", "Mohammed", "Ivan", "Dmitri", "Piotr", "Mehmet",
        "Lars", "Erik", "Sven", "Pedro", "João", "Kevin", "Mark", "Paul", "Søren", "José",
    ),
}  # fmt: skip

_LAST_NAMES: dict[str, tuple[str, ...]] = {
    "de": (
        "Müller", "Meier", "Schmid", "Keller", "Weber", "Huber", "Schneider", "Meyer", "Steiner",
        "Fischer", "Gerber", "Brunner", "Baumann", "Frei", "Zimmermann", "Moser", "Widmer",
        "Wyss", "Graf", "Roth", "Suter", "Baumgartner", "Bachmann", "Kälin", "Lüthi", "Bühler",
        "Sutter", "Hofmann", "Kunz", "Schnyder", "Bürki", "Zürcher", "Studer", "Hess", "Ammann",
        "Marti", "Christen", "Egli", "Furrer", "Kaufmann", "Wüthrich", "Rüegg", "Stucki",
        "Hofer", "Lehmann", "Bieri", "Zaugg", "Blaser", "Burri", "Schärer", "Niederhauser",
        "Brändli", "Tanner", "Hug", "Knecht", "Vogel", "Bösch", "Grünig", "Käser", "Märki",
        "Schüpbach", "Rüfenacht", "Imhof", "Aebischer", "Jäggi", "Zbinden", "von Gunten",
        "Amstutz", "Gasser", "von Allmen",
    ),
    "fr": (
        "Favre", "Rochat", "Gaillard", "Bonvin", "Perrin", "Martin", "Bernard", "Dubois", "Morel",
        "Girard", "Fontaine", "Rey", "Blanc", "Bovet", "Chappuis", "Jaquet", "Cuendet",
        "Mercier", "Pittet", "Golay", "Monnier", "Vuilleumier", "Jeanneret", "Berthoud",
        "Rossier", "Dupuis", "Clément", "Roulin", "Carrel", "Fournier", "Moret", "Pasche",
        "Ducret", "Mottier", "Chevalley", "Métrailler", "Délèze", "Fellay", "Crettenand",
        "Dériaz", "Gay", "Guex", "Baud", "Borel", "Junod", "Matthey", "Nicolet", "Python",
        "Savary", "Thévenaz", "Zufferey", "Bourquin", "Bétrisey", "Brélaz", "Dufour", "Gex",
        "Humbert", "Michaud", "Reymond", "Vaucher", "Rapin", "Crausaz", "Duc", "Berset",
        "Sauthier", "Décosterd",
    ),
    "it": (
        "Bernasconi", "Rossi", "Pedrazzini", "Rusconi", "Bianchi", "Lepori", "Soldati",
        "Bottinelli", "Pellandini", "Cattaneo", "Gianella", "Ghisletta", "Molinari", "Foletti",
        "Bassi", "Poretti", "Guscetti", "Cereghetti", "Camponovo", "Balestra", "Pestoni", "Beffa",
        "Lurati", "Jelmini", "Quadri", "Crivelli", "Fumagalli", "Ferrari", "Fontana", "Galli",
        "Colombo", "Conti", "Romano", "Ricci", "Marino", "Greco", "Costa", "Mancini", "Lombardi",
        "Moretti", "Barbieri", "Testa", "Vassalli", "Zanetti", "De Luca", "D'Alessandro",
        "Sciarini", "Bordoni", "Fransioli", "Maggi", "Pozzi", "Riva", "Sala", "Tettamanti",
        "Vanetti", "Zanini", "Mombelli", "Orelli", "Nessi", "Morandi", "Canepa", "Delcò",
        "Lafranchi", "Mazzoleni", "Dell'Era",
    ),
    "en": (
        "Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson", "Taylor",
        "Anderson", "Thomas", "Moore", "Jackson", "Thompson", "White", "Harris", "Clark",
        "Lewis", "Robinson", "Walker", "Young", "King", "Wright", "Scott", "Green", "Baker",
        "Adams", "Hill", "Campbell", "Mitchell", "Roberts", "Evans", "Turner", "O'Brien",
        "McDonald", "Murphy", "Kelly", "Patel", "Sharma", "Singh", "Kumar", "Chen", "Wang", "Li",
        "Zhang", "Kim", "Park", "Nguyen", "Tanaka", "Sato", "García", "Rodríguez", "Fernández",
        "López", "Silva", "Santos", "Pereira", "Kowalski", "Nowak", "Ivanov", "Petrov",
        "Y\u0131lmaz", "Şahin", "Jensen", "Johansson", "Dvořák", "Van der Berg", "Schröder",
    ),
}  # fmt: skip
_FIRST_CUM = {key: _zipf(len(names)) for key, names in _FIRST_NAMES.items()}
_LAST_CUM = {lang: _zipf(len(names)) for lang, names in _LAST_NAMES.items()}
_GENDERS = ("f", "m")


def person_name(rng: random.Random, language: str, gender: str) -> tuple[str, str]:
    """(first, last) typical for ``language``; gender ``"x"`` draws from either list."""
    if gender == "x":
        gender = _GENDERS[rng.random() < 0.5]
    key = (language, gender)
    if key not in _FIRST_NAMES:
        raise ValueError(f"unknown language/gender: {language!r}/{gender!r}")
    first = _pick(rng, _FIRST_NAMES[key], _FIRST_CUM[key])
    return first, _pick(rng, _LAST_NAMES[language], _LAST_CUM[language])


# --- transliteration ---------------------------------------------------------------------

# Letters NFKD does not decompose into ASCII, plus the German umlaut convention (ü -> ue).
_SPECIAL = {"ß": "ss", "æ": "ae", "Æ": "Ae", "œ": "oe", "Œ": "Oe", "ø": "o", "Ø": "O"}
_SPECIAL |= {"ł": "l", "Ł": "L", "\u0131": "i", "đ": "d", "Đ": "D", "þ": "th"}
_STRIP_TABLE = str.maketrans(_SPECIAL)
_UMLAUT_TABLE = str.maketrans(
    {"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue"} | _SPECIAL
)
_NOT_LOCAL = re.compile(r"[^a-z0-9-]+")


def _strip_accents(text: str, table: dict[int, str]) -> str:
    if text.isascii():
        return text
    text = unicodedata.normalize("NFKD", text.translate(table))
    return text.encode("ascii", "ignore").decode("ascii")


@functools.lru_cache(maxsize=65536)
def _local_part(name: str) -> str:
    """``"Müller"`` -> ``"mueller"``, ``"D'Alessandro"`` -> ``"dalessandro"``."""
    text = _strip_accents(name.lower(), _UMLAUT_TABLE)
    return _NOT_LOCAL.sub("", text).strip("-")


# --- e-mail ------------------------------------------------------------------------------

_DOMAIN_SHARES = (
    ("gmail.com", 0.30), ("bluewin.ch", 0.18), ("gmx.ch", 0.08), ("hotmail.com", 0.08),
    ("outlook.com", 0.05), ("icloud.com", 0.06), ("sunrise.ch", 0.04), ("yahoo.com", 0.03),
    ("hispeed.ch", 0.03), ("protonmail.com", 0.02), ("gmx.net", 0.02), ("hotmail.ch", 0.02),
    ("bluemail.ch", 0.02), ("yahoo.fr", 0.01), ("me.com", 0.01), ("proton.me", 0.01),
    ("live.com", 0.02), ("swissonline.ch", 0.01),
)  # fmt: skip
_DOMAINS = tuple(domain for domain, _ in _DOMAIN_SHARES)
_DOMAIN_CUM = _cum([share for _, share in _DOMAIN_SHARES])
# Local-part patterns: f first, l last, i first initial, n a two-digit (birth) year.
_PATTERNS = ("f.l", "fl", "i.l", "f.ln", "fln", "l.f", "f_l", "il", "l.fn", "fn", "ln", "f-l")
_PATTERN_CUM = _cum((0.34, 0.08, 0.10, 0.06, 0.08, 0.06, 0.04, 0.06, 0.03, 0.06, 0.05, 0.04))
_PLAIN_PATTERNS = ("f.l", "fl", "i.l", "l.f", "f_l", "il", "f-l")
_PLAIN_CUM = _cum((0.34, 0.08, 0.10, 0.06, 0.04, 0.06, 0.04))


def email_address(rng: random.Random, first: str, last: str, *, taken: int = 0) -> str:
    """A canonical lower-case ASCII address for the person (ü -> ue, é -> e, ...).

    ``taken > 0`` (the address was already in use ``taken`` times) picks a pattern without
    a number and appends ``taken + 1``: ``anna.meier2@...``.
    """
    f = _local_part(first) or "x"
    ln = _local_part(last) or "x"
    if taken > 0:
        pattern = _pick(rng, _PLAIN_PATTERNS, _PLAIN_CUM)
    else:
        pattern = _pick(rng, _PATTERNS, _PATTERN_CUM)
    if pattern == "f.l":
        local = f"{f}.{ln}"
    elif pattern == "fl":
        local = f + ln
    elif pattern == "i.l":
        local = f"{f[0]}.{ln}"
    elif pattern == "il":
        local = f[0] + ln
    elif pattern == "l.f":
        local = f"{ln}.{f}"
    elif pattern == "f_l":
        local = f"{f}_{ln}"
    elif pattern == "f-l":
        local = f"{f}-{ln}"
    else:
        year = f"{rng.randrange(45, 107) % 100:02d}"
        base = {"f.ln": f"{f}.{ln}", "fln": f + ln, "l.fn": f"{ln}.{f}", "fn": f, "ln": ln}
        local = base[pattern] + year
    if taken > 0:
        local += str(taken + 1)
    return f"{local}@{_pick(rng, _DOMAINS, _DOMAIN_CUM)}"


EMAIL_VARIANT_KINDS: tuple[str, ...] = ("case", "space", "case+space", "googlemail", "dots", "plus")
"""How ``email_variant`` rewrites an address, and the normalisation rule that undoes it.

- ``case``, ``space``, ``case+space``: trim + lower-case undoes them.
- ``googlemail`` (gmail only): ``@googlemail.com`` -> ``@gmail.com`` (gmail rule).
- ``dots`` (gmail only): dots removed from the local part (gmail ignores dots).
- ``plus``: a ``+tag`` sub-address (gmail, outlook/hotmail/live, icloud/me, proton): drop
  everything from ``+`` to ``@``.
"""
_EMAIL_KIND_CUM = _cum((0.35, 0.17, 0.10, 0.06, 0.14, 0.18))
_PLUS_DOMAINS = (
    "gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "hotmail.ch", "live.com",
    "icloud.com", "me.com", "protonmail.com", "proton.me",
)  # fmt: skip
_TAGS = ("shop", "newsletter", "news", "promo", "online", "orders", "spam", "ch", "kunde")
_SPACES = (" ", "  ", "\t", "\n", " \n")


def email_variant(rng: random.Random, email: str, *, kind: str | None = None) -> str:
    """The same address as another system stores it; never equal to ``email``.

    ``kind`` (one of ``EMAIL_VARIANT_KINDS``) forces a variant; kinds that do not apply to
    the address (gmail-only ones, ``plus`` on a provider without sub-addressing, ``dots``
    without dots) fall back to ``case``.
    """
    if kind is None:
        kind = _pick(rng, EMAIL_VARIANT_KINDS, _EMAIL_KIND_CUM)
    elif kind not in EMAIL_VARIANT_KINDS:
        raise ValueError(f"unknown e-mail variant kind: {kind!r}")
    local, _, domain = email.rpartition("@")
    lower_domain = domain.lower()
    if kind == "googlemail" and lower_domain == "gmail.com":
        return f"{local}@googlemail.com"
    if kind == "dots" and lower_domain == "gmail.com" and "." in local:
        return f"{local.replace('.', '')}@{domain}"
    if kind == "plus" and lower_domain in _PLUS_DOMAINS and "+" not in local:
        return f"{local}+{rng.choice(_TAGS)}@{domain}"
    if kind in ("space", "case+space"):
        base = _recase(rng, email) if kind == "case+space" else email
        where = rng.randrange(3)
        before = rng.choice(_SPACES) if where != 1 else ""
        after = rng.choice(_SPACES) if where != 0 else ""
        return before + base + after
    return _recase(rng, email)


def _recase(rng: random.Random, email: str) -> str:
    """Title-case each part (``Anna.Meier@Bluewin.ch``) or shout; differs if any letter does."""
    local, _, domain = email.rpartition("@")
    if rng.random() < 0.8:
        parts = [p[:1].upper() + p[1:] for p in local.split(".")]
        variant = ".".join(parts) + "@" + domain[:1].upper() + domain[1:]
    else:
        variant = email.upper()
    if variant == email:
        variant = email.swapcase()
    return variant if variant != email else f" {email}"


# --- phones ------------------------------------------------------------------------------

_MOBILE_PREFIXES = ("79", "78", "76", "77", "75")
_MOBILE_CUM = _cum((0.42, 0.20, 0.20, 0.09, 0.09))
_AREA_CODES = {
    "ZH": ("44", "43", "52"), "BE": ("31", "31", "32", "33", "34", "62"), "LU": ("41",),
    "UR": ("41",), "SZ": ("41", "55"), "OW": ("41",), "NW": ("41",), "GL": ("55",),
    "ZG": ("41",), "FR": ("26",), "SO": ("32", "62"), "BS": ("61",), "BL": ("61",),
    "SH": ("52",), "AR": ("71",), "AI": ("71",), "SG": ("71", "71", "81", "55"),
    "GR": ("81",), "AG": ("62", "56"), "TG": ("52", "71"), "TI": ("91",), "VD": ("21", "24"),
    "VS": ("27", "24"), "NE": ("32",), "GE": ("22",), "JU": ("32",),
}  # fmt: skip
_PHONE_FORMATS = (
    "0{a} {b} {c} {d}", "+41 {a} {b} {c} {d}", "+41{n}", "0{n}", "0041{n}", "0{a}/{b}.{c}.{d}",
    "(0{a}) {b} {c} {d}", "0{a}/{b} {c} {d}", "0041 {a} {b} {c} {d}", "0{a}-{b}-{c}-{d}",
    "0{a} {b} {c}{d}", "+41 {a} {b}{c}{d}",
)  # fmt: skip
_PHONE_CUM = _cum((0.25, 0.18, 0.12, 0.10, 0.06, 0.05, 0.03, 0.06, 0.04, 0.03, 0.04, 0.04))


def mobile_number(rng: random.Random) -> str:
    """A Swiss mobile number in E.164: ``"+41791234567"``."""
    return f"+41{_pick(rng, _MOBILE_PREFIXES, _MOBILE_CUM)}{rng.randrange(10_000_000):07d}"


def landline_number(rng: random.Random, canton: Canton) -> str:
    """A fixed-line number in E.164 with an area code used in ``canton`` (044 Zurich, ...)."""
    area = rng.choice(_AREA_CODES.get(canton.code, ("44",)))
    return f"+41{area}{rng.randint(2, 9)}{rng.randrange(1_000_000):06d}"


def phone_variant(rng: random.Random, e164: str) -> str:
    """The same Swiss number as typed into some form (``"079 123 45 67"``, ``"0041..."``, ...).

    May return the E.164 form itself, which real data also contains.
    """
    if len(e164) != 12 or not e164.startswith("+41") or not e164[3:].isdigit():
        raise ValueError(f"not a Swiss E.164 number: {e164!r}")
    n = e164[3:]
    template = _pick(rng, _PHONE_FORMATS, _PHONE_CUM)
    return template.format(n=n, a=n[:2], b=n[2:5], c=n[5:7], d=n[7:])


# --- typos and name variants -------------------------------------------------------------


def _qwertz_neighbours() -> dict[str, str]:
    rows = ("1234567890", "qwertzuiopü", "asdfghjklöä", "yxcvbnm")
    neighbours: dict[str, str] = {}
    for r, row in enumerate(rows):
        for i, key in enumerate(row):
            near = [row[j] for j in (i - 1, i + 1) if 0 <= j < len(row)]
            if r > 0:
                near += [rows[r - 1][j] for j in (i, i + 1) if 0 <= j < len(rows[r - 1])]
            if r + 1 < len(rows):
                near += [rows[r + 1][j] for j in (i - 1, i) if 0 <= j < len(rows[r + 1])]
            neighbours[key] = "".join(near)
    return neighbours


_NEIGHBOURS = _qwertz_neighbours()
_TYPO_KINDS = ("swap", "drop", "double", "neighbour")
_TYPO_CUM = _cum((0.3, 0.25, 0.15, 0.3))


def typo(rng: random.Random, text: str) -> str:
    """One keyboard slip: swap, drop, double or a QWERTZ neighbour; differs if ``text`` does.

    The result is at Levenshtein distance 1 (2 for a swap) from ``text``; only the empty
    string comes back unchanged.
    """
    if not text:
        return text
    kind = _pick(rng, _TYPO_KINDS, _TYPO_CUM)
    if kind == "swap":
        spots = [i for i in range(len(text) - 1) if text[i] != text[i + 1]]
        if spots:
            i = rng.choice(spots)
            return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
        kind = "double"
    if kind == "neighbour":
        spots = [i for i, ch in enumerate(text) if ch.lower() in _NEIGHBOURS]
        if spots:
            i = rng.choice(spots)
            new = rng.choice(_NEIGHBOURS[text[i].lower()])
            if text[i].isupper():
                new = new.upper()
            return text[:i] + new + text[i + 1 :]
        kind = "double"
    i = rng.randrange(len(text))
    if kind == "drop" and len(text) > 1:
        return text[:i] + text[i + 1 :]
    return text[: i + 1] + text[i:]


_SHORT_FORMS: dict[str, tuple[str, ...]] = {
    # de
    "Johannes": ("Hans", "Jo"), "Elisabeth": ("Lisa", "Elsbeth", "Lisbeth"),
    "Christian": ("Chris",), "Christine": ("Tina", "Chris"), "Daniel": ("Dani", "Dan"),
    "Daniela": ("Dani",), "Andreas": ("Andi", "Res"), "Thomas": ("Tom", "Thomi"),
    "Michael": ("Michi", "Mike"), "Stefan": ("Steff",), "Barbara": ("Babs", "Barbi"),
    "Ursula": ("Ursi", "Uschi"), "Verena": ("Vreni",), "Katharina": ("Kathrin", "Käthi"),
    "Franziska": ("Franzi",), "Samuel": ("Sämi", "Sam"), "Matthias": ("Mätthu", "Matti"),
    "Dominik": ("Domi",), "Sebastian": ("Basti",), "Florian": ("Flo",), "Ueli": ("Ulrich",),
    "Benjamin": ("Beni", "Ben"), "Raphael": ("Raphi",), "Nicole": ("Nici", "Nikki"),
    "Stefanie": ("Steffi",), "Manuela": ("Manu",), "Alexander": ("Alex",), "Andrea": ("Andi",),
    "Susanne": ("Susi", "Sanne"), "Monika": ("Moni",), "Tobias": ("Tobi",), "Lukas": ("Luki",),
    "Fabian": ("Fabi",), "Margrit": ("Margrith", "Grit"), "Jacqueline": ("Jackie",),
    # fr
    "Jean-Pierre": ("JP", "Jean"), "Jean-Marc": ("Jean",), "Jean-Claude": ("Jean",),
    "Marc-André": ("Marc",), "Marie-Claude": ("Marie",), "Anne-Laure": ("Anne",),
    "Alexandre": ("Alex",), "Nicolas": ("Nico",), "Christophe": ("Chris",),
    "Frédéric": ("Fred",), "Stéphane": ("Steph",), "Sébastien": ("Seb",), "Maxime": ("Max",),
    "Catherine": ("Cathy",), "Isabelle": ("Isa",), "Nathalie": ("Nat",), "Valérie": ("Val",),
    "Véronique": ("Véro",), "Stéphanie": ("Steph", "Fanny"), "Élodie": ("Elo",),
    "Philippe": ("Phil",), "Grégoire": ("Greg",), "Raphaël": ("Raph",), "Margaux": ("Margot",),
    "Danielle": ("Dany",),
    # it
    "Giuseppe": ("Beppe", "Peppe", "Pino"), "Giovanni": ("Gianni", "Nanni"),
    "Francesco": ("Franco", "Cecco"), "Alessandro": ("Sandro", "Ale"), "Roberto": ("Robi",),
    "Antonio": ("Toni", "Tonio"), "Lorenzo": ("Enzo",), "Massimo": ("Max",),
    "Gabriele": ("Gabri",), "Daniele": ("Dani",), "Emanuele": ("Manu",), "Federica": ("Fede",),
    "Francesca": ("Franci", "Fra"), "Alessandra": ("Sandra", "Ale"), "Giovanna": ("Gianna",),
    "Patrizia": ("Patty",), "Valentina": ("Vale",), "Cristina": ("Tina",), "Beatrice": ("Bea",),
    "Elisabetta": ("Betta", "Elisa"), "Tommaso": ("Tommy", "Tom"), "Riccardo": ("Ricky",),
    "Leonardo": ("Leo",), "Filippo": ("Pippo",), "Nicolò": ("Nico",), "Gianluca": ("Luca",),
    "Samuele": ("Samu",), "Simone": ("Simo",),
    # en
    "Christopher": ("Chris",), "Matthew": ("Matt",), "William": ("Will", "Bill"),
    "Robert": ("Rob", "Bob"), "Jonathan": ("Jon",), "Andrew": ("Andy",), "James": ("Jim",),
    "David": ("Dave",), "Elizabeth": ("Liz", "Beth"), "Katherine": ("Kate", "Kathy"),
    "Jennifer": ("Jen", "Jenny"), "Rebecca": ("Becky",), "Victoria": ("Vicky",),
    "Jessica": ("Jess",), "Amanda": ("Mandy",), "Olivia": ("Liv",), "Charlotte": ("Charlie",),
    "Mohammed": ("Mo",), "Dmitri": ("Dima",),
}  # fmt: skip
_NAME_KINDS = ("umlaut", "accents", "initial", "short", "caps", "double", "lower", "swap")
_NAME_KIND_CUM = _cum((0.18, 0.14, 0.12, 0.16, 0.14, 0.12, 0.08, 0.06))


def _split_double(last: str) -> list[str]:
    if "-" in last:
        return last.split("-")
    parts = last.split(" ")
    # "von Gunten", "De Luca", "Van der Berg" are one name, not a double name.
    return parts if len(parts) == 2 and all(p[:1].isupper() for p in parts) else [last]


def _name_kind(rng: random.Random, kind: str, first: str, last: str) -> tuple[str, str]:
    if kind == "umlaut":
        umlauts = _strip_accents(first, _UMLAUT_TABLE), _strip_accents(last, _UMLAUT_TABLE)
        plain = _strip_accents(first, _STRIP_TABLE), _strip_accents(last, _STRIP_TABLE)
        return umlauts if umlauts != plain and rng.random() < 0.65 else plain
    if kind == "accents":
        return _strip_accents(first, _STRIP_TABLE), _strip_accents(last, _STRIP_TABLE)
    if kind == "initial":
        return (first[:1] + "." if rng.random() < 0.7 else first[:1]), last
    if kind == "short":
        forms = _SHORT_FORMS.get(first)
        return (rng.choice(forms), last) if forms else (first, last)
    if kind == "caps":
        return first, last.upper()
    if kind == "double":
        parts = _split_double(last)
        return (first, rng.choice(parts)) if len(parts) > 1 else (first, last)
    if kind == "lower":
        return first.lower(), last.lower()
    return last, first


def name_variant(rng: random.Random, first: str, last: str) -> tuple[str, str]:
    """The same person's name as another system has it (Müller -> Mueller, Hans, MÜLLER...).

    Differs from the input whenever any variant applies (any cased letter suffices).
    """
    for _ in range(4):  # redraw when the kind does not apply (no umlaut, no short form...)
        result = _name_kind(rng, _pick(rng, _NAME_KINDS, _NAME_KIND_CUM), first, last)
        if result != (first, last):
            return result
    for fallback in _NAME_KINDS:
        result = _name_kind(rng, fallback, first, last)
        if result != (first, last):
            return result
    return first, last


def married_name(rng: random.Random, last: str, language: str) -> str:
    """The last name after marriage: the spouse's name or a double name (Meier-Keller)."""
    names = _LAST_NAMES[language if rng.random() < 0.8 else rng.choice(LANGUAGES)]
    spouse = rng.choice(names)
    while spouse == last:
        spouse = rng.choice(names)
    u = rng.random()
    if u < 0.62:
        return spouse
    sep = " " if language in ("fr", "it") else "-"  # "Favre Rochat", "Meier-Keller"
    if u < 0.80:
        return f"{spouse}{sep}{last}"
    return f"{last}{sep}{spouse}"


# --- ages --------------------------------------------------------------------------------

AGE_BANDS: tuple[str, ...] = ("18-24", "25-34", "35-44", "45-54", "55-64", "65+")
_AGE_BAND_CUM = _cum((0.095, 0.165, 0.17, 0.17, 0.165, 0.235))
_OLD_AGES = tuple(range(65, 100))
_OLD_AGE_CUM = _cum([math.exp(-0.05 * (a - 65) - 0.25 * max(0, a - 85)) for a in _OLD_AGES])
_BAND_RANGES = {"18-24": (18, 24), "25-34": (25, 34), "35-44": (35, 44)}
_BAND_RANGES |= {"45-54": (45, 54), "55-64": (55, 64)}


def pick_age_band(rng: random.Random) -> str:
    """An age band, distributed like Switzerland's adult population."""
    return _pick(rng, AGE_BANDS, _AGE_BAND_CUM)


def birth_date(rng: random.Random, age_band: str, reference_year: int) -> datetime.date:
    """A birth date such that the age on 1 January of ``reference_year`` is in ``age_band``."""
    if age_band == "65+":
        age = _pick(rng, _OLD_AGES, _OLD_AGE_CUM)
    else:
        low, high = _BAND_RANGES[age_band]
        age = rng.randint(low, high)
    # Born in (1 Jan of reference_year - age - 1, 1 Jan of reference_year - age].
    end = datetime.date(reference_year - age, 1, 1).toordinal()
    start = datetime.date(reference_year - age - 1, 1, 2).toordinal()
    return datetime.date.fromordinal(rng.randint(start, end))


# --- IPs and cards -----------------------------------------------------------------------

# (first octet, second octet low, high, weight): Swisscom, Sunrise/UPC, Salt, Init7, ...
_SWISS_BLOCKS = (
    (85, 0, 7, 0.22), (83, 76, 79, 0.10), (178, 192, 199, 0.08), (188, 60, 63, 0.07),
    (213, 55, 55, 0.04), (31, 164, 165, 0.04),  # Swisscom
    (77, 56, 59, 0.09), (84, 72, 75, 0.08), (62, 2, 2, 0.03), (212, 243, 243, 0.03),
    (81, 62, 63, 0.04),  # Sunrise / UPC
    (46, 14, 14, 0.05), (188, 154, 155, 0.04),  # Salt
    (77, 109, 109, 0.03), (31, 10, 10, 0.03), (185, 12, 12, 0.03),  # Init7, Quickline, other
)  # fmt: skip
_SWISS_CUM = _cum([w for *_, w in _SWISS_BLOCKS])
_FOREIGN: tuple[tuple[str, float, tuple[tuple[int, int, int], ...]], ...] = (
    ("DE", 0.20, ((79, 192, 255), (84, 128, 191), (91, 0, 63))),
    ("FR", 0.15, ((90, 0, 127), (86, 192, 255), (2, 0, 15))),
    ("IT", 0.12, ((87, 0, 31), (79, 0, 63), (151, 0, 95))),
    ("AT", 0.05, ((80, 120, 123), (62, 46, 47), (178, 112, 115))),
    ("GB", 0.08, ((86, 128, 191), (81, 128, 159), (2, 96, 127))),
    ("NL", 0.05, ((77, 160, 175), (145, 128, 131), (83, 80, 87))),
    ("US", 0.10, ((73, 0, 255), (24, 0, 63), (98, 192, 255))),
    ("RU", 0.05, ((95, 24, 31), (178, 64, 71), (213, 87, 87))),
    ("CN", 0.04, ((116, 224, 255), (220, 160, 191), (183, 0, 63))),
    ("BR", 0.04, ((177, 0, 127), (189, 0, 127))),
    ("NG", 0.04, ((105, 112, 127), (41, 58, 58), (197, 210, 211))),
    ("IN", 0.04, ((49, 32, 47), (157, 32, 51), (117, 192, 255))),
    ("UA", 0.02, ((93, 72, 79), (176, 36, 39))),
    ("RO", 0.02, ((86, 120, 127), (79, 112, 119))),
)  # fmt: skip
_FOREIGN_CUM = _cum([w for _, w, _ in _FOREIGN])


def swiss_ip(rng: random.Random) -> str:
    """An IPv4 address from a Swiss access network (Swisscom, Sunrise/UPC, Salt, ...)."""
    a, low, high, _ = _pick(rng, _SWISS_BLOCKS, _SWISS_CUM)
    return f"{a}.{rng.randint(low, high)}.{rng.randrange(256)}.{rng.randint(1, 254)}"


def foreign_ip(rng: random.Random) -> tuple[str, str]:
    """(IPv4, ISO country code) from a non-Swiss network, near or far (impossible travel)."""
    country, _, blocks = _pick(rng, _FOREIGN, _FOREIGN_CUM)
    a, low, high = rng.choice(blocks)
    return f"{a}.{rng.randint(low, high)}.{rng.randrange(256)}.{rng.randint(1, 254)}", country


# EAN-13 weights alternate 1, 3 from the left; a digit pair "xy" at an even offset adds x + 3y.
_PAIR_SUM = tuple(n // 10 + 3 * (n % 10) for n in range(100))
_CARD_PREFIX = "2990"
_PREFIX_SUM = sum(int(ch) * (3 if i % 2 else 1) for i, ch in enumerate(_CARD_PREFIX))


def loyalty_card_number(rng: random.Random) -> str:
    """A 13-digit card number, prefix ``2990`` (in-store range) and a valid EAN-13 check digit."""
    n = rng.randrange(100_000_000)
    total = _PREFIX_SUM + _PAIR_SUM[n // 1_000_000] + _PAIR_SUM[n // 10_000 % 100]
    total += _PAIR_SUM[n // 100 % 100] + _PAIR_SUM[n % 100]
    return f"{_CARD_PREFIX}{n:08d}{-total % 10}"
