"""The runtime every NEXUS mesh service uses: settings, Redis, stream processor, embedded Redis,
supervisor, nexusctl."""
