//! `parsing/formats.py`: one entry point from a format name to a parser, `auto` included.

use crate::clf::{self, Clf, Parsed, Reject};
use crate::jsonlines::JsonParser;
use crate::nginx::NginxParser;

/// A configured input format, ready to parse lines.
pub enum Format {
    Clf(Clf),
    Json(JsonParser),
    Nginx(NginxParser),
    Auto(JsonParser),
}

impl Format {
    /// `make_parser(format, ...)`; nginx takes the (template, escape) `read_log_format` gives.
    pub fn new(
        format: &str,
        nginx_template: Option<&str>,
        nginx_escape: &str,
        json_fields: &[(String, String)],
    ) -> Result<Format, String> {
        Ok(match format {
            "common" => Format::Clf(Clf::Common),
            "combined" => Format::Clf(Clf::Combined),
            "vhost_combined" => Format::Clf(Clf::VhostCombined),
            "json" => Format::Json(JsonParser::new(json_fields)?),
            "auto" => Format::Auto(JsonParser::new(json_fields)?),
            "nginx" => {
                let template = nginx_template.ok_or("format 'nginx' needs nginx_log_format")?;
                Format::Nginx(NginxParser::new(template, nginx_escape)?)
            }
            other => return Err(format!("unknown log format {other:?}")),
        })
    }

    pub fn parse(&self, line: &str) -> Parsed {
        match self {
            Format::Clf(kind) => clf::parse_clf(*kind, line),
            Format::Json(p) => p.parse(line),
            Format::Nginx(p) => p.parse(line),
            Format::Auto(p) => auto(p, line),
        }
    }
}

/// `per_line_auto`: each line by the one format whose shape it has.
fn auto(parse_json: &JsonParser, line: &str) -> Parsed {
    if line.starts_with('{') {
        return parse_json.parse(line);
    }
    // At most one of these shapes fits a line (see `per_line_auto`), so the order of trying only
    // decides the reason: the first that is not no_match.
    let mut reason = Reject::NoMatch;
    for kind in [Clf::Combined, Clf::VhostCombined, Clf::CommonAlone] {
        match clf::parse_clf(kind, line) {
            Ok(r) => return Ok(r),
            Err(e) => {
                if reason == Reject::NoMatch {
                    reason = e;
                }
            }
        }
    }
    Err(reason)
}
