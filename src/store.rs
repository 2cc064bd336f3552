//! Durable visit counter (being written; see docs/CONTRACT.md).
