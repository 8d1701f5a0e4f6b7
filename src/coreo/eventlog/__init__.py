"""The durable, partitioned event log: one interface, SQL table and NATS JetStream backends."""
