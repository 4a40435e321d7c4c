//! Several upstreams: which upstreams a `[[resources]]` entry accepts (`upstream = "x"`, the
//! one-element shorthand, or `upstreams = ["x", "y"]`) and the `[[upstreams]] domains` that
//! home-realm discovery reads. The resource's list is the security boundary: a sign-in never
//! happens at an upstream the resource does not list (docs/security.md, "Clients and
//! upstreams").

use super::{invalid, Config, ConfigError, ResourceConfig};

impl Config {
    /// The ids of the upstreams `resource` accepts, in the order written: `upstreams`, or
    /// `[upstream]`, or the first configured upstream.
    #[must_use]
    pub fn resource_upstreams(&self, resource: &ResourceConfig) -> Vec<String> {
        if !resource.upstreams.is_empty() {
            return resource.upstreams.clone();
        }
        resource
            .upstream
            .clone()
            .or_else(|| self.upstreams.first().map(|u| u.id.clone()))
            .into_iter()
            .collect()
    }

    /// `upstream` / `upstreams` of resource `i`: not both, not empty, no repeats, each
    /// configured.
    pub(super) fn validate_resource_upstreams(
        &self,
        i: usize,
        r: &ResourceConfig,
    ) -> Result<(), ConfigError> {
        let key = |f: &str| format!("resources[{i}].{f}");
        if r.upstream.is_some() && !r.upstreams.is_empty() {
            return Err(invalid(
                key("upstreams"),
                "give either upstream (one) or upstreams (a list), not both",
            ));
        }
        let (field, ids): (&str, Vec<&String>) = match &r.upstream {
            Some(u) => ("upstream", vec![u]),
            None => ("upstreams", r.upstreams.iter().collect()),
        };
        for (n, id) in ids.iter().enumerate() {
            if !self.upstreams.iter().any(|o| &o.id == *id) {
                return Err(invalid(key(field), format!("no upstream with id {id}")));
            }
            if ids[..n].contains(id) {
                return Err(invalid(key(field), format!("{id} is listed twice")));
            }
        }
        Ok(())
    }

    /// `[[upstreams]] domains`: lowercase email domains, each claimed by one upstream only, so
    /// home-realm discovery never has two answers.
    pub(super) fn validate_upstream_domains(&self) -> Result<(), ConfigError> {
        for (i, up) in self.upstreams.iter().enumerate() {
            let key = format!("upstreams[{i}].domains");
            for (n, d) in up.domains.iter().enumerate() {
                if !is_domain(d) {
                    return Err(invalid(
                        key,
                        format!(
                            "{d:?}: a lowercase email domain such as acme.com (exact, no wildcard)"
                        ),
                    ));
                }
                if up.domains[..n].contains(d) {
                    return Err(invalid(key, format!("{d} is listed twice")));
                }
                if let Some(other) = self.upstreams[..i].iter().find(|o| o.domains.contains(d)) {
                    return Err(invalid(
                        key,
                        format!("{d} is already a domain of upstream {}: home-realm discovery needs one answer", other.id),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// A lowercase DNS name with at least two labels: what follows `@` in an email address.
fn is_domain(s: &str) -> bool {
    (3..=253).contains(&s.len())
        && s.contains('.')
        && s.split('.').all(|l| {
            (1..=63).contains(&l.len())
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

#[cfg(test)]
#[path = "resource_upstreams_tests.rs"]
mod tests;
