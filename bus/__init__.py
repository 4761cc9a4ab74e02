"""The bus core: NATS connection, embedded server, streams, publisher and the command root."""
