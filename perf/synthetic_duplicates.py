"""A seeded register of N workers with injected duplicates and hard negatives, as TSV.

Names: Faker's ru_RU lists with the weights of the project's generator (perf/synthetic.py:
Zipf-like surnames 1/(i+10), common first names x25, common patronymic stems x20).
``--surnames faker`` uses only Faker's 250 surnames (the project's generator as it is);
``--surnames tail`` (default) gives them half the mass and spreads the other half over 100,000
synthetic surnames with a Zipf tail, closer to a real register (see REPORT.md: name collisions).

Columns: id, person (truth: one id per human), kind (base | a duplicate kind | namesake | twin),
of (the record a duplicate or negative was made from), then the worker's fields; lists joined by «;».

Usage: python bench/gen.py N OUT.tsv [--seed S] [--dup-rate R] [--share-scale X] [--surnames tail|faker]
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import time
from bisect import bisect
from itertools import accumulate

from faker.providers.person.ru_RU import Provider

from .synthetic import COMMON_FEMALE, COMMON_MALE, COMMON_PATRONYMIC_STEMS

KINDS = (
    "exact",  # the same record entered again
    "yo",  # ё written as е or back
    "case_space",  # upper/lower case, extra spaces
    "surname_typo",  # one letter of the surname changed, dropped, added or transposed
    "swap",  # first name and patronymic in each other's fields
    "double_single",  # «Иванова-Петрова» recorded as «Петрова»
    "female_male",  # a woman's surname in the male form
    "dob_digit",  # one wrong digit in the birth date
    "dob_daymonth",  # day and month swapped
)
NEGATIVES = ("namesake", "twin")

# The most common names get the same boosts as in the register generator (perf.synthetic).

LETTERS = "абвгдежзиклмнопрстуфхцчшщэюя"
CONS = "бвгдзклмнпрстфхцчшщжл"
VOWELS = "аеиоуя"
TAIL_SUFFIXES = (("ов", 30), ("ев", 12), ("ин", 14), ("ский", 6), ("цкий", 1), ("енко", 5), ("ук", 3),
                 ("ых", 2), ("ой", 1), ("ский", 3), ("ник", 1), ("ян", 3), ("швили", 1), ("ко", 2))  # fmt: skip


def female_surname(male: str) -> str:
    for m, f in (("ский", "ская"), ("цкий", "цкая"), ("ой", "ая"), ("ый", "ая"), ("ий", "яя")):
        if male.endswith(m):
            return male[: -len(m)] + f
    if male.endswith(("ов", "ев", "ёв", "ин", "ын")):
        return male + "а"
    return male  # -енко, -ук, -ых, -ян ... do not change


def male_surname(female: str) -> str:
    for f, m in (("ская", "ский"), ("цкая", "цкий"), ("яя", "ий")):
        if female.endswith(f):
            return female[: -len(f)] + m
    if female.endswith(("ова", "ева", "ёва", "ина", "ына")):
        return female[:-1]
    if female.endswith("ая"):
        return female[:-2] + "ой"
    return female


def patronymic_other_sex(p: str) -> str:
    for f, m in (("инична", "ич"), ("овна", "ович"), ("евна", "евич"), ("ична", "ич")):
        if p.endswith(f):
            return p[: -len(f)] + m
    for m, f in (("ович", "овна"), ("евич", "евна"), ("ич", "инична")):
        if p.endswith(m):
            return p[: -len(m)] + f
    return p


def snils_checksum(body: str) -> str:
    s = sum(int(d) * w for d, w in zip(body, range(9, 0, -1), strict=True))
    if s < 100:
        return f"{s:02d}"
    if s in (100, 101):
        return "00"
    r = s % 101
    return "00" if r == 100 else f"{r:02d}"


def inn_person(body10: str) -> str:
    d = [int(c) for c in body10]
    d11 = sum(w * x for w, x in zip((7, 2, 4, 10, 3, 5, 9, 4, 6, 8), d, strict=True)) % 11 % 10
    d.append(d11)
    d12 = sum(w * x for w, x in zip((3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8), d, strict=True)) % 11 % 10
    return body10 + str(d11) + str(d12)


def translit(text: str) -> str:
    latin = ["a", "b", "v", "g", "d", "e", "e", "zh", "z", "i", "y", "k", "l", "m", "n", "o", "p", "r", "s", "t",
             "u", "f", "kh", "ts", "ch", "sh", "shch", "", "y", "", "e", "yu", "ya"]  # fmt: skip
    table = dict(zip("абвгдеёжзийклмнопрстуфхцчшщъыьэюя", latin, strict=True))
    return "".join(table.get(c, c) for c in text.lower() if c.isalnum())


class Pools:
    def __init__(self, surnames: str):
        self.last_m = list(Provider.last_names_male)
        self.last_w = [1 / (i + 10) for i in range(len(self.last_m))]
        if surnames == "tail":
            head = sum(self.last_w)
            rng = random.Random("tail-surnames")
            seen = set(self.last_m)
            suffixes = [s for s, _ in TAIL_SUFFIXES]
            suffix_cum = list(accumulate(w for _, w in TAIL_SUFFIXES))
            tail = []
            while len(tail) < 100_000:
                root = "".join(rng.choice(CONS) + rng.choice(VOWELS) for _ in range(rng.choice((1, 2, 2, 3))))
                root += rng.choice(CONS)
                name = (root + suffixes[bisect(suffix_cum, rng.random() * suffix_cum[-1])]).capitalize()
                if name not in seen:
                    seen.add(name)
                    tail.append(name)
            tail_w = [1 / (i + 300) for i in range(len(tail))]
            scale = head / sum(tail_w)  # the tail gets as much mass as Faker's 250
            self.last_m += tail
            self.last_w += [w * scale for w in tail_w]
        self.last_cum = list(accumulate(self.last_w))
        self.last_f = [female_surname(m) for m in self.last_m]
        self.first_m, self.first_f = list(Provider.first_names_male), list(Provider.first_names_female)
        self.first_m_cum = list(accumulate(25 if n in COMMON_MALE else 1 for n in self.first_m))
        self.first_f_cum = list(accumulate(25 if n in COMMON_FEMALE else 1 for n in self.first_f))
        self.mid_m, self.mid_f = list(Provider.middle_names_male), list(Provider.middle_names_female)
        self.mid_m_cum = list(accumulate(20 if n.startswith(COMMON_PATRONYMIC_STEMS) else 1 for n in self.mid_m))
        self.mid_f_cum = list(accumulate(20 if n.startswith(COMMON_PATRONYMIC_STEMS) else 1 for n in self.mid_f))

    def pick(self, rng, items, cum):
        return items[bisect(cum, rng.random() * cum[-1])]


# Regions weighted like population (a Zipf stand-in: Moscow about 9 %), 120 specialties (Zipf).
REGIONS = [f"{i:02d}" for i in range(1, 90)]
REGION_CUM = list(accumulate(1 / (i + 3) for i in range(len(REGIONS))))
SPECIALTY_CUM = list(accumulate(1 / (i + 5) for i in range(120)))
BIRTH_LO = dt.date(1950, 1, 1).toordinal()
BIRTH_SPAN = dt.date(2002, 12, 31).toordinal() - BIRTH_LO


class Generator:
    def __init__(
        self,
        n: int,
        seed: int,
        dup_rate: float,
        share_scale: float,
        surnames: str,
        namesake_rate: float,
        twin_rate: float,
    ):
        self.n, self.seed = n, seed
        self.dup_rate, self.share_scale = dup_rate, share_scale
        self.namesake_rate, self.twin_rate = namesake_rate, twin_rate
        self.rng = random.Random(f"{seed}:register")
        self.pools = Pools(surnames)
        self.rows: list[list] = []
        self.keep_region, self.keep_specialty = 0.8, 0.8
        self.snils_used: set[str] = set()
        self.key = 0
        self.extra = 0

    # --- identifiers (unique in the register) ---

    def new_snils(self) -> str:
        while True:
            self.key += 1
            body = f"{100_000_000 + self.key * 7919 % 899_999_999:09d}"
            snils = body + snils_checksum(body)
            if snils not in self.snils_used:
                self.snils_used.add(snils)
                return snils

    def near_snils(self, snils: str) -> str:
        rng = self.rng
        for _ in range(50):
            body = list(snils[:9])
            i = rng.randrange(9)
            if rng.random() < 0.5 and i < 8 and body[i] != body[i + 1]:
                body[i], body[i + 1] = body[i + 1], body[i]
            else:
                body[i] = rng.choice([d for d in "0123456789" if d != body[i]])
            b = "".join(body)
            s = b + snils_checksum(b)
            if s not in self.snils_used and b[0] != "0":
                self.snils_used.add(s)
                return s
        return self.new_snils()

    def new_inn(self) -> str:
        return inn_person(f"{self.rng.randrange(1, 96):02d}{self.key * 7919 % 10**8:08d}")

    def near_inn(self, inn: str) -> str:
        body = list(inn[:10])
        i = self.rng.randrange(2, 10)
        body[i] = self.rng.choice([d for d in "0123456789" if d != body[i]])
        return inn_person("".join(body))

    # --- people ---

    def person(self) -> dict:
        rng, p = self.rng, self.pools
        male = rng.random() < 0.1475  # share of men in the project's generator
        i = bisect(p.last_cum, rng.random() * p.last_cum[-1])
        last = p.last_m[i] if male else p.last_f[i]
        if not male and rng.random() < 0.01:  # a double surname
            j = bisect(p.last_cum, rng.random() * p.last_cum[-1])
            if j != i:
                last = f"{last}-{p.last_f[j]}"
        first = p.pick(rng, p.first_m, p.first_m_cum) if male else p.pick(rng, p.first_f, p.first_f_cum)
        middle = p.pick(rng, p.mid_m, p.mid_m_cum) if male else p.pick(rng, p.mid_f, p.mid_f_cum)
        if rng.random() < 0.006:  # foreign citizens without a patronymic
            middle = ""
        return {
            "last": last, "first": first, "middle": middle, "sex": "M" if male else "F",
            "dob": dt.date.fromordinal(BIRTH_LO + rng.randrange(BIRTH_SPAN)),
        }  # fmt: skip

    def contacts(self, rid: int, who: dict) -> dict:
        rng = self.rng
        snils = self.new_snils()
        return {
            "region": REGIONS[bisect(REGION_CUM, rng.random() * REGION_CUM[-1])],
            "specialty": str(bisect(SPECIALTY_CUM, rng.random() * SPECIALTY_CUM[-1])),
            "snils": snils,
            "inn": self.new_inn() if rng.random() < 0.85 else "",
            "phone": f"+79{rng.randrange(10**9):09d}" if rng.random() < 0.9 else "",
            "email": f"{translit(who['first'])}.{translit(who['last'])}{rid}@example.com" if rng.random() < 0.7 else "",
            "docs": [f"{rid:07d}{k}" for k in range(1 + (rng.random() < 0.3))],
            "dips": [f"1077{rid:08d}"] if rng.random() < 0.9 else [],
            "orgs": [str(rng.randrange(60_000)) for _ in range(1 + (rng.random() < 0.12))],
        }

    def add(self, rid, person, kind, of, who, ids):
        d = who["dob"]
        self.rows.append([rid, person, kind, of, who["last"], who["first"], who["middle"], who["sex"],
                          d.isoformat() if isinstance(d, dt.date) else d, ids["snils"], ids["inn"], ids["phone"],
                          ids["email"], ";".join(ids["docs"]), ";".join(ids["dips"]), ";".join(ids["orgs"]),
                          ids["region"], ids["specialty"]])  # fmt: skip

    def build(self) -> list[list]:
        rng = self.rng
        n_dup = int(self.n * self.dup_rate)
        n_namesake = int(self.n * self.namesake_rate)
        n_twin = int(self.n * self.twin_rate)
        n_base = self.n - n_dup - n_namesake - n_twin
        for rid in range(n_base):
            who = self.person()
            self.add(rid, rid, "base", "", who, self.contacts(rid, who))
        rid = n_base
        for _ in range(n_namesake):
            src = self.rows[rng.randrange(n_base)]
            who = {"last": src[4], "first": src[5], "middle": src[6], "sex": src[7],
                   "dob": dt.date.fromordinal(BIRTH_LO + rng.randrange(BIRTH_SPAN))}  # fmt: skip
            if who["dob"].isoformat() == src[8]:
                continue
            self.add(rid, rid, "namesake", src[0], who, self.contacts(rid, who))
            rid += 1
        for _ in range(n_twin):
            src = self.rows[rng.randrange(n_base)]
            same_sex = rng.random() < 0.6
            sex = src[7] if same_sex else ("F" if src[7] == "M" else "M")
            p = self.pools
            first = p.pick(rng, p.first_m, p.first_m_cum) if sex == "M" else p.pick(rng, p.first_f, p.first_f_cum)
            if first == src[5]:
                continue
            last, middle = src[4], src[6]
            if not same_sex:
                last = "-".join(male_surname(x) if sex == "M" else female_surname(x) for x in last.split("-"))
                middle = patronymic_other_sex(middle)
            who = {"last": last, "first": first, "middle": middle, "sex": sex, "dob": src[8]}
            ids = self.contacts(rid, who)
            if rng.random() < 0.1 * self.share_scale:  # twins working at the same hospital
                ids["orgs"] = [src[15].split(";")[0]]
            if rng.random() < 0.7:  # twins often live in one region
                ids["region"] = src[16]
            self.add(rid, rid, "twin", src[0], who, ids)
            rid += 1
        used: set[int] = set()
        for _ in range(n_dup):
            kind = KINDS[rng.randrange(len(KINDS))]
            made = None
            for _attempt in range(100):
                src = self.rows[rng.randrange(n_base)]
                if kind == "double_single" and src[0] in used:
                    continue  # its surname is about to change: no earlier duplicate may copy the old one
                made = self.variant(kind, src)
                if made:
                    break
            if not made:
                continue
            who, src = made
            used.add(src[0])
            self.add(rid, src[1], kind, src[0], who, self.dup_ids(rid, who, src))
            rid += 1
        return self.rows

    def dup_ids(self, rid: int, who: dict, src: list) -> dict:
        """A duplicate's identifiers: another SNILS always; some share contacts, numbers, employers."""
        rng, s = self.rng, self.share_scale
        ids = self.contacts(rid, who)
        # The same person keeps the specialty and mostly the region (moves, second jobs elsewhere).
        if rng.random() < self.keep_region:
            ids["region"] = src[16]
        if rng.random() < self.keep_specialty:
            ids["specialty"] = src[17]
        if rng.random() < 0.4:  # many share nothing but name and birth date
            return ids
        if rng.random() < 0.05 * s:
            ids["snils"] = self.near_snils(src[9])
        if src[10] and rng.random() < 0.05 * s:
            ids["inn"] = self.near_inn(src[10])
        if src[11] and rng.random() < 0.3 * s:
            ids["phone"] = src[11]
        if src[12] and rng.random() < 0.2 * s:
            ids["email"] = src[12]
        if src[13] and rng.random() < 0.15 * s:
            ids["docs"] = src[13].split(";")[:1]
        if src[14] and rng.random() < 0.15 * s:
            ids["dips"] = src[14].split(";")
        if src[15] and rng.random() < 0.3 * s:
            ids["orgs"] = src[15].split(";")[:1]
        return ids

    def variant(self, kind: str, src: list):
        rng = self.rng
        last, first, middle, sex, dob = src[4], src[5], src[6], src[7], src[8]
        who = {"last": last, "first": first, "middle": middle, "sex": sex, "dob": dob}
        if kind == "exact":
            pass
        elif kind == "yo":
            full = f"{last}|{first}|{middle}"
            spots = [i for i, c in enumerate(full) if c in "еЕёЁ"]
            if not spots:
                return None
            i = rng.choice(spots)
            c = {"е": "ё", "ё": "е", "Е": "Ё", "Ё": "Е"}[full[i]]
            full = full[:i] + c + full[i + 1 :]
            who["last"], who["first"], who["middle"] = full.split("|")
        elif kind == "case_space":
            r = rng.random()
            if r < 0.4:
                who["last"], who["first"], who["middle"] = last.upper(), first.upper(), middle.upper()
            elif r < 0.7:
                who["last"], who["first"] = f" {last.lower()}  ", f"{first.lower()} "
            else:
                who["last"], who["middle"] = last + " ", "  " + middle
        elif kind == "surname_typo":
            word = last
            i = rng.randrange(1, len(word))
            op = rng.random()
            if op < 0.5:
                word = word[:i] + rng.choice(LETTERS) + word[i + 1 :]
            elif op < 0.7:
                word = word[:i] + word[i + 1 :]
            elif op < 0.85:
                word = word[:i] + rng.choice(LETTERS) + word[i:]
            elif i < len(word) - 1:
                word = word[:i] + word[i + 1] + word[i] + word[i + 2 :]
            if word.lower() == last.lower():
                return None
            who["last"] = word
        elif kind == "swap":
            if not middle:
                return None
            who["first"], who["middle"] = middle, first
        elif kind == "double_single":
            if sex != "F" or "-" in last:
                return None
            p = self.pools
            other = p.last_f[bisect(p.last_cum, rng.random() * p.last_cum[-1])]
            if other == last:
                return None
            double = f"{last}-{other}" if rng.random() < 0.5 else f"{other}-{last}"
            src[4] = double  # the register holds the double surname, the duplicate one part
            who["last"] = rng.choice(double.split("-"))
        elif kind == "female_male":
            if sex != "F":
                return None
            male = "-".join(male_surname(x) for x in last.split("-"))
            if male == last:
                return None
            who["last"] = male
        elif kind == "dob_digit":
            digits = list(dob.replace("-", ""))
            for _ in range(20):
                d2 = digits.copy()
                i = rng.choice((2, 3, 4, 5, 6, 7, 6, 7, 7))  # the day's digits are the easiest to get wrong
                d2[i] = rng.choice([c for c in "0123456789" if c != d2[i]])
                text = "".join(d2)
                try:
                    new = dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
                except ValueError:
                    continue
                if 1940 <= new.year <= 2008:
                    who["dob"] = new.isoformat()
                    break
            else:
                return None
        elif kind == "dob_daymonth":
            y, m, d = (int(x) for x in dob.split("-"))
            if d > 12 or d == m:
                return None
            who["dob"] = dt.date(y, d, m).isoformat()
        return who, src


