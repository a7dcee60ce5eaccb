//! The per-line loop's own cost, without Python: `LOG=access.log REPS=3 cargo test --release
//! --no-default-features --test loop_timing -- --ignored --nocapture` (lines of a combined log,
//! the default config, what stays in Python answered by a stand-in). Not part of `make test`.
use logscrub_native::core::*;
use logscrub_native::formats::Format;
use logscrub_native::url::{self, Domains};
use logscrub_native::vocabulary::Vocabulary;
use std::rc::Rc;

struct Dummy;
impl Domains for Dummy {
    fn registrable(&mut self, _h: &str) -> url::R<bool> {
        Ok(false)
    }
}
impl Lookups for Dummy {
    type Error = String;
    fn agent(&mut self, t: Option<&str>) -> Result<Agent, String> {
        let n = t.map_or(0, |t| t.len() % 7);
        Ok(Agent {
            browser: Rc::from(format!("B{n}")),
            browser_major: Some(Rc::from("1")),
            os: Rc::from("Os"),
            os_major: None,
            device: Rc::from("desktop"),
            bot: false,
        })
    }
    fn site(&mut self, _h: Option<&str>) -> Result<String, String> {
        Ok("default".into())
    }
    fn referrer(&mut self, r: Option<&str>, _s: &str) -> Result<(Option<String>, String), String> {
        Ok(match r {
            Some(r) if r.len() > 3 => (Some(r[8..r.len().min(20)].to_string()), "other".into()),
            _ => (None, "none".into()),
        })
    }
    fn geo(&mut self, _p: &[u8]) -> Result<Geo, String> {
        Ok(Geo::default())
    }
    fn restricted(&mut self, _p: &[u8]) -> Result<bool, String> {
        Ok(false)
    }
    fn path(&mut self, _t: Option<&str>) -> Result<url::Generalized, String> {
        Ok((Some("/x".into()), None))
    }
    fn unsupported(&mut self, w: &str) -> String {
        w.into()
    }
}

#[test]
#[ignore]
fn per_line_loop_timing() {
    let log = std::fs::read(std::env::var("LOG").unwrap()).unwrap();
    let lines: Vec<&[u8]> = log.split(|&b| b == b'\n').filter(|l| !l.is_empty()).collect();
    let settings = Settings {
        format: Format::new("auto", None, "default", &[]).unwrap(),
        max_line: 65536,
        trusted: vec![],
        client_mode: ClientMode::None,
        ipv4_prefix: 24,
        ipv6_prefix: 48,
        granularity: 60,
        window: 60,
        visitor_rotation: 86400,
        dimensions: vec![1, 2, 3, 4, 5, 6],
        k: 5,
        subjects: true,
        geo: false,
        restricted: false,
    };
    let paths = url::PathGeneralizer::new(&[], &[], 12, 256).unwrap();
    let mut core = Core::new(settings, paths);
    let mut vocab = Vocabulary::new(5, 2_000_000);
    let keys: Vec<VisitorKey> = (19000..22000)
        .map(|p| VisitorKey {
            kid: format!("visitor-{p}-x"),
            period: p,
            secret: vec![7u8; 32],
        })
        .collect();
    core.set_visitor_keys(keys);
    let nonces = vec![1u8; 12 * 4096];
    let srcs: Vec<String> = (0..4096).map(|i| i.to_string()).collect();
    let srcs: Vec<&str> = srcs.iter().map(|s| s.as_str()).collect();
    let reps: usize = std::env::var("REPS").map_or(3, |r| r.parse().unwrap());
    for rep in 0..reps {
        let start = std::time::Instant::now();
        let mut n = 0;
        let mut t_sums = 0usize;
        for chunk in lines.chunks(4096) {
            let mut rnd = || [3u8; 48];
            let out = core
                .run(
                    &mut vocab,
                    &mut Dummy,
                    Input {
                        lines: chunk,
                        sources: Some(&srcs[..chunk.len()]),
                        now: 1.7e9,
                        data_kid: "data-x",
                        data_secret: &[9u8; 32],
                        nonces: &nonces,
                        random: &mut rnd,
                        restrictions_changed: false,
                        newline: false,
                        detail: false,
                    },
                )
                .unwrap();
            n += out.done;
            t_sums += out.sums.map_or(0, |s| s.windows.len());
            assert!(out.stop.is_none(), "stop");
        }
        let el = start.elapsed();
        eprintln!(
            "rep {rep}: {n} lines {:?} = {:.2} us/line ({t_sums})",
            el,
            el.as_secs_f64() * 1e6 / n as f64
        );
    }
}
