"""Where each service's nameko class lives."""
from __future__ import annotations

import importlib

SERVICE_CLASSES = {
    "accounts": "services.accounts.service:AccountsService",
    "contributions": "services.contributions.service:ContributionsService",
    "documents": "services.documents.service:DocumentsService",
    "notifications": "services.notifications.service:NotificationsService",
    "messaging": "services.messaging.service:MessagingService",
    "gateway": "gateway.service:GatewayService",
}
DATABASE_SERVICES = ("accounts", "contributions", "documents", "notifications", "messaging")


def service_class(name: str):
    module, _, attr = SERVICE_CLASSES[name].partition(":")
    return getattr(importlib.import_module(module), attr)
