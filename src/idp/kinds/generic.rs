//! `kind = "oidc"`: any OpenID Connect provider with discovery, no quirks. Every hook keeps its
//! default (see [`super::Quirks`]).

use super::Quirks;
use crate::config::UpstreamKind;

/// Generic OpenID Connect.
#[derive(Debug, Clone, Copy)]
pub struct Generic;

impl Quirks for Generic {
    fn kind(&self) -> UpstreamKind {
        UpstreamKind::Oidc
    }
}
