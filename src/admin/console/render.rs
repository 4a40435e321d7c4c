//! Rendering: the console's templates (compiled in, autoescaped as `.html`), its CSP, and the
//! refusals (400, 403, 404, 429, 500) that every handler may answer with, rendered as pages by
//! one middleware so handlers need not hold the templates to fail.

use axum::body::Body;
use axum::extract::State;
use axum::http::{Request, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::{context, Environment, Value};

use super::session::Operator;
use super::Console;
use crate::admin::error::AdminError;
use crate::store::StoreError;

/// No script at all, styles from this origin only, forms only to this origin, no framing.
pub const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
    form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The console's templates.
pub struct Templates {
    env: Environment<'static>,
}

macro_rules! templates {
    ($env:ident, $($name:literal),* $(,)?) => {$(
        $env.add_template(
            concat!("admin/", $name),
            include_str!(concat!("../../../templates/admin/", $name)),
        )?;
    )*};
}

impl Templates {
    /// Parses the templates.
    ///
    /// # Errors
    /// A template does not parse (a build defect every console test catches).
    pub fn new() -> Result<Self, minijinja::Error> {
        let mut env = Environment::new();
        templates!(
            env,
            "base.html",
            "sign_in.html",
            "overview.html",
            "clients.html",
            "client.html",
            "users.html",
            "user.html",
            "grants.html",
            "audit.html",
            "refusal.html",
            "grant_rows.html",
        );
        env.add_filter("seg", segment);
        env.add_filter("ts", timestamp);
        Ok(Self { env })
    }

    /// Renders `name` with `ctx`.
    ///
    /// # Errors
    /// A render error (missing template, bad expression).
    pub fn render(&self, name: &str, ctx: Value) -> Result<String, minijinja::Error> {
        self.env.get_template(name)?.render(ctx)
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters, so an id (a CIMD client id
/// is an https URL) stays one path segment or one query value.
#[must_use]
pub fn segment(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Unix seconds as `YYYY-MM-DD HH:MM:SS` UTC.
#[must_use]
pub fn timestamp(seconds: i64) -> String {
    let days = seconds.div_euclid(86_400);
    let rest = seconds.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// A page for `operator`: the template `name` with `ctx` plus what every page shows (who is
/// signed in, whether actions are offered, the CSRF token, the request id).
///
/// # Errors
/// A render failure, as an internal refusal.
pub fn page(
    console: &Console,
    name: &str,
    operator: &Operator,
    nav: &str,
    ctx: Value,
) -> Result<Response, Refusal> {
    let full = context! {
        operator => operator.caller.name,
        read_only => operator.caller.read_only,
        csrf => operator.csrf,
        request_id => operator.caller.request_id,
        nav => nav,
        ..ctx
    };
    let html = console
        .templates
        .render(name, full)
        .map_err(|e| Refusal::Internal(e.into()))?;
    Ok(html_response(StatusCode::OK, html))
}

/// An HTML answer with the console's CSP and the headers of every HTML page of the server.
#[must_use]
pub fn html_response(status: StatusCode, html: String) -> Response {
    crate::http::pages::html_response(status, html, CSP)
}

/// Why a console request is not answered with its page.
#[derive(Debug)]
pub enum Refusal {
    /// No live session: to the sign-in page.
    SignIn,
    /// A refusal shown as a page with this status and message.
    Page(StatusCode, String),
    /// Logged, shown only as "internal error" with the request id.
    Internal(anyhow::Error),
}

impl Refusal {
    /// 403 with `message`.
    #[must_use]
    pub fn forbidden(message: &str) -> Self {
        Self::Page(StatusCode::FORBIDDEN, message.to_owned())
    }

    /// 400 with `message`.
    #[must_use]
    pub fn bad_request(message: &str) -> Self {
        Self::Page(StatusCode::BAD_REQUEST, message.to_owned())
    }
}

impl From<AdminError> for Refusal {
    fn from(e: AdminError) -> Self {
        match e {
            AdminError::Unauthorized { .. } => Self::SignIn,
            AdminError::Internal(cause) => Self::Internal(cause),
            other => {
                let p = other.problem();
                let status = StatusCode::from_u16(p.status).unwrap_or(StatusCode::BAD_REQUEST);
                Self::Page(status, p.detail)
            }
        }
    }
}

impl From<StoreError> for Refusal {
    fn from(e: StoreError) -> Self {
        AdminError::from(e).into()
    }
}

/// The status and message a refusal page shows, handed to [`refusal_pages`].
#[derive(Debug, Clone)]
struct RefusalPage(String);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            Self::SignIn => return Redirect::to(super::SIGN_IN).into_response(),
            Self::Page(status, message) => {
                tracing::debug!(%status, message, "admin console request refused");
                (status, message)
            }
            Self::Internal(cause) => {
                tracing::error!(error = %format!("{cause:#}"), "admin console internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error: the log has the cause under this request id".to_owned(),
                )
            }
        };
        let mut res = status.into_response();
        res.extensions_mut().insert(RefusalPage(message));
        res
    }
}

/// Renders every [`Refusal`] as the refusal page, with the request id.
pub async fn refusal_pages(
    State(console): State<Console>,
    req: Request<Body>,
    next: Next,
) -> Response {
    let request_id = crate::http::form::request_id(req.headers());
    let res = next.run(req).await;
    let Some(RefusalPage(message)) = res.extensions().get::<RefusalPage>().cloned() else {
        return res;
    };
    let status = res.status();
    let ctx = context! {
        status => status.as_u16(),
        title => status.canonical_reason().unwrap_or("Error"),
        message => message,
        request_id => request_id,
    };
    let mut out = match console.templates.render("admin/refusal.html", ctx) {
        Ok(html) => html_response(status, html),
        Err(e) => {
            tracing::error!(error = %e, "the console's refusal page failed to render");
            (status, message).into_response()
        }
    };
    if let Some(retry) = res.headers().get(axum::http::header::RETRY_AFTER) {
        out.headers_mut()
            .insert(axum::http::header::RETRY_AFTER, retry.clone());
    }
    out
}

#[cfg(test)]
#[path = "render_tests.rs"]
mod tests;
