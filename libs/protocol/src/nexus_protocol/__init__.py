"""Pure message models, codec, stream names and symbology for NEXUS mesh (no I/O)."""
