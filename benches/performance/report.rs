//! The report: one table per database and scale, the flow's CPU split and steps, a flatness
//! table across scales, and the machine; markdown, printed and written to
//! `target/performance/<timestamp>.md`.

use std::fmt::Write as _;
use std::time::Duration;

use serde_json::Value;

use crate::db::Backend;
use crate::load::{percentile_ms, FLOW_STEPS};
use crate::scenarios::{Measured, Scenario};

/// Idle resident memory target (issue 15 item 5), MiB.
const RSS_TARGET_MIB: f64 = 50.0;
/// Refresh p99 within this many times its p50.
const REFRESH_TAIL: f64 = 5.0;

/// One database and scale that ran.
pub struct ScaleResult {
    pub backend: Backend,
    pub scale: u64,
    /// `seed`'s JSON line; `None` when the database was not seeded (no `seed` subcommand).
    pub seeded: Option<Value>,
    /// VmRSS of `serve` after start, before any load; and after every scenario.
    pub rss_idle: f64,
    /// The `alg` of the keys `/jwks` published.
    pub signing: String,
    /// CPU `serve` used while idle (the same window), ms per second.
    pub idle_cpu_ms_per_s: f64,
    pub rss_after: f64,
    pub rows: Vec<Measured>,
}

impl ScaleResult {
    fn row(&self, s: Scenario) -> Option<&Measured> {
        self.rows.iter().find(|m| m.scenario == s)
    }

    fn title(&self) -> String {
        match &self.seeded {
            Some(seed) => format!(
                "{}, {} stored clients / {} grants (seeded: {} rows in {:.1} s)",
                self.backend.name(),
                seed["clients"],
                seed["grants"],
                seed["inserted_rows"],
                seed["seconds"].as_f64().unwrap_or(f64::NAN)
            ),
            None => format!(
                "{}, NOT seeded (no `seed` subcommand): only the clients and grants of the \
                 warm-up",
                self.backend.name()
            ),
        }
    }
}

/// A database and scale that did not run, and why.
pub struct NotRun {
    pub backend: Backend,
    pub scale: u64,
    pub why: String,
}

/// What the report says about the machine and the settings.
pub struct Machine {
    pub date: String,
    pub cores: usize,
    pub model: String,
    pub memory: String,
    pub load_avg: String,
    pub postgres: Option<String>,
    pub commit: String,
    pub settings: String,
}

impl Machine {
    /// What `/proc` and git say now.
    pub fn probe(settings: String) -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let model = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .map(|l| l.trim_start_matches([' ', '\t', ':']).to_owned())
            .unwrap_or_else(|| "unknown".into());
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let memory = meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
            .map_or_else(
                || "unknown".into(),
                |kib| format!("{:.1} GiB", kib / 1024.0 / 1024.0),
            );
        let load_avg = std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ");
        let commit = std::process::Command::new("git")
            .args([
                "-C",
                env!("CARGO_MANIFEST_DIR"),
                "rev-parse",
                "--short",
                "HEAD",
            ])
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .map_or_else(|| "unknown".into(), |s| s.trim().to_owned());
        Machine {
            date: chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
            cores: std::thread::available_parallelism().map_or(1, usize::from),
            model,
            memory,
            load_avg,
            postgres: None,
            commit,
            settings,
        }
    }
}

fn yes(ok: bool) -> &'static str {
    if ok {
        "yes"
    } else {
        "**no**"
    }
}

/// "met?" of one row: flows are judged proxy-side (the wording), the other rows on the
/// wall rate, with the proxy-side verdict beside it.
fn met(m: &Measured, cores: usize) -> String {
    let Some((min, _)) = m.scenario.target() else {
        return String::new();
    };
    let proxy = m.proxy_side_per_sec(cores);
    let mut out = if m.scenario == Scenario::Flow {
        yes(proxy >= min).to_owned()
    } else {
        format!(
            "{} (proxy-side {})",
            yes(m.run.ops_per_sec() >= min),
            yes(proxy >= min)
        )
    };
    if m.scenario == Scenario::Refresh {
        let tail = m.run.percentile_ms(99.0) / m.run.percentile_ms(50.0);
        let _ = write!(out, "; p99/p50 {tail:.1} {}", yes(tail <= REFRESH_TAIL));
    }
    out
}

