-- One database per service (each service owns its data).
CREATE DATABASE carpimko_accounts;
CREATE DATABASE carpimko_contributions;
CREATE DATABASE carpimko_documents;
CREATE DATABASE carpimko_notifications;
CREATE DATABASE carpimko_messaging;
