"""Operations: the ``carpimko`` command (serve, migrate, broker setup, batch
imports, dead letters, demo data, the development SMTP server)."""
