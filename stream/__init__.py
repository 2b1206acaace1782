"""Real-time contact-centre KPIs: Kafka events in, Prometheus metrics out."""