fn scale_section(out: &mut String, r: &ScaleResult, cores: usize) {
    let _ = writeln!(out, "\n### {} (requested scale {})\n", r.title(), r.scale);
    let _ = writeln!(out, "Signing keys published: {}.\n", r.signing);
    let _ = writeln!(
        out,
        "| scenario | ops | ops/s | p50 ms | p99 ms | server CPU µs/op | db CPU µs/op | proxy-side ops/s | target | met? | ratio vs baseline A |"
    );
    let _ = writeln!(out, "|---|--:|--:|--:|--:|--:|--:|--:|---|---|---|");
    let a = r.row(Scenario::Metadata).map(|m| m.run.ops_per_sec());
    let d = r.row(Scenario::Direct).map(|m| m.run.ops_per_sec());
    for m in &r.rows {
        let rate = m.run.ops_per_sec();
        let mut ratio = a.map_or_else(String::new, |a| format!("{:.2}x A", a / rate));
        if m.scenario == Scenario::Gateway {
            if let Some(d) = d {
                let _ = write!(ratio, "; {:.2} of D", rate / d);
            }
        }
        let db = m.cpu.db.map_or_else(
            || "in server".to_owned(),
            |c| format!("{:.0}", m.us_per_op(c)),
        );
        // The direct calls never reach dcr-bridge: no server cost, no proxy-side rate.
        let (server, db, proxy) = if m.scenario == Scenario::Direct {
            ("-".to_owned(), "-".to_owned(), "-".to_owned())
        } else {
            (
                format!("{:.0}", m.us_per_op(m.cpu.server)),
                db,
                format!("{:.0}", m.proxy_side_per_sec(cores)),
            )
        };
        let _ = writeln!(
            out,
            "| {} | {} | {:.0} | {:.2} | {:.2} | {} | {} | {} | {} | {} | {} |",
            m.scenario.label(),
            m.run.ops(),
            rate,
            m.run.percentile_ms(50.0),
            m.run.percentile_ms(99.0),
            server,
            db,
            proxy,
            m.scenario.target().map_or("", |t| t.1),
            met(m, cores),
            ratio
        );
    }
    let _ = writeln!(
        out,
        "\nMemory of `serve` (VmRSS): idle after start {:.1} MiB, after the scenarios {:.1} MiB; \
         target < {RSS_TARGET_MIB} MiB idle: {}. CPU while idle: {:.1} ms/s.",
        r.rss_idle,
        r.rss_after,
        yes(r.rss_idle < RSS_TARGET_MIB),
        r.idle_cpu_ms_per_s
    );
    cpu_split(out, r, cores);
    if let Some(flow) = r.row(Scenario::Flow) {
        flow_steps(out, flow);
    }
}

/// CPU per operation of every process, and how much of the cores the load generator took.
fn cpu_split(out: &mut String, r: &ScaleResult, cores: usize) {
    let _ = writeln!(
        out,
        "\nCPU per operation, µs (from /proc/<pid>/stat), and the load generator's share of the {cores} cores:\n"
    );
    let _ = writeln!(
        out,
        "| scenario | dcr-bridge | database | of which shared writers | dev IdP | demo-mcp | load generator | load generator % of cores |"
    );
    let _ = writeln!(out, "|---|--:|--:|--:|--:|--:|--:|--:|");
    for m in &r.rows {
        let share = m.cpu.load.as_secs_f64() / (m.run.elapsed.as_secs_f64() * cores as f64) * 100.0;
        let _ = writeln!(
            out,
            "| {} | {:.0} | {} | {} | {:.0} | {:.0} | {:.0} | {:.0}% |",
            m.scenario.label(),
            m.us_per_op(m.cpu.server),
            m.cpu.db.map_or_else(
                || "in server".to_owned(),
                |c| format!("{:.0}", m.us_per_op(c))
            ),
            m.cpu
                .db_shared
                .map_or_else(|| "-".to_owned(), |c| format!("{:.0}", m.us_per_op(c))),
            m.us_per_op(m.cpu.idp),
            m.us_per_op(m.cpu.mcp),
            m.us_per_op(m.cpu.load),
            share
        );
    }
}

fn flow_steps(out: &mut String, flow: &Measured) {
    let mut by_step: Vec<Vec<Duration>> = vec![Vec::new(); FLOW_STEPS.len()];
    for steps in &flow.run.steps {
        for (i, d) in steps.iter().enumerate() {
            if let Some(v) = by_step.get_mut(i) {
                v.push(*d);
            }
        }
    }
    let total: f64 = flow
        .run
        .steps
        .iter()
        .flatten()
        .map(Duration::as_secs_f64)
        .sum();
    let _ = writeln!(out, "\nWhole flow by step (wall latency under load):\n");
    let _ = writeln!(out, "| step | p50 ms | p99 ms | share of flow time |");
    let _ = writeln!(out, "|---|--:|--:|--:|");
    for (name, v) in FLOW_STEPS.iter().zip(&mut by_step) {
        v.sort_unstable();
        let share = v.iter().map(Duration::as_secs_f64).sum::<f64>() / total.max(1e-9);
        let _ = writeln!(
            out,
            "| {name} | {:.2} | {:.2} | {:.1}% |",
            percentile_ms(v, 50.0),
            percentile_ms(v, 99.0),
            share * 100.0
        );
    }
}

