"""What a restart must not lose: the SQLite document store, the journal of changes made to moto,
the S3 mirror on disk and the archive of training and instance log events."""
