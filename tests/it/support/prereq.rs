//! What the integration tests need from the machine (a Postgres server, Node.js, Python 3 with
//! `venv`, the MCP conformance tool, the MCP Inspector CLI), and what a test does when one is missing: it FAILS,
//! naming the prerequisite and the one variable that opts out, `DCR_BRIDGE_TEST_SKIP`. Before
//! issue 11 #12 such tests returned early and `cargo test` printed `... ok` for tests that never
//! ran.
//!
//! An opted-out test is allowed to skip, but says so where the developer sees it: the notice
//! is written to the process's stderr directly, which libtest's output capture (it only
//! intercepts `print!`/`eprint!`) does not swallow. Under `CI` an opt-out is refused: CI runs
//! everything (`.ci/run` provides every prerequisite).

use std::future::Future;
use std::io::Write as _;

/// The one opt-out: a comma-separated list of [`Prereq::name`]s, e.g. `postgres,python`.
pub const SKIP_VAR: &str = "DCR_BRIDGE_TEST_SKIP";

/// Something outside the crate that some tests need.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prereq {
    /// A Postgres server the tests may create databases on.
    Postgres,
    /// `node` and `npm` on `PATH` (interop peers: oidc-provider, the MCP TypeScript SDK,
    /// mcp-remote).
    Node,
    /// `python3` able to create a virtualenv (the MCP Python SDK).
    Python,
    /// The official MCP conformance tool and the Node 22 it installs (npm and registry access).
    Conformance,
    /// The MCP Inspector CLI and the Node 22 it installs (npm and registry access).
    Inspector,
    /// `docker-compose` (the Debian package, which brings `python3-yaml` too): validates the
    /// trial's compose file, whose YAML and the Kubernetes manifests' the tests read with it.
    DockerCompose,
}

impl Prereq {
    /// Every prerequisite, in the order they are documented.
    pub const ALL: [Self; 6] = [
        Self::Postgres,
        Self::Node,
        Self::Python,
        Self::Conformance,
        Self::Inspector,
        Self::DockerCompose,
    ];

    /// Its name in [`SKIP_VAR`].
    pub fn name(self) -> &'static str {
        match self {
            Self::Postgres => "postgres",
            Self::Node => "node",
            Self::Python => "python",
            Self::Conformance => "conformance",
            Self::Inspector => "inspector",
            Self::DockerCompose => "docker-compose",
        }
    }

    fn what(self) -> &'static str {
        match self {
            Self::Postgres => "a Postgres server",
            Self::Node => "Node.js (`node` and `npm` on PATH)",
            Self::Python => "Python 3 with venv (`python3 -m venv`)",
            Self::Conformance => "the MCP conformance tool (npm, registry access, Node 22)",
            Self::Inspector => "the MCP Inspector CLI (npm, registry access, Node 22)",
            Self::DockerCompose => {
                "docker-compose and python3-yaml (Debian packages `docker-compose`, `python3-yaml`)"
            }
        }
    }

    /// The conformance tool and the Inspector run on Node, so opting out of Node opts out of
    /// them too.
    fn opted_out_by(self, name: &str) -> bool {
        name == self.name()
            || (matches!(self, Self::Conformance | Self::Inspector) && name == Self::Node.name())
    }
}

/// What a test needing a prerequisite does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Go on.
    Run,
    /// Return early; the message says why (opted out).
    Skip(String),
    /// Panic with the message.
    Fail(String),
}

/// Before probing anything: `Some` when [`SKIP_VAR`] alone decides (a bad value, an opt-out
/// under CI, or this prerequisite opted out), `None` to go and probe.
pub fn before_probe(prereq: Prereq, skip: Option<&str>, ci: bool) -> Option<Decision> {
    let names: Vec<&str> = skip
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .collect();
    let known: Vec<&str> = Prereq::ALL.iter().map(|p| p.name()).collect();
    if let Some(unknown) = names.iter().find(|n| !known.contains(n)) {
        return Some(Decision::Fail(format!(
            "{SKIP_VAR} names `{unknown}`, which is not a test prerequisite; use a \
             comma-separated list of: {}",
            known.join(", ")
        )));
    }
    if names.is_empty() {
        return None;
    }
    if ci {
        return Some(Decision::Fail(format!(
            "{SKIP_VAR} is refused under CI: CI runs every test (unset {SKIP_VAR}, or unset CI \
             for a local run)"
        )));
    }
    names.iter().any(|n| prereq.opted_out_by(n)).then(|| {
        Decision::Skip(format!(
            "SKIPPED, not run: {} opted out by {SKIP_VAR}",
            prereq.what()
        ))
    })
}

/// After probing: run, or fail with what is missing and how to opt out.
pub fn after_probe(prereq: Prereq, probe: Result<(), String>, ci: bool) -> Decision {
    match probe {
        Ok(()) => Decision::Run,
        Err(why) if ci => Decision::Fail(format!(
            "{} is required in CI and is not available: {why}",
            prereq.what()
        )),
        Err(why) => Decision::Fail(format!(
            "{} is required by this test and is not available: {why}\n\
             Install it (see README.md, \"Run the tests\"), or run without these tests: \
             {SKIP_VAR}={} cargo test",
            prereq.what(),
            prereq.name()
        )),
    }
}

/// [`before_probe`] then, if needed, [`after_probe`] of `probe()`: the whole decision, for
/// tests of the rules. [`require`] applies the same two steps with an async probe.
pub fn decide(
    prereq: Prereq,
    skip: Option<&str>,
    ci: bool,
    probe: impl FnOnce() -> Result<(), String>,
) -> Decision {
    before_probe(prereq, skip, ci).unwrap_or_else(|| after_probe(prereq, probe(), ci))
}

/// `true` when the test should go on. Probes only when [`SKIP_VAR`] does not decide; panics
/// when the prerequisite is missing (and not opted out); on an opt-out, says so on the real
/// stderr and returns `false`.
pub async fn require<F>(prereq: Prereq, probe: impl FnOnce() -> F) -> bool
where
    F: Future<Output = Result<(), String>>,
{
    let skip = std::env::var(SKIP_VAR).ok();
    let ci = std::env::var_os("CI").is_some();
    let decision = match before_probe(prereq, skip.as_deref(), ci) {
        Some(d) => d,
        None => after_probe(prereq, probe().await, ci),
    };
    match decision {
        Decision::Run => true,
        Decision::Skip(why) => {
            let test = std::thread::current().name().unwrap_or("a test").to_owned();
            // Not `eprintln!`: libtest would capture it and show nothing for a passing test.
            let _ = writeln!(std::io::stderr(), "test {test}: {why}");
            false
        }
        Decision::Fail(why) => panic!("{why}"),
    }
}
