"""The state store: where the journal, the locks and the published round are kept (a file store, an etcd store)."""
