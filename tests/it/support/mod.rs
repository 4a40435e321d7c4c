pub mod app;
pub mod db;
pub mod node;
