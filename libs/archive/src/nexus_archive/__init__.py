"""nexus_archive: the trade archive, the mesh's system of record (docs/archive.md).

Every signal, order, fill, route, execution, event and dead letter, written by the recorder stage
into PostgreSQL (NX_ARCHIVE_URL) or an SQLite file under the data folder, idempotently by message id.
Used by the recorder (writing) and by nexusctl (export, report, replay, backup, restore, eod).
"""
