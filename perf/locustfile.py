"""The load scenario of `make bench-load` (perf/management/commands/bench_load.py runs it).

Anonymous visitors search the public register and open profiles; signed-in workers (sessions
made directly in the database, no SMS) open their cabinet pages. The data file (MEDREG_LOAD_DATA)
holds real names and registry numbers sampled from the database, the directory codes and the
session keys. Every request must answer 200 without a redirect: a redirect to the login page would
otherwise look like a fast success.
"""

from __future__ import annotations

import json
import os
import random
from urllib.parse import urlencode

from locust import FastHttpUser, between, task

DATA = json.loads(open(os.environ["MEDREG_LOAD_DATA"], encoding="utf-8").read())
WAIT = [float(x) for x in os.environ.get("MEDREG_LOAD_WAIT", "1,3").split(",")]
CABINET_SHARE = float(os.environ.get("MEDREG_LOAD_CABINET_SHARE", "0.25"))


def _get(user, path: str, name: str, headers: dict | None = None) -> None:
    with user.client.get(
        path, name=name, headers=headers or {}, allow_redirects=False, catch_response=True
    ) as response:
        if response.status_code != 200:
            response.failure(f"HTTP {response.status_code} {response.headers.get('Location', '')}")


class PublicVisitor(FastHttpUser):
    """Searches and profile views, as most of the traffic of a public register."""

    weight = max(1, round(100 * (1 - CABINET_SHARE)))
    wait_time = between(*WAIT)

    @task(4)
    def search_by_name(self):
        person = random.choice(DATA["people"])
        _get(
            self,
            "/registry/?" + urlencode({"q": f"{person['last_name']} {person['first_name']}"}),
            "search: surname + name",
        )

    @task(2)
    def search_by_surname(self):
        _get(self, "/registry/?" + urlencode({"q": random.choice(DATA["people"])["last_name"]}), "search: surname")

    @task(1)
    def search_by_prefix_and_region(self):
        person = random.choice(DATA["people"])
        query = {"q": person["last_name"][:4]}
        if DATA["regions"]:
            query["region"] = random.choice(DATA["regions"])
        _get(self, "/registry/?" + urlencode(query), "search: prefix + region")

    @task(1)
    def search_by_specialty_page_2(self):
        query = {"specialty": random.choice(DATA["specialties"]), "page": 2} if DATA["specialties"] else {"page": 2}
        _get(self, "/registry/?" + urlencode(query), "search: specialty, page 2")

    @task(5)
    def profile(self):
        _get(self, f"/registry/{random.choice(DATA['people'])['registry_number']}/", "profile")

    @task(1)
    def landing(self):
        _get(self, "/", "landing")


class SignedInWorker(FastHttpUser):
    """A worker in the cabinet: the security and journal pages, and a search now and then."""

    weight = max(1, round(100 * CABINET_SHARE))
    wait_time = between(*WAIT)

    def on_start(self):
        self.headers = {"Cookie": f"sessionid={random.choice(DATA['sessions'])}"}

    @task(3)
    def security(self):
        _get(self, "/accounts/security/", "cabinet: security", self.headers)

    @task(3)
    def journal(self):
        _get(self, "/accounts/journal/", "cabinet: journal", self.headers)

    @task(1)
    def search(self):
        _get(
            self,
            "/registry/?" + urlencode({"q": random.choice(DATA["people"])["last_name"]}),
            "search: surname (signed in)",
            self.headers,
        )
