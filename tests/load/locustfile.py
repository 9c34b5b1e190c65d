"""Member journeys as the dashboard is really used: mostly reads, some
declarations, some downloads (locust). Messages come with the messaging
service.

    locust -f tests/load/locustfile.py --headless -u 50 -r 10 -t 2m --host http://127.0.0.1:8000

Each simulated member logs in once (the demo members; password from
``CARPIMKO_LOAD_PASSWORD``) and then browses.
"""
from __future__ import annotations

import os
import random

from locust import HttpUser, between, task

MEMBERS = ["1234567", "7654321"]
PASSWORD = os.environ.get("CARPIMKO_LOAD_PASSWORD", "Demo-Carpimko-2026!")


class Member(HttpUser):
    wait_time = between(0.5, 2.0)

    def on_start(self):
        self.file_number = random.choice(MEMBERS)
        with self.client.post("/api/v1/session", json={"file_number": self.file_number,
                                                       "password": PASSWORD},
                              name="POST /api/v1/session", catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"login answered {response.status_code}")
        self.documents = []

    @task(10)
    def dashboard(self):
        self.client.get("/", name="GET / (dashboard)")

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
            self.client.get(f"/api/v1/documents/{random.choice(self.documents)}/content",
                            name="GET /api/v1/documents/[id]/content")

    @task(1)
    def declare(self):
        response = self.client.post("/api/v1/declarations", name="POST /api/v1/declarations",
                                    json={"year": random.choice([2024, 2025, 2026]),
                                          "professional_income": f"{random.randint(20000, 90000)}.00",
                                          "conventioned_income": None})
        if response.status_code == 202:
            self.client.get(response.headers["Location"], name="GET /api/v1/declarations/[id]")
