"""The encrypted ward cache: store, importers, staleness and the demo hospital."""