HEADER = ("id", "person", "kind", "of", "last_name", "first_name", "middle_name", "sex", "birth_date", "snils",
          "inn", "phone", "email", "documents", "diplomas", "employers", "region", "specialty")  # fmt: skip


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("n", type=int)
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--dup-rate", type=float, default=0.02)
    ap.add_argument("--namesake-rate", type=float, default=0.01)
    ap.add_argument("--twin-rate", type=float, default=0.005)
    ap.add_argument("--share-scale", type=float, default=1.0, help="multiplies the rates of shared identifiers")
    ap.add_argument("--surnames", choices=("tail", "faker"), default="tail")
    ap.add_argument("--keep-region", type=float, default=0.8, help="share of duplicates in the same region")
    ap.add_argument("--keep-specialty", type=float, default=0.8, help="share of duplicates with the same specialty")
    a = ap.parse_args(argv)
    t = time.perf_counter()
    g = Generator(a.n, a.seed, a.dup_rate, a.share_scale, a.surnames, a.namesake_rate, a.twin_rate)
    g.keep_region, g.keep_specialty = a.keep_region, a.keep_specialty
    rows = g.build()
    with open(a.out, "w", encoding="utf-8") as f:
        f.write("\t".join(HEADER) + "\n")
        for r in rows:
            f.write("\t".join(str(x) for x in r) + "\n")
    print(f"generated {len(rows)} rows (seed {a.seed}, dup rate {a.dup_rate}, surnames {a.surnames}) "
          f"in {time.perf_counter() - t:.1f} s -> {a.out}", file=sys.stderr)  # fmt: skip


if __name__ == "__main__":
    main()
