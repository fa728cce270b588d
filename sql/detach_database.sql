-- Detach an attached database.
DETACH {alias}