/// Reads one figure out of a scale's results.
type Getter = Box<dyn Fn(&ScaleResult) -> Option<f64>>;

/// One figure followed across scales.
struct Figure {
    name: String,
    get: Getter,
}

fn figures() -> Vec<Figure> {
    let mut out = Vec::new();
    for s in Scenario::ALL {
        let short = &s.label()[..1];
        out.push(Figure {
            name: format!("{short} ops/s"),
            get: Box::new(move |r| r.row(s).map(|m| m.run.ops_per_sec())),
        });
        if s == Scenario::Direct {
            // The direct calls never reach dcr-bridge or its database.
            continue;
        }
        out.push(Figure {
            name: format!("{short} server CPU µs/op"),
            get: Box::new(move |r| r.row(s).map(|m| m.us_per_op(m.cpu.server))),
        });
        out.push(Figure {
            name: format!("{short} db CPU µs/op"),
            get: Box::new(move |r| r.row(s).and_then(|m| Some(m.us_per_op(m.cpu.db?)))),
        });
    }
    out.push(Figure {
        name: "R p99 ms".into(),
        get: Box::new(|r| r.row(Scenario::Refresh).map(|m| m.run.percentile_ms(99.0))),
    });
    out.push(Figure {
        name: "idle RSS MiB".into(),
        get: Box::new(|r| Some(r.rss_idle)),
    });
    out
}

/// Each figure at each scale ÷ the same figure at the smallest scale that ran.
fn flatness(out: &mut String, results: &[ScaleResult], backend: Backend) {
    let ran: Vec<&ScaleResult> = results.iter().filter(|r| r.backend == backend).collect();
    let Some(base) = ran.first() else {
        return;
    };
    let _ = writeln!(
        out,
        "\n### Flatness, {}: each figure ÷ the same figure at scale {} (target 0.8..1.2)\n",
        backend.name(),
        base.scale
    );
    if ran.len() < 2 {
        let _ = writeln!(out, "Only one scale ran: nothing to compare.");
        return;
    }
    let _ = write!(out, "| figure |");
    for r in &ran {
        let _ = write!(out, " {} |", r.scale);
    }
    let _ = writeln!(out, "\n|---|{}", "--:|".repeat(ran.len()));
    for f in figures() {
        // A figure of (nearly) nothing at the base, such as the database's CPU for requests
        // that never reach it, has no meaningful ratio.
        let Some(at_base) = (f.get)(base).filter(|v| v.is_finite() && *v >= 1.0) else {
            continue;
        };
        let _ = write!(out, "| {} |", f.name);
        for r in &ran {
            match (f.get)(r) {
                Some(v) => {
                    let ratio = v / at_base;
                    let flag = if (0.8..=1.2).contains(&ratio) {
                        ""
                    } else {
                        " **!**"
                    };
                    let _ = write!(out, " {v:.1} ({ratio:.2}){flag} |");
                }
                None => {
                    let _ = write!(out, " - |");
                }
            }
        }
        let _ = writeln!(out);
    }
}

/// The whole report.
pub fn render(machine: &Machine, results: &[ScaleResult], not_run: &[NotRun]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "## dcr-bridge performance run, {}\n", machine.date);
    let _ = writeln!(
        out,
        "- machine: {} cores ({}), {} memory, load average at start {}",
        machine.cores, machine.model, machine.memory, machine.load_avg
    );
    if let Some(pg) = &machine.postgres {
        let _ = writeln!(out, "- Postgres: {pg} (same host)");
    }
    let _ = writeln!(out, "- commit {}; {}", machine.commit, machine.settings);
    let _ = writeln!(
        out,
        "- processes: `dcr-bridge serve`, `dcr-bridge dev-idp`, `dcr-bridge demo-mcp` (release \
         build), the load generator (this bench), Postgres' backends for the bench database"
    );
    for n in not_run {
        let _ = writeln!(
            out,
            "- NOT RUN: {} at scale {}: {}",
            n.backend.name(),
            n.scale,
            n.why
        );
    }
    for r in results {
        scale_section(&mut out, r, machine.cores);
    }
    for backend in [Backend::Postgres, Backend::Sqlite] {
        flatness(&mut out, results, backend);
    }
    out
}
