//! The admin console under `/admin/`: server-rendered minijinja pages and plain HTML forms over
//! the very handlers of the admin API (`/admin/v1`), called as functions with the operator's
//! [`AdminCaller`], so a revocation from the console is the API's revocation, audited alike.
//!
//! No JavaScript at all: the CSP allows no script, styles only from `/admin/console.css`, and
//! forms only to this origin. Operators sign in by pasting an admin token ([`signin`]); the
//! session ([`session`]) carries a CSRF token that every form posts back, and every POST must
//! also come from this origin ([`guard`]).

pub mod actions;
pub mod guard;
pub mod pages;
pub mod render;
pub mod session;
pub mod signin;
pub mod views;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;

use self::render::Templates;
use self::signin::Failures;
use crate::app::AppState;

/// Where the console lives.
pub const HOME: &str = "/admin/";
/// The sign-in page.
pub const SIGN_IN: &str = "/admin/sign-in";
/// Largest form body the console accepts (its forms carry a token and a few ids).
pub const MAX_FORM_BYTES: usize = 16 * 1024;

/// The console's state: the application, its templates and sign-in failure counts (sessions
/// are in the database).
#[derive(Clone)]
pub struct Console(Arc<Inner>);

/// What [`Console`] shares.
pub struct Inner {
    pub app: AppState,
    pub templates: Templates,
    pub failures: Failures,
}

impl std::ops::Deref for Console {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl Console {
    /// Whether cookies are `Secure` and `__Host-` prefixed: served over https, judged, as for
    /// the browser-binding cookie (src/http/consent.rs), by the issuer (`public_url`).
    #[must_use]
    pub fn secure(&self) -> bool {
        self.app.core.settings.issuer.starts_with("https://")
    }
}

/// The console's routes, state applied. Templates are parsed here; one that fails to parse is
/// a build defect, so the console then answers 500 on every page and the log says why, rather
/// than taking the admin API down with it.
pub fn router(app: AppState) -> Router {
    let templates = match Templates::new() {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(error = %e, "admin console templates failed to parse");
            return Router::new().route(
                "/admin/{*rest}",
                axum::routing::any(|| async {
                    axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response()
                }),
            );
        }
    };
    let console = Console(Arc::new(Inner {
        app,
        templates,
        failures: Failures::default(),
    }));
    Router::new()
        .route("/admin", get(|| async { Redirect::to(HOME) }))
        .route(HOME, get(pages::overview))
        .route("/admin/console.css", get(stylesheet))
        .route(SIGN_IN, get(signin::form).post(signin::submit))
        .route("/admin/sign-out", post(signin::sign_out))
        .route("/admin/clients", get(pages::clients))
        .route("/admin/clients/{client_id}", get(pages::client))
        .route("/admin/clients/{client_id}/{action}", post(actions::client))
        .route("/admin/users", get(pages::users))
        .route("/admin/users/{user_id}", get(pages::user))
        .route(
            "/admin/users/{user_id}/revoke-grants",
            post(actions::revoke_user_grants),
        )
        .route("/admin/grants", get(pages::grants))
        .route(
            "/admin/grants/{grant_id}/revoke",
            post(actions::revoke_grant),
        )
        .route("/admin/audit", get(pages::audit))
        .route("/admin/audit/export.csv", get(pages::audit_csv))
        .route("/admin/{*rest}", axum::routing::any(pages::not_found))
        .layer(DefaultBodyLimit::max(MAX_FORM_BYTES))
        .layer(axum::middleware::from_fn_with_state(
            console.clone(),
            render::refusal_pages,
        ))
        .with_state(console)
}

/// The console's one stylesheet (CSP `style-src 'self'`: no inline style anywhere).
async fn stylesheet() -> Response {
    let mut res = include_str!("../../../templates/admin/console.css").into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=300"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    res
}
