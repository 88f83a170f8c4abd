"""The runtime every NEXUS mesh service uses: settings, Redis, stream processor, adapter base,
health, metrics, embedded Redis. Operator tooling is `nexus_ops`; test support is `nexus_testing`."""
