"""What a suite declares: the frozen data model of suites and cases, and the reader that builds it from YAML."""
