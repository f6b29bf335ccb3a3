"""The snowcdc benchmark harness: a throwaway cluster, workloads and measurement suites."""
