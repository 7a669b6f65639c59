"""One module per scenario of issue 5; each adds its metrics to the run's report."""
