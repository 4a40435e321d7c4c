//! The error answers the OpenAPI document lists for each operation: every one an RFC 9457
//! problem ([`Problem`]), declared once here and named in each `#[utoipa::path]`.
// The tuple fields are never read: these types exist for the document only.
#![allow(dead_code)]

use utoipa::IntoResponses;

use super::error::Problem;

/// 400: malformed body, query, path or cursor, or an invalid value.
#[derive(IntoResponses)]
#[response(
    status = 400,
    description = "Malformed input: body, query string, cursor or a value",
    content_type = "application/problem+json"
)]
pub struct BadRequest(Problem);

/// 401: no admin token, or an unknown or revoked one.
#[derive(IntoResponses)]
#[response(
    status = 401,
    description = "No admin token, or an unknown or revoked one (WWW-Authenticate: Bearer)",
    content_type = "application/problem+json"
)]
pub struct Unauthorized(Problem);

/// 403: a read-only token tried to write.
#[derive(IntoResponses)]
#[response(
    status = 403,
    description = "The admin token is read-only",
    content_type = "application/problem+json"
)]
pub struct Forbidden(Problem);

/// 404: the thing named does not exist.
#[derive(IntoResponses)]
#[response(
    status = 404,
    description = "No such thing",
    content_type = "application/problem+json"
)]
pub struct NotFound(Problem);

/// 409: the change conflicts with the current state.
#[derive(IntoResponses)]
#[response(
    status = 409,
    description = "Conflicts with the current state",
    content_type = "application/problem+json"
)]
pub struct Conflict(Problem);

/// 413: the body is larger than the admin API takes.
#[derive(IntoResponses)]
#[response(
    status = 413,
    description = "The request body is too large",
    content_type = "application/problem+json"
)]
pub struct PayloadTooLarge(Problem);

/// 415: the body is not sent as `application/json`.
#[derive(IntoResponses)]
#[response(
    status = 415,
    description = "The body must be application/json",
    content_type = "application/problem+json"
)]
pub struct UnsupportedMediaType(Problem);

/// 429: too many failed authentications from this address (`Retry-After` says when to retry).
/// Every operation can answer it, so [`super::EveryOperation`] adds it to all of them.
#[derive(IntoResponses)]
#[response(
    status = 429,
    description = "Too many failed admin authentications from this address; retry after `Retry-After` seconds",
    content_type = "application/problem+json"
)]
pub struct TooManyRequests(Problem);

/// 503: the database is unreachable (`temporarily_unavailable`, with `Retry-After`); nothing was
/// changed. Every operation can answer it, so [`super::EveryOperation`] adds it to all of them.
#[derive(IntoResponses)]
#[response(
    status = 503,
    description = "The database is unreachable; nothing was changed, retry after `Retry-After` seconds",
    content_type = "application/problem+json"
)]
pub struct Unavailable(Problem);
