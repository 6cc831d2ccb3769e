#!/usr/bin/env python3
"""Rebuilds common-passwords.txt (see README.md in this directory).

Usage:
    pip download --no-deps zxcvbn==4.5.0 -d /tmp/zxcvbn
    python3 -m zipfile -e /tmp/zxcvbn/zxcvbn-4.5.0-py2.py3-none-any.whl /tmp/zxcvbn/x
    python3 build_blocklist.py /tmp/zxcvbn/x > common-passwords.txt
"""
import itertools
import sys

sys.path.insert(0, sys.argv[1])
from zxcvbn.frequency_lists import FREQUENCY_LISTS  # noqa: E402

MIN_LEN = 8

entries = {w.lower() for w in FREQUENCY_LISTS["passwords"] if len(w) >= MIN_LEN}

# Hand-curated additions: the zxcvbn list holds few passwords of 12 characters or more,
# which is what a 12-character minimum pushes people towards (a short word padded with
# digits or a year). Keyboard walks (French AZERTY and QWERTY), French and English
# favourites, each with the usual suffixes; only results of 12 characters or more are kept.
BASES = [
    "password", "passw0rd", "p@ssword", "p@ssw0rd", "motdepasse", "m0tdepasse", "motdepasse!",
    "azerty", "azertyuiop", "qwerty", "qwertyuiop", "qwertz", "qsdfghjklm", "wxcvbn", "asdfghjkl",
    "zxcvbnm", "aqwzsx", "1q2w3e4r", "1qaz2wsx", "a1z2e3r4", "azertyazerty", "qwertyqwerty",
    "iloveyou", "jetaime", "jetaimemamour", "bonjour", "bienvenue", "welcome", "soleil",
    "doudou", "chouchou", "loulou", "marseille", "paris", "lyon", "toulouse", "football",
    "liverpool", "chelsea", "arsenal", "barcelona", "realmadrid", "juventus", "psg", "om",
    "admin", "administrator", "administrateur", "changeme", "changemoi", "letmein", "monkey",
    "dragon", "sunshine", "princess", "princesse", "nicolas", "julien", "camille", "vacances",
    "secret", "secret!", "master", "superman", "batman", "pokemon", "minecraft", "nutella",
    "chocolat", "doudou", "cheval", "chaton", "chouette", "amour", "toujours", "france",
    "abcdef", "abcdefgh", "abc", "test", "testtest", "utilisateur", "user", "login", "connexion",
    "entreprise", "societe", "portail", "famille", "ecole", "mairie", "compta", "accueil",
]
SUFFIXES = [
    "", "1", "01", "12", "123", "1234", "12345", "123456", "1234567", "12345678", "123456789",
    "!", "!!", "1!", "123!", "1234!", "@123", "@1234", "*", "123*", ".", "?", "000", "007",
    "2019", "2020", "2021", "2022", "2023", "2024", "2025", "2026", "2027",
    "2019!", "2020!", "2021!", "2022!", "2023!", "2024!", "2025!", "2026!", "2027!",
]
for base, suffix in itertools.product(BASES, SUFFIXES):
    for word in (base + suffix, base + base + suffix, suffix + base):
        if len(word) >= 12:
            entries.add(word.lower())

PHRASES = [
    "correcthorsebatterystaple", "correct horse battery staple", "mot de passe", "mot de passe 123",
    "motdepassemotdepasse", "passwordpassword", "iloveyouiloveyou", "ilovemyfamily", "ilovemymom",
    "jetaimejetaime", "jesuislemeilleur", "monmotdepasse", "mon mot de passe", "nouveaumotdepasse",
    "mypassword123", "mynewpassword", "thisismypassword", "changemenow", "changeme123456",
    "abcdefghijkl", "abcdefghijklm", "abcdefghijklmnop", "abcdefghijklmnopqrstuvwxyz",
    "aqwzsxedcrfv", "azertyuiopqsdfghjklm", "qwertyuiopasdfghjkl", "qwertyuiopasdfghjklzxcvbnm",
    "1234567890azerty", "azerty1234567890", "0123456789", "01234567890123456789",
]
entries.update(p.lower() for p in PHRASES)
digits = "1234567890"
for n in range(MIN_LEN, 21):
    entries.add((digits * 3)[:n])
    entries.add("".join(reversed((digits * 3)[:n])))
for ch in "0123456789abcdefghijklmnopqrstuvwxyz":
    for n in range(MIN_LEN, 21):
        entries.add(ch * n)

for word in sorted(entries):
    assert word == word.strip() and "\n" not in word and word.isascii()
    print(word)
