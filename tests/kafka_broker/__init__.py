"""A real Kafka broker for the Kafka ingestion tests (see ``broker``)."""
