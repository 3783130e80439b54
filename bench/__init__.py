"""Benchmarks and chaos runs on the local stack (`make bench`, `make chaos`). Laptop-only: this
package is in no CodeUri of template.yaml and never ships to Lambda."""
