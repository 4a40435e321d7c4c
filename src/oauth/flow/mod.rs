//! The authorization flow: /authorize → consent decision → upstream callback → our code.

pub mod secrets;
