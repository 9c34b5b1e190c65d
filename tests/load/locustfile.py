"""Member journeys as the dashboard is really used: mostly reads, now and then
a declaration, some downloads (locust). Messages come with the messaging
service.

    CARPIMKO_LOAD_MEMBERS=3000000,3000001,... \\
    locust -f tests/load/locustfile.py --headless -u 50 -r 2 -t 2m --host http://127.0.0.1:8000

Each simulated user is a member of its own (``tests/load/members.py``: the
file numbers of ``CARPIMKO_LOAD_MEMBERS``, or the two demo members shared
when none is given), logs in once (password ``CARPIMKO_LOAD_PASSWORD``), then
browses: dashboard, declarations, documents, a download; and declares once at
most in the visit, for their own file and a declarable year
(``CARPIMKO_LOAD_YEARS``), then follows that declaration's progress.

With ``CARPIMKO_LOAD_SAMPLES=<file>``, every request's end time, name,
duration and outcome is written there as CSV when the run stops, so
``tests/support/load.py`` can tell the logins from the steady state.
"""
from __future__ import annotations

import csv
import os
import random
import sys
import time
from pathlib import Path

from locust import HttpUser, between, events, task

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.load.members import declaration_for, pool_from_env, years_from_env  # noqa: E402

PASSWORD = os.environ.get("CARPIMKO_LOAD_PASSWORD", "Demo-Carpimko-2026!")
POOL = pool_from_env(os.environ)
YEARS = years_from_env(os.environ)
LOGIN_ATTEMPTS = 3
SAMPLES: list[tuple[float, str, float, int]] = []


@events.request.add_listener
def _record(request_type, name, response_time, exception=None, **_kwargs):
    SAMPLES.append((time.time(), name, response_time, 0 if exception else 1))


@events.test_stop.add_listener
def _write_samples(**_kwargs):
    path = os.environ.get("CARPIMKO_LOAD_SAMPLES")
    if path:
        with open(path, "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(("end", "name", "ms", "ok"))
            writer.writerows(SAMPLES)


class Member(HttpUser):
    wait_time = between(0.5, 2.0)

    def on_start(self):
        self.file_number = POOL.take()
        self.rng = random.Random()
        self.documents = []
        self.declaration_url = None
        for _ in range(LOGIN_ATTEMPTS):  # a member whose login fails tries again
            with self.client.post("/api/v1/session", json={"file_number": self.file_number,
                                                           "password": PASSWORD},
                                  name="POST /api/v1/session", catch_response=True) as response:
                if response.status_code == 200:
                    return
                response.failure(f"login answered {response.status_code}")

    @task(10)
    def dashboard(self):
        # not followed: a redirect to the login page is a failure, not a fast dashboard
        with self.client.get("/", name="GET / (dashboard)", allow_redirects=False,
                             catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"dashboard answered {response.status_code}")

    @task(5)
    def declarations(self):
        self.client.get("/api/v1/declarations", name="GET /api/v1/declarations")

    @task(5)
    def documents_list(self):
        response = self.client.get("/api/v1/documents", name="GET /api/v1/documents")
        if response.ok:
            self.documents = [d["id"] for d in response.json()["items"]][:20]

    @task(2)
    def download(self):
        if self.documents:
            self.client.get(f"/api/v1/documents/{self.rng.choice(self.documents)}/content",
                            name="GET /api/v1/documents/[id]/content")

    @task(1)
    def declare(self):
        """Declare once in the visit; afterwards, see how that declaration is getting on."""
        body = declaration_for(self.declaration_url is not None, YEARS, self.rng)
        if body is not None:
            response = self.client.post("/api/v1/declarations", name="POST /api/v1/declarations",
                                        json=body)
            if response.status_code != 202:
                return
            self.declaration_url = response.headers["Location"]
        self.client.get(self.declaration_url, name="GET /api/v1/declarations/[id]")
