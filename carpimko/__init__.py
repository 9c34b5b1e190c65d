"""Shared glue for the Carpimko services.

Only what every service needs and nothing else: configuration, the event
envelope and its contracts, database/outbox/inbox plumbing, the reliable
event handler and RPC timeouts. Business rules never live here.
"""
