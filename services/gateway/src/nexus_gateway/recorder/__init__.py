"""The recorder: every signal, order, fill, route, execution, event and dead letter into the archive."""
