//! Unit tests of the metric names and helpers.
