"""Fleet and cluster data, the service map, history: plain data, no I/O."""
