"""What a run concludes: drift against the baseline, gates, the decision matrix, compare, and the report writers."""
