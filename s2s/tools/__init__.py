"""Tools: the bench, the load test and their yardsticks."""
