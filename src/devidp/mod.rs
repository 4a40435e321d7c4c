//! Development OIDC provider (placeholder; being implemented).
