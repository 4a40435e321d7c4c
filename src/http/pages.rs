//! HTML pages (consent and errors), rendered with minijinja from templates compiled into the
//! binary. Autoescaping is on for `.html`, so client-supplied names cannot inject markup.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use minijinja::Environment;
use serde::Serialize;

/// The template environment.
pub struct Pages {
    env: Environment<'static>,
}

/// What the error page shows.
#[derive(Debug, Serialize)]
pub struct ErrorPage<'a> {
    pub title: &'a str,
    pub message: &'a str,
    /// The OAuth error code, if one applies.
    pub code: Option<&'a str>,
    pub request_id: Option<&'a str>,
    /// Where the page sends the user after a few seconds (the client's error redirect).
    pub return_url: Option<&'a str>,
}

/// A link back to the client that the user must choose (RFC 9700 §4.11.2 "inform the user").
#[derive(Debug, Serialize)]
pub struct ReturnLink<'a> {
    /// The client's error response URL.
    pub url: &'a str,
    /// Where it leads, as shown to the user.
    pub host: &'a str,
}

#[derive(Serialize)]
struct WithLink<'a> {
    #[serde(flatten)]
    page: &'a ErrorPage<'a>,
    back: &'a ReturnLink<'a>,
}

impl Pages {
    /// Loads the templates.
    ///
    /// # Errors
    /// A template fails to parse (a build defect caught by every test).
    pub fn new() -> Result<Self, minijinja::Error> {
        let mut env = Environment::new();
        env.add_template("base.html", include_str!("../../templates/base.html"))?;
        env.add_template("consent.html", include_str!("../../templates/consent.html"))?;
        env.add_template("error.html", include_str!("../../templates/error.html"))?;
        for (name, text) in [
            (
                "account/base.html",
                include_str!("../../templates/account/base.html"),
            ),
            (
                "account/index.html",
                include_str!("../../templates/account/index.html"),
            ),
            (
                "account/choose.html",
                include_str!("../../templates/account/choose.html"),
            ),
            (
                "account/signed_out.html",
                include_str!("../../templates/account/signed_out.html"),
            ),
        ] {
            env.add_template(name, text)?;
        }
        Ok(Self { env })
    }

    /// Renders a template to a string.
    ///
    /// # Errors
    /// Missing template or a render error.
    pub fn render(&self, name: &str, ctx: impl Serialize) -> Result<String, minijinja::Error> {
        self.env.get_template(name)?.render(ctx)
    }

    /// An HTML error page with `status`.
    #[must_use]
    pub fn error(&self, status: StatusCode, page: &ErrorPage<'_>) -> Response {
        let csp = match page.return_url {
            // The meta refresh and link lead to the client's redirect URI; `navigate-to` is
            // not enforced by browsers, so only framing and scripts need locking down.
            Some(_) => "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
            None => "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; form-action 'none'",
        };
        match self.render("error.html", page) {
            Ok(html) => html_response(status, html, csp),
            Err(e) => {
                tracing::error!(error = %e, "error page failed to render");
                (status, page.message.to_owned()).into_response()
            }
        }
    }

    /// An HTML error page with `status` that offers `link` back to the client, without any
    /// automatic redirect (`page.return_url` is ignored).
    #[must_use]
    pub fn error_with_link(
        &self,
        status: StatusCode,
        page: &ErrorPage<'_>,
        link: &ReturnLink<'_>,
    ) -> Response {
        let page = ErrorPage {
            return_url: None,
            ..*page
        };
        let view = WithLink {
            page: &page,
            back: link,
        };
        // A followed link is not subject to CSP; the page itself needs no form or script.
        let csp = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; form-action 'none'";
        match self.render("error.html", &view) {
            Ok(html) => html_response(status, html, csp),
            Err(e) => {
                tracing::error!(error = %e, "error page failed to render");
                (status, page.message.to_owned()).into_response()
            }
        }
    }
}

/// An HTML response with anti-framing, no caching, and the given CSP.
#[must_use]
pub fn html_response(status: StatusCode, html: String, csp: &str) -> Response {
    let mut res = (status, Html(html)).into_response();
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // COMPAT C17: same-origin (not no-referrer) so the consent form's own POST keeps an Origin.
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if let Ok(v) = HeaderValue::from_str(csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    res
}
